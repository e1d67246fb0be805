// Tests of the frozen MobileNetV2 (model/mobilenet_v2.h): Keras layer names
// and parameter count, BatchNormalization folding against unfolded batch_norm
// with TF's asymmetric stride-2 padding written out, the shipped weights
// against the ORIGINAL nsfwjs model under TensorFlow.js
// (tests/data/mobilenet_v2_nsfwjs.json, made by scripts/make_nsfwjs_fixture.js:
// pooled features, logits and probabilities of two 224 px images), the
// loader's checks of the stored Keras topology, and preprocessing.
#include <QTemporaryDir>

#include <fstream>

#include "checkpoint.h"
#include "json_config.h"
#include "mobilenet_v2.h"
#include "safetensors.h"
#include "nsfwjs_fixture.h"
#include "test_support.h"

using gg::json;
using gg::test::fixture_rows;
using gg::test::max_abs_diff;
using gg::test::nsfwjs_fixture_images;

namespace {

const std::string kWeights = "resources/models/mobilenet_v2/mobilenet_v2_nsfwjs.safetensors";
const std::string kFixture = "tests/data/mobilenet_v2_nsfwjs.json";

// The graph with BatchNormalization applied unfolded (torch::batch_norm), each
// stride-2 convolution preceded by Keras's ZeroPadding2D(((0, 1), (0, 1))).
torch::Tensor reference_features(gg::MobileNetV2Impl& m, const torch::Tensor& images) {
  auto unit = [](const torch::Tensor& x, gg::KerasConvImpl& conv, gg::KerasBatchNormImpl& bn, bool relu) {
    namespace F = torch::nn::functional;
    torch::Tensor in = x;
    if (conv.stride == 2) in = F::pad(x, F::PadFuncOptions({0, 1, 0, 1}));  // left right top bottom
    auto y = torch::conv2d(in, conv.kernel, {}, conv.stride, conv.stride == 2 ? 0 : conv.k / 2, 1,
                           conv.depthwise ? conv.in : 1);
    y = torch::batch_norm(y, bn.gamma, bn.beta, bn.moving_mean, bn.moving_variance, false, 0.0, bn.eps, false);
    return relu ? torch::clamp(y, 0.0, 6.0) : y;
  };
  auto x = unit(images, *m.conv1, *m.bn_conv1, true);
  for (auto& b : m.blocks) {
    auto h = b.expand ? unit(x, *b.expand, *b.expand_bn, true) : x;
    h = unit(unit(h, *b.depthwise, *b.depthwise_bn, true), *b.project, *b.project_bn, false);
    x = b.stride == 1 && b.in == b.filters ? x + h : h;
  }
  x = unit(x, *m.conv_last, *m.bn_last, true);
  return torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
}

void randomize_batchnorm(gg::MobileNetV2Impl& m) {
  torch::NoGradGuard g;
  for (auto& b : m.named_buffers()) {
    if (b.key().find("moving_mean") != std::string::npos) b.value().normal_(0.0, 0.3);
    if (b.key().find("moving_variance") != std::string::npos) b.value().uniform_(0.5, 2.0);
  }
  for (auto& p : m.named_parameters()) {
    if (p.key().find(".gamma") != std::string::npos) p.value().uniform_(0.5, 1.5);
    if (p.key().find(".beta") != std::string::npos) p.value().normal_(0.0, 0.3);
  }
}

bool have_weights() { return QFile::exists(QString::fromStdString(gg::test::source_path(kWeights))); }

}  // namespace

class TestMobileNet : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() { torch::manual_seed(0); }

  void kerasNamesAndSize() {
    gg::MobileNetV2 m;
    const auto sd = gg::state_dict(*m);
    int64_t values = 0;
    for (const auto& [name, t] : sd) values += t.numel();
    // Keras MobileNetV2(alpha=1.0, include_top=False): 2,257,984; the 1280-256-128-5 head: 361,477.
    QCOMPARE(values, int64_t(2257984 + 361477));
    QCOMPARE(sd.at("Conv1.kernel").sizes().vec(), (std::vector<int64_t>{32, 3, 3, 3}));
    QCOMPARE(sd.at("expanded_conv_depthwise.depthwise_kernel").sizes().vec(), (std::vector<int64_t>{32, 1, 3, 3}));
    QCOMPARE(sd.at("block_13_depthwise_BN.moving_variance").sizes().vec(), (std::vector<int64_t>{576}));
    QCOMPARE(sd.at("block_16_project.kernel").sizes().vec(), (std::vector<int64_t>{320, 960, 1, 1}));
    QCOMPARE(sd.at("Conv_1_bn.gamma").sizes().vec(), (std::vector<int64_t>{1280}));
    QCOMPARE(sd.at("dense_3.kernel").sizes().vec(), (std::vector<int64_t>{5, 128}));
    QVERIFY(!sd.count("expanded_conv_expand.kernel"));
    QVERIFY(!sd.count("block_1_add.kernel"));
    gg::MobileNetV2 backbone(false);
    int64_t bvalues = 0;
    for (const auto& [name, t] : gg::state_dict(*backbone)) bvalues += t.numel();
    QCOMPARE(bvalues, int64_t(2257984));
    for (const auto& p : m->parameters()) QVERIFY(!p.requires_grad());
  }

  void foldedBatchNormMatchesUnfolded_data() {
    QTest::addColumn<int>("size");
    QTest::newRow("224 px") << 224;
    QTest::newRow("odd 67 px") << 67;
  }
  void foldedBatchNormMatchesUnfolded() {
    QFETCH(int, size);
    gg::MobileNetV2 m;
    randomize_batchnorm(*m);
    m->eval();
    torch::NoGradGuard g;
    auto x = torch::rand({2, 3, size, size});
    auto out = m->forward(x);
    auto ref = reference_features(*m, x);
    QCOMPARE(out.pooled.sizes().vec(), (std::vector<int64_t>{2, 1280}));
    QCOMPARE(out.logits.sizes().vec(), (std::vector<int64_t>{2, 5}));
    const double d = max_abs_diff(out.pooled, ref);
    QVERIFY2(d < 1e-4 * std::max(1.0, ref.abs().max().item<double>()), std::to_string(d).c_str());
    // Batch independence.
    QVERIFY(max_abs_diff(m->features(x.slice(0, 1, 2)), out.pooled.slice(0, 1, 2)) < 1e-4);
  }

  void matchesTfjsOriginal() {
    if (!have_weights()) QSKIP("resources/models/mobilenet_v2/mobilenet_v2_nsfwjs.safetensors is missing");
    auto m = gg::load_mobilenet_v2(gg::test::source_path(kWeights));
    QVERIFY(m->head && !m->is_training());
    for (const auto& p : m->parameters()) QVERIFY(!p.requires_grad());
    std::ifstream in(gg::test::source_path(kFixture));
    QVERIFY2(in.good(), "tests/data/mobilenet_v2_nsfwjs.json is missing");
    const json f = json::parse(in);
    torch::NoGradGuard g;
    const auto out = m->forward(nsfwjs_fixture_images(224));
    const double dp = max_abs_diff(out.pooled, fixture_rows(f["pooled"]));
    const double dl = max_abs_diff(out.logits, fixture_rows(f["logits"]));
    const double ds = max_abs_diff(torch::softmax(out.logits, 1), fixture_rows(f["probs"]));
    qInfo("max |LibTorch - TF.js|: pooled %.3g (max %.3g), logits %.3g, probabilities %.3g", dp,
          out.pooled.abs().max().item<double>(), dl, ds);
    QVERIFY2(dp < 1e-4, std::to_string(dp).c_str());
    QVERIFY2(dl < 1e-4, std::to_string(dl).c_str());
    QVERIFY2(ds < 1e-5, std::to_string(ds).c_str());
    QCOMPARE(out.logits.argmax(1)[0].item<int64_t>(), int64_t(0));  // image 0: Drawing (0.90 in TF.js)
    QCOMPARE(out.logits.argmax(1)[1].item<int64_t>(), int64_t(2));  // image 1: Neutral (0.97)
  }

  void loaderChecksTopologyAndNames_data() {
    QTest::addColumn<int>("which");
    QTest::addColumn<QString>("needle");
    QTest::newRow("tfjs layout") << 0 << "tfjs.layout is 'tfjs'";
    QTest::newRow("epsilon") << 1 << "layer 'bn_Conv1' has";
    QTest::newRow("relu") << 2 << "layer 'Conv1_relu' is not ReLU6";
    QTest::newRow("padding") << 3 << "layer 'block_1_pad' pads [[1,1],[1,1]]";
    QTest::newRow("missing tensor") << 4 << "lacks tensor 'block_5_expand_BN.moving_mean'";
    QTest::newRow("unknown layer") << 5 << "is a Conv2DTranspose";
  }
  void loaderChecksTopologyAndNames() {
    if (!have_weights()) QSKIP("resources/models/mobilenet_v2/mobilenet_v2_nsfwjs.safetensors is missing");
    QFETCH(int, which);
    QFETCH(QString, needle);
    auto f = gg::read_safetensors(gg::test::source_path(kWeights));
    json t = json::parse(f.metadata.at("tfjs.model_topology"));
    json& layers = t["model_config"]["config"]["layers"];
    auto layer = [&](const std::string& name) -> json& {
      for (auto& l : layers)
        if (l["name"] == name) return l;
      throw std::runtime_error("no layer " + name);
    };
    switch (which) {
      case 0: f.metadata["tfjs.layout"] = "tfjs"; break;
      case 1: layer("bn_Conv1")["config"]["epsilon"] = 1e-5; break;
      case 2: layer("Conv1_relu")["config"]["max_value"] = nullptr; break;
      case 3: layer("block_1_pad")["config"]["padding"] = json::parse("[[1,1],[1,1]]"); break;
      case 4: f.tensors.erase("block_5_expand_BN/moving_mean"); break;
      case 5: layer("Conv1")["class_name"] = "Conv2DTranspose"; break;
    }
    f.metadata["tfjs.model_topology"] = t.dump();
    QTemporaryDir dir;
    const std::string p = dir.path().toStdString() + "/m.safetensors";
    gg::write_safetensors(p, f.tensors, f.metadata);
    GG_VERIFY_THROWS_WITH(gg::load_mobilenet_v2(p), gg::CheckpointError, needle.toStdString());
    GG_VERIFY_THROWS_WITH(gg::load_mobilenet_v2(p), gg::CheckpointError, p);
  }

  void preprocess() {
    auto img = torch::rand({2, 3, 64, 64}) * 2 - 1;
    auto x = gg::mobilenet_preprocess(img);
    QCOMPARE(x.sizes().vec(), (std::vector<int64_t>{2, 3, 224, 224}));
    QVERIFY(x.min().item<double>() >= -1e-6 && x.max().item<double>() <= 1 + 1e-6);
    auto same = gg::mobilenet_preprocess(torch::full({1, 3, 224, 224}, -1.0));
    QCOMPARE(same.abs().max().item<double>(), 0.0);
    GG_VERIFY_THROWS_WITH(gg::mobilenet_preprocess(torch::zeros({1, 1, 8, 8})), gg::ShapeError, "mobilenet_preprocess");
    gg::MobileNetV2 m;
    GG_VERIFY_THROWS_WITH(m->forward(torch::zeros({1, 3, 16, 16})), gg::ShapeError, "at least 32x32");
  }
};

QTEST_GUILESS_MAIN(TestMobileNet)
#include "test_mobilenet.moc"

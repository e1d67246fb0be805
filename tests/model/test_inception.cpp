// Tests of the frozen InceptionV3 (model/inception_v3.h): Keras layer names and
// parameter count, each folded conv + BatchNormalization unit against
// unfolded batch_norm, the shipped weights against the ORIGINAL nsfwjs model
// under TensorFlow.js (tests/data/inception_v3_nsfwjs.json, made by
// scripts/make_nsfwjs_fixture.js: pooled features, logits, probabilities and
// the per-channel means of mixed2 and mixed7 for two 299 px images), the
// smaller input the vision-aided D uses, and the loader's checks.
#include <QTemporaryDir>

#include <fstream>

#include "checkpoint.h"
#include "inception_v3.h"
#include "json_config.h"
#include "safetensors.h"
#include "nsfwjs_fixture.h"
#include "test_support.h"

using gg::json;
using gg::test::fixture_rows;
using gg::test::max_abs_diff;
using gg::test::nsfwjs_fixture_images;

namespace {

const std::string kWeights = "resources/models/inception_v3/inception_v3_nsfwjs.safetensors";
const std::string kFixture = "tests/data/inception_v3_nsfwjs.json";

bool have_weights() { return QFile::exists(QString::fromStdString(gg::test::source_path(kWeights))); }

}  // namespace

class TestInception : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() { torch::manual_seed(0); }

  void kerasNamesAndSize() {
    gg::InceptionV3 m;
    QCOMPARE(m->units.size(), size_t(94));
    const auto sd = gg::state_dict(*m);
    int64_t values = 0;
    for (const auto& [name, t] : sd) values += t.numel();
    // Keras InceptionV3(include_top=False): 21,802,784; nsfwjs's 2048-256-128-5 head: 558,085.
    QCOMPARE(values, int64_t(21802784 + 558085));
    QCOMPARE(sd.at("conv2d_1.kernel").sizes().vec(), (std::vector<int64_t>{32, 3, 3, 3}));
    QCOMPARE(sd.at("conv2d_33.kernel").sizes().vec(), (std::vector<int64_t>{128, 128, 1, 7}));
    QCOMPARE(sd.at("conv2d_34.kernel").sizes().vec(), (std::vector<int64_t>{192, 128, 7, 1}));
    QCOMPARE(sd.at("conv2d_94.kernel").sizes().vec(), (std::vector<int64_t>{192, 2048, 1, 1}));
    QCOMPARE(sd.at("batch_normalization_72.moving_variance").sizes().vec(), (std::vector<int64_t>{320}));
    QVERIFY(!sd.count("batch_normalization_1.gamma"));  // scale=False
    QCOMPARE(sd.at("dense_1.kernel").sizes().vec(), (std::vector<int64_t>{256, 2048}));
    for (const auto& p : m->parameters()) QVERIFY(!p.requires_grad());
  }

  // Every unit's folded convolution equals conv -> batch_norm -> relu.
  void foldedUnitsMatchUnfolded() {
    gg::InceptionV3 m(false);
    torch::NoGradGuard g;
    for (auto& u : m->units) {
      u.beta.normal_(0.0, 0.3);
      u.moving_mean.normal_(0.0, 0.3);
      u.moving_variance.uniform_(0.5, 2.0);
    }
    for (size_t i = 0; i < m->units.size(); i += 7) {
      const auto& u = m->units[i];
      auto x = torch::randn({1, u.in, 9, 9});
      const auto [w, b] = m->folded(i);
      std::vector<int64_t> pad = u.same ? std::vector<int64_t>{u.kh / 2, u.kw / 2} : std::vector<int64_t>{0, 0};
      auto y = torch::relu(torch::conv2d(x, w, b, 1, pad));
      auto ref = torch::conv2d(x, u.kernel, {}, 1, pad);
      ref = torch::relu(torch::batch_norm(ref, {}, u.beta, u.moving_mean, u.moving_variance, false, 0.0, 1e-3, false));
      QVERIFY2(max_abs_diff(y, ref) < 1e-4 * std::max(1.0, ref.abs().max().item<double>()),
               ("unit " + std::to_string(i + 1)).c_str());
    }
    // Changing the weights in place refolds them.
    const auto before = m->folded(0).first.clone();
    m->units[0].moving_variance.fill_(4.0);
    QVERIFY(!m->folded(0).first.equal(before));
  }

  void matchesTfjsOriginal() {
    if (!have_weights()) QSKIP("resources/models/inception_v3/inception_v3_nsfwjs.safetensors is missing");
    auto m = gg::load_inception_v3(gg::test::source_path(kWeights));
    QVERIFY(m->head && !m->is_training());
    std::ifstream in(gg::test::source_path(kFixture));
    QVERIFY2(in.good(), "tests/data/inception_v3_nsfwjs.json is missing");
    const json f = json::parse(in);
    torch::NoGradGuard g;
    const auto out = m->forward(nsfwjs_fixture_images(299));
    QCOMPARE(out.mixed.size(), size_t(11));
    QCOMPARE(out.mixed[7].sizes().vec(), (std::vector<int64_t>{2, 768, 17, 17}));
    const double dp = max_abs_diff(out.pooled, fixture_rows(f["pooled"]));
    const double dl = max_abs_diff(out.logits, fixture_rows(f["logits"]));
    const double ds = max_abs_diff(torch::softmax(out.logits, 1), fixture_rows(f["probs"]));
    const double d2 = max_abs_diff(out.mixed[2].mean({2, 3}), fixture_rows(f["mixed2_mean"]));
    const double d7 = max_abs_diff(out.mixed[7].mean({2, 3}), fixture_rows(f["mixed7_mean"]));
    qInfo("max |LibTorch - TF.js|: pooled %.3g (max %.3g), logits %.3g, probabilities %.3g, mixed2 %.3g, mixed7 %.3g",
          dp, out.pooled.abs().max().item<double>(), dl, ds, d2, d7);
    QVERIFY2(dp < 1e-4, std::to_string(dp).c_str());
    QVERIFY2(dl < 1e-4, std::to_string(dl).c_str());
    QVERIFY2(ds < 1e-5, std::to_string(ds).c_str());
    QVERIFY2(d2 < 1e-4, std::to_string(d2).c_str());
    QVERIFY2(d7 < 1e-4, std::to_string(d7).c_str());
  }

  // The vision-aided D's use: 128 px input, run only to mixed7 (same values as
  // the whole run up to there).
  void smallInputAndEarlyStop() {
    gg::InceptionV3 m(false);
    torch::NoGradGuard g;
    auto x = torch::rand({2, 3, 128, 128});
    const auto part = m->forward(x, 7);
    QCOMPARE(part.mixed.size(), size_t(8));
    QVERIFY(!part.pooled.defined());
    QCOMPARE(part.mixed[2].sizes().vec(), (std::vector<int64_t>{2, 288, 13, 13}));
    QCOMPARE(part.mixed[7].sizes().vec(), (std::vector<int64_t>{2, 768, 6, 6}));
    const auto whole = m->forward(x);
    QVERIFY(max_abs_diff(whole.mixed[7], part.mixed[7]) == 0.0);
    QCOMPARE(whole.pooled.sizes().vec(), (std::vector<int64_t>{2, 2048}));
    GG_VERIFY_THROWS_WITH(m->forward(torch::rand({1, 3, 64, 64})), gg::ShapeError, "at least 75x75");
    GG_VERIFY_THROWS_WITH(m->forward(x, 11), gg::ConfigError, "outside 0..10");
  }

  void loaderChecks_data() {
    QTest::addColumn<int>("which");
    QTest::addColumn<QString>("needle");
    QTest::newRow("tfjs layout") << 0 << "tfjs.layout is 'tfjs'";
    QTest::newRow("epsilon") << 1 << "layer batch_normalization_5 is not BatchNormalization(epsilon=1e-3";
    QTest::newRow("conv bias") << 2 << "layer conv2d_9 is not a Conv2D without bias";
    QTest::newRow("missing tensor") << 3 << "lacks tensor 'batch_normalization_40.moving_mean'";
    QTest::newRow("codes without min/scale") << 4 << "'conv2d_3/kernel' is uint8 without";
  }
  void loaderChecks() {
    if (!have_weights()) QSKIP("resources/models/inception_v3/inception_v3_nsfwjs.safetensors is missing");
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
      case 1: layer("batch_normalization_5")["config"]["epsilon"] = 1e-5; break;
      case 2: layer("conv2d_9")["config"]["use_bias"] = true; break;
      case 3:
        f.tensors.erase("batch_normalization_40/moving_mean");
        f.tensors.erase("batch_normalization_40/moving_mean:quantization");
        break;
      case 4: f.tensors.erase("conv2d_3/kernel:quantization"); break;
    }
    f.metadata["tfjs.model_topology"] = t.dump();
    QTemporaryDir dir;
    const std::string p = dir.path().toStdString() + "/m.safetensors";
    gg::write_safetensors(p, f.tensors, f.metadata);
    GG_VERIFY_THROWS_WITH(gg::load_inception_v3(p), gg::CheckpointError, needle.toStdString());
    GG_VERIFY_THROWS_WITH(gg::load_inception_v3(p), gg::CheckpointError, p);
  }
};

QTEST_GUILESS_MAIN(TestInception)
#include "test_inception.moc"

// Tests of the vision-aided discriminator (frozen CLIP features, fixed random
// projection, text-modulated head).
#include <QtTest/QtTest>

#include <set>

#include "test_support.h"
#include "vision_aided_discriminator.h"

using namespace gg;

namespace {

ClipVisionConfig tiny_clip() {
  ClipVisionConfig c;
  c.image_size = 32;
  c.patch_size = 8;  // 4x4 grid
  c.hidden_size = 16;
  c.intermediate_size = 32;
  c.num_hidden_layers = 3;
  c.num_attention_heads = 2;
  return c;
}

VisionAidedConfig tiny_config() {
  VisionAidedConfig c;
  c.feature_layers = {1, 3};
  c.projection_channels = 6;
  c.head_channels = 8;
  c.head_layers = 2;
  c.text_input_dim = 10;
  c.projection_seed = 7;
  return c;
}

}  // namespace

class TestVisionAided : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void initTestCase() { torch::manual_seed(0); }

  void validateRejects_data() {
    QTest::addColumn<QString>("field");
    QTest::addColumn<QString>("needle");
    QTest::newRow("empty layers") << "feature_layers" << "feature_layers: must name at least one";
    QTest::newRow("duplicate") << "duplicate" << "layer 1 is listed twice";
    QTest::newRow("head layers") << "head_layers" << "head_layers: must be in [1, 256]";
    QTest::newRow("projection") << "projection_channels" << "projection_channels: must be in [1, 16384]";
  }
  void validateRejects() {
    QFETCH(QString, field);
    QFETCH(QString, needle);
    auto c = tiny_config();
    c.validate();
    if (field == "feature_layers") c.feature_layers = {};
    if (field == "duplicate") c.feature_layers = {1, 1};
    if (field == "head_layers") c.head_layers = 0;
    if (field == "projection_channels") c.projection_channels = 0;
    GG_VERIFY_THROWS_WITH(c.validate(), ConfigError, needle.toStdString());
    c.enabled = false;
    c.validate();  // a disabled vision-aided D is not checked
  }

  void layerOutsideClipRejected() {
    auto c = tiny_config();
    c.feature_layers = {4};
    GG_VERIFY_THROWS_WITH(VisionAidedDiscriminator(c, ClipVisionTransformer(tiny_clip())),
                          ConfigError, "layer 4 is outside 0..3");
  }

  void shapes() {
    ClipVisionTransformer clip(tiny_clip());
    VisionAidedDiscriminator d(tiny_config(), clip);
    const auto out = d->forward(torch::rand({2, 3, 24, 24}) * 2 - 1, torch::randn({2, 10}));
    QCOMPARE(out.size(), size_t(2));
    for (const auto& o : out) QCOMPARE(o.sizes().vec(), (std::vector<int64_t>{2, 1, 4, 4}));
    GG_VERIFY_THROWS_WITH(d->forward(torch::rand({2, 3, 24, 24}), torch::randn({2, 9})), ShapeError,
                          "text_pooled");
  }

  // CLIP is held, not registered: none of its parameters is ours, nor in our state.
  void clipNotTrainableHere() {
    ClipVisionTransformer clip(tiny_clip());
    VisionAidedDiscriminator d(tiny_config(), clip);
    std::set<const void*> clip_params;
    for (const auto& p : clip->parameters()) clip_params.insert(p.unsafeGetTensorImpl());
    QVERIFY(!clip_params.empty());
    for (const auto& np : d->named_parameters()) {
      QVERIFY2(!clip_params.count(np.value().unsafeGetTensorImpl()), np.key().c_str());
      QVERIFY2(np.key().rfind("heads.", 0) == 0, np.key().c_str());  // only the heads train
    }
    int64_t heads = 0;
    for (const auto& p : d->heads->parameters()) heads += p.numel();
    QCOMPARE(count_parameters(*d), heads);
  }

  // Gradients flow through the frozen CLIP to the images and reach every head parameter.
  void gradients() {
    ClipVisionTransformer clip(tiny_clip());
    for (auto& p : clip->parameters()) p.requires_grad_(false);  // frozen, as its owner does
    VisionAidedDiscriminator d(tiny_config(), clip);
    auto images = (torch::rand({2, 3, 32, 32}) * 2 - 1).requires_grad_(true);
    torch::Tensor loss = torch::zeros({});
    for (const auto& o : d->forward(images, torch::randn({2, 10})))
      loss = loss + torch::softplus(-o).mean();
    loss.backward();
    QVERIFY(images.grad().defined());
    QVERIFY(images.grad().abs().sum().item<double>() > 0);
    for (const auto& np : d->named_parameters()) {
      QVERIFY2(np.value().grad().defined(), np.key().c_str());
      QVERIFY2(np.value().grad().abs().sum().item<double>() > 0, np.key().c_str());
    }
    for (const auto& p : clip->parameters()) QVERIFY(!p.grad().defined());
  }

  // The projection is a buffer, identical for the same seed, different for another.
  void projectionIsSeededBuffer() {
    ClipVisionTransformer clip(tiny_clip());
    auto c = tiny_config();
    VisionAidedDiscriminator a(c, clip), b(c, clip);
    c.projection_seed = 8;
    VisionAidedDiscriminator other(c, clip);
    const auto bufs = a->named_buffers();
    QCOMPARE(bufs.size(), size_t(2));
    for (size_t k = 0; k < 2; ++k) {
      const std::string name = "projection_" + std::to_string(k);
      QVERIFY(bufs.contains(name));
      QVERIFY(!bufs[name].requires_grad());
      QCOMPARE(bufs[name].sizes().vec(), (std::vector<int64_t>{6, 16}));
      QCOMPARE(test::max_abs_diff(a->projection[k], b->projection[k]), 0.0);
      QVERIFY(test::max_abs_diff(a->projection[k], other->projection[k]) > 1e-3);
    }
    QVERIFY(test::max_abs_diff(a->projection[0], a->projection[1]) > 1e-3);  // one per layer
    for (const auto& np : a->named_parameters())
      QVERIFY2(np.key().find("projection") == std::string::npos, np.key().c_str());
    // The projected features are exactly the normalised CLIP tokens times the projection.
    torch::NoGradGuard ng;
    const auto images = torch::rand({1, 3, 32, 32}) * 2 - 1;
    const auto feats = a->projected_features(images);
    const auto hs = clip->forward(clip_preprocess(images, 32)).hidden_states[3];
    const auto tok = torch::layer_norm(hs.slice(1, 1), {16});
    const auto ref = torch::matmul(tok, a->projection[1].t()).transpose(1, 2).reshape({1, 6, 4, 4});
    QVERIFY(test::max_abs_diff(feats[1], ref) < 1e-5);
  }

  // Text modulation matters.
  void textMatters() {
    ClipVisionTransformer clip(tiny_clip());
    VisionAidedDiscriminator d(tiny_config(), clip);
    torch::NoGradGuard ng;
    const auto images = torch::rand({2, 3, 32, 32}) * 2 - 1;
    const auto a = d->forward(images, torch::randn({2, 10}));
    const auto b = d->forward(images, torch::randn({2, 10}));
    for (size_t k = 0; k < a.size(); ++k) QVERIFY(test::max_abs_diff(a[k], b[k]) > 1e-5);
  }

  // backbone inception_v3: per mixed block a projected map on that block's
  // grid; gradients reach the images and every head, none the backbone, whose
  // parameters are not ours; the backbone names must agree with the config.
  void inceptionBackbone() {
    VisionAidedConfig c = tiny_config();
    c.backbone = "inception_v3";
    c.feature_layers = {2, 7};
    c.backbone_image_size = 96;
    c.validate();
    InceptionV3 net(false);
    VisionAidedDiscriminator d(c, net);
    QCOMPARE(d->projection[0].sizes().vec(), (std::vector<int64_t>{6, 288}));
    QCOMPARE(d->projection[1].sizes().vec(), (std::vector<int64_t>{6, 768}));
    auto images = (torch::rand({2, 3, 32, 32}) * 2 - 1).requires_grad_(true);
    const auto out = d->forward(images, torch::randn({2, 10}));
    QCOMPARE(out.size(), size_t(2));
    QCOMPARE(out[0].sizes().vec(), (std::vector<int64_t>{2, 1, 9, 9}));  // mixed2 at 96 px
    QCOMPARE(out[1].sizes().vec(), (std::vector<int64_t>{2, 1, 4, 4}));  // mixed7
    torch::Tensor loss = torch::zeros({});
    for (const auto& o : out) loss = loss + torch::softplus(-o).mean();
    loss.backward();
    QVERIFY(images.grad().abs().sum().item<double>() > 0);
    for (const auto& np : d->named_parameters()) {
      QVERIFY2(np.key().rfind("heads.", 0) == 0, np.key().c_str());
      QVERIFY2(np.value().grad().abs().sum().item<double>() > 0, np.key().c_str());
    }
    for (const auto& p : net->parameters()) QVERIFY(!p.grad().defined());

    GG_VERIFY_THROWS_WITH(VisionAidedDiscriminator(c, ClipVisionTransformer(tiny_clip())), ConfigError,
                          "this D was given a CLIP vision model");
    GG_VERIFY_THROWS_WITH(VisionAidedDiscriminator(tiny_config(), net), ConfigError, "was given an InceptionV3");
    c.feature_layers = {11};
    GG_VERIFY_THROWS_WITH(c.validate(), ConfigError, "feature_layers");
    c.feature_layers = {2};
    c.backbone_image_size = 40;
    GG_VERIFY_THROWS_WITH(c.validate(), ConfigError, "backbone_image_size");
    c.backbone = "vgg";
    GG_VERIFY_THROWS_WITH(c.validate(), ConfigError, "expected clip or inception_v3");
    // A config without the newer fields reads as the CLIP backbone.
    json old = tiny_config();
    old.erase("backbone");
    old.erase("backbone_image_size");
    QCOMPARE(old.get<VisionAidedConfig>().backbone, std::string("clip"));
  }

  void metaAllocatesNothing() {
    MetaScope meta;
    ClipVisionTransformer clip{ClipVisionConfig{}};  // ViT-L/14
    VisionAidedConfig c;
    c.feature_layers = {8, 12, 16, 20};
    VisionAidedDiscriminator d(c, clip);
    for (const auto& p : d->parameters()) QVERIFY(p.device().is_meta());
    for (const auto& b : d->buffers()) QVERIFY(b.device().is_meta());
    qInfo("vision-aided D on ViT-L/14: %.2f M trainable parameters", count_parameters(*d) / 1e6);
  }
};

QTEST_GUILESS_MAIN(TestVisionAided)
#include "test_vision_aided.moc"

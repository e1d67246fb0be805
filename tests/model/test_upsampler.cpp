// Tests of the GigaGAN upsampler (asymmetric text-conditioned U-Net).
#include <QtTest/QtTest>

#include "test_support.h"
#include "upsampler.h"

using namespace gg;

namespace {

UpsamplerConfig tiny_config(int in, int out, int down) {
  UpsamplerConfig c;
  c.input_resolution = in;
  c.output_resolution = out;
  c.down_blocks = down;
  c.channels.assign(c.up_blocks() + 1, 8);
  c.z_dim = 8;
  c.w_dim = 16;
  c.mapping_layers = 2;
  c.text_input_dim = 12;
  c.context_length = 5;
  c.text_dim = 16;
  c.text_layers = 1;
  c.text_heads = 2;
  c.num_kernels = 2;
  c.attention_resolutions = {2 * (in >> down)};  // attention at 64 px would dominate the run time
  c.attention_head_dim = 4;
  c.input_noise_std = 0.1;
  return c;
}

// The proposed `paper` preset's upsampler (64 -> 512) and its 128 -> 1024 variant.
UpsamplerConfig paper_config(int in, int out) {
  UpsamplerConfig c;
  c.input_resolution = in;
  c.output_resolution = out;
  c.down_blocks = 3;
  c.channels = {768, 768, 768, 768, 640, 320, 160};
  c.z_dim = 128;
  c.w_dim = 512;
  c.mapping_layers = 2;
  c.text_input_dim = 768;
  c.context_length = 77;
  c.text_dim = 768;
  c.text_layers = 2;
  c.text_heads = 12;
  c.num_kernels = 4;
  c.attention_resolutions = {2 * (in >> 3), 4 * (in >> 3), 8 * (in >> 3)};
  c.attention_head_dim = 64;
  return c;
}

struct Inputs {
  torch::Tensor image, z, tokens, eot;
};
Inputs make_inputs(const UpsamplerConfig& c, int64_t n) {
  return {torch::rand({n, 3, c.input_resolution, c.input_resolution}) * 2 - 1,
          torch::randn({n, c.z_dim}), torch::randn({n, c.context_length, c.text_input_dim}),
          torch::full({n}, c.context_length - 1, torch::kLong)};
}

}  // namespace

class TestUpsampler : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void initTestCase() { torch::manual_seed(0); }

  void validateRejects_data() {
    QTest::addColumn<QString>("field");
    QTest::addColumn<QString>("needle");
    QTest::newRow("channels") << "channels" << "channels: expected 5 entries";
    QTest::newRow("output") << "output_resolution" << "output_resolution: must be a power of two above";
    QTest::newRow("down") << "down_blocks" << "down_blocks: must be >= 1 and keep the bottleneck";
    QTest::newRow("attention") << "attention_resolutions" << "attention_resolutions: entry 4 is not";
    QTest::newRow("noise") << "input_noise_std" << "input_noise_std: must be >= 0";
    QTest::newRow("input") << "input_resolution" << "input_resolution: must be a power of two";
  }
  void validateRejects() {
    QFETCH(QString, field);
    QFETCH(QString, needle);
    auto c = tiny_config(16, 64, 2);  // resolutions 4, 8, 16, 32, 64
    c.validate();
    if (field == "channels") c.channels = {8, 8, 8};
    if (field == "output_resolution") c.output_resolution = 16;
    if (field == "down_blocks") c.down_blocks = 3;
    if (field == "attention_resolutions") c.attention_resolutions = {4};
    if (field == "input_noise_std") c.input_noise_std = -1;
    if (field == "input_resolution") c.input_resolution = 24;
    GG_VERIFY_THROWS_WITH(c.validate(), ConfigError, needle.toStdString());
  }

  void upBlocks() {
    QCOMPARE(paper_config(64, 512).up_blocks(), 6);
    QCOMPARE(paper_config(128, 1024).up_blocks(), 6);
    QCOMPARE(tiny_config(64, 256, 3).up_blocks(), 5);
  }

  void shapes_data() {
    QTest::addColumn<int>("in");
    QTest::addColumn<int>("out");
    QTest::addColumn<int>("down");
    QTest::newRow("64 -> 256") << 64 << 256 << 3;
    QTest::newRow("16 -> 64") << 16 << 64 << 2;
  }
  void shapes() {
    QFETCH(int, in);
    QFETCH(int, out);
    QFETCH(int, down);
    const auto c = tiny_config(in, out, down);
    Upsampler u(c);
    const auto x = make_inputs(c, 1);
    torch::NoGradGuard ng;
    const auto pyr = u->forward(x.image, x.z, x.tokens, x.eot, true);
    QCOMPARE(static_cast<int>(pyr.size()), u->num_outputs());
    QCOMPARE(u->num_outputs(), 3);  // out, out/2, out/4 = in
    for (size_t l = 0; l < pyr.size(); ++l)
      QCOMPARE(pyr[l].sizes().vec(), (std::vector<int64_t>{1, 3, out >> l, out >> l}));
    QCOMPARE(pyr.back().size(2), static_cast<int64_t>(in));
    QVERIFY(torch::isfinite(pyr[0]).all().item<bool>());
  }

  // synthesize() with the text encoder's t_local and the mapping's w is forward().
  void synthesizeMatchesForward() {
    const auto c = tiny_config(16, 32, 2);
    Upsampler u(c);
    const auto x = make_inputs(c, 2);
    torch::NoGradGuard ng;
    const auto a = u->forward(x.image, x.z, x.tokens, x.eot, false);
    const auto text = u->text_encoder(x.tokens, x.eot);
    const auto w = u->mapping(x.z, text.t_global);
    const auto b = u->synthesize(x.image, w, text.t_local, false);
    for (size_t l = 0; l < a.size(); ++l) QCOMPARE(test::max_abs_diff(a[l], b[l]), 0.0);
  }

  void inputNoise() {
    const auto c = tiny_config(16, 32, 2);
    Upsampler u(c);
    const auto x = make_inputs(c, 1);
    torch::NoGradGuard ng;
    auto run = [&](bool noise, const torch::Tensor& t = {}) {
      return u->forward(x.image, x.z, x.tokens, x.eot, noise, t)[0];
    };
    // Noise off: deterministic.
    const auto clean = run(false);
    QCOMPARE(test::max_abs_diff(clean, run(false)), 0.0);
    // Seeded noise: reproducible, and it changes the output.
    const auto n7 = UpsamplerImpl::make_input_noise(x.image, 7);
    QCOMPARE(test::max_abs_diff(n7, UpsamplerImpl::make_input_noise(x.image, 7)), 0.0);
    QVERIFY(test::max_abs_diff(n7, UpsamplerImpl::make_input_noise(x.image, 8)) > 1e-3);
    const auto noisy = run(true, n7);
    QCOMPARE(test::max_abs_diff(noisy, run(true, n7)), 0.0);
    QVERIFY(test::max_abs_diff(noisy, clean) > 1e-5);
    // The network sees image + input_noise_std * noise; the image path carries
    // the clean image (the input of a noisy run minus the upscaled noise).
    const auto manual = u->forward(x.image + c.input_noise_std * n7, x.z, x.tokens, x.eot, false)[0];
    QVERIFY(test::max_abs_diff(noisy, manual - upsample2x(c.input_noise_std * n7)) < 1e-5);
    // Global generator when no tensor is given: reproducible under manual_seed.
    torch::manual_seed(3);
    const auto g1 = run(true);
    torch::manual_seed(3);
    QCOMPARE(test::max_abs_diff(g1, run(true)), 0.0);
  }

  // The U-Net skips carry the input: with the bottleneck path cut (the last down
  // block outputs zeros), the output still depends on the input image.
  void skipConnectionsUsed() {
    const auto c = tiny_config(16, 32, 2);
    Upsampler u(c);
    const auto x = make_inputs(c, 1);
    torch::NoGradGuard ng;
    const auto base = u->forward(x.image, x.z, x.tokens, x.eot, false)[0];
    const auto moved = u->forward(x.image.flip(3), x.z, x.tokens, x.eot, false)[0];
    QVERIFY(test::max_abs_diff(base, moved) > 1e-4);  // the input matters
    auto& last = u->down.back();
    last->conv1->weight.zero_();
    last->conv1->bias.zero_();
    last->skip->weight.zero_();
    // Bottleneck is now input independent.
    const auto b0 = u->down.back()(u->down[0](u->from_rgb(x.image), torch::randn({1, c.w_dim})),
                                   torch::randn({1, c.w_dim}));
    QCOMPARE(b0.abs().max().item<double>(), 0.0);
    // What the network adds to the upscaled input (the image path carries the
    // input anyway) must still depend on the input.
    const auto residual = [&](const torch::Tensor& image) {
      return u->forward(image, x.z, x.tokens, x.eot, false)[0] - upsample2x(image);
    };
    QVERIFY2(test::max_abs_diff(residual(x.image), residual(x.image.flip(3))) > 1e-4,
             "output ignores the input without the bottleneck");
  }

  // The RGB path starts from the input image: with every ToRGB silenced, the
  // pyramid is the input, bilinearly upsampled level by level.
  void imagePathStartsFromInput() {
    const auto c = tiny_config(16, 64, 2);
    Upsampler u(c);
    const auto x = make_inputs(c, 2);
    torch::NoGradGuard ng;
    for (auto& block : u->up)
      if (block->to_rgb) {
        block->to_rgb->weight.zero_();
        if (block->to_rgb->bias.defined()) block->to_rgb->bias.zero_();
      }
    const auto pyr = u->forward(x.image, x.z, x.tokens, x.eot, false);
    QCOMPARE(static_cast<int>(pyr.size()), 3);
    QVERIFY(test::max_abs_diff(pyr[2], x.image) < 1e-6);
    QVERIFY(test::max_abs_diff(pyr[1], upsample2x(x.image)) < 1e-6);
    QVERIFY(test::max_abs_diff(pyr[0], upsample2x(upsample2x(x.image))) < 1e-6);
  }

  // Text conditioning reaches the output.
  void textMatters() {
    const auto c = tiny_config(16, 32, 2);
    Upsampler u(c);
    const auto x = make_inputs(c, 2);
    torch::NoGradGuard ng;
    const auto a = u->forward(x.image, x.z, x.tokens, x.eot, false)[0];
    const auto b = u->forward(x.image, x.z, torch::randn_like(x.tokens), x.eot, false)[0];
    QVERIFY(test::max_abs_diff(a, b) > 1e-5);
  }

  void gradientsReachEveryParameter() {
    const auto c = tiny_config(16, 32, 2);
    Upsampler u(c);
    const auto x = make_inputs(c, 2);
    const auto pyr = u->forward(x.image, x.z, x.tokens, x.eot, true);
    torch::Tensor loss = torch::zeros({});
    for (const auto& p : pyr) loss = loss + (p * torch::randn_like(p)).mean();
    loss.backward();
    int checked = 0;
    for (const auto& np : u->named_parameters()) {
      if (!np.value().requires_grad()) continue;
      QVERIFY2(np.value().grad().defined(), np.key().c_str());
      QVERIFY2(np.value().grad().abs().sum().item<double>() > 0, ("zero gradient: " + np.key()).c_str());
      ++checked;
    }
    QVERIFY(checked > 20);
  }

  void shapeErrors() {
    const auto c = tiny_config(16, 32, 2);
    Upsampler u(c);
    const auto x = make_inputs(c, 2);
    GG_VERIFY_THROWS_WITH(u->forward(torch::randn({2, 3, 24, 24}), x.z, x.tokens, x.eot), ShapeError,
                          "Upsampler image");
    GG_VERIFY_THROWS_WITH(u->forward(x.image, x.z, x.tokens, x.eot, true, torch::randn({2, 3, 8, 8})),
                          ShapeError, "Upsampler input_noise");
  }

  // Paper-size variants build on the meta device without allocating; 64 -> 512
  // has about 359.1 M parameters (within 10%).
  void paperSizesOnMeta_data() {
    QTest::addColumn<int>("in");
    QTest::addColumn<int>("out");
    QTest::addColumn<double>("expected");  // 0 = no expectation
    QTest::newRow("64 -> 512") << 64 << 512 << 359.1e6;
    QTest::newRow("128 -> 1024") << 128 << 1024 << 0.0;
    QTest::newRow("64 -> 256") << 64 << 256 << 0.0;
  }
  void paperSizesOnMeta() {
    QFETCH(int, in);
    QFETCH(int, out);
    QFETCH(double, expected);
    auto c = paper_config(in, out);
    if (out == 256) c.channels.pop_back();
    MetaScope meta;
    Upsampler u(c);
    for (const auto& p : u->parameters()) QVERIFY(p.device().is_meta());
    for (const auto& b : u->buffers()) QVERIFY(b.device().is_meta());
    const double n = static_cast<double>(count_parameters(*u));
    qInfo("upsampler %d -> %d: %.1f M parameters", in, out, n / 1e6);
    if (expected > 0) QVERIFY2(std::abs(n - expected) < 0.1 * expected, qPrintable(QString::number(n)));
  }
};

QTEST_GUILESS_MAIN(TestUpsampler)
#include "test_upsampler.moc"

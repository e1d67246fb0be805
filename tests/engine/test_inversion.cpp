// GAN inversion (model/engine/inversion.h) of generated images, tiny package.
#include <QtTest/QtTest>

#include "engine.h"
#include "inversion.h"
#include "test_support.h"
#include "tiny_package.h"

class TestInversion : public QObject {
  Q_OBJECT

  // A generated image from (prompt, seed) to invert; psi 1 so it is not the mean.
  static torch::Tensor target(gg::Engine& e, uint64_t seed) {
    gg::Recipe r;
    r.sources = {gg::Source{"cat face, noto style", seed, 1.0, {}}};
    return e.render(r).image[0];
  }

 private Q_SLOTS:
  void invertsGeneratedImages_data() {
    QTest::addColumn<bool>("plus");
    QTest::newRow("W") << false;
    QTest::newRow("W+") << true;
  }
  void invertsGeneratedImages() {
    QFETCH(bool, plus);
    gg::Engine e(gg::test::tiny_package(false));
    const auto x = target(e, 5);
    gg::InversionOptions o;
    o.prompt = "cat face, noto style";
    o.w_plus = plus;
    o.steps = 150;
    o.lr = 0.1;
    o.mean_w_samples = 512;
    const auto r = gg::invert(e, x, o);
    qInfo("%s: mse %.3g (PSNR %.1f dB), mean w %.3g, %.2f s", plus ? "W+" : "W", r.mse, r.psnr, r.mean_w_mse,
          r.seconds_latent);
    // Stated bound: the reconstruction error (MSE, pixels in [-1, 1]) is below
    // 5% of the mean w's error and below 0.01 absolute (PSNR > 26 dB). Measured:
    // W 7.6e-5 (47 dB), W+ 6.5e-3 (28 dB; more unknowns, same 150 steps), mean w 1.16.
    QVERIFY2(r.mse < 0.05 * r.mean_w_mse, (std::to_string(r.mse) + " vs mean w " + std::to_string(r.mean_w_mse)).c_str());
    QVERIFY2(r.mse < 0.01, std::to_string(r.mse).c_str());
    QVERIFY(r.psnr > 26);
    QCOMPARE(r.steps, 150);
    // The result is a source other edits accept: its recipe renders the reconstruction.
    QVERIFY(r.source.latent && r.source.latent->plus == plus);
    const auto again = gg::Recipe::parse(r.recipe.dump(), "test");
    QVERIFY(torch::equal(e.render(again).image[0], r.reconstruction));
    gg::Recipe mixed = again;
    mixed.sources.push_back(gg::Source{"red heart, twemoji style", 1, 0.7, {}});
    mixed.layers = {{"coarse", {0, 1}, {}}};
    QVERIFY(!torch::equal(e.render(mixed).image[0], r.reconstruction));
  }

  void ptiTunesTheWeights() {
    gg::Engine e(gg::test::tiny_package(false));
    const std::string base_hash = e.model_hash();
    const auto x = target(e, 9);
    gg::InversionOptions o;
    o.prompt = "red heart, twemoji style";  // another prompt: the latent alone cannot match exactly
    o.steps = 40;
    o.pti_steps = 40;
    o.pti_lr = 1e-3;
    o.mean_w_samples = 256;
    const auto r = gg::invert(e, x, o);
    QVERIFY2(r.mse < r.mse_before_pti, (std::to_string(r.mse) + " vs " + std::to_string(r.mse_before_pti)).c_str());
    QVERIFY(e.model_hash() != base_hash && e.model_hash().find("+pti-") != std::string::npos);
    QCOMPARE(r.recipe.model_hash, e.model_hash());
    for (const auto& p : e.generator()->parameters()) QVERIFY(!p.requires_grad());
    e.restore_weights();
    QCOMPARE(e.model_hash(), base_hash);
    QVERIFY(gg::test::max_abs_diff(e.render(r.recipe, true).image[0], r.reconstruction) > 0);
  }

  void badInput() {
    gg::Engine e(gg::test::tiny_package(false));
    gg::InversionOptions o;
    o.prompt = "";
    GG_VERIFY_THROWS_WITH(gg::invert(e, torch::zeros({3, 16, 16}), o), gg::PromptError, "empty prompt");
    o.prompt = "cat";
    GG_VERIFY_THROWS_WITH(gg::invert(e, torch::zeros({3, 32, 32}), o), gg::ShapeError, "[3, 16, 16]");
  }
};

QTEST_GUILESS_MAIN(TestInversion)
#include "test_inversion.moc"

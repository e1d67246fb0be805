// Differentiable augmentation (training/augment.h): policy parsing, shapes,
// identity for an empty policy, gradients equal to finite differences (the
// transform is linear in the image for fixed parameters), exact integer
// shifts at the top level, one transform across a pyramid (checked against
// the pyramid of the augmented top image), reproducibility from a seed.
#include <QtTest/QtTest>

#include "augment.h"
#include "errors.h"
#include "layers.h"
#include "test_support.h"

namespace {

torch::Generator seeded(uint64_t seed) {
  auto g = at::detail::createCPUGenerator();
  g.set_current_seed(seed);
  return g;
}

// x[n, c, i, j] = a_c * i + b_c * j + d_c (n-dependent offsets): linear, so a
// 2x2 average and a bilinear sample of it agree exactly.
torch::Tensor ramp(int64_t n, int64_t size) {
  auto i = torch::arange(size, torch::kFloat64).view({1, 1, size, 1});
  auto j = torch::arange(size, torch::kFloat64).view({1, 1, 1, size});
  auto a = torch::tensor({0.03, -0.02, 0.01}, torch::kFloat64).view({1, 3, 1, 1});
  auto b = torch::tensor({-0.01, 0.025, 0.02}, torch::kFloat64).view({1, 3, 1, 1});
  auto d = torch::arange(n, torch::kFloat64).view({n, 1, 1, 1}) * 0.1 - 0.3;
  return (a * i + b * j + d).to(torch::kFloat32);
}

}  // namespace

class TestAugment : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void parsePolicy() {
    const auto p = gg::AugmentPolicy::parse(" color, translation ,cutout");
    QVERIFY(p.color && p.translation && p.cutout);
    QCOMPARE(p.str(), std::string("color,translation,cutout"));
    QVERIFY(!gg::AugmentPolicy::parse("").any());
    QVERIFY(!gg::AugmentPolicy::parse("none").any());
    QCOMPARE(gg::AugmentPolicy::parse("cutout").str(), std::string("cutout"));
    GG_VERIFY_THROWS_WITH(gg::AugmentPolicy::parse("color,colour"), gg::ConfigError, "unknown policy 'colour'");
  }

  void shapesAndGradients_data() {
    QTest::addColumn<QString>("policy");
    QTest::newRow("color") << "color";
    QTest::newRow("translation") << "translation";
    QTest::newRow("cutout") << "cutout";
    QTest::newRow("all") << "color,translation,cutout";
  }
  void shapesAndGradients() {
    QFETCH(QString, policy);
    const auto p = gg::AugmentPolicy::parse(policy.toStdString());
    auto x = torch::rand({3, 3, 16, 12}, torch::kFloat64).mul(2).sub(1).requires_grad_(true);
    const auto y = gg::diff_augment(x, p, seeded(5));
    QCOMPARE(y.sizes(), x.sizes());
    QCOMPARE(y.scalar_type(), x.scalar_type());
    QVERIFY(!torch::equal(y, x));
    // For fixed parameters (same seed) y = A x + b: autograd equals finite differences.
    const auto r = torch::randn_like(y);
    (y * r).sum().backward();
    const auto grad = x.grad();
    QVERIFY(grad.defined() && grad.abs().sum().item<double>() > 0);
    const double eps = 1e-4;
    torch::NoGradGuard ng;
    const double f0 = (gg::diff_augment(x, p, seeded(5)) * r).sum().item<double>();
    for (int64_t k : {0, 17, 100, 301, 430, 575}) {
      auto xe = x.detach().clone();
      xe.view({-1})[k] += eps;
      const double f1 = (gg::diff_augment(xe, p, seeded(5)) * r).sum().item<double>();
      const double g = grad.view({-1})[k].item<double>();
      QVERIFY2(std::abs((f1 - f0) / eps - g) < 1e-5, (std::to_string(k) + ": fd " + std::to_string((f1 - f0) / eps) +
                                                      " vs autograd " + std::to_string(g)).c_str());
    }
  }

  void emptyPolicyIsIdentity() {
    const auto x = torch::randn({2, 3, 8, 8});
    QVERIFY(torch::equal(gg::diff_augment(x, gg::AugmentPolicy::parse("")), x));
    const auto levels = gg::image_pyramid(x, 3);
    const auto out = gg::augment_pyramid(levels, gg::AugmentPolicy{});
    for (size_t l = 0; l < levels.size(); ++l) QVERIFY(torch::equal(out[l], levels[l]));
  }

  void sameSeedSameOutput() {
    const auto p = gg::AugmentPolicy::parse("color,translation,cutout");
    const auto x = torch::randn({4, 3, 16, 16});
    const auto a = gg::diff_augment(x, p, seeded(9));
    QVERIFY(torch::equal(a, gg::diff_augment(x, p, seeded(9))));
    QVERIFY(!torch::equal(a, gg::diff_augment(x, p, seeded(10))));
    // The global generator works too.
    torch::manual_seed(3);
    const auto g1 = gg::diff_augment(x, p);
    torch::manual_seed(3);
    QVERIFY(torch::equal(g1, gg::diff_augment(x, p)));
  }

  void translationIsAnExactIntegerShift() {
    // At the top level, each sample is the input shifted by whole pixels with
    // zero fill, |shift| <= 1/8 of the side (DiffAugment).
    auto p = gg::AugmentPolicy::parse("translation");
    const int64_t n = 16, s = 32, m = 4;  // m = 32 / 8
    const auto x = torch::rand({n, 3, s, s}).add(0.5);  // no zeros inside
    const auto y = gg::diff_augment(x, p, seeded(1));
    int shifted = 0;
    for (int64_t k = 0; k < n; ++k) {
      bool found = false;
      for (int64_t dy = -m; dy <= m && !found; ++dy)
        for (int64_t dx = -m; dx <= m && !found; ++dx) {
          auto ref = torch::zeros({3, s, s});
          // ref[i, j] = x[i + dy, j + dx] where inside.
          const int64_t i0 = std::max<int64_t>(0, -dy), i1 = std::min<int64_t>(s, s - dy);
          const int64_t j0 = std::max<int64_t>(0, -dx), j1 = std::min<int64_t>(s, s - dx);
          ref.slice(1, i0, i1).slice(2, j0, j1).copy_(x[k].slice(1, i0 + dy, i1 + dy).slice(2, j0 + dx, j1 + dx));
          if (torch::equal(y[k], ref)) {
            found = true;
            shifted += (dx != 0 || dy != 0);
          }
        }
      QVERIFY2(found, ("sample " + std::to_string(k) + " is not an integer shift").c_str());
    }
    QVERIFY(shifted > n / 2);
    // Reflection padding keeps every value from the image (no zeros appear).
    p.reflect_padding = true;
    QVERIFY(gg::diff_augment(x, p, seeded(1)).min().item<double>() >= 0.5);
  }

  void pyramidConsistent_data() {
    QTest::addColumn<QString>("policy");
    QTest::addColumn<bool>("use_ramp");
    QTest::addColumn<bool>("constant");
    QTest::newRow("color, any image") << "color" << false << false;
    QTest::newRow("cutout, constant image") << "cutout" << false << true;
    QTest::newRow("translation, linear image") << "translation" << true << false;
    QTest::newRow("all, linear image") << "color,translation" << true << false;
  }
  void pyramidConsistent() {
    // The same transform at every level: level l of the augmented pyramid is
    // level l of the pyramid of the augmented top image (exactly for colour;
    // for cutout where the image is flat; for translation where the image is
    // linear, away from the zero-filled border).
    QFETCH(QString, policy);
    QFETCH(bool, use_ramp);
    QFETCH(bool, constant);
    const auto p = gg::AugmentPolicy::parse(policy.toStdString());
    const int64_t n = 8, s = 32;
    torch::Tensor x = use_ramp ? ramp(n, s) : constant ? torch::full({n, 3, s, s}, 0.7) : torch::randn({n, 3, s, s});
    const auto levels = gg::image_pyramid(x, 4);
    const auto aug = gg::augment_pyramid(levels, p, seeded(21));
    QCOMPARE(aug.size(), levels.size());
    const auto expect = gg::image_pyramid(aug[0], 4);
    for (size_t l = 1; l < levels.size(); ++l) {
      QCOMPARE(aug[l].sizes(), levels[l].sizes());
      const int64_t size = levels[l].size(2);
      const int64_t margin = p.translation ? (4 >> l) + 1 : 0;
      const auto a = aug[l].slice(2, margin, size - margin).slice(3, margin, size - margin);
      const auto e = expect[l].slice(2, margin, size - margin).slice(3, margin, size - margin);
      const double diff = gg::test::max_abs_diff(a, e);
      QVERIFY2(diff < 1e-5, ("level " + std::to_string(l) + ": " + std::to_string(diff)).c_str());
    }
    // And the transform really did something at the small levels.
    QVERIFY(!torch::allclose(aug.back(), levels.back()));
  }

  void cutoutArea() {
    // DiffAugment's cutout: a square of half the side, i.e. at most 1/4 of the
    // area, zeroed; clipped at the borders, so on average a bit less.
    const auto x = torch::ones({256, 1, 16, 16});
    const auto y = gg::diff_augment(x, gg::AugmentPolicy::parse("cutout"), seeded(4));
    const auto zeroed = (y == 0).to(torch::kFloat32).mean({1, 2, 3});
    QVERIFY(zeroed.max().item<double>() <= 0.25 + 1e-6);
    QVERIFY(zeroed.min().item<double>() > 0);
    const double mean = zeroed.mean().item<double>();
    QVERIFY2(mean > 0.12 && mean < 0.25, std::to_string(mean).c_str());
  }

  void otherDevice() {
    if (!torch::cuda::is_available()) QSKIP("no CUDA device");
    const auto p = gg::AugmentPolicy::parse("color,translation,cutout");
    const auto x = torch::randn({4, 3, 16, 16});
    const auto cpu = gg::diff_augment(x, p, seeded(2));
    const auto gpu = gg::diff_augment(x.to(torch::kCUDA), p, seeded(2));  // CPU generator, CUDA data
    QCOMPARE(gpu.device().type(), torch::kCUDA);
    QVERIFY(gg::test::max_abs_diff(gpu.cpu(), cpu) < 1e-5);
  }

  // gaussian_blur against a direct sum over a reflected border; sigma 0 is
  // the identity; a constant stays constant; mass is kept away from the
  // border; out-of-range sigmas and a radius past the image are refused.
  void gaussianBlur() {
    torch::manual_seed(2);
    const int64_t N = 3, C = 2, H = 9, W = 11;
    const auto x = torch::rand({N, C, H, W}, torch::kDouble);
    const auto sigma = torch::tensor({0.0, 0.6, 1.3}, torch::kDouble);
    const auto y = gg::gaussian_blur(x, sigma);
    auto reflect = [](int64_t i, int64_t n) { return i < 0 ? -i : (i >= n ? 2 * (n - 1) - i : i); };
    const int64_t r = 4;  // ceil(3 * 1.3)
    auto px = x.accessor<double, 4>();
    double worst = 0;
    for (int64_t n = 0; n < N; ++n) {
      const double s = sigma[n].item<double>();
      std::vector<double> k;
      double sum = 0;
      for (int64_t t = -r; t <= r; ++t) {
        k.push_back(s == 0 ? (t == 0 ? 1.0 : 0.0) : std::exp(-double(t * t) / (2 * s * s)));
        sum += k.back();
      }
      for (auto& v : k) v /= sum;
      for (int64_t c = 0; c < C; ++c)
        for (int64_t i = 0; i < H; ++i)
          for (int64_t j = 0; j < W; ++j) {
            double acc = 0;
            for (int64_t a = -r; a <= r; ++a)
              for (int64_t b = -r; b <= r; ++b)
                acc += k[a + r] * k[b + r] * px[n][c][reflect(i + a, H)][reflect(j + b, W)];
            worst = std::max(worst, std::abs(acc - y[n][c][i][j].item<double>()));
          }
    }
    QVERIFY2(worst < 1e-12, std::to_string(worst).c_str());
    QVERIFY(torch::equal(y[0], x[0]));
    QVERIFY((gg::gaussian_blur(torch::full({2, 3, 8, 8}, 0.3), torch::tensor({0.5, 2.0})) - 0.3).abs().max().item<float>() < 1e-6);
    auto dot = torch::zeros({1, 1, 15, 15}, torch::kDouble);
    dot[0][0][7][7] = 1;
    QVERIFY(std::abs(gg::gaussian_blur(dot, torch::tensor({1.0})).sum().item<double>() - 1) < 1e-12);
    QVERIFY(torch::equal(gg::gaussian_blur(x, torch::zeros({N})), x));
    QVERIFY_THROWS_EXCEPTION(std::exception, gg::gaussian_blur(x, torch::tensor({0.0, -0.1, 1.0})));
    QVERIFY_THROWS_EXCEPTION(std::exception, gg::gaussian_blur(x, torch::tensor({0.0, 9.0, 1.0})));
    QVERIFY_THROWS_EXCEPTION(std::exception, gg::gaussian_blur(x, torch::tensor({0.0, 3.0, 1.0})));  // radius 9 >= H
    QVERIFY_THROWS_EXCEPTION(std::exception, gg::gaussian_blur(x, torch::tensor({1.0})));
  }
};

QTEST_GUILESS_MAIN(TestAugment)
#include "test_augment.moc"

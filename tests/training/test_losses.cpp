// Known answers for the GAN losses (training/losses.h).
#include <QtTest/QtTest>

#include <cmath>

#include "losses.h"
#include "test_support.h"

class TestLosses : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void logisticLossKnownValues() {
    const double ln2 = std::log(2.0);
    auto zero = torch::zeros({4, 1, 2, 2});
    QVERIFY(std::abs(gg::d_loss_real(zero).item<double>() - ln2) < 1e-6);
    QVERIFY(std::abs(gg::d_loss_fake(zero).item<double>() - ln2) < 1e-6);
    QVERIFY(std::abs(gg::g_loss(zero).item<double>() - ln2) < 1e-6);
    // softplus(-3) for a confident real, softplus(3) for a fake scored as real.
    auto three = torch::full({2}, 3.0);
    QVERIFY(std::abs(gg::d_loss_real(three).item<double>() - std::log1p(std::exp(-3.0))) < 1e-6);
    QVERIFY(std::abs(gg::d_loss_fake(three).item<double>() - std::log1p(std::exp(3.0))) < 1e-5);
    // Non-saturating: the generator's gradient stays large when D rejects fakes.
    auto fake = torch::full({1}, -10.0, torch::requires_grad());
    gg::g_loss(fake).backward();
    QVERIFY(std::abs(fake.grad().item<double>() + 1.0) < 1e-3);
  }

  void sumOverPairsAddsEveryPair() {
    std::vector<torch::Tensor> maps{torch::zeros({2, 1, 4, 4}), torch::zeros({2, 1, 1, 1}), torch::zeros({2, 1, 2, 2})};
    QVERIFY(std::abs(gg::sum_over_pairs(maps, gg::d_loss_fake).item<double>() - 3 * std::log(2.0)) < 1e-6);
  }

  void modeSeekingKnownValues() {
    // Row 0: images 0.5 apart everywhere, latents 2 apart -> ratio 0.25, loss 1 / 0.25 = 4.
    // Row 1: images 1 apart, latents 1 apart -> ratio 1, loss 1. Mean 2.5 (eps 0).
    auto a = torch::zeros({2, 3, 4, 4});
    auto b = torch::cat({torch::full({1, 3, 4, 4}, 0.5), torch::full({1, 3, 4, 4}, -1.0)});
    auto za = torch::cat({torch::full({1, 8}, 1.0), torch::zeros({1, 8})});
    auto zb = torch::cat({torch::full({1, 8}, -1.0), torch::ones({1, 8})});
    QVERIFY(std::abs(gg::mode_seeking_loss(a, b, za, zb, 0.0).item<double>() - 2.5) < 1e-6);
    // The same images for different latents (collapse) cost 1 / eps; moving them apart lowers the loss.
    auto x = torch::zeros({1, 3, 4, 4}, torch::requires_grad());
    auto collapsed = gg::mode_seeking_loss(x, torch::zeros({1, 3, 4, 4}), torch::ones({1, 8}), torch::zeros({1, 8}));
    QVERIFY(std::abs(collapsed.item<double>() - 1e5) < 1.0);
    auto apart = torch::full({1, 3, 4, 4}, 0.1, torch::requires_grad());
    auto loss = gg::mode_seeking_loss(apart, torch::zeros({1, 3, 4, 4}), torch::ones({1, 8}), torch::zeros({1, 8}));
    loss.backward();
    QVERIFY(loss.item<double>() < collapsed.item<double>());
    QVERIFY(apart.grad().lt(0).all().item<bool>());  // descending the loss moves the images further apart
    // Mismatched shapes are refused.
    bool threw = false;
    try {
      gg::mode_seeking_loss(a, torch::zeros({2, 3, 2, 2}), za, zb);
    } catch (const c10::Error&) {
      threw = true;
    }
    QVERIFY(threw);
  }

  void r1OfQuadraticIsKnown() {
    // D(x) = sum(a * x) -> grad = a, ||grad||^2 = sum(a^2) per sample.
    auto x = torch::randn({3, 2, 2}, torch::requires_grad());
    auto a = torch::arange(4, torch::kFloat32).view({1, 2, 2});
    auto out = (a * x).sum();
    QVERIFY(std::abs(gg::r1_penalty(out, {x}).item<double>() - (0 + 1 + 4 + 9)) < 1e-5);
    // Differentiable: the penalty of D(x) = sum(w * x^2) depends on w.
    auto w = torch::full({1}, 2.0, torch::requires_grad());
    auto y = torch::ones({1, 3}, torch::requires_grad());
    auto p = gg::r1_penalty((w * y.square()).sum(), {y});  // grad = 2 w y = 4 -> 3 * 16 = 48
    QVERIFY(std::abs(p.item<double>() - 48.0) < 1e-4);
    p.backward();
    QVERIFY(std::abs(w.grad().item<double>() - 48.0) < 1e-4);  // d(12 w^2)/dw = 24 w = 48
  }
};

QTEST_GUILESS_MAIN(TestLosses)
#include "test_losses.moc"

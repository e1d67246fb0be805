// Tests of AdaptiveConv2d: every formulation equals the naive per-sample
// reference (values and gradients), the reference itself matches a known
// answer, FLOP counting, meta construction.
// Ref: Kang et al. 2023 (GigaGAN), "Sample-adaptive kernel selection" (g_adaconv).
#include <QtTest/QtTest>

#include "adaptive_conv2d.h"
#include "test_support.h"

using namespace gg;
Q_DECLARE_METATYPE(gg::AdaConvImpl)

namespace {
double rel_err(const torch::Tensor& a, const torch::Tensor& ref) {
  return test::max_abs_diff(a, ref) / std::max(1e-12, ref.abs().max().item<double>());
}
}  // namespace

class TestAdaptiveConv2d : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() { torch::manual_seed(1234); }

  void matches_naive_data() {
    QTest::addColumn<AdaConvImpl>("impl");
    QTest::addColumn<int>("batch");
    QTest::addColumn<int>("nk");
    QTest::addColumn<int>("res");
    QTest::addColumn<bool>("demod");
    QTest::addColumn<int>("up");
    QTest::addColumn<int>("k");
    for (auto impl : {AdaConvImpl::PerSample, AdaConvImpl::Grouped, AdaConvImpl::Bank,
                      AdaConvImpl::Auto})
      for (int batch : {1, 3, 8})
        for (int nk : {1, 4, 8})
          for (int res : {4, 16, 32})
            for (bool demod : {true, false})
              for (int up : {1, 2}) {
                // Also cover 1x1 (toRGB). PerSample at batch 1 modulates the
                // input when it is smaller than the kernel (r4 here: 80 < 270
                // values) and the kernel otherwise (r16, r32): both are covered.
                const int k = (res == 16 && !demod) ? 1 : 3;
                QTest::addRow("%s/n%d/nk%d/r%d/%s/up%d/k%d", adaconv_impl_name(impl), batch, nk,
                              res, demod ? "demod" : "nodemod", up, k)
                    << impl << batch << nk << res << demod << up << k;
              }
  }
  void matches_naive() {
    QFETCH(AdaConvImpl, impl);
    QFETCH(int, batch);
    QFETCH(int, nk);
    QFETCH(int, res);
    QFETCH(bool, demod);
    QFETCH(int, up);
    QFETCH(int, k);
    const int64_t ci = 5, co = 6, wdim = 7;
    // Linear activation: the activation is applied after every formulation by
    // the same code, and lrelu's kink would turn a 1e-7 difference of an output
    // sitting at 0 into a gradient difference of 0.8 x its magnitude.
    AdaptiveConv2d conv(ci, co, k, wdim, nk, demod, up, Activation::Linear);
    // Non-trivial bias so that it is exercised too.
    torch::NoGradGuard ng;
    conv->bias.normal_();
    auto x0 = torch::randn({batch, ci, res, res});
    auto w0 = torch::randn({batch, wdim});
    auto gy = torch::randn({batch, co, res * up, res * up});

    // The output gain (the synthesis block folds lrelu's sqrt 2 into it) goes
    // into the styles or the demodulation coefficients: check it on half the
    // rows against gain x the ungained reference.
    const double gain = up == 2 ? 1.5 : 1.0;
    auto run = [&](AdaConvImpl which) {
      torch::AutoGradMode ag(true);
      for (auto& p : conv->parameters()) p.mutable_grad() = torch::Tensor();
      auto x = x0.clone().requires_grad_(true);
      auto w = w0.clone().requires_grad_(true);
      auto y = which == AdaConvImpl::Naive ? conv->forward_with(which, x, w) * gain
                                           : conv->forward_with(which, x, w, gain);
      (y * gy).sum().backward();
      // A parameter an implementation does not use (the selection when
      // nk == 1 in Bank) has no gradient: that is a zero gradient.
      auto g = [](const torch::Tensor& p) {
        return p.grad().defined() ? p.grad().clone() : torch::zeros_like(p);
      };
      return std::vector<torch::Tensor>{y.detach(), g(x), g(w), g(conv->weight),
                                        g(conv->affine->weight),
                                        nk > 1 ? g(conv->filter->weight) : torch::zeros({1})};
    };
    auto ref = run(AdaConvImpl::Naive);
    auto got = run(impl);
    const char* names[] = {"y", "dx", "dw", "dbank", "daffine", "dfilter"};
    QCOMPARE(got[0].sizes().vec(), (std::vector<int64_t>{batch, co, res * up, res * up}));
    for (size_t i = 0; i < ref.size(); ++i) {
      const double e = rel_err(got[i], ref[i]);
      QVERIFY2(e < 2e-5, (std::string(names[i]) + " relative error " + std::to_string(e)).c_str());
    }
  }

  // Batch 1 without gradients (the studio, under NoGradGuard or InferenceMode)
  // selects kernels from a cached channels_last copy of the bank and takes the
  // styles and kernel logits from a cached stacked affine/filter layer: it
  // matches the reference, and still does after any of those weights change
  // in place (the cache follows their version counters, as after an EMA
  // update or a load).
  void batch_one_inference_matches_naive_data() {
    QTest::addColumn<int>("nk");
    QTest::addColumn<int>("res");
    QTest::addColumn<bool>("demod");
    QTest::addColumn<int>("up");
    QTest::addColumn<int>("k");
    QTest::addColumn<bool>("inference_mode");
    for (int nk : {1, 4})
      for (int res : {2, 16})  // r2: the input is modulated; r16: the kernel is
        for (bool demod : {true, false})
          for (int up : {1, 2})
            for (int k : {1, 3})
              for (bool im : {false, true})
                QTest::addRow("nk%d/r%d/%s/up%d/k%d/%s", nk, res, demod ? "demod" : "nodemod", up, k,
                              im ? "inference" : "nograd")
                    << nk << res << demod << up << k << im;
  }
  void batch_one_inference_matches_naive() {
    QFETCH(int, nk);
    QFETCH(int, res);
    QFETCH(bool, demod);
    QFETCH(int, up);
    QFETCH(int, k);
    QFETCH(bool, inference_mode);
    AdaptiveConv2d conv(5, 6, k, 7, nk, demod, up, Activation::Linear);
    auto x = torch::randn({1, 5, res, res});
    auto w = torch::randn({1, 7});
    for (int round = 0; round < 5; ++round) {
      {
        torch::NoGradGuard ng;
        conv->bias.normal_();
        if (round == 1) conv->weight.mul_(-1.7).add_(0.3);                 // changed in place
        if (round == 2) conv->weight.copy_(torch::randn_like(conv->weight));  // loaded
        if (round == 3) conv->affine->weight.normal_(), conv->affine->bias.normal_();  // the styles' layer
        if (round == 4 && nk > 1) conv->filter->weight.normal_(0, 3), conv->filter->bias.normal_();
      }
      torch::Tensor ref, got;
      {
        torch::NoGradGuard ng;
        ref = conv->forward_with(AdaConvImpl::Naive, x, w) * 1.5;
      }
      if (inference_mode) {
        c10::InferenceMode im;
        got = conv->forward_with(AdaConvImpl::PerSample, x, w, 1.5).clone();
      } else {
        torch::NoGradGuard ng;
        got = conv->forward_with(AdaConvImpl::PerSample, x, w, 1.5);
      }
      const double e = rel_err(got, ref);
      QVERIFY2(e < 2e-5, ("round " + std::to_string(round) + ": relative error " + std::to_string(e)).c_str());
    }
  }

  // The reference itself against an independent known answer: with a strongly
  // preferred kernel j and styles s == 1 (affine weight zeroed, bias init 1),
  // the layer is a plain conv with K_j / |K_j| (demodulated) plus bias.
  void naive_known_answer() {
    const int64_t ci = 3, co = 4, k = 3, wdim = 5, nk = 4, j = 2;
    AdaptiveConv2d conv(ci, co, k, wdim, nk, /*demod=*/true, 1, Activation::Linear);
    torch::NoGradGuard ng;
    conv->affine->weight.zero_();
    conv->filter->weight.zero_();
    conv->filter->bias.zero_();
    conv->filter->bias[j] = 100.0;  // softmax -> one-hot on kernel j
    conv->bias.normal_();
    auto x = torch::randn({2, ci, 8, 8});
    auto w = torch::randn({2, wdim});
    auto kj = conv->weight[j];
    auto kn = kj / kj.square().sum({1, 2, 3}, true).add(1e-8).sqrt();
    auto expect = torch::conv2d(x, kn, conv->bias, 1, 1);
    QVERIFY(test::max_abs_diff(conv->forward_with(AdaConvImpl::Naive, x, w), expect) < 1e-5);
    // Demodulated output channels have unit-norm kernels: scaling the bank by
    // 10 changes nothing.
    auto y1 = conv->forward_with(AdaConvImpl::Naive, x, w);
    conv->weight.mul_(10.0);
    QVERIFY(test::max_abs_diff(conv->forward_with(AdaConvImpl::Naive, x, w), y1) < 1e-5);
  }

  void auto_rule_on_cpu() {
    // Without gradients (generation, the studio): by batch and resolution.
    torch::NoGradGuard ng;
    AdaptiveConv2d rgb(8, 3, 1, 4, /*nk=*/1, false, 1, Activation::Linear);
    QCOMPARE(rgb->choose_impl(torch::zeros({4, 8, 16, 16})), AdaConvImpl::Bank);
    QCOMPARE(rgb->choose_impl(torch::zeros({1, 8, 16, 16})), AdaConvImpl::PerSample);
    AdaptiveConv2d big(64, 64, 3, 4, /*nk=*/8);
    QCOMPARE(big->choose_impl(torch::zeros({1, 64, 64, 64})), AdaConvImpl::PerSample);
    QCOMPARE(big->choose_impl(torch::zeros({16, 64, 64, 64})), AdaConvImpl::PerSample);
    QCOMPARE(big->choose_impl(torch::zeros({16, 64, 32, 32})), AdaConvImpl::Grouped);
    AdaptiveConv2d up(8, 8, 3, 4, /*nk=*/4, true, /*up=*/2);
    QCOMPARE(up->choose_impl(torch::zeros({4, 8, 16, 16})), AdaConvImpl::Grouped);  // 32 px out
    QCOMPARE(up->choose_impl(torch::zeros({4, 8, 32, 32})), AdaConvImpl::PerSample);  // 64 px out
  }

  void auto_rule_on_cpu_in_training() {
    // Gradients through the conv: grouped at every resolution from batch 2;
    // batch 1 and toRGB (Nk == 1) as without gradients.
    AdaptiveConv2d big(64, 64, 3, 4, /*nk=*/8);
    AdaptiveConv2d rgb(8, 3, 1, 4, /*nk=*/1, false, 1, Activation::Linear);
    QVERIFY(torch::GradMode::is_enabled() && big->weight.requires_grad());
    QCOMPARE(big->choose_impl(torch::zeros({16, 64, 64, 64})), AdaConvImpl::Grouped);
    QCOMPARE(big->choose_impl(torch::zeros({16, 64, 32, 32})), AdaConvImpl::Grouped);
    QCOMPARE(big->choose_impl(torch::zeros({1, 64, 64, 64})), AdaConvImpl::PerSample);
    QCOMPARE(rgb->choose_impl(torch::zeros({4, 8, 64, 64})), AdaConvImpl::Bank);
    // Frozen weights (G's forward in D's step): only an input that needs a
    // gradient makes it a training call.
    big->weight.requires_grad_(false);
    QCOMPARE(big->choose_impl(torch::zeros({16, 64, 64, 64})), AdaConvImpl::PerSample);
    QCOMPARE(big->choose_impl(torch::zeros({16, 64, 64, 64}).requires_grad_(true)), AdaConvImpl::Grouped);
    QCOMPARE(big->choose_impl(torch::zeros({16, 64, 64, 64}), torch::zeros({16, 4}).requires_grad_(true)),
             AdaConvImpl::Grouped);
    big->weight.requires_grad_(true);
    {
      torch::NoGradGuard ng;
      QCOMPARE(big->choose_impl(torch::zeros({16, 64, 64, 64})), AdaConvImpl::PerSample);
    }
  }

  void global_impl_switch() {
    AdaptiveConv2d conv(4, 4, 3, 4, 4);
    auto x = torch::randn({2, 4, 8, 8});
    auto w = torch::randn({2, 4});
    const auto saved = adaconv_impl();
    set_adaconv_impl(AdaConvImpl::Grouped);
    QCOMPARE(adaconv_impl(), AdaConvImpl::Grouped);
    auto y = conv->forward(x, w);
    set_adaconv_impl(saved);
    QVERIFY(test::max_abs_diff(y, conv->forward_with(AdaConvImpl::Naive, x, w)) < 1e-5);
  }

  void parse_names() {
    for (auto i : {AdaConvImpl::Auto, AdaConvImpl::Naive, AdaConvImpl::PerSample,
                   AdaConvImpl::Grouped, AdaConvImpl::Bank})
      QCOMPARE(parse_adaconv_impl(adaconv_impl_name(i)), i);
    GG_VERIFY_THROWS_WITH(parse_adaconv_impl("fast"), ConfigError, "per_sample");
  }

  void flops_are_per_sample_conv() {
    const int64_t n = 3, ci = 5, co = 6, k = 3, wdim = 7, nk = 8, res = 8;
    AdaptiveConv2d conv(ci, co, k, wdim, nk, true, /*up=*/2);
    auto x = torch::randn({n, ci, res, res});
    auto w = torch::randn({n, wdim});
    const double expect = 2.0 * n * co * ci * k * k * (2 * res) * (2 * res)  // conv
                          + 2.0 * n * wdim * nk + 2.0 * n * wdim * ci;       // filter, affine
    for (auto impl : {AdaConvImpl::Naive, AdaConvImpl::PerSample, AdaConvImpl::Grouped,
                      AdaConvImpl::Bank}) {
      FlopCounter fc;
      conv->forward_with(impl, x, w);
      QCOMPARE(fc.flops(), expect);
    }
  }

  void single_kernel_has_no_filter() {
    AdaptiveConv2d rgb(8, 3, 1, 4, /*nk=*/1, false, 1, Activation::Linear);
    QVERIFY(rgb->filter.is_empty());
    QVERIFY(!rgb->named_parameters().contains("filter.weight"));
  }

  void meta_construction() {
    const int64_t ci = 512, co = 512, k = 3, wdim = 1024, nk = 8;
    MetaScope meta;
    AdaptiveConv2d conv(ci, co, k, wdim, nk);
    for (const auto& p : conv->parameters()) QVERIFY(p.is_meta());
    QCOMPARE(count_parameters(*conv),
             nk * co * ci * k * k + co + (wdim * nk + nk) + (wdim * ci + ci));
  }

  void shape_errors() {
    AdaptiveConv2d conv(4, 4, 3, 8, 2);
    GG_VERIFY_THROWS_WITH(conv->forward(torch::zeros({2, 3, 8, 8}), torch::zeros({2, 8})),
                          ShapeError, "AdaptiveConv2d x");
    GG_VERIFY_THROWS_WITH(conv->forward(torch::zeros({2, 4, 8, 8}), torch::zeros({1, 8})),
                          ShapeError, "AdaptiveConv2d w");
  }
};

QTEST_GUILESS_MAIN(TestAdaptiveConv2d)
#include "test_adaptive_conv2d.moc"

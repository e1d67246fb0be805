// Core layers (model/layers.h): equalized learning rate, meta construction,
// FLOP counting, shape checks, resampling.
#include <QtTest/QtTest>

#include <cmath>

#include "layers.h"
#include "test_support.h"

class TestLayers : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void fullyConnectedIsEqualizedLinear() {
    torch::manual_seed(0);
    gg::FullyConnectedLayer fc(8, 5, true, gg::Activation::LReLU, /*lr_mul=*/0.01, /*bias_init=*/0.5);
    // Stored weights have std 1/lr_mul; the runtime scale undoes it.
    QVERIFY(std::abs(fc->weight.std().item<double>() * 0.01 - 1.0) < 0.35);
    QVERIFY(std::abs(fc->bias[0].item<double>() * 0.01 - 0.5) < 1e-6);
    auto x = torch::randn({3, 8});
    auto w = fc->weight * (0.01 / std::sqrt(8.0));
    auto ref = torch::leaky_relu(x.matmul(w.t()) + fc->bias * 0.01, 0.2) * std::sqrt(2.0);
    QVERIFY(gg::test::max_abs_diff(fc(x), ref) < 1e-5);
    // Leading dimensions are kept.
    QCOMPARE(fc(torch::randn({2, 4, 8})).sizes().vec(), (std::vector<int64_t>{2, 4, 5}));
    GG_VERIFY_THROWS_WITH(fc(torch::randn({3, 7})), gg::ShapeError, "expected [..., 8]");
  }

  void convMatchesReferenceWithResampling_data() {
    QTest::addColumn<int>("up");
    QTest::addColumn<int>("down");
    QTest::newRow("plain") << 1 << 1;
    QTest::newRow("up") << 2 << 1;
    QTest::newRow("down") << 1 << 2;
  }
  void convMatchesReferenceWithResampling() {
    QFETCH(int, up);
    QFETCH(int, down);
    torch::manual_seed(1);
    gg::Conv2dLayer conv(4, 6, 3, true, gg::Activation::Linear, up, down);
    auto x = torch::randn({2, 4, 8, 8});
    auto xin = up == 2 ? torch::upsample_bilinear2d(x, {16, 16}, false) : x;
    auto ref = torch::conv2d(xin, conv->weight / std::sqrt(4.0 * 9), conv->bias, 1, 1);
    if (down == 2) ref = torch::avg_pool2d(ref, 2);
    auto y = conv(x);
    QCOMPARE(y.sizes().vec(), ref.sizes().vec());
    QVERIFY(gg::test::max_abs_diff(y, ref) < 1e-5);
  }

  void metaScopeAllocatesNothing() {
    int64_t real_count = 0, meta_count = 0;
    {
      gg::FullyConnectedLayer fc(1000, 1000);
      gg::Conv2dLayer conv(64, 64, 3);
      real_count = gg::count_parameters(*fc) + gg::count_parameters(*conv);
    }
    {
      gg::MetaScope meta;
      QVERIFY(gg::MetaScope::active());
      gg::FullyConnectedLayer fc(1000, 1000);
      gg::Conv2dLayer conv(64, 64, 3);
      gg::Linear lin(100000, 100000);  // 10^10 parameters: only possible on the meta device
      QVERIFY(fc->weight.is_meta() && conv->weight.is_meta() && lin->weight.is_meta());
      meta_count = gg::count_parameters(*fc) + gg::count_parameters(*conv);
      QCOMPARE(gg::count_parameters(*lin), int64_t(100000) * 100000 + 100000);
    }
    QVERIFY(!gg::MetaScope::active());
    QCOMPARE(meta_count, real_count);
  }

  void flopCounterCountsLayers() {
    gg::FullyConnectedLayer fc(8, 5);
    gg::Conv2dLayer conv(4, 6, 3);
    gg::FlopCounter outer;
    {
      gg::FlopCounter inner;
      fc(torch::randn({3, 8}));
      QCOMPARE(inner.flops(), 2.0 * 3 * 8 * 5);
    }
    conv(torch::randn({2, 4, 5, 5}));
    QCOMPARE(outer.flops(), 2.0 * 3 * 8 * 5 + 2.0 * 2 * 6 * 4 * 9 * 25);
  }

  void checkShapeNamesTheInput() {
    auto t = torch::zeros({2, 3, 4});
    gg::check_shape(t, {2, -1, 4}, "x");
    GG_VERIFY_THROWS_WITH(gg::check_shape(t, {2, 3, 5}, "my input"), gg::ShapeError,
                          "my input: expected shape [2, 3, 5], got [2, 3, 4]");
    GG_VERIFY_THROWS_WITH(gg::check_shape(t, {2, 3}, "y"), gg::ShapeError, "expected shape [2, 3]");
    GG_VERIFY_THROWS_WITH(gg::check_shape(torch::Tensor(), {1}, "z"), gg::ShapeError, "undefined");
  }

  void pyramidIsRepeatedTwoByTwoMeans() {
    auto x = torch::arange(16, torch::kFloat32).view({1, 1, 4, 4});
    auto p = gg::image_pyramid(x, 3);
    QCOMPARE(p.size(), size_t(3));
    QCOMPARE(p[1].sizes().vec(), (std::vector<int64_t>{1, 1, 2, 2}));
    QCOMPARE(p[1][0][0][0][0].item<float>(), (0.f + 1 + 4 + 5) / 4);
    QCOMPARE(p[2].item<float>(), x.mean().item<float>());
  }

  void activationsAndGains() {
    auto x = torch::tensor({-1.0f, 2.0f});
    QVERIFY(gg::test::max_abs_diff(gg::apply_activation(x, gg::Activation::LReLU),
                                   torch::tensor({-0.2f, 2.0f}) * std::sqrt(2.0f)) < 1e-6);
    QVERIFY(gg::test::max_abs_diff(gg::apply_activation(x, gg::Activation::QuickGELU), x * torch::sigmoid(1.702 * x)) < 1e-6);
    QCOMPARE(gg::activation_gain(gg::Activation::LReLU), std::sqrt(2.0));
    GG_VERIFY_THROWS_WITH(gg::parse_activation("swish"), gg::ConfigError, "unknown activation 'swish'");
  }
};

QTEST_GUILESS_MAIN(TestLayers)
#include "test_layers.moc"

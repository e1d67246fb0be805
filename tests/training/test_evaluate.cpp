// Metrics of `gigagan eval` (training/evaluate.h) on inputs with known answers.
#include <QtTest/QtTest>

#include "errors.h"
#include "evaluate.h"
#include "test_support.h"

class TestEvaluate : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  // Same distribution: ~0; shifted mean: |shift|^2; scaled covariance: closed form.
  void frechetDistanceKnownValues() {
    torch::manual_seed(0);
    auto a = torch::randn({4000, 3}, torch::kDouble);
    auto b = torch::randn({4000, 3}, torch::kDouble);
    QVERIFY(gg::frechet_distance(a, b) < 0.02);
    QVERIFY(std::abs(gg::frechet_distance(a, a)) < 1e-9);
    auto shifted = a + torch::tensor({3.0, 0.0, 4.0}, torch::kDouble);
    QVERIFY(std::abs(gg::frechet_distance(a, shifted) - 25.0) < 1e-6);
    // N(0, I) vs N(0, 4I) in 3-D: tr(I + 4I - 2*2I) = 3.
    QVERIFY(std::abs(gg::frechet_distance(a, 2 * a) - 3.0 * a.var(0).mean().item<double>()) < 0.05);
    QVERIFY_THROWS_EXCEPTION(gg::ShapeError, gg::frechet_distance(a, torch::randn({10, 4})));
  }

  void clipScoreIsClampedCosine() {
    auto x = torch::tensor({{1.f, 0.f}, {0.f, 1.f}});
    auto t = torch::tensor({{1.f, 0.f}, {0.f, -1.f}});
    QCOMPARE(gg::clip_score(x, t), 50.0);  // (100 + max(-100, 0)) / 2
  }

  // Embeddings that equal their caption's text embedding rank it first; random ones rarely do.
  void rPrecision() {
    std::vector<std::string> pool;
    for (int i = 0; i < 150; ++i) pool.push_back("caption " + std::to_string(i));
    torch::manual_seed(1);
    auto table = torch::nn::functional::normalize(torch::randn({150, 32}), torch::nn::functional::NormalizeFuncOptions().dim(1));
    auto encode = [&](const std::vector<std::string>& texts) {
      std::vector<torch::Tensor> rows;
      for (const auto& t : texts) rows.push_back(table[std::stoi(t.substr(8))]);
      return torch::stack(rows);
    };
    std::vector<std::string> caps(pool.begin(), pool.begin() + 50);
    auto perfect = encode(caps);
    QCOMPARE(gg::r_precision(perfect, caps, pool, encode, 100, 3), 1.0);
    auto wrong = encode(std::vector<std::string>(pool.begin() + 50, pool.begin() + 100));
    QVERIFY(gg::r_precision(wrong, caps, pool, encode, 100, 3) < 0.1);
    // Deterministic in its seed.
    auto noisy = perfect + 0.3 * torch::randn_like(perfect);
    QCOMPARE(gg::r_precision(noisy, caps, pool, encode, 100, 9), gg::r_precision(noisy, caps, pool, encode, 100, 9));
  }

  void styleWords() {
    QCOMPARE(gg::caption_style("cat face, animal, noto style"), std::string("noto"));
    QCOMPARE(gg::caption_style("cat face"), std::string(""));
    QCOMPARE(gg::with_style("cat face, animal, noto style", "twemoji"), std::string("cat face, animal, twemoji style"));
    QCOMPARE(gg::with_style("cat face", "noto"), std::string("cat face, noto style"));
    QCOMPARE(gg::other_style_caption("cat face, animal, noto style"), std::string("cat face, animal, twemoji style"));
    QCOMPARE(gg::other_style_caption("cat face, twemoji style"), std::string("cat face, noto style"));
    QCOMPARE(gg::other_style_caption("cat face, openmoji style"), std::string(""));
    QCOMPARE(gg::other_style_caption("cat face"), std::string(""));
  }

  // The style probe: only captions naming noto or twemoji count; an image
  // counts when its own caption scores above the other style's.
  void styleProbeKnownAnswer() {
    auto encode = [](const std::vector<std::string>& t) {  // noto -> [1, 0], twemoji -> [0, 1]
      auto e = torch::zeros({static_cast<int64_t>(t.size()), 2});
      for (size_t i = 0; i < t.size(); ++i) e[static_cast<int64_t>(i)][gg::caption_style(t[i]) == "noto" ? 0 : 1] = 1;
      return e;
    };
    auto image = torch::tensor({{1.f, 0.f}, {1.f, 0.f}, {0.f, 1.f}, {0.f, 1.f}});
    const auto p = gg::style_accuracy(image, {"a, noto style", "b, twemoji style", "c, twemoji style", "d"}, encode);
    QCOMPARE(p.count, int64_t{3});
    QVERIFY(std::abs(p.rate - 2.0 / 3.0) < 1e-9);
    QCOMPARE(gg::style_accuracy(image, {"a", "b", "c", "d"}, encode).count, int64_t{0});
  }
};

QTEST_GUILESS_MAIN(TestEvaluate)
#include "test_evaluate.moc"

// Metrics of `gigagan eval` (training/evaluate.h) on inputs with known answers.
#include <QtTest/QtTest>

#include <filesystem>
#include <fstream>

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

  // In MobileNetV2's 1280-d features (fewer points than dimensions, so the
  // covariances are singular, as in `gigagan eval`): identical sets are at 0.
  void frechetDistanceInFeatureSpace() {
    torch::manual_seed(7);
    auto f = torch::relu(torch::randn({300, 1280}));  // non-negative and sparse, like pooled ReLU6 features
    QVERIFY(gg::frechet_distance(f, f.clone()) < 1e-6);
    QVERIFY(gg::frechet_distance(f, f + 0.1) > 1280 * 0.01 * 0.99);  // the mean shift alone
  }

  // Improved precision and recall (Kynkaanniemi et al. 2019) on point sets with known answers.
  void precisionRecallKnownAnswers() {
    torch::manual_seed(2);
    auto real = torch::randn({200, 16});
    // The same set: every point is inside its own ball.
    auto same = gg::precision_recall(real, real.clone(), 3);
    QCOMPARE(same.precision, 1.0);
    QCOMPARE(same.recall, 1.0);
    QCOMPARE(same.coverage, 1.0);
    // Far apart: nothing of either set is inside the other's manifold.
    auto far = gg::precision_recall(real, torch::randn({150, 16}) + 100.0, 3);
    QCOMPARE(far.precision, 0.0);
    QCOMPARE(far.recall, 0.0);
    QCOMPARE(far.coverage, 0.0);
    // A subset (mode dropping): every generation looks real (precision 1), but only part of the
    // real set is covered. Two far clusters; the model draws one of them.
    auto a = torch::randn({100, 16}), b = torch::randn({100, 16}) + 50.0;
    auto two = torch::cat({a, b});
    auto one = gg::precision_recall(two, a.clone(), 3);
    QCOMPARE(one.precision, 1.0);
    QCOMPARE(one.recall, 0.5);
    QCOMPARE(one.coverage, 0.5);
    // The reverse (the model adds a mode the data lacks): recall 1, precision 1/2.
    auto extra = gg::precision_recall(a, two, 3);
    QCOMPARE(extra.precision, 0.5);
    QCOMPARE(extra.recall, 1.0);
    QCOMPARE(extra.coverage, 1.0);
    // Collapse into a real outlier's large ball: precision 1, yet one real ball of 101 is covered.
    auto outlier = torch::cat({a, torch::full({1, 16}, 30.f)});
    auto collapsed = gg::precision_recall(outlier, torch::full({50, 16}, 29.f) + 0.01 * torch::randn({50, 16}), 3);
    QCOMPARE(collapsed.precision, 1.0);
    QCOMPARE(collapsed.recall, 0.0);
    QVERIFY(std::abs(collapsed.coverage - 1.0 / 101) < 1e-12);
    // Radii are to the k-th neighbour other than the point itself: 4 points on a line at 0, 1, 2, 3
    // have 3rd-neighbour radii 3, 2, 2, 3, so their manifold is [-3, 6]: 6.5 and -3.5 are outside,
    // 6 and -3 (on its edge) inside.
    auto line = torch::tensor({{0.f}, {1.f}, {2.f}, {3.f}});
    QCOMPARE(gg::precision_recall(line, torch::tensor({{6.5f}, {-3.5f}, {0.f}, {1.f}}), 3).precision, 0.5);
    QCOMPARE(gg::precision_recall(line, torch::tensor({{6.f}, {-3.f}, {0.f}, {1.f}}), 3).precision, 1.0);
    QVERIFY_THROWS_EXCEPTION(gg::ShapeError, gg::precision_recall(line, line.slice(0, 0, 3), 3));
  }

  // The linear probe: separable classes are separated (also on held-out points), shuffled labels
  // leave held-out accuracy at chance, and training is deterministic.
  void linearProbe() {
    torch::manual_seed(3);
    const int64_t classes = 4, per = 100, dim = 64;
    auto centres = 3.0 * torch::randn({classes, dim});
    auto make = [&](int64_t n) {
      auto labels = torch::arange(classes).repeat_interleave(n);
      auto x = centres.index_select(0, labels) + torch::randn({classes * n, dim});
      return std::make_pair(x, labels);
    };
    auto [x, y] = make(per);
    auto [xt, yt] = make(per);
    auto probe = gg::train_linear_probe(x, y, classes);
    QCOMPARE(probe.accuracy(x, y), 1.0);
    QCOMPARE(probe.accuracy(xt, yt), 1.0);
    auto again = gg::train_linear_probe(x, y, classes);
    QVERIFY(torch::equal(probe.weight, again.weight));
    // Labels that do not depend on the features: held-out accuracy near chance (1/4).
    auto shuffled = y.index_select(0, torch::randperm(y.size(0)));
    const double chance = gg::train_linear_probe(x, shuffled, classes).accuracy(xt, yt.index_select(0, torch::randperm(yt.size(0))));
    QVERIFY2(chance > 0.1 && chance < 0.4, std::to_string(chance).c_str());
    // Labels outside the probe's classes count as wrong; under InferenceMode it still trains.
    QCOMPARE(probe.accuracy(x.slice(0, 0, 2), torch::tensor({int64_t{7}, int64_t{0}})), 0.5);
    {
      c10::InferenceMode inference;
      QCOMPARE(gg::train_linear_probe(x, y, classes).accuracy(xt, yt), 1.0);
    }
    QCOMPARE(gg::majority_rate({0, 1, 1, 2}), 0.5);
  }

  // The on-disk feature cache: a hit returns what was stored; a changed image file is a miss.
  void featureCache() {
    QTemporaryDir dir;
    const std::filesystem::path root = dir.path().toStdString();
    const std::string net = (root / "net.safetensors").string(), a = (root / "a.png").string(),
                      b = (root / "b.png").string();
    for (const auto& f : {net, a, b}) std::ofstream(f) << "x";
    gg::FeatureCache cache(root / "cache");
    int computed = 0;
    auto compute = [&] {
      ++computed;
      return torch::full({2, 3}, static_cast<float>(computed));
    };
    QCOMPARE(cache.get(net, 64, {a, b}, compute)[0][0].item<float>(), 1.f);
    QCOMPARE(cache.get(net, 64, {a, b}, compute)[1][2].item<float>(), 1.f);  // from the file
    QCOMPARE(computed, 1);
    QCOMPARE(cache.hits, int64_t{1});
    QCOMPARE(cache.get(net, 256, {a, b}, compute)[0][0].item<float>(), 2.f);  // another resolution
    QCOMPARE(cache.get(net, 64, {b, a}, compute)[0][0].item<float>(), 3.f);   // another order
    std::ofstream(b) << "longer";                                              // the image changed
    QCOMPARE(cache.get(net, 64, {a, b}, compute)[0][0].item<float>(), 4.f);
    QCOMPARE(gg::FeatureCache().get(net, 64, {a, b}, compute)[0][0].item<float>(), 5.f);  // no folder: no cache
    QCOMPARE(computed, 5);
    QVERIFY_THROWS_EXCEPTION(gg::ShapeError, cache.get(net, 32, {a, b}, [] { return torch::zeros({3, 3}); }));
  }

  // Labels of a JSONL manifest, keyed by the image path as Dataset builds it.
  void manifestFields() {
    QTemporaryDir dir;
    const std::filesystem::path root = dir.path().toStdString();
    {
      std::ofstream m(root / "manifest.jsonl");
      m << R"({"image":"a.png","caption":"x","group":"food-drink","subgroup":"food-fruit"})" << "\n"
        << "not json\n"
        << R"({"image":"b.png","caption":"y","group":"flags"})" << "\n";
    }
    auto f = gg::manifest_fields(root, {"group", "subgroup", "missing"});
    QCOMPARE(f.count("missing"), size_t{0});
    QCOMPARE(f["group"].size(), size_t{2});
    QCOMPARE(f["group"][(root / "b.png").string()], std::string("flags"));
    QCOMPARE(f["subgroup"].size(), size_t{1});
    QCOMPARE(f["subgroup"][(root / "a.png").string()], std::string("food-fruit"));
    QVERIFY(gg::manifest_fields(root / "a.png", {"group"}).empty());  // not a JSONL manifest
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

  // scale_errors against a loop over pixels; and the scale at which a
  // difference lives: a pixel checkerboard only at full size, an offset at all.
  void scaleErrorsByScale() {
    torch::manual_seed(3);
    const int64_t N = 3, H = 16;
    // real in [-0.6, 0.6], so that the offsets below stay inside [-1, 1].
    auto real = torch::rand({N, 3, H, H}) * 1.2 - 0.6, gen = torch::rand({N, 3, H, H}) * 2 - 1;
    auto naive_mae = [&](const torch::Tensor& a, const torch::Tensor& b, int64_t size) {
      const int64_t k = H / size;
      auto pa = a.accessor<float, 4>(), pb = b.accessor<float, 4>();
      double sum = 0;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t c = 0; c < 3; ++c)
          for (int64_t y = 0; y < size; ++y)
            for (int64_t x = 0; x < size; ++x) {
              double ma = 0, mb = 0;
              for (int64_t dy = 0; dy < k; ++dy)
                for (int64_t dx = 0; dx < k; ++dx) {
                  ma += pa[n][c][y * k + dy][x * k + dx];
                  mb += pb[n][c][y * k + dy][x * k + dx];
                }
              sum += std::abs(ma - mb) / static_cast<double>(k * k);
            }
      return sum / static_cast<double>(N * 3 * size * size) / 2;
    };
    std::vector<int64_t> order;
    for (int64_t i = 0; i < N; ++i) order.push_back((i + 1) % N);
    const auto next = real.index_select(0, torch::tensor(order));
    const auto e = gg::scale_errors(gen, real);
    QCOMPARE(e.size(), size_t{3});
    for (size_t i = 0; i < e.size(); ++i) {
      QCOMPARE(e[i].size, 4 << i);
      QVERIFY(std::abs(e[i].model - naive_mae(gen, real, e[i].size)) < 1e-6);
      QVERIFY(std::abs(e[i].chance - naive_mae(next, real, e[i].size)) < 1e-6);
    }
    auto checker = (torch::arange(H).view({H, 1}) + torch::arange(H).view({1, H})).remainder(2).to(torch::kFloat) * 0.4 - 0.2;
    const auto c = gg::scale_errors(real + checker, real);
    for (size_t i = 0; i + 1 < c.size(); ++i) QVERIFY2(c[i].model < 1e-6, std::to_string(c[i].model).c_str());
    QVERIFY(std::abs(c.back().model - 0.1) < 1e-6);
    for (const auto& s : gg::scale_errors(real + 0.3, real)) QVERIFY(std::abs(s.model - 0.15) < 1e-6);
    // Values outside [-1, 1] count as drawn, clamped.
    for (const auto& s : gg::scale_errors(real * 0 + 3, real * 0 + 0.5)) QVERIFY(std::abs(s.model - 0.25) < 1e-6);
    QVERIFY_THROWS_EXCEPTION(std::exception, gg::scale_errors(gen, real.slice(0, 0, 2)));
    QVERIFY_THROWS_EXCEPTION(std::exception, gg::scale_errors(torch::zeros({2, 3, 12, 12}), torch::zeros({2, 3, 12, 12})));
  }

  // lanczos_resize against a direct 2-D sum over input pixels, against
  // ImageMagick 6.9 (`convert IN.pgm -filter Lanczos -resize 8x8! -depth 16
  // txt:-`, made once), and known answers: same size is the identity, a
  // constant stays constant, shrinking a pixel checkerboard by 2 averages it.
  void lanczosResize() {
    torch::manual_seed(5);
    const auto x = torch::rand({2, 3, 5, 7}, torch::kDouble) * 2 - 1;
    auto naive = [&](const torch::Tensor& img, int64_t size) {
      const int64_t H = img.size(2), W = img.size(3);
      auto kernel = [](double t) {
        auto sinc = [](double v) { return v == 0 ? 1.0 : std::sin(M_PI * v) / (M_PI * v); };
        return std::abs(t) < 3 ? sinc(t) * sinc(t / 3) : 0.0;
      };
      auto out = torch::zeros({img.size(0), img.size(1), size, size}, torch::kDouble);
      auto pi = img.accessor<double, 4>();
      auto po = out.accessor<double, 4>();
      const double sy = double(H) / size, sx = double(W) / size;
      const double ky = std::max(1.0, sy), kx = std::max(1.0, sx);
      for (int64_t n = 0; n < img.size(0); ++n)
        for (int64_t c = 0; c < img.size(1); ++c)
          for (int64_t oy = 0; oy < size; ++oy)
            for (int64_t ox = 0; ox < size; ++ox) {
              const double cy = (oy + 0.5) * sy - 0.5, cx = (ox + 0.5) * sx - 0.5;
              double acc = 0, sum = 0;
              for (int64_t j = 0; j < H; ++j)
                for (int64_t i = 0; i < W; ++i) {
                  const double v = kernel((j - cy) / ky) * kernel((i - cx) / kx);
                  acc += v * pi[n][c][j][i];
                  sum += v;
                }
              po[n][c][oy][ox] = acc / sum;
            }
      return out;
    };
    for (int64_t size : {16, 3, 6}) {
      const double err = (gg::lanczos_resize(x, size) - naive(x, size)).abs().max().item<double>();
      QVERIFY2(err < 1e-9, (std::to_string(size) + ": " + std::to_string(err)).c_str());
    }
    const auto square = torch::rand({1, 3, 6, 6}, torch::kDouble);
    QVERIFY((gg::lanczos_resize(square, 6) - square).abs().max().item<double>() < 1e-12);
    QVERIFY((gg::lanczos_resize(torch::full({1, 3, 4, 4}, 0.25), 9) - 0.25).abs().max().item<float>() < 1e-6);
    // (Away from the border, where no tap is left out.)
    auto checker = (torch::arange(32).view({32, 1}) + torch::arange(32).view({1, 32})).remainder(2).to(torch::kDouble);
    const auto half = gg::lanczos_resize(checker.view({1, 1, 32, 32}), 16).slice(2, 3, 13).slice(3, 3, 13);
    QVERIFY((half - 0.5).abs().max().item<double>() < 1e-9);
    // ImageMagick, 4x4 grey (values / 255) to 8x8 (values / 65535); no value is clipped.
    const auto im_in = torch::tensor({100, 160, 120, 140, 130, 90, 170, 110, 150, 150, 100, 125, 105, 145, 95, 165},
                                     torch::kDouble).view({1, 1, 4, 4}) / 255.0;
    const auto im_out = torch::tensor({21790, 29459, 40921, 42814, 31917, 28628, 34498, 38860, 25404, 28864, 34524,
                                       37674, 35506, 33762, 34140, 34476, 31797, 28813, 25431, 29783, 40104, 40738,
                                       33343, 27987, 38677, 32941, 25009, 27039, 39144, 40149, 31110, 24719, 40180,
                                       38772, 35904, 32779, 31134, 30065, 29417, 29321, 34660, 37720, 41113, 36401,
                                       25471, 24571, 32079, 37573, 27671, 32082, 38099, 35381, 24996, 26255, 36564,
                                       43513, 23369, 28181, 35295, 34304, 25583, 28258, 39329, 46481},
                                      torch::kDouble).view({1, 1, 8, 8}) / 65535.0;
    const double im_err = (gg::lanczos_resize(im_in, 8) - im_out).abs().max().item<double>();
    QVERIFY2(im_err < 1e-4, std::to_string(im_err).c_str());
    QVERIFY_THROWS_EXCEPTION(std::exception, gg::lanczos_resize(torch::zeros({3, 4, 4}), 8));
    QVERIFY_THROWS_EXCEPTION(std::exception, gg::lanczos_resize(x, 0));
  }

  // PSNR: 10 log10(4 / MSE) on [-1, 1] values, clamped as drawn.
  void psnrKnownValues() {
    const auto a = torch::zeros({2, 3, 4, 4});
    QVERIFY(std::abs(gg::psnr(a + 0.2, a) - 10 * std::log10(4 / 0.04)) < 1e-6);
    QVERIFY(std::abs(gg::psnr(a + 5, a + 0.5) - 10 * std::log10(4 / 0.25)) < 1e-6);
    QVERIFY(gg::psnr(a, a) > 150);
    QVERIFY_THROWS_EXCEPTION(std::exception, gg::psnr(a, a.slice(0, 0, 1)));
  }
};

QTEST_GUILESS_MAIN(TestEvaluate)
#include "test_evaluate.moc"

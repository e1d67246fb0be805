// The latent-editing engine (model/engine/engine.h) on a tiny random package.
#include <QtTest/QtTest>

#include <memory>

#include "blend.h"
#include "engine.h"
#include "test_support.h"
#include "tiny_package.h"

using gg::Recipe;
using gg::Source;

namespace {
Recipe two_sources(const std::string& a = "cat face, noto style", const std::string& b = "red heart, twemoji style") {
  Recipe r;
  r.sources = {Source{a, 7, 0.8, {}}, Source{b, 3, 0.8, {}}};
  r.mean_w_samples = 256;
  return r;
}
Recipe plain(const std::string& prompt, uint64_t seed, double psi = 0.8) {
  Recipe r;
  r.sources = {Source{prompt, seed, psi, {}}};
  r.mean_w_samples = 256;
  return r;
}
}  // namespace

class TestEngine : public QObject {
  Q_OBJECT
  std::unique_ptr<gg::Engine> engine;

 private Q_SLOTS:
  void initTestCase() { engine = std::make_unique<gg::Engine>(gg::test::tiny_package(true)); }

  void rendersDeterministically() {
    auto r = two_sources();
    r.w_weights = {0.3, 0.7};
    r.layers = {{"coarse", {0, 1}, {}}};
    r.directions = {{"noto style", "twemoji style", -1, -1, 0.5, "all"}};
    r.upsample = true;
    engine->stamp(r);
    const auto a = engine->render(r);
    // Parse the recipe back from JSON and render in a fresh engine: identical pixels.
    const Recipe back = Recipe::parse(r.dump(), "test");
    gg::Engine fresh(gg::test::tiny_package(true));
    const auto b = fresh.render(back);
    QVERIFY(torch::equal(a.image, b.image));
    QVERIFY(torch::equal(a.upsampled, b.upsampled));
    QCOMPARE(a.image.sizes().vec(), (std::vector<int64_t>{1, 3, 16, 16}));
    QCOMPARE(a.upsampled.sizes().vec(), (std::vector<int64_t>{1, 3, 64, 64}));
    // And the recipe matters: another seed gives another image.
    auto other = back;
    other.sources[0].seed = 8;
    QVERIFY(!torch::equal(fresh.render(other).image, b.image));
  }

  void everyLayerFromAEqualsPlainA() {
    auto mixed = two_sources();
    mixed.layers = {{"all", {1, 0}, {1, 0}}};
    const auto a = engine->render(plain("cat face, noto style", 7));
    QVERIFY(torch::equal(engine->render(mixed).image, a.image));
    // Spelled out slot by slot (a layer list, not the name "all").
    std::string every;
    for (int i = 0; i < engine->layers().size(); ++i) every += (i ? "," : "") + engine->layers().name(i);
    mixed.layers = {{every, {1, 0}, {1, 0}}};
    QVERIFY(torch::equal(engine->render(mixed).image, a.image));
    // Swapping only the coarse layers to B changes the image.
    mixed.layers = {{"coarse", {0, 1}, {0, 1}}};
    QVERIFY(!torch::equal(engine->render(mixed).image, a.image));
  }

  void textAndStyleSwapSeparately() {
    auto r = two_sources();
    const auto a = engine->render(plain("cat face, noto style", 7)).image;
    r.layers = {{"all", {0, 1}, {}}};  // style (w) from B, text from A
    const auto w_only = engine->render(r).image;
    r.layers = {{"all", {}, {0, 1}}};  // text from B, style from A
    const auto t_only = engine->render(r).image;
    QVERIFY(!torch::equal(w_only, a) && !torch::equal(t_only, a) && !torch::equal(w_only, t_only));
    // Both from B is B.
    r.layers = {{"all", {0, 1}, {0, 1}}};
    QVERIFY(torch::equal(engine->render(r).image, engine->render(plain("red heart, twemoji style", 3)).image));
  }

  void sliderEndsArePurePrompts_data() {
    QTest::addColumn<QString>("mode");
    QTest::newRow("lerp") << "lerp";
    QTest::newRow("slerp") << "slerp";
  }
  void sliderEndsArePurePrompts() {
    QFETCH(QString, mode);
    auto r = two_sources();
    r.blend = gg::parse_blend_mode(mode.toStdString());
    const auto pa = engine->render(plain("cat face, noto style", 7)).image;
    const auto pb = engine->render(plain("red heart, twemoji style", 3)).image;
    for (double t : {0.0, 1.0}) {
      r.w_weights = r.t_weights = {1 - t, t};
      QVERIFY(torch::equal(engine->render(r).image, t == 0 ? pa : pb));
    }
    r.w_weights = r.t_weights = {0.5, 0.5};
    const auto mid = engine->render(r).image;
    QVERIFY(!torch::equal(mid, pa) && !torch::equal(mid, pb));
  }

  void slidersNeverReEncodeText() {
    auto r = two_sources("grinning cat face", "blue heart");
    engine->render(r);
    const size_t text = engine->text_encodings_computed(), ws = engine->source_ws_computed();
    for (double t = 0; t <= 1.0; t += 0.1) {
      r.w_weights = r.t_weights = {1 - t, t};
      r.sources[0].psi = 0.5 + t / 2;
      r.layers = {{t < 0.5 ? "coarse" : "middle", {0, 1}, {}}};
      engine->render(r);
    }
    QCOMPARE(engine->text_encodings_computed(), text);
    QCOMPARE(engine->source_ws_computed(), ws);
  }

  void threeAndFourPromptBarycentric() {
    Recipe r = two_sources();
    r.sources.push_back(Source{"dog face, noto style", 5, 0.8, {}});
    r.sources.push_back(Source{"waving hand, noto style", 9, 0.8, {}});
    r.w_weights = r.t_weights = {0, 0, 1, 0};
    QVERIFY(torch::equal(engine->render(r).image, engine->render(plain("dog face, noto style", 5)).image));
    r.w_weights = r.t_weights = {0.25, 0.25, 0.25, 0.25};
    QVERIFY(torch::isfinite(engine->render(r).image).all().item<bool>());
  }

  void slerpKeepsNorm() {
    torch::manual_seed(1);
    auto a = torch::randn({4, 32}), b = torch::randn({4, 32});
    b = b / b.norm(2, -1, true) * a.norm(2, -1, true);  // equal norms row by row
    for (double t : {0.0, 0.25, 0.5, 0.9, 1.0}) {
      const auto s = gg::slerp(a, b, t);
      QVERIFY2(gg::test::max_abs_diff(s.norm(2, -1), a.norm(2, -1)) < 1e-4, std::to_string(t).c_str());
      // lerp shrinks the norm in the middle: slerp is not lerp.
      if (t == 0.5) QVERIFY((0.5 * (a + b)).norm(2, -1).lt(a.norm(2, -1) - 1e-3).all().item<bool>());
    }
    QVERIFY(gg::test::max_abs_diff(gg::slerp(a, b, 0), a) < 1e-5);
    QVERIFY(gg::test::max_abs_diff(gg::slerp(a, b, 1), b) < 1e-5);
    // Three-way slerp of equal-norm vectors keeps the norm too.
    auto c = torch::randn({4, 32});
    c = c / c.norm(2, -1, true) * a.norm(2, -1, true);
    const auto m = gg::blend({a, b, c}, {0.2, 0.3, 0.5}, gg::BlendMode::Slerp);
    QVERIFY(gg::test::max_abs_diff(m.norm(2, -1), a.norm(2, -1)) < 1e-4);
  }

  void truncationPullsTowardsTheMean() {
    auto r = plain("cat face, noto style", 11, 0.0);
    const auto at_mean = engine->render(r).image;
    r.sources[0].seed = 12;
    QVERIFY(torch::equal(engine->render(r).image, at_mean));  // psi 0: every seed is the mean
    r.sources[0].psi = 1.0;
    QVERIFY(!torch::equal(engine->render(r).image, at_mean));
  }

  void directionsMoveTheImage() {
    auto r = plain("cat face, noto style", 7);
    const auto base = engine->render(r).image;
    r.directions = {{"noto style", "twemoji style", -1, -1, 0.0, "all"}};
    QVERIFY(torch::equal(engine->render(r).image, base));  // strength 0
    r.directions[0].strength = 2.0;
    QVERIFY(!torch::equal(engine->render(r).image, base));
    // Between two sources: strength 1 from A to B on w is B's w.
    auto s = two_sources();
    s.directions = {{"", "", 0, 1, 1.0, "all"}};
    s.t_weights = {1, 0};
    auto w_b = two_sources();
    w_b.w_weights = {0, 1};
    QVERIFY(gg::test::max_abs_diff(engine->render(s).image, engine->render(w_b).image) < 1e-5);
  }

  void gridRendersAsOneBatch() {
    std::vector<Recipe> cells;
    for (uint64_t seed = 0; seed < 4; ++seed) cells.push_back(plain("blue heart", seed));
    const auto a = engine->render_batch(cells), b = engine->render_batch(cells);
    QCOMPARE(a.image.size(0), int64_t(4));
    QVERIFY(torch::equal(a.image, b.image));
    QVERIFY(gg::test::max_abs_diff(a.image[2], engine->render(cells[2]).image[0]) < 1e-4);
  }

  void badInputIsNamed() {
    auto r = plain("cat face", 1);
    r.layers = {{"corse", {1}, {}}};
    GG_VERIFY_THROWS_WITH(engine->render(r), gg::ConfigError, "unknown layer 'corse'");
    r.layers = {{"256px", {1}, {}}};
    GG_VERIFY_THROWS_WITH(engine->render(r), gg::ConfigError, "unknown layer '256px'");
    GG_VERIFY_THROWS_WITH(engine->render(plain("  ", 1)), gg::PromptError, "empty prompt");
    auto other = plain("cat face", 1);
    other.model_hash = "0000000000000000";
    GG_VERIFY_THROWS_WITH(engine->render(other), gg::ConfigError, "--model");
    QVERIFY(engine->render(other, true).image.defined());
    auto w = two_sources();
    w.w_weights = {1, -1};
    GG_VERIFY_THROWS_WITH(engine->render(w), gg::ConfigError, "recipe.w");
    gg::Engine no_up(gg::test::tiny_package(false));
    auto up = plain("cat face", 1);
    up.upsample = true;
    GG_VERIFY_THROWS_WITH(no_up.render(up), gg::ConfigError, "no upsampler");
    up.upsample = false;
    up.layers = {{"upsampler", {1}, {}}};
    GG_VERIFY_THROWS_WITH(no_up.render(up), gg::ConfigError, "has no upsampler");
  }

  void namedRanges() {
    const auto& L = engine->layers();  // tiny: 4, 8, 16 px, one block each, and the upsampler
    QCOMPARE(L.parse("coarse"), (std::vector<int>{0, 1}));
    QCOMPARE(L.parse("middle"), (std::vector<int>{2}));
    QCOMPARE(L.parse("fine"), (std::vector<int>{3}));  // no 64 px level: the upsampler only
    QCOMPARE(L.parse("8px, upsampler"), (std::vector<int>{1, 3}));
    QCOMPARE(L.parse("0-2"), (std::vector<int>{0, 1, 2}));
    QCOMPARE(L.parse("16px.b0"), (std::vector<int>{2}));
    GG_VERIFY_THROWS_WITH(L.parse(""), gg::ConfigError, "empty layer list");
    GG_VERIFY_THROWS_WITH(L.parse("9"), gg::ConfigError, "out of range");
  }
};

QTEST_GUILESS_MAIN(TestEngine)
#include "test_engine.moc"

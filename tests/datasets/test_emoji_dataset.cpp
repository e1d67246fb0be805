// The emoji dataset builder (datasets/emoji_dataset.h, datasets/svg_render.h),
// on the fixture in tests/data/emoji (no network): sprite splitting, rendering
// on white, exact 4x4 downsampling, captions, the split by emoji, weights,
// broken or empty input, the Iconify loader (iconify/: chars, default size,
// aliases with flips and rotation, icons without a code point; iconify-names/:
// code points from icon names and shortcodes/) and the style registry.
#include <QtTest/QtTest>

#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "emoji_dataset.h"
#include "errors.h"
#include "svg_render.h"
#include "test_support.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const fs::path kFixture = gg::test::source_path("tests/data/emoji");

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// BGR pixel as "r,g,b" for readable failures.
std::string rgb_at(const cv::Mat& img, int x, int y) {
  const auto p = img.at<cv::Vec3b>(y, x);
  return std::to_string(p[2]) + "," + std::to_string(p[1]) + "," + std::to_string(p[0]);
}
bool near_rgb(const cv::Mat& img, int x, int y, int r, int g, int b, int tol = 2) {
  const auto p = img.at<cv::Vec3b>(y, x);
  return std::abs(p[2] - r) <= tol && std::abs(p[1] - g) <= tol && std::abs(p[0] - b) <= tol;
}

std::vector<json> read_manifest(const fs::path& p) {
  std::vector<json> out;
  std::ifstream in(p);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(json::parse(line));
  return out;
}

gg::StyleInputs twemoji_fixture(const std::set<std::string>& only = {}) {
  gg::StyleInputs si = gg::load_style_inputs("twemoji", kFixture / "twemoji");
  if (!only.empty()) {
    std::vector<gg::SvgInput> kept;
    for (auto& s : si.svgs)
      if (only.count(s.name)) kept.push_back(s);
    si.svgs = kept;
  }
  return si;
}

gg::StyleInputs noto_fixture() {
  gg::StyleInputs si;
  si.style = "noto";
  for (auto& item : gg::split_svg_sprite(read_text(kFixture / "sprite.svg"))) si.svgs.push_back({item.id, item.svg, {}});
  return si;
}

}  // namespace

class TestEmojiDataset : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void spriteSplitsIntoStandaloneSvgs() {
    const auto items = gg::split_svg_sprite(read_text(kFixture / "sprite.svg"));
    // The comment's <svg>, the <style>, the <defs> and the id-less child are not items.
    QCOMPARE(items.size(), size_t(3));
    QCOMPARE(QString::fromStdString(items[0].id), QString("1F431"));
    QCOMPARE(QString::fromStdString(items[1].id), QString("0023-FE0F-20E3"));
    QCOMPARE(QString::fromStdString(items[2].id), QString("1F44B-1F3FE"));
    for (const auto& it : items) {
      QVERIFY(it.svg.rfind("<?xml", 0) == 0);
      QVERIFY2(it.svg.find("display:none") == std::string::npos, it.svg.c_str());
      QVERIFY2(it.svg.find("xmlns=\"http://www.w3.org/2000/svg\"") != std::string::npos, it.svg.c_str());
      QVERIFY(it.svg.find("<symbol") == std::string::npos);
    }
    // The child without namespaces got the root's, so its xlink:href works.
    QVERIFY(items[1].svg.find("xmlns:xlink=\"http://www.w3.org/1999/xlink\"") != std::string::npos);
    QVERIFY(items[0].svg.find("data-note=\"a > inside quotes\"") != std::string::npos);

    // Each item renders standalone as it is drawn in the sheet (8 px).
    const cv::Mat cat = gg::render_svg(items[0].svg, 8, "1F431");
    QVERIFY2(near_rgb(cat, 1, 1, 0, 255, 0), rgb_at(cat, 1, 1).c_str());  // gradient from the root's <defs>
    QVERIFY2(near_rgb(cat, 6, 6, 255, 0, 0), rgb_at(cat, 6, 6).c_str());
    const cv::Mat keycap = gg::render_svg(items[1].svg, 8, "0023");  // 8x4 viewBox: rows 2..5
    QVERIFY2(near_rgb(keycap, 4, 0, 255, 255, 255), rgb_at(keycap, 4, 0).c_str());
    QVERIFY2(near_rgb(keycap, 0, 2, 255, 255, 0), rgb_at(keycap, 0, 2).c_str());  // nested <svg>
    QVERIFY2(near_rgb(keycap, 2, 4, 0, 0, 255), rgb_at(keycap, 2, 4).c_str());
    QVERIFY2(near_rgb(keycap, 6, 4, 0, 0, 255), rgb_at(keycap, 6, 4).c_str());  // <use xlink:href>
    QVERIFY2(near_rgb(keycap, 4, 7, 255, 255, 255), rgb_at(keycap, 4, 7).c_str());
    const cv::Mat hand = gg::render_svg(items[2].svg, 8, "1F44B-1F3FE");  // <symbol> became <svg>
    QVERIFY2(near_rgb(hand, 4, 4, 255, 204, 0), rgb_at(hand, 4, 4).c_str());
    QVERIFY2(near_rgb(hand, 0, 0, 255, 255, 255), rgb_at(hand, 0, 0).c_str());
  }

  void malformedSpriteIsAnError_data() {
    QTest::addColumn<QString>("text");
    QTest::addColumn<QString>("needle");
    QTest::newRow("unclosed child") << "<svg xmlns=\"http://www.w3.org/2000/svg\"><svg id=\"a\"><rect/></svg>"
                                    << "unclosed element";
    QTest::newRow("open comment") << "<svg><!-- <svg id=\"a\"></svg></svg>" << "unterminated comment";
    QTest::newRow("open tag") << "<svg><svg id=\"a\" viewBox=\"0 0 1 1" << "unterminated start tag";
    QTest::newRow("empty") << "" << "no root element";
  }
  void malformedSpriteIsAnError() {
    QFETCH(QString, text);
    QFETCH(QString, needle);
    GG_VERIFY_THROWS_WITH(gg::split_svg_sprite(text.toStdString()), gg::DatasetError, needle.toStdString());
  }

  void rendersOnWhiteKeepingAspect_data() {
    QTest::addColumn<QString>("svg");
    QTest::addColumn<int>("x");
    QTest::addColumn<int>("y");
    QTest::addColumn<QString>("rgb");
    const QString red = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 4 4\"><rect x=\"1\" y=\"1\" width=\"2\" height=\"2\" fill=\"#f00\"/></svg>";
    QTest::newRow("red square, centre") << red << 3 << 4 << "255,0,0";
    QTest::newRow("transparent -> white") << red << 0 << 0 << "255,255,255";
    QTest::newRow("transparent edge -> white") << red << 7 << 6 << "255,255,255";
    const QString half = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 4 4\"><rect width=\"4\" height=\"4\" fill=\"#0000ff\" fill-opacity=\"0.5\"/></svg>";
    QTest::newRow("50% blue over white") << half << 5 << 5 << "128,128,255";
    const QString wide = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 8 4\" preserveAspectRatio=\"none\"><rect width=\"8\" height=\"4\" fill=\"#000\"/></svg>";
    QTest::newRow("wide: letterbox top") << wide << 4 << 1 << "255,255,255";
    QTest::newRow("wide: drawing centred") << wide << 4 << 2 << "0,0,0";
    QTest::newRow("wide: drawing bottom row") << wide << 0 << 5 << "0,0,0";
    QTest::newRow("wide: letterbox bottom") << wide << 4 << 6 << "255,255,255";
    const QString sized = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"2\" height=\"4\"><rect width=\"2\" height=\"4\" fill=\"#0f0\"/></svg>";
    QTest::newRow("no viewBox: tall, pillarbox") << sized << 1 << 4 << "255,255,255";
    QTest::newRow("no viewBox: drawing centred") << sized << 3 << 4 << "0,255,0";
  }
  void rendersOnWhiteKeepingAspect() {
    QFETCH(QString, svg);
    QFETCH(int, x);
    QFETCH(int, y);
    QFETCH(QString, rgb);
    const cv::Mat img = gg::render_svg(svg.toStdString(), 8);
    QCOMPARE(img.type(), CV_8UC3);
    QCOMPARE(img.rows, 8);
    QCOMPARE(img.cols, 8);
    const auto parts = rgb.split(',');
    QVERIFY2(near_rgb(img, x, y, parts[0].toInt(), parts[1].toInt(), parts[2].toInt()), rgb_at(img, x, y).c_str());
  }

  void corruptSvgThrowsDatasetError() {
    GG_VERIFY_THROWS_WITH(gg::render_svg(read_text(kFixture / "twemoji" / "2764.svg"), 16, "twemoji/2764"),
                          gg::DatasetError, "twemoji/2764");
    GG_VERIFY_THROWS_WITH(gg::render_svg("<svg xmlns=\"http://www.w3.org/2000/svg\"/>", 16, "sizeless"),
                          gg::DatasetError, "viewBox");
  }

  void downsampleIsExactBoxMean() {
    cv::Mat img(256, 256, CV_8UC3);
    cv::randu(img, cv::Scalar::all(0), cv::Scalar::all(256));
    const cv::Mat small = gg::downsample_box(img, 4);
    QCOMPARE(small.rows, 64);
    QCOMPARE(small.cols, 64);
    int mismatches = 0;
    for (int y = 0; y < 64; ++y)
      for (int x = 0; x < 64; ++x)
        for (int c = 0; c < 3; ++c) {
          int sum = 0;
          for (int dy = 0; dy < 4; ++dy)
            for (int dx = 0; dx < 4; ++dx) sum += img.at<cv::Vec3b>(4 * y + dy, 4 * x + dx)[c];
          const int expected = static_cast<int>(std::floor(sum / 16.0 + 0.5));
          mismatches += small.at<cv::Vec3b>(y, x)[c] != expected;
        }
    QCOMPARE(mismatches, 0);
    GG_VERIFY_THROWS_WITH(gg::downsample_box(cv::Mat(10, 8, CV_8UC3), 4), gg::DatasetError, "multiple of 4");
  }

  void emojiKeyNormalises_data() {
    QTest::addColumn<QString>("name");
    QTest::addColumn<QString>("key");
    QTest::newRow("emojibase keycap") << "0023-FE0F-20E3" << "23-20e3";
    QTest::newRow("twemoji keycap") << "23-20e3" << "23-20e3";
    QTest::newRow("underscores, fe0e") << "23_fe0e_20e3" << "23-20e3";
    QTest::newRow("upper case") << "1F44B-1F3FE" << "1f44b-1f3fe";
    QTest::newRow("zwj sequence keeps 200d") << "1f3c3-1f3fb-200d-2640-fe0f" << "1f3c3-1f3fb-200d-2640";
    QTest::newRow("not code points") << "logo" << "";
    QTest::newRow("empty token") << "1f431--1f3fb" << "";
    QTest::newRow("too large") << "110000" << "";
  }
  void emojiKeyNormalises() {
    QFETCH(QString, name);
    QFETCH(QString, key);
    QCOMPARE(QString::fromStdString(gg::emoji_key(name.toStdString())), key);
  }

  void captionsFollowTheFormat_data() {
    QTest::addColumn<QString>("hexcode");
    QTest::addColumn<QString>("style");
    QTest::addColumn<QString>("caption");
    QTest::newRow("keywords in the label dropped") << "1F431" << "noto" << "cat face, animal, kitten, kitty, pet, noto style";
    QTest::newRow("skin tone, at most 4 keywords")
        << "1f44b-1f3fe" << "twemoji" << "waving hand, medium-dark skin tone, bye, greetings, hello, wave, twemoji style";
    QTest::newRow("base of a skin family") << "1F44B" << "noto" << "waving hand, bye, greetings, hello, wave, noto style";
    QTest::newRow("qualifier, FE0F dropped in lookup") << "23-20e3" << "noto" << "keycap, #, noto style";
    QTest::newRow("no tags") << "1F1E6" << "openmoji" << "regional indicator A, openmoji style";
  }
  void captionsFollowTheFormat() {
    QFETCH(QString, hexcode);
    QFETCH(QString, style);
    QFETCH(QString, caption);
    const auto cat = gg::EmojiCatalog::load(kFixture / "data.json");
    const gg::EmojiInfo* info = cat.find(gg::emoji_key(hexcode.toStdString()));
    QVERIFY(info);
    QCOMPARE(QString::fromStdString(gg::emoji_caption(*info, style.toStdString())), caption);
  }

  void catalogKnowsFamiliesAndGroups() {
    const auto cat = gg::EmojiCatalog::load(kFixture / "data.json");
    QCOMPARE(cat.size(), size_t(7));  // 5 emoji + 2 skin-tone variants
    const gg::EmojiInfo* v = cat.find("1f44b-1f3fb");
    QVERIFY(v && v->skin_variant);
    QCOMPARE(QString::fromStdString(v->base_hexcode), QString("1F44B"));
    QCOMPARE(QString::fromStdString(v->group), QString("people-body"));
    QCOMPARE(cat.family_size("1F44B"), 3);
    QCOMPARE(QString::fromStdString(cat.find("1f1e6")->group), QString("other"));
    GG_VERIFY_THROWS_WITH(gg::EmojiCatalog::load(kFixture / "nope.json"), gg::DatasetError, "does not exist");
  }

  void splitIsStableAndByEmoji() {
    // Known answers of FNV-1a 64, the hash behind the split.
    QCOMPARE(gg::fnv1a64(""), uint64_t(0xcbf29ce484222325ull));
    QCOMPARE(gg::fnv1a64("a"), uint64_t(0xaf63dc4c8601ec8cull));
    // Spelling of the code points does not matter, only the emoji.
    QCOMPARE(gg::emoji_split("0023-FE0F-20E3", 0.5), gg::emoji_split("23-20e3", 0.5));
    int val = 0;
    const int n = 5000;
    for (int i = 0; i < n; ++i) {
      char hex[16];
      std::snprintf(hex, sizeof hex, "%X", 0x1F300 + i);
      const std::string s = gg::emoji_split(hex, 0.02);
      QVERIFY(s == "train" || s == "val");
      QCOMPARE(gg::emoji_split(hex, 0.02), s);  // deterministic
      val += s == "val";
      QCOMPARE(QString::fromStdString(gg::emoji_split(hex, 0.0)), QString("train"));
    }
    QVERIFY2(val > n * 0.01 && val < n * 0.035, std::to_string(val).c_str());
  }

  void buildsManifestOnTheFixture() {
    QTemporaryDir tmp;
    const fs::path out = fs::path(tmp.path().toStdString()) / "emoji";
    const auto cat = gg::EmojiCatalog::load(kFixture / "data.json");
    gg::EmojiBuildOptions opt;
    opt.threads = 2;
    opt.val_fraction = 0.5;  // both splits occur on a handful of emoji
    const auto r = gg::build_emoji_dataset(out, {noto_fixture(), twemoji_fixture()}, cat, opt);

    QCOMPARE(r.styles.at("noto").rendered, 3);
    QCOMPARE(r.styles.at("twemoji").inputs, 6);
    QCOMPARE(r.styles.at("twemoji").rendered, 4);
    QCOMPARE(r.styles.at("twemoji").render_failed, 1);  // 2764.svg is truncated
    QCOMPARE(r.styles.at("twemoji").no_caption, 1);     // 1f9ff is not in data.json
    QCOMPARE(r.images, 7);

    const auto lines = read_manifest(out / "manifest.jsonl");
    QCOMPARE(lines.size(), size_t(7));
    QVERIFY(!fs::exists(out / "manifest.jsonl.tmp"));
    std::map<std::string, std::string> split_of_base;
    std::map<std::string, double> weight;
    for (const auto& j : lines) {
      for (const char* k : {"image", "image_256", "caption", "split", "weight", "style", "hexcode", "group"})
        QVERIFY2(j.contains(k), j.dump().c_str());
      const std::string style = j["style"], hex = j["hexcode"];
      weight[style + "/" + hex] = j["weight"];
      // The small image is exactly the 4x4 mean of the large one, both on disk.
      const cv::Mat big = cv::imread((out / j["image_256"].get<std::string>()).string(), cv::IMREAD_COLOR);
      const cv::Mat small = cv::imread((out / j["image"].get<std::string>()).string(), cv::IMREAD_COLOR);
      QCOMPARE(big.rows, 256);
      QCOMPARE(small.rows, 64);
      QCOMPARE(cv::norm(gg::downsample_box(big, 4), small, cv::NORM_INF), 0.0);
      QVERIFY2(near_rgb(big, 0, 255, 255, 255, 255) || hex == "1F431", j.dump().c_str());  // white background
      // Every style and skin tone of an emoji shares its split.
      const std::string base = cat.find(gg::emoji_key(hex))->base_hexcode;
      const auto [it, inserted] = split_of_base.emplace(base, j["split"]);
      QCOMPARE(QString::fromStdString(j["split"]), QString::fromStdString(it->second));
      QCOMPARE(QString::fromStdString(j["split"]), QString::fromStdString(gg::emoji_split(base, 0.5)));
    }
    const auto first = lines.front();
    QCOMPARE(QString::fromStdString(first["image"]), QString("images/noto/1f431_64.png"));
    QCOMPARE(QString::fromStdString(first["caption"]), QString("cat face, animal, kitten, kitty, pet, noto style"));
    QCOMPARE(QString::fromStdString(first["group"]), QString("animals-nature"));
    // Skin-tone variants share one emoji's weight within a style.
    QCOMPARE(weight["twemoji/1F44B"], 0.5);
    QCOMPARE(weight["twemoji/1F44B-1F3FB"], 0.5);
    QCOMPARE(weight["noto/1F44B-1F3FE"], 1.0);
    QCOMPARE(weight["noto/1F431"], 1.0);

    // The corrupt SVG and the uncaptioned one are listed in the report.
    const json report = json::parse(read_text(out / "report.json"));
    std::set<std::string> skipped;
    for (const auto& s : report["skipped"])
      skipped.insert(s["style"].get<std::string>() + "/" + s["name"].get<std::string>() + ":" + s["reason"].get<std::string>());
    QVERIFY(skipped.count("twemoji/2764:render failure"));
    QVERIFY(skipped.count("twemoji/1f9ff:no caption"));
    QCOMPARE(report["styles"]["twemoji"]["render_failed"].get<int>(), 1);
    QVERIFY(report["seconds"].get<double>() > 0);

    // --limit takes the first N captioned emoji of each style.
    gg::EmojiBuildOptions lim = opt;
    lim.limit = 1;
    const fs::path out2 = fs::path(tmp.path().toStdString()) / "limited";
    QCOMPARE(gg::build_emoji_dataset(out2, {noto_fixture(), twemoji_fixture()}, cat, lim).images, 2);
  }

  void emptyOrBrokenInputIsADatasetError() {
    QTemporaryDir tmp;
    const fs::path out = fs::path(tmp.path().toStdString()) / "emoji";
    const auto cat = gg::EmojiCatalog::load(kFixture / "data.json");
    gg::EmojiBuildOptions opt;
    gg::StyleInputs none;
    none.style = "twemoji";
    GG_VERIFY_THROWS_WITH(gg::build_emoji_dataset(out, {none}, cat, opt), gg::DatasetError, "no SVG files");
    GG_VERIFY_THROWS_WITH(gg::build_emoji_dataset(out, {twemoji_fixture({"1f9ff"})}, cat, opt), gg::DatasetError,
                          "could be captioned");
    GG_VERIFY_THROWS_WITH(gg::build_emoji_dataset(out, {twemoji_fixture({"2764"})}, cat, opt), gg::DatasetError,
                          "no image was rendered");
    QVERIFY(!fs::exists(out / "manifest.jsonl"));
    opt.size = 30;
    GG_VERIFY_THROWS_WITH(gg::build_emoji_dataset(out, {twemoji_fixture()}, cat, opt), gg::DatasetError,
                          "multiple of 4");
    GG_VERIFY_THROWS_WITH(gg::style_package("comicsans"), gg::DatasetError, "unknown style 'comicsans'");
  }

  void slugsAndNameMatching() {
    QCOMPARE(QString::fromStdString(gg::emoji_slug("flag: C\u00f4te d\u2019Ivoire")), QString("flag-cote-divoire"));
    QCOMPARE(QString::fromStdString(gg::emoji_slug("keycap: *")), QString("keycap"));
    QCOMPARE(QString::fromStdString(gg::emoji_slug("  Man's shoe -- X ")), QString("mans-shoe-x"));
    QCOMPARE(QString::fromStdString(gg::emoji_slug("waving hand: medium-dark skin tone")),
             QString("waving-hand-medium-dark-skin-tone"));

    const auto cat = gg::EmojiCatalog::load(kFixture / "data.json");  // + shortcodes/github.json
    struct Case {
      const char* name;
      const char* key;
      int rank;
    };
    for (const Case& c : {Case{"cat-face", "1f431", 0}, Case{"waving-hand-medium-dark-skin-tone", "1f44b-1f3fe", 0},
                          Case{"regional-indicator-a", "1f1e6", 0}, Case{"cat", "1f431", 2}, Case{"wave", "1f44b", 2},
                          Case{"wavinghandlightskintone", "1f44b-1f3fb", 3}, Case{"cat-face-2", "1f431", 4},
                          Case{"kitty", "", -1},  // a shortcode of two emoji: ambiguous
                          Case{"logo", "", -1}, Case{"2", "", -1}}) {
      const auto m = cat.match_name(c.name);
      QVERIFY2(m.key == c.key && m.rank == c.rank, (std::string(c.name) + " -> " + m.key + " rank " + std::to_string(m.rank)).c_str());
    }
  }

  void iconifyLoaderUsesCharsAliasesAndDefaults() {
    const gg::StyleInputs si = gg::load_iconify_style("fluent", kFixture / "iconify" / "icons.json");
    QCOMPARE(QString::fromStdString(si.style), QString("fluent"));
    std::vector<std::string> got;
    for (const auto& in : si.svgs) got.push_back(in.name + " " + in.label);
    const std::vector<std::string> want = {"1f431 cat-face", "1f431 cat-face-old",  // the hidden icon comes second
                                           "1f44b waving-hand", "1f44b-1f3fb waving-hand-right",
                                           "1f44b-1f3fe waving-hand-up", "23-20e3 keycap-wide"};
    QCOMPARE(got, want);
    // cat-face-again, an alias drawn as cat-face, is left out (only another name).
    // Icons without a code point and broken aliases are listed; unused aliases are not.
    std::map<std::string, std::string> excluded(si.excluded.begin(), si.excluded.end());
    QCOMPARE(excluded.size(), size_t(3));
    QVERIFY2(excluded["logo"].find("no code point") != std::string::npos, excluded["logo"].c_str());
    QVERIFY2(excluded["broken"].find("missing-icon") != std::string::npos, excluded["broken"].c_str());
    QVERIFY2(excluded["nothing-here"].find("names no icon") != std::string::npos, excluded["nothing-here"].c_str());

    // Standalone documents: the set's default 8 x 8 box, the icon's own width.
    const std::string& cat = si.svgs[0].svg;
    QVERIFY2(cat.find("viewBox=\"0 0 8 8\"") != std::string::npos, cat.c_str());
    QVERIFY2(si.svgs[5].svg.find("viewBox=\"0 0 16 8\"") != std::string::npos, si.svgs[5].svg.c_str());
    auto render = [&](size_t i) { return gg::render_svg(si.svgs[i].svg, 8, si.svgs[i].label); };
    QVERIFY(near_rgb(render(0), 4, 4, 255, 0, 0));
    const cv::Mat hand = render(2), right = render(3), up = render(4), wide = render(5);
    QVERIFY2(near_rgb(hand, 1, 4, 0, 0, 255) && near_rgb(hand, 6, 4, 255, 255, 255), rgb_at(hand, 6, 4).c_str());
    // hFlip: the blue half moves right.
    QVERIFY2(near_rgb(right, 1, 4, 255, 255, 255) && near_rgb(right, 6, 4, 0, 0, 255), rgb_at(right, 1, 4).c_str());
    // An alias of an alias: the flips cancel, a quarter turn clockwise puts the left half on top.
    QVERIFY2(near_rgb(up, 4, 1, 0, 0, 255) && near_rgb(up, 4, 6, 255, 255, 255), rgb_at(up, 4, 6).c_str());
    QVERIFY2(near_rgb(wide, 4, 0, 255, 255, 255) && near_rgb(wide, 4, 4, 0, 0, 0), rgb_at(wide, 4, 0).c_str());

    // Built: the first icon of an emoji is drawn, the style word ends every caption.
    QTemporaryDir tmp;
    const fs::path out = fs::path(tmp.path().toStdString()) / "emoji";
    gg::EmojiBuildOptions opt;
    opt.threads = 2;
    opt.size = 16;
    const auto catalog = gg::EmojiCatalog::load(kFixture / "data.json");
    const auto r = gg::build_emoji_dataset(out, {si}, catalog, opt);
    const auto& c = r.styles.at("fluent");
    QCOMPARE(c.rendered, 5);
    QCOMPARE(c.duplicate, 1);
    QCOMPARE(c.excluded, 3);
    QCOMPARE(c.inputs, 9);
    const auto lines = read_manifest(out / "manifest.jsonl");
    QCOMPARE(lines.size(), size_t(5));
    for (const auto& j : lines) {
      const std::string caption = j["caption"];
      QVERIFY2(caption.size() > 14 && caption.substr(caption.size() - 14) == ", fluent style", caption.c_str());
      QCOMPARE(QString::fromStdString(j["style"]), QString("fluent"));
    }
    QCOMPARE(QString::fromStdString(lines[0]["caption"]), QString("cat face, animal, kitten, kitty, pet, fluent style"));
    const cv::Mat cat16 = cv::imread((out / lines[0]["image_256"].get<std::string>()).string(), cv::IMREAD_COLOR);
    QVERIFY2(near_rgb(cat16, 8, 8, 255, 0, 0), rgb_at(cat16, 8, 8).c_str());  // not the hidden green one
    const json report = json::parse(read_text(out / "report.json"));
    std::set<std::string> skipped;
    for (const auto& sk : report["skipped"]) skipped.insert(sk["name"].get<std::string>() + ":" + sk["reason"].get<std::string>());
    QVERIFY(skipped.count("1f431 (cat-face-old):duplicate"));
    QVERIFY(skipped.count("logo:excluded"));
  }

  void iconifyLoaderMatchesNamesOrSiblingChars() {
    const auto catalog = gg::EmojiCatalog::load(kFixture / "data.json");
    const fs::path icons = kFixture / "iconify-names" / "icons.json";
    // No chars: the names, best match of each emoji first.
    const gg::StyleInputs si = gg::load_iconify_style("notov1", icons, {}, &catalog);
    std::vector<std::string> got;
    for (const auto& in : si.svgs) got.push_back(in.name + " " + in.label);
    const std::vector<std::string> want = {"1f431 cat-face",   "1f431 cat",   "1f431 cat-face-2", "1f44b wave",
                                           "1f44b-1f3fb wavinghandlightskintone", "2764 red-heart"};
    QCOMPARE(got, want);
    QCOMPARE(si.excluded.size(), size_t(2));
    QCOMPARE(QString::fromStdString(si.excluded[0].first), QString("kitty"));
    QCOMPARE(QString::fromStdString(si.excluded[1].first), QString("logo"));
    // vFlip of a red square is a red square.
    QVERIFY(near_rgb(gg::render_svg(si.svgs[5].svg, 4, "red-heart"), 2, 2, 255, 0, 0));

    // An empty chars.json (what Iconify ships for such sets) is no chars.json.
    const gg::StyleInputs empty = gg::load_iconify_style("notov1", icons, kFixture / "iconify-names" / "empty-chars.json", &catalog);
    QCOMPARE(empty.svgs.size(), si.svgs.size());
    // A chars.json beside it (or another package's) wins over the names.
    const gg::StyleInputs by_chars = gg::load_iconify_style("fluentcolor", icons, kFixture / "iconify-names" / "chars.json", &catalog);
    QCOMPARE(by_chars.svgs.size(), size_t(1));
    QCOMPARE(QString::fromStdString(by_chars.svgs[0].name), QString("2764"));
    QCOMPARE(QString::fromStdString(by_chars.svgs[0].label), QString("kitty"));
    QCOMPARE(by_chars.excluded.size(), size_t(6));
    // Neither chars nor a catalog: nothing tells the code points.
    GG_VERIFY_THROWS_WITH(gg::load_iconify_style("x", icons), gg::DatasetError, "cannot tell which emoji");
    GG_VERIFY_THROWS_WITH(gg::load_iconify_style("x", kFixture / "data.json"), gg::DatasetError, "not an Iconify");
  }

  void styleRegistry() {
    const auto defaults = gg::default_emoji_styles();
    QVERIFY2(defaults.size() >= 5, std::to_string(defaults.size()).c_str());
    QCOMPARE(QString::fromStdString(defaults[0]), QString("noto"));
    QCOMPARE(QString::fromStdString(defaults[1]), QString("twemoji"));
    std::set<std::string> names;
    for (const auto& st : gg::emoji_styles()) {
      // One lowercase word: the caption's "<word> style" and a folder name.
      QVERIFY2(!st.name.empty() && std::all_of(st.name.begin(), st.name.end(), [](char ch) {
                 return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
               }), st.name.c_str());
      QVERIFY(names.insert(st.name).second);
      for (const auto& a : st.aliases) QVERIFY(names.insert(a).second);
      if (st.in_default)
        QVERIFY2(st.license == "MIT" || st.license == "Apache-2.0" || st.license == "CC-BY-4.0", st.name.c_str());
      else
        QVERIFY2(!st.note.empty(), st.name.c_str());
      if (st.license.find("-SA-") != std::string::npos) QVERIFY2(!st.in_default, st.name.c_str());
      // Every style has its NOTICE.md section.
      QVERIFY2(gg::emoji_notice({st.name}).find("(style `" + st.name + "`") != std::string::npos, st.name.c_str());
    }
    QCOMPARE(QString::fromStdString(gg::emoji_style("fluent-emoji-flat").name), QString("fluent"));
    QCOMPARE(QString::fromStdString(gg::emoji_style("fxemoji").name), QString("firefox"));
    QVERIFY(!gg::emoji_style("openmoji").in_default);
    QCOMPARE(QString::fromStdString(gg::style_package("fluent").name), QString("@iconify-json/fluent-emoji-flat"));
  }

  void noticeNamesEveryLicence() {
    const std::string n = gg::emoji_notice({"noto", "twemoji"});
    for (const char* needle : {"Apache License, Version 2.0", "CC-BY 4.0", "Twitter, Inc and other contributors",
                               "emojibase-data", "MIT"})
      QVERIFY2(n.find(needle) != std::string::npos, needle);
    QVERIFY(n.find("OpenMoji") == std::string::npos);
    QVERIFY(gg::emoji_notice({"openmoji"}).find("CC BY-SA 4.0") != std::string::npos);
    const std::string all = gg::emoji_notice(gg::default_emoji_styles());
    for (const char* needle : {"Microsoft Corporation", "fluentui-emoji-LICENSE", "Mozilla Foundation", "EmojiOne",
                               "Streamline", "licenses/Apache-2.0.txt", "@iconify-json/fluent-emoji-flat@1.2.6"})
      QVERIFY2(all.find(needle) != std::string::npos, needle);
    QVERIFY(all.find("CC BY-SA") == std::string::npos);
  }
};

QTEST_GUILESS_MAIN(TestEmojiDataset)
#include "test_emoji_dataset.moc"

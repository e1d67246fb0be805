// The emoji dataset builder (training/emoji_dataset.h, training/svg_render.h),
// on the fixture in tests/data/emoji (no network): sprite splitting, rendering
// on white, exact 4x4 downsampling, captions, the split by emoji, weights, and
// broken or empty input.
#include <QtTest/QtTest>

#include <opencv2/imgcodecs.hpp>

#include <fstream>
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
    GG_VERIFY_THROWS_WITH(gg::style_package("emojione"), gg::DatasetError, "unknown style 'emojione'");
  }

  void noticeNamesEveryLicence() {
    const std::string n = gg::emoji_notice({"noto", "twemoji"});
    for (const char* needle : {"Apache License, Version 2.0", "CC-BY 4.0", "Twitter, Inc and other contributors",
                               "emojibase-data", "MIT"})
      QVERIFY2(n.find(needle) != std::string::npos, needle);
    QVERIFY(n.find("OpenMoji") == std::string::npos);
    QVERIFY(gg::emoji_notice({"openmoji"}).find("CC BY-SA 4.0") != std::string::npos);
  }
};

QTEST_GUILESS_MAIN(TestEmojiDataset)
#include "test_emoji_dataset.moc"

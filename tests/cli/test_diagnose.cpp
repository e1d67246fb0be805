// `gigagan diagnose` on a tiny package and a two-style dataset: every stage
// reports, in text and JSON, with the numbers in their ranges; the same seed
// gives the same numbers; bad arguments are refused by name.
#include <QtTest/QtTest>

#include <fstream>

#include <opencv2/imgcodecs.hpp>

#include "../engine/tiny_package.h"
#include "cli_support.h"
#include "test_support.h"

namespace fs = std::filesystem;

namespace {
using gg::test::contains;
gg::test::CliResult run(std::vector<std::string> argv) {
  argv.insert(argv.end(), {"--device", "cpu", "--threads", "1"});
  return gg::test::run_cli(argv);
}
gg::json read_json(const fs::path& p) {
  std::ifstream in(p);
  return gg::json::parse(in);
}
}  // namespace

class TestDiagnose : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;
  fs::path root() const { return fs::path(tmp_.path().toStdString()); }

 private Q_SLOTS:
  void initTestCase() {
    QVERIFY(tmp_.isValid());
    gg::test::write_tiny_package((root() / "pkg").string(), false, true, 0);
    // Six emoji in two styles in the validation split: pairs of one emoji in
    // two styles exist, so every distance of stage 3 is defined.
    const fs::path data = root() / "data";
    fs::create_directories(data);
    std::string manifest;
    const char* names[] = {"cat face", "red heart", "dog face", "sun", "fire", "star"};
    int k = 0;
    for (const char* style : {"noto", "twemoji"})
      for (int e = 0; e < 6; ++e, ++k) {
        cv::Mat img(16, 16, CV_8UC3, cv::Scalar(40 * e, 255 - 40 * e, style[0] == 'n' ? 30 : 220));
        const std::string file = "i" + std::to_string(k) + ".png";
        cv::imwrite((data / file).string(), img);
        manifest += "{\"image\": \"" + file + "\", \"caption\": \"" + names[e] + ", " + style +
                    " style\", \"split\": \"val\"}\n";
      }
    // Three training images for the error by scale (stage 4).
    for (int e = 0; e < 3; ++e, ++k) {
      cv::Mat img(16, 16, CV_8UC3, cv::Scalar(200, 60 * e, 90));
      const std::string file = "i" + std::to_string(k) + ".png";
      cv::imwrite((data / file).string(), img);
      manifest += "{\"image\": \"" + file + "\", \"caption\": \"" + names[e] + ", noto style\", \"split\": \"train\"}\n";
    }
    std::ofstream(data / "manifest.jsonl") << manifest;
  }

  void everyStageReports() {
    const fs::path json = root() / "d.json";
    const auto r = run({"diagnose", "--model", (root() / "pkg").string(), "--data", (root() / "data").string(),
                        "--seeds", "3", "--z-samples", "8", "--invert", "2", "--invert-steps", "3", "--json",
                        json.string()});
    QVERIFY2(r.code == 0, r.err.c_str());
    for (const char* s :
         {"1. text -> image retrieval", "2. mapping network", "3. distances", "4. error to the training images by scale",
          "5. inversion"})
      QVERIFY2(contains(r.out, s), (std::string(s) + " missing in:\n" + r.out).c_str());
    const auto j = read_json(json);
    const double top1 = j.at("retrieval").at("encoder CLIP").at("top1").get<double>();
    QVERIFY(top1 >= 0 && top1 <= 1);
    QVERIFY(j.at("mapping").at("within_prompt").get<double>() > 0);
    QVERIFY(j.at("mapping").at("across_prompts").get<double>() > 0);
    for (const auto& [k, v] : j.at("distances").items())
      if (v.is_number()) QVERIFY2(std::isfinite(v.get<double>()) && v.get<double>() >= 0, k.c_str());
    // Three spaces: MobileNetV2, the 16 px pixels (RMS in [-1, 1] units: at most 2), the evaluator CLIP.
    for (const char* space : {"mobilenet", "pixels_16px"})
      for (const char* k : {"seed", "prompt", "real_style", "real_emoji"}) {
        const double v = j.at("distances").at(space).at(k).get<double>();
        QVERIFY2(std::isfinite(v) && v >= 0 && v <= 2, (std::string(space) + "." + k).c_str());
      }
    QVERIFY(j.at("distances").at("pixels_16px").at("real_emoji").get<double>() > 0);
    // Error by scale: one row per pyramid size up to the model's resolution,
    // errors on 0..1, chance > 0 (the three training images differ).
    const auto& se = j.at("scale_error");
    QCOMPARE(se.at("images").get<int>(), 3);
    QCOMPARE(se.at("split").get<std::string>(), std::string("train"));
    QVERIFY(!se.at("levels").empty());
    int size = 4;
    for (const auto& row : se.at("levels")) {
      QCOMPARE(row.at("size").get<int>(), size);
      size *= 2;
      const double m = row.at("model").get<double>(), ch = row.at("chance").get<double>();
      QVERIFY2(m >= 0 && m <= 1 && ch > 0 && ch <= 1, row.dump().c_str());
    }
    QVERIFY(j.at("inversion").at("W").at("psnr").get<double>() > 0);
    QVERIFY(j.at("inversion").at("W+").at("psnr").get<double>() > 0);
    // Deterministic: the same command gives the same numbers.
    const fs::path json2 = root() / "d2.json";
    QCOMPARE(run({"diagnose", "--model", (root() / "pkg").string(), "--data", (root() / "data").string(), "--seeds",
                  "3", "--z-samples", "8", "--invert", "0", "--json", json2.string()})
                 .code,
             0);
    const auto j2 = read_json(json2);
    QCOMPARE(j2.at("mapping").dump(), j.at("mapping").dump());
    QCOMPARE(j2.at("retrieval").dump(), j.at("retrieval").dump());
    QCOMPARE(j2.at("scale_error").dump(), j.at("scale_error").dump());
  }

  void badArgumentsAreRefused() {
    auto r = run({"diagnose", "--model", (root() / "pkg").string()});
    QCOMPARE(r.code, 2);
    QVERIFY(contains(r.err, "--data"));
    r = run({"diagnose", "--model", (root() / "pkg").string(), "--data", (root() / "data").string(), "--seeds", "1"});
    QCOMPARE(r.code, 2);
    QVERIFY(contains(r.err, "--seeds"));
    r = run({"diagnose", "--model", (root() / "pkg").string(), "--data", (root() / "data").string(), "--scale-images",
             "1"});
    QCOMPARE(r.code, 2);
    QVERIFY(contains(r.err, "--scale-images"));
    // A split without images: the error names it and the way out.
    r = run({"diagnose", "--model", (root() / "pkg").string(), "--data", (root() / "data").string(), "--seeds", "2",
             "--z-samples", "2", "--invert", "0", "--scale-split", "nosuch"});
    QVERIFY(r.code != 0);
    QVERIFY2(contains(r.err, "nosuch") && contains(r.err, "--scale-images 0"), r.err.c_str());
  }
};

QTEST_GUILESS_MAIN(TestDiagnose)
#include "test_diagnose.moc"

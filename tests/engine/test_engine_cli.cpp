// The engine subcommands of `gigagan` (cli/{generate,mix,interpolate,
// invert,drag,upsample,render}.cpp), run in-process on a tiny package.
#include <QtTest/QtTest>

#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <set>
#include <map>
#include <sstream>

#include "cli_support.h"
#include "image_io.h"
#include "recipe.h"
#include "test_support.h"
#include "tiny_package.h"

namespace fs = std::filesystem;

namespace {
using gg::test::contains;
gg::test::CliResult run(std::vector<std::string> argv) {
  // One thread: CTest runs suites in parallel, and oversubscribed OpenMP spins.
  if (argv.size() > 1 && argv[1] != "--help") argv.insert(argv.end(), {"--device", "cpu", "--threads", "1"});
  return gg::test::run_cli(argv);
}
std::string slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
}  // namespace

class TestEngineCli : public QObject {
  Q_OBJECT
  QTemporaryDir tmp;
  std::string pkg, other;
  std::string path(const std::string& name) const { return tmp.filePath(QString::fromStdString(name)).toStdString(); }

 private Q_SLOTS:
  void initTestCase() {
    pkg = path("pkg");
    other = path("other");
    gg::test::write_tiny_package(pkg, true, false, 0);
    gg::test::write_tiny_package(other, true, false, 1);
  }

  void everyCommandHasHelp() {
    for (const char* c : {"generate", "mix", "interpolate", "invert", "drag", "upsample", "render"}) {
      const auto r = run({c, "--help"});
      QCOMPARE(r.code, 0);
      QVERIFY2(contains(r.out, "--model PKG") && contains(r.out, "--device"), c);
    }
    QVERIFY(contains(run({"--help"}).out, "interpolate"));
  }

  void generateWritesARecipeThatRendersTheSamePixels() {
    const auto g = run({"generate", "--model", pkg, "--prompt", "cat face, noto style", "--seed", "3", "--count", "3",
                        "--upsample", "--direction-from", "noto style", "--direction-to", "twemoji style", "--out",
                        path("g.png")});
    QVERIFY2(g.code == 0, g.err.c_str());
    const auto rr = run({"render", "--model", pkg, "--recipe", path("g.png"), "--out", path("r.png")});
    QVERIFY2(rr.code == 0, rr.err.c_str());
    // Same pixels, same recipe.
    const cv::Mat a = cv::imread(path("g.png")), b = cv::imread(path("r.png"));
    QCOMPARE(a.cols, 3 * 64);  // three upsampled 64 px images in a row
    QCOMPARE(cv::norm(a, b, cv::NORM_INF), 0.0);
    QCOMPARE(gg::read_png_text(path("g.png")), gg::read_png_text(path("r.png")));
    // The recipe can be printed and rendered from JSON too.
    const auto printed = run({"render", "--model", pkg, "--recipe", path("g.png"), "--print"});
    QCOMPARE(printed.code, 0);
    std::ofstream(path("g.json")) << printed.out;
    QCOMPARE(run({"render", "--model", pkg, "--recipe", path("g.json"), "--out", path("j.png")}).code, 0);
    QCOMPARE(cv::norm(a, cv::imread(path("j.png")), cv::NORM_INF), 0.0);
    // Another model refuses the recipe unless asked.
    const auto wrong = run({"render", "--model", other, "--recipe", path("g.png"), "--out", path("x.png")});
    QCOMPARE(wrong.code, 1);
    QVERIFY2(contains(wrong.err, "--any-model"), wrong.err.c_str());
    QCOMPARE(run({"render", "--model", other, "--recipe", path("g.png"), "--out", path("x.png"), "--any-model"}).code, 0);
  }

  // --style sets each prompt's style clause, removes it, or makes a row per
  // style of the model (the package's "styles"), as the studio's Style box.
  void generateStyle() {
    const auto prompts_of = [&](const std::string& png) {
      std::vector<std::string> out;
      for (const auto& c : gg::RecipeGrid::parse(gg::read_png_text(png).at(gg::kRecipeChunkKey), png).cells)
        out.push_back(c.sources.front().prompt);
      return out;
    };
    auto r = run({"generate", "--model", pkg, "--prompt", "cat face", "--prompt", "red heart, noto style", "--style",
                  "all", "--count", "2", "--out", path("st.png")});
    QVERIFY2(r.code == 0, r.err.c_str());
    QCOMPARE(prompts_of(path("st.png")),
             (std::vector<std::string>{"cat face, noto style", "cat face, noto style", "cat face, twemoji style",
                                       "cat face, twemoji style", "red heart, noto style", "red heart, noto style",
                                       "red heart, twemoji style", "red heart, twemoji style"}));
    r = run({"generate", "--model", pkg, "--prompt", "cat face, noto style", "--style", "twemoji", "--out",
             path("s1.png")});
    QVERIFY2(r.code == 0, r.err.c_str());
    QCOMPARE(prompts_of(path("s1.png")), std::vector<std::string>{"cat face, twemoji style"});
    // The same pixels as the prompt typed with that style.
    r = run({"generate", "--model", pkg, "--prompt", "cat face, twemoji style", "--out", path("s2.png")});
    QCOMPARE(cv::norm(cv::imread(path("s1.png")), cv::imread(path("s2.png")), cv::NORM_INF), 0.0);
    r = run({"generate", "--model", pkg, "--prompt", "cat face, noto style", "--style", "none", "--out",
             path("s3.png")});
    QVERIFY2(r.code == 0, r.err.c_str());
    QCOMPARE(prompts_of(path("s3.png")), std::vector<std::string>{"cat face"});
  }

  void mixInterpolateInvertUpsample() {
    auto r = run({"mix", "--model", pkg, "--a", "cat face", "--b", "red heart", "--layers", "coarse,upsampler", "--swap",
                  "w", "--upsample", "--out", path("m.png")});
    QVERIFY2(r.code == 0, r.err.c_str());
    r = run({"interpolate", "--model", pkg, "--prompt", "cat face", "--prompt", "red heart", "--prompt", "blue heart",
             "--frames", "5", "--loop", "--mode", "slerp", "--out", path("i.gif")});
    QVERIFY2(r.code == 0, r.err.c_str());
    QVERIFY(slurp(path("i.gif")).rfind("GIF89a", 0) == 0);
    r = run({"interpolate", "--model", pkg, "--prompt", "cat face", "--prompt", "red heart", "--frames", "3", "--out",
             path("frames")});
    QVERIFY2(r.code == 0, r.err.c_str());
    QVERIFY(fs::exists(path("frames/frame_0002.png")));
    // The last frame of a non-looping path is the last prompt.
    r = run({"generate", "--model", pkg, "--prompt", "red heart", "--psi", "0.8", "--out", path("b.png")});
    QCOMPARE(cv::norm(cv::imread(path("frames/frame_0002.png")), cv::imread(path("b.png")), cv::NORM_INF), 0.0);
    r = run({"interpolate", "--model", pkg, "--prompt", "cat face", "--prompt", "red heart", "--weights", "0.3,0.7",
             "--space", "w", "--out", path("w.png")});
    QVERIFY2(r.code == 0, r.err.c_str());
    // Invert the generated image, then mix the inverted latent with a prompt.
    r = run({"invert", "--model", pkg, "--image", path("b.png"), "--prompt", "red heart", "--steps", "30", "--out",
             path("inv.png")});
    QVERIFY2(r.code == 0, r.err.c_str());
    QVERIFY2(contains(r.out, "reconstruction MSE") && contains(r.out, "mean w MSE"), r.out.c_str());
    r = run({"mix", "--model", pkg, "--a-recipe", path("inv.png"), "--b", "cat face", "--layers", "fine", "--out",
             path("im.png")});
    QVERIFY2(r.code == 0, r.err.c_str());
    // PTI writes a tuned package that renders the reconstruction exactly.
    r = run({"invert", "--model", pkg, "--image", path("b.png"), "--prompt", "red heart", "--steps", "5",
             "--pti-steps", "5", "--save-model", path("tuned"), "--out", path("pti.png")});
    QVERIFY2(r.code == 0, r.err.c_str());
    r = run({"render", "--model", path("tuned"), "--recipe", path("pti.png"), "--out", path("pti2.png")});
    QVERIFY2(r.code == 0, r.err.c_str());
    QCOMPARE(cv::norm(cv::imread(path("pti.png")), cv::imread(path("pti2.png")), cv::NORM_INF), 0.0);
    // Upsample: a gigagan PNG by its recipe, any other image with --prompt.
    r = run({"upsample", "--model", pkg, "--image", path("b.png"), "--out", path("u.png")});
    QVERIFY2(r.code == 0, r.err.c_str());
    QCOMPARE(cv::imread(path("u.png")).cols, 64);
    cv::imwrite(path("plain.png"), cv::Mat(30, 30, CV_8UC3, cv::Scalar(0, 0, 255)));
    r = run({"upsample", "--model", pkg, "--image", path("plain.png"), "--prompt", "red square", "--out", path("u2.png")});
    QVERIFY2(r.code == 0, r.err.c_str());
    QCOMPARE(cv::imread(path("u2.png")).cols, 64);
  }

  void dragWritesARecipeWithTheLatent() {
    auto r = run({"generate", "--model", pkg, "--prompt", "cat face, noto style", "--seed", "3", "--upsample",
                  "--out", path("d0.png")});
    QVERIFY2(r.code == 0, r.err.c_str());
    // Only the top half may move (white).
    cv::Mat mask(16, 16, CV_8UC3, cv::Scalar(0, 0, 0));
    mask.rowRange(0, 8).setTo(cv::Scalar(255, 255, 255));
    cv::imwrite(path("mask.png"), mask);
    r = run({"drag", "--model", pkg, "--recipe", path("d0.png"), "--point", "5,4:9,4", "--point", "10.5,3:10,6",
             "--mask", path("mask.png"), "--steps", "5", "--out", path("d1.png")});
    QVERIFY2(r.code == 0, r.err.c_str());
    QVERIFY2(contains(r.out, "dragged 2 points in ") && contains(r.out, "point 2: (10.5, 3) -> (10, 6), now at"),
             r.out.c_str());
    // The result carries a W+ latent and keeps upsampling; rendering it gives the same pixels.
    const auto grid = gg::RecipeGrid::parse(gg::read_png_text(path("d1.png")).at(gg::kRecipeChunkKey), "d1.png");
    QCOMPARE(grid.cells.size(), size_t(1));
    QVERIFY(grid.cells[0].sources[0].latent && grid.cells[0].sources[0].latent->plus);
    QVERIFY(grid.cells[0].upsample);
    QCOMPARE(cv::imread(path("d1.png")).cols, 64);
    r = run({"render", "--model", pkg, "--recipe", path("d1.png"), "--out", path("d2.png")});
    QVERIFY2(r.code == 0, r.err.c_str());
    QCOMPARE(cv::norm(cv::imread(path("d1.png")), cv::imread(path("d2.png")), cv::NORM_INF), 0.0);
    // A grid is refused: drag edits one image.
    r = run({"generate", "--model", pkg, "--prompt", "cat face", "--count", "2", "--out", path("dg.png")});
    QVERIFY2(r.code == 0, r.err.c_str());
    r = run({"drag", "--model", pkg, "--recipe", path("dg.png"), "--point", "1,1:2,2"});
    QCOMPARE(r.code, 1);
    QVERIFY2(contains(r.err, "grid of 2 images"), r.err.c_str());
  }

  void badInputExitsNonZeroNamingTheProblem_data() {
    QTest::addColumn<QStringList>("argv");
    QTest::addColumn<int>("code");
    QTest::addColumn<QString>("needle");
    const QString p = QString::fromStdString(pkg), missing = tmp.filePath("nope");
    const QString junk = tmp.filePath("junk.png");
    std::ofstream(junk.toStdString()) << "not an image";
    // Missing model.
    for (const char* c : {"generate", "mix", "interpolate", "invert", "upsample", "render"})
      QTest::newRow((std::string("missing model: ") + c).c_str())
          << QStringList{c, "--model", missing, "--prompt", "x", "--a", "x", "--b", "y", "--image", junk, "--recipe", junk}
          << -1 << missing;
    QTest::newRow("generate: empty prompt") << QStringList{"generate", "--model", p, "--prompt", " "} << 1 << "empty prompt";
    QTest::newRow("generate: no prompt") << QStringList{"generate", "--model", p} << 2 << "--prompt is required";
    QTest::newRow("generate: style the model lacks")
        << QStringList{"generate", "--model", p, "--prompt", "a", "--style", "fluent"} << 2
        << "'fluent' is not one of this model's styles: noto, twemoji";
    QTest::newRow("generate: not a style word")
        << QStringList{"generate", "--model", p, "--prompt", "a", "--style", "Noto Style"} << 2
        << "'Noto Style' is not a style word";
    QTest::newRow("generate: style clause was the prompt")
        << QStringList{"generate", "--model", p, "--prompt", "noto style", "--style", "none"} << 1 << "empty prompt";
    QTest::newRow("generate: unknown direction layer")
        << QStringList{"generate", "--model", p, "--prompt", "a", "--direction-from", "b", "--direction-to", "c",
                       "--direction-layers", "huge"}
        << 1 << "unknown layer 'huge'";
    QTest::newRow("mix: unknown layer") << QStringList{"mix", "--model", p, "--a", "a", "--b", "b", "--layers", "corse"}
                                        << 1 << "unknown layer 'corse'";
    QTest::newRow("mix: empty prompt") << QStringList{"mix", "--model", p, "--a", "", "--b", "b"} << 1 << "empty prompt";
    QTest::newRow("mix: bad swap") << QStringList{"mix", "--model", p, "--a", "a", "--b", "b", "--swap", "x"} << 2
                                   << "--swap expects";
    QTest::newRow("mix: unreadable recipe") << QStringList{"mix", "--model", p, "--a-recipe", junk, "--b", "b"} << 1
                                            << "junk.png";
    QTest::newRow("interpolate: one prompt") << QStringList{"interpolate", "--model", p, "--prompt", "a"} << 2
                                             << "2 to 4";
    QTest::newRow("interpolate: empty prompt")
        << QStringList{"interpolate", "--model", p, "--prompt", "a", "--prompt", "", "--weights", "1,1"} << 1
        << "empty prompt";
    QTest::newRow("interpolate: bad mode")
        << QStringList{"interpolate", "--model", p, "--prompt", "a", "--prompt", "b", "--mode", "cubic"} << 1
        << "unknown interpolation mode 'cubic'";
    QTest::newRow("interpolate: weights") << QStringList{"interpolate", "--model", p, "--prompt", "a", "--prompt", "b",
                                                         "--weights", "1,2,3"}
                                          << 1 << "expected 2 weights";
    QTest::newRow("invert: unreadable image") << QStringList{"invert", "--model", p, "--image", junk, "--prompt", "a"}
                                              << 1 << "junk.png";
    QTest::newRow("invert: missing image")
        << QStringList{"invert", "--model", p, "--image", tmp.filePath("gone.png"), "--prompt", "a"} << 1 << "gone.png";
    QTest::newRow("invert: empty prompt") << QStringList{"invert", "--model", p, "--image", junk, "--prompt", ""} << 1
                                          << "empty prompt";
    QTest::newRow("invert: no image") << QStringList{"invert", "--model", p, "--prompt", "a"} << 2
                                      << "--image is required";
    QTest::newRow("upsample: unreadable image")
        << QStringList{"upsample", "--model", p, "--image", junk, "--prompt", "a"} << 1 << "junk.png";
    QTest::newRow("upsample: empty prompt")
        << QStringList{"upsample", "--model", p, "--image", junk, "--prompt", ""} << 1 << "empty prompt";
    const QString d0 = tmp.filePath("d0.png");
    QTest::newRow("drag: no point") << QStringList{"drag", "--model", p, "--recipe", d0} << 2 << "at least one --point";
    QTest::newRow("drag: bad point") << QStringList{"drag", "--model", p, "--recipe", d0, "--point", "3,4-5,6"} << 2
                                     << "--point expects HANDLE_X,HANDLE_Y:TARGET_X,TARGET_Y";
    QTest::newRow("drag: point outside") << QStringList{"drag", "--model", p, "--recipe", d0, "--point", "3,4:16,6"}
                                         << 1 << "point 1: the target (16, 6) is outside the 16 x 16 image";
    QTest::newRow("drag: layer after the feature layer")
        << QStringList{"drag", "--model", p, "--recipe", d0, "--point", "3,4:5,6", "--layers", "fine"} << 1
        << "comes after the feature layer";
    QTest::newRow("drag: unreadable mask")
        << QStringList{"drag", "--model", p, "--recipe", d0, "--point", "3,4:5,6", "--mask", junk} << 1 << "junk.png";
    QTest::newRow("drag: not a recipe") << QStringList{"drag", "--model", p, "--recipe", junk, "--point", "3,4:5,6"}
                                        << 1 << "junk.png";
    QTest::newRow("render: missing recipe") << QStringList{"render", "--model", p, "--recipe", tmp.filePath("no.json")}
                                            << 1 << "no.json";
    QTest::newRow("render: not a recipe") << QStringList{"render", "--model", p, "--recipe", junk} << 1 << "junk.png";
  }
  void badInputExitsNonZeroNamingTheProblem() {
    QFETCH(QStringList, argv);
    QFETCH(int, code);
    QFETCH(QString, needle);
    std::vector<std::string> a;
    // Keep only the options the command has (the missing-model rows list all).
    const std::string cmd = argv[0].toStdString();
    for (int i = 0; i < argv.size(); ++i) {
      const std::string s = argv[i].toStdString();
      if (code == -1 && s.rfind("--", 0) == 0 && i + 1 < argv.size()) {
        static const std::map<std::string, std::set<std::string>> opts = {
            {"generate", {"--model", "--prompt"}},
            {"mix", {"--model", "--a", "--b"}},
            {"interpolate", {"--model", "--prompt"}},
            {"invert", {"--model", "--image", "--prompt"}},
            {"upsample", {"--model", "--image", "--prompt"}},
            {"render", {"--model", "--recipe"}}};
        if (!opts.at(cmd).count(s)) {
          ++i;
          continue;
        }
        a.push_back(s);
        a.push_back(argv[++i].toStdString());
        if (cmd == "interpolate" && s == "--prompt") a.insert(a.end(), {"--prompt", "y"});
        continue;
      }
      a.push_back(s);
    }
    const auto r = run(a);
    if (code == -1) {
      // render reads the recipe before the model: junk.png is named instead.
      QVERIFY2(r.code == 1, r.err.c_str());
      QVERIFY2(contains(r.err, needle.toStdString()) || (cmd == "render" && contains(r.err, "junk.png")), r.err.c_str());
      return;
    }
    QVERIFY2(r.code == code, (std::to_string(r.code) + ": " + r.err).c_str());
    QVERIFY2(contains(r.err, needle.toStdString()), r.err.c_str());
  }

  void benchEngine() {
    const auto r = run({"bench", "--engine", pkg, "--iters", "2", "--warmup", "0", "--inversion", "--inversion-steps",
                        "3", "--drag", "--drag-steps", "4"});
    QVERIFY2(r.code == 0, r.err.c_str());
    QVERIFY2(contains(r.out, "64 px from cached text") && contains(r.out, "interpolation step") &&
                 contains(r.out, "upsampler") && contains(r.out, "inversion W+") &&
                 contains(r.out, "drag (one handle, 16 px, default layers): 4 steps") && contains(r.out, "steps/s"),
             r.out.c_str());
  }
};

QTEST_GUILESS_MAIN(TestEngineCli)
#include "test_engine_cli.moc"

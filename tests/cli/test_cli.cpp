// The `gigagan` command's dispatcher, options and error handling (cli/cli.h).
#include <QtTest/QtTest>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli_support.h"
#include "test_support.h"

namespace {
using gg::test::contains;
gg::test::CliResult run(const std::vector<std::string>& argv) { return gg::test::run_cli(argv); }
}  // namespace

class TestCli : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void usageErrorsExitTwo_data() {
    QTest::addColumn<QStringList>("argv");
    QTest::addColumn<QString>("needle");
    QTest::newRow("no command") << QStringList{} << "usage: gigagan";
    QTest::newRow("unknown command") << QStringList{"paint"} << "unknown command 'paint'";
    QTest::newRow("unknown option") << QStringList{"info", "--colour", "red"} << "unknown option --colour";
    QTest::newRow("missing value") << QStringList{"info", "--config"} << "--config needs a value";
    QTest::newRow("stray argument") << QStringList{"info", "tiny"} << "unexpected argument 'tiny'";
    QTest::newRow("bad integer") << QStringList{"bench", "--iters", "many"} << "--iters expects an integer";
    QTest::newRow("bad batch list") << QStringList{"bench", "--batch", "1,x"} << "comma-separated integers >= 1";
    QTest::newRow("zero in a list") << QStringList{"bench", "--batch", "1,0"} << "--batch expects comma-separated";
    QTest::newRow("bad crossover list") << QStringList{"eval", "--data", "x", "--coarse-max", "8,,16"}
                                        << "--coarse-max expects comma-separated";
    QTest::newRow("repeated option") << QStringList{"info", "--config", "tiny", "--config", "paper"} << "given twice";
    const QStringList train = {"train", "--data", "x", "--out", "y", "--clip", "random", "--config", "tiny"};
    QTest::newRow("unknown vision backbone") << (train + QStringList{"--vision-backbone", "vgg"})
                                             << "--vision-backbone 'vgg': expected clip or inception_v3";
    QTest::newRow("bad vision layers") << (train + QStringList{"--vision-layers", "2,x"})
                                       << "--vision-layers expects comma-separated integers >= 0, got '2,x'";
  }
  void usageErrorsExitTwo() {
    QFETCH(QStringList, argv);
    QFETCH(QString, needle);
    std::vector<std::string> a;
    for (const auto& s : argv) a.push_back(s.toStdString());
    const auto r = run(a);
    QCOMPARE(r.code, 2);
    QVERIFY2(contains(r.err, needle.toStdString()), r.err.c_str());
  }

  // Back from a config whose vision-aided D is on InceptionV3 to CLIP: the
  // CLIP layers must be named.
  void visionBackboneBackToClipNeedsLayers() {
    QTemporaryDir dir;
    std::ifstream in(gg::test::config_path("tiny"));
    nlohmann::json c = nlohmann::json::parse(in);
    c["vision_aided"]["backbone"] = "inception_v3";
    c["vision_aided"]["feature_layers"] = {2, 7};
    const std::string path = dir.filePath("inception.json").toStdString();
    std::ofstream(path) << c.dump();
    const auto r = run({"train", "--data", "x", "--out", "y", "--clip", "random", "--config", path,
                        "--vision-backbone", "clip"});
    QCOMPARE(r.code, 2);
    QVERIFY2(contains(r.err, "vision-aided D is on inception_v3; name the CLIP layers with --vision-layers"),
             r.err.c_str());
  }

  void helpListsOptions() {
    const auto r = run({"info", "--help"});
    QCOMPARE(r.code, 0);
    QVERIFY(contains(r.out, "--config FILE|PRESET"));
    QVERIFY(contains(r.out, "(default: emoji64)"));
    const auto top = run({"--help"});
    QCOMPARE(top.code, 0);
    QVERIFY(contains(top.out, "info") && contains(top.out, "bench"));
  }

  void errorsExitOneAndNameTheProblem() {
    auto r = run({"info", "--config", "/no/such/config.json"});
    QCOMPARE(r.code, 1);
    QVERIFY2(contains(r.err, "/no/such/config.json"), r.err.c_str());
    QTemporaryDir dir;
    const QString bad = dir.filePath("bad.json");
    QFile f(bad);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(R"({"generator": {"chanels": [4]}})");
    f.close();
    r = run({"info", "--config", bad.toStdString()});
    QCOMPARE(r.code, 1);
    QVERIFY2(contains(r.err, "unknown field 'chanels'"), r.err.c_str());
    r = run({"bench", "--config", "tiny", "--device", "tpu"});
    QCOMPARE(r.code, 1);
    QVERIFY2(contains(r.err, "unknown device 'tpu'"), r.err.c_str());
    const std::vector<std::string> train = {"train", "--data", "x", "--out", "y", "--clip", "random", "--config",
                                            gg::test::config_path("tiny"), "--vision-backbone", "inception_v3"};
    auto with = [&](std::vector<std::string> extra) {
      auto a = train;
      a.insert(a.end(), extra.begin(), extra.end());
      return run(a);
    };
    r = with({"--vision-backbone-weights", "/no/such/inception.safetensors"});
    QCOMPARE(r.code, 1);
    QVERIFY2(contains(r.err, "'/no/such/inception.safetensors': no such file"), r.err.c_str());
    r = with({"--vision-layers", "11"});
    QCOMPARE(r.code, 1);
    QVERIFY2(contains(r.err, "feature_layers: mixed block 11 is outside 0..10"), r.err.c_str());
    r = with({"--vision-image-size", "40"});
    QCOMPARE(r.code, 1);
    QVERIFY2(contains(r.err, "backbone_image_size"), r.err.c_str());
  }

  void infoCountsEveryNetwork() {
    const auto r = run({"info", "--config", gg::test::config_path("tiny"), "--json"});
    QCOMPARE(r.code, 0);
    const auto j = nlohmann::json::parse(r.out);
    for (const char* net : {"generator", "generator.mapping", "generator.synthesis", "generator.text_encoder",
                            "discriminator", "upsampler", "upsampler_discriminator", "clip.text_model",
                            "clip.vision_model"})
      QVERIFY2(j["parameters"].contains(net) && j["parameters"][net].get<int64_t>() > 0, net);
  }

  void paperPresetMatchesThePaper() {
    // Counted on the meta device: 652.5 M (G), 381.4 M (D), 359.1 M (upsampler), within 10%.
    const auto r = run({"info", "--config", gg::test::config_path("paper"), "--json"});
    QCOMPARE(r.code, 0);
    const auto p = nlohmann::json::parse(r.out)["parameters"];
    auto near = [](int64_t n, double target) { return std::abs(n / 1e6 - target) <= 0.1 * target; };
    QVERIFY2(near(p["generator"].get<int64_t>(), 652.5), std::to_string(p["generator"].get<int64_t>()).c_str());
    QVERIFY2(near(p["discriminator"].get<int64_t>(), 381.4), std::to_string(p["discriminator"].get<int64_t>()).c_str());
    QVERIFY2(near(p["upsampler"].get<int64_t>(), 359.1), std::to_string(p["upsampler"].get<int64_t>()).c_str());
  }

  void benchPrintsNumbers() {
    const auto r = run({"bench", "--config", gg::test::config_path("tiny"), "--batch", "2", "--iters", "1",
                        "--warmup", "0", "--device", "cpu"});
    QCOMPARE(r.code, 0);
    QVERIFY2(contains(r.out, "GFLOP/img") && contains(r.out, "from cached text"), r.out.c_str());
  }

  // bench --train times the step a run takes: with --gan-weight 0 the
  // reconstruction-only step runs G alone (no D phase), with the default the
  // full GAN step runs D too; --adaconv picks the formulation it reports.
  void benchTrainTimesTheRunsStep() {
    const std::vector<std::string> common = {"bench", "--train", "--config", gg::test::config_path("tiny"), "--batch",
                                             "2", "--iters", "1", "--warmup", "0", "--device", "cpu"};
    auto with = [&](std::vector<std::string> extra) {
      extra.insert(extra.begin(), common.begin(), common.end());
      return run(extra);
    };
    const auto recon = with({"--gan-weight", "0", "--recon-weight", "1", "--recon-samples", "1", "--clip-weight", "0",
                             "--noise", "none", "--adaconv", "grouped"});
    QVERIFY2(recon.code == 0, recon.err.c_str());
    QVERIFY2(contains(recon.out, "images/s") && contains(recon.out, "G step: backward") &&
                 contains(recon.out, "adaptive conv grouped") && !contains(recon.out, "D step"),
             recon.out.c_str());
    const auto gan = with({});
    QVERIFY2(gan.code == 0, gan.err.c_str());
    QVERIFY2(contains(gan.out, "D step: backward") && contains(gan.out, "adaptive conv auto"), gan.out.c_str());
    const auto bad = with({"--recon-samples", "-1"});
    QVERIFY2(bad.code != 0 && contains(bad.err, "recon_samples"), bad.err.c_str());
  }

  // --profile writes one Chrome trace per timed case, with the ops that ran.
  void benchProfileWritesTraces() {
    QTemporaryDir dir;
    const std::string prefix = dir.filePath("p").toStdString();
    const auto r = run({"bench", "--config", gg::test::config_path("tiny"), "--batch", "1", "--iters", "2",
                        "--warmup", "0", "--device", "cpu", "--profile", prefix});
    QVERIFY2(r.code == 0, r.err.c_str());
    for (const char* c : {"-tiny-b1-0.json", "-tiny-b1-1.json"}) {
      std::ifstream in(prefix + c);
      QVERIFY2(in.good(), (prefix + c).c_str());
      const auto trace = nlohmann::json::parse(in);
      const auto& events = trace.is_object() ? trace.at("traceEvents") : trace;
      int convs = 0;
      for (const auto& e : events) convs += e.value("name", "") == "aten::conv2d";
      QVERIFY(convs > 0);
    }
  }

  // convert-tfjs: a one-layer Keras model (Dense kernel [2, 3] -> [3, 2]);
  // missing options exit 2, a truncated shard exits 1 naming model.json.
  void convertTfjs() {
    QTemporaryDir dir;
    const std::string d = dir.path().toStdString();
    const nlohmann::json model = {
        {"format", "layers-model"},
        {"modelTopology",
         {{"class_name", "Sequential"},
          {"config", {{"name", "s"}, {"layers", {{{"class_name", "Dense"}, {"config", {{"name", "fc"}}}}}}}}}},
        {"weightsManifest",
         {{{"paths", {"w.bin"}}, {"weights", {{{"name", "fc/kernel"}, {"shape", {2, 3}}, {"dtype", "float32"}}}}}}}};
    std::ofstream(d + "/model.json") << model.dump();
    const float w[6] = {1, 2, 3, 4, 5, 6};
    std::ofstream(d + "/w.bin", std::ios::binary).write(reinterpret_cast<const char*>(w), sizeof w);
    auto r = run({"convert-tfjs", "--model-json", d + "/model.json", "--out", d + "/out.safetensors"});
    QVERIFY2(r.code == 0, r.err.c_str());
    QVERIFY2(contains(r.out, "1 tensors, 6 values, 1 kernels put into PyTorch layout"), r.out.c_str());
    QVERIFY(QFile::exists(dir.filePath("out.safetensors")));
    r = run({"convert-tfjs", "--model-json", d + "/model.json"});
    QCOMPARE(r.code, 2);
    QVERIFY2(contains(r.err, "--out FILE is required"), r.err.c_str());
    std::ofstream(d + "/w.bin", std::ios::binary).write(reinterpret_cast<const char*>(w), 20);
    r = run({"convert-tfjs", "--model-json", d + "/model.json", "--out", d + "/out2.safetensors"});
    QCOMPARE(r.code, 1);
    QVERIFY2(contains(r.err, d + "/model.json") && contains(r.err, "hold 20 bytes, but its 1 weights need 24"),
             r.err.c_str());
  }
};

QTEST_GUILESS_MAIN(TestCli)
#include "test_cli.moc"

// Hostile input: each finding of a hostile-input review, replayed —
// the malformed input and the clear error it now gets (naming the file, the
// field and the limit) instead of a hang, unbounded memory or a black image
// with exit 0. Configs, safetensors headers, non-finite weights, image
// headers, FIFOs, threads, recipes, prompts, captions, and the run folder
// (stats.jsonl, temporaries, resume fallback, read-only folders).
#include <QtTest/QtTest>

#include <opencv2/imgcodecs.hpp>

#include <chrono>
#include <climits>
#include <fstream>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint.h"
#include "cli_support.h"
#include "dataset.h"
#include "engine.h"
#include "errors.h"
#include "generator.h"
#include "image_io.h"
#include "model_config.h"
#include "model_io.h"
#include "recipe.h"
#include "run.h"
#include "runtime.h"
#include "safetensors.h"
#include "test_support.h"
#include "utf8.h"
#include "../engine/tiny_package.h"

namespace fs = std::filesystem;
using gg::json;

namespace {

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Seconds `fn` takes (the hostile inputs must fail fast, not hang).
template <class F>
double seconds(F&& fn) {
  const auto t0 = std::chrono::steady_clock::now();
  fn();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// A recipe document with one source and `extra` fields merged in.
json recipe_with(const json& extra, const json& source_extra = json::object()) {
  json src = {{"prompt", "cat face"}, {"seed", 7}, {"psi", 0.7}};
  if (source_extra.is_object()) src.update(source_extra);
  json j = {{"format", "gigagan-recipe"}, {"version", 1}, {"sources", json::array({src})}};
  if (extra.is_object()) j.update(extra);
  return j;
}

// A minimal trainer for the run folder: one tensor of state.
class CounterTrainer : public gg::TrainerBase {
 public:
  std::string mode() const override { return "counter"; }
  int64_t batch_size() const override { return 4; }
  gg::StepResult step() override { return {}; }
  gg::Checkpoint state() const override {
    gg::Checkpoint ck;
    ck.kind = "training-state";
    ck.config = json::object();
    ck.tensors["value"] = torch::full({64}, static_cast<float>(images));
    save_progress(ck, {images, 1.0});
    return ck;
  }
  void load_state(const gg::Checkpoint& ck, const std::string& source) override {
    load_progress(ck, source);
    loaded_value = ck.tensors.at("value")[0].item<float>();
  }
  bool write_samples(const fs::path&) override { return false; }
  double learning_rate() const override { return 1; }
  void scale_learning_rate(double) override {}
  float loaded_value = -1;
};

// A pid that no process has (for a stale temporary's name).
long dead_pid() {
  for (long pid = 4000000; pid > 1000; pid -= 997)
    if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) return pid;
  return 4000001;
}

}  // namespace

class TestHostileInput : public QObject {
  Q_OBJECT

  QTemporaryDir tmp;
  std::string path(const std::string& name) const { return tmp.filePath(QString::fromStdString(name)).toStdString(); }

 private Q_SLOTS:
  // --- configs -------------------------------------------------------------
  void ilog2NeverLoops() {
    QCOMPARE(gg::ilog2(1), 0);
    QCOMPARE(gg::ilog2(64), 6);
    QCOMPARE(gg::ilog2(1 << 30), 30);
    QCOMPARE(gg::ilog2(INT_MAX), 30);  // looped forever (shift exponent 32)
    QCOMPARE(gg::ilog2(0), 0);
    QCOMPARE(gg::ilog2(-5), 0);
  }

  void configSizesAreBounded_data() {
    QTest::addColumn<QString>("part");
    QTest::addColumn<QString>("field");
    QTest::addColumn<QString>("value");  // JSON
    QTest::addColumn<QString>("needle");
    QTest::newRow("resolution 2^30") << "generator" << "resolution" << "1073741824" << "generator: GeneratorConfig.resolution: must be in [8, 4096]";
    QTest::newRow("resolution 2^32 + 64 (no wrap to 64)") << "generator" << "resolution" << "4294967360" << "GeneratorConfig.resolution: integer 4294967360 is out of range";
    QTest::newRow("resolution 1e30 (float)") << "generator" << "resolution" << "1e30" << "GeneratorConfig.resolution: expected an integer";
    QTest::newRow("blocks_per_level 1e8") << "generator" << "blocks_per_level" << "100000000" << "GeneratorConfig.blocks_per_level: must be in [1, 64]";
    QTest::newRow("channels 2^20") << "generator" << "channels" << "[1048576, 64, 64, 64, 32]" << "GeneratorConfig.channels[0]: must be in [1, 16384]";
    QTest::newRow("w_dim 1e9") << "generator" << "w_dim" << "1000000000" << "GeneratorConfig.w_dim: must be in [1, 16384]";
    QTest::newRow("D channels") << "discriminator" << "channels" << "[64, 64, 64, 64, 64, 2000000]" << "DiscriminatorConfig.channels[5]: must be in [1, 16384]";
    QTest::newRow("D resolution") << "discriminator" << "resolution" << "2147483647" << "DiscriminatorConfig.resolution: must be in [8, 4096]";
    QTest::newRow("upsampler output") << "upsampler" << "output_resolution" << "1073741824" << "UpsamplerConfig.output_resolution: must be in [8, 4096]";
    QTest::newRow("upsampler down_blocks") << "upsampler" << "down_blocks" << "40" << "UpsamplerConfig.down_blocks: must be in [1, 16]";
    QTest::newRow("vision head_layers") << "vision_aided" << "head_layers" << "100000000" << "VisionAidedConfig.head_layers: must be in [1, 256]";
    QTest::newRow("every field in range, the whole too big") << "generator" << "channels" << "[16384, 16384, 16384]" << "parameters (";
    QTest::newRow("the same, its limit") << "generator" << "channels" << "[16384, 16384, 16384]" << "over the limit of this build (4000000000)";
    QTest::newRow("a huge list") << "generator" << "attention_resolutions" << QString::fromStdString(json(std::vector<int>(5000, 8)).dump()) << "limit of 4096";
  }
  void configSizesAreBounded() {
    QFETCH(QString, part);
    QFETCH(QString, field);
    QFETCH(QString, value);
    QFETCH(QString, needle);
    json j = gg::read_json_file(gg::test::config_path("tiny"));
    j[part.toStdString()][field.toStdString()] = json::parse(value.toStdString());
    const std::string file = path("hostile-" + field.toStdString() + ".json");
    write_bytes(file, j.dump());
    double t = seconds([&] {
      GG_VERIFY_THROWS_WITH(gg::ModelConfig::load(file), gg::ConfigError, needle.toStdString());
      GG_VERIFY_THROWS_WITH(gg::ModelConfig::load(file), gg::ConfigError, "config file '" + file + "'");
    });
    QVERIFY2(t < 5, std::to_string(t).c_str());
  }

  void infoRefusesAHugeResolution() {
    json j = gg::read_json_file(gg::test::config_path("tiny"));
    j["generator"]["resolution"] = 1 << 30;
    const std::string file = path("info-huge.json");
    write_bytes(file, j.dump());
    const auto r = gg::test::run_cli({"info", "--config", file});
    QVERIFY(r.code != 0);
    QVERIFY2(gg::test::contains(r.err, file) && gg::test::contains(r.err, "GeneratorConfig.resolution") &&
                 gg::test::contains(r.err, "4096"),
             r.err.c_str());
  }

  void packageConfigIsBoundedBeforeBuilding() {
    // A generator file whose embedded config asks for 1e8 blocks per level:
    // refused naming the file and the field, before any allocation.
    gg::ModelConfig c = gg::ModelConfig::load(gg::test::config_path("tiny"));
    gg::Checkpoint ck;
    ck.kind = "generator";
    ck.config = c.generator;
    ck.config["blocks_per_level"] = 100000000;
    const std::string file = path("g-hostile.safetensors");
    gg::save_checkpoint(file, ck);
    GG_VERIFY_THROWS_WITH((gg::load_network<gg::GeneratorConfig, gg::Generator>(file, "generator")),
                          gg::CheckpointError, "GeneratorConfig.blocks_per_level: must be in [1, 64]");
    GG_VERIFY_THROWS_WITH((gg::load_network<gg::GeneratorConfig, gg::Generator>(file, "generator")),
                          gg::CheckpointError, file);
  }

  // --- safetensors and weights ---------------------------------------------
  void safetensorsHeaderIsCheckedBeforeReading() {
    // A header claiming 2^60 bytes is refused from its 8 bytes, whatever follows.
    std::string bytes(8, '\0');
    const uint64_t huge = 1ull << 60;
    std::memcpy(&bytes[0], &huge, 8);
    bytes += std::string(1 << 20, ' ');
    const std::string file = path("huge-header.safetensors");
    write_bytes(file, bytes);
    GG_VERIFY_THROWS_WITH(gg::read_safetensors(file), gg::CheckpointError, "exceeds 100 MiB, the limit");
    GG_VERIFY_THROWS_WITH(gg::read_safetensors(file), gg::CheckpointError, file);
    // Under the limit but past the end of the file.
    const uint64_t past = 4096;
    std::memcpy(&bytes[0], &past, 8);
    write_bytes(file, bytes.substr(0, 100));
    GG_VERIFY_THROWS_WITH(gg::read_safetensors(file), gg::CheckpointError, "runs past the end of the file (100 bytes)");
  }

  void safetensorsRefusesAFifo() {
    const std::string fifo = path("weights.fifo");
    QCOMPARE(::mkfifo(fifo.c_str(), 0600), 0);
    const double t = seconds([&] {
      GG_VERIFY_THROWS_WITH(gg::read_safetensors(fifo), gg::CheckpointError, "not a regular file");
    });
    QVERIFY(t < 5);
  }

  void nonFiniteWeightsAreRefusedAtLoad() {
    // NaN / Inf saved with valid CRCs (a diverged run): refused naming the tensor.
    for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
      gg::Checkpoint ck;
      ck.kind = "generator";
      ck.config = json::object();
      ck.tensors["mapping.fc0.weight"] = torch::ones({4, 4});
      ck.tensors["synthesis.b4.conv.weight"] = torch::ones({8});
      ck.tensors["synthesis.b4.conv.weight"][3] = bad;
      const std::string file = path("nan.safetensors");
      gg::save_checkpoint(file, ck);
      GG_VERIFY_THROWS_WITH(gg::load_checkpoint(file), gg::CheckpointError,
                            "tensor 'synthesis.b4.conv.weight' holds 1 of 8 non-finite values");
      GG_VERIFY_THROWS_WITH(gg::load_checkpoint(file), gg::CheckpointError, file);
    }
  }

  // --- images --------------------------------------------------------------
  void imagePixelsAreCheckedBeforeDecoding_data() {
    QTest::addColumn<int>("width");
    QTest::addColumn<int>("height");
    QTest::newRow("32768^2 (9.7 GB decoded)") << 32768 << 32768;
    QTest::newRow("10000^2 (5 GB)") << 10000 << 10000;
    QTest::newRow("100000^2 (bare OpenCV assertion)") << 100000 << 100000;
    QTest::newRow("1 x 2^31-1") << 1 << INT_MAX;
  }
  void imagePixelsAreCheckedBeforeDecoding() {
    QFETCH(int, width);
    QFETCH(int, height);
    // A real 8x8 PNG whose IHDR claims another size (a few bytes on disk).
    std::vector<uchar> buf;
    QVERIFY(cv::imencode(".png", cv::Mat(8, 8, CV_8UC3, cv::Scalar(1, 2, 3)), buf));
    std::string png(buf.begin(), buf.end());
    for (int i = 0; i < 4; ++i) {
      png[16 + i] = static_cast<char>((static_cast<uint32_t>(width) >> (24 - 8 * i)) & 0xff);
      png[20 + i] = static_cast<char>((static_cast<uint32_t>(height) >> (24 - 8 * i)) & 0xff);
    }
    const std::string file = path("claims.png");
    write_bytes(file, png);
    QCOMPARE(gg::image_header_size(png), (std::pair<int64_t, int64_t>{width, height}));
    const double t = seconds([&] {
      GG_VERIFY_THROWS_WITH(gg::read_image(file, 16), gg::ImageError, "over the limit of 16777216 pixels");
      GG_VERIFY_THROWS_WITH(gg::read_image(file, 16), gg::ImageError, file);
    });
    QVERIFY(t < 5);
  }

  void imageHeadersOfEachFormat() {
    const cv::Mat m(5, 7, CV_8UC3, cv::Scalar(10, 20, 30));
    for (const char* ext : {".png", ".jpg", ".bmp", ".ppm", ".webp"}) {
      std::vector<uchar> buf;
      if (!cv::imencode(ext, m, buf)) continue;  // WebP may be missing from this OpenCV
      const std::string bytes(buf.begin(), buf.end());
      QCOMPARE(gg::image_header_size(bytes), (std::pair<int64_t, int64_t>{7, 5}));
      QCOMPARE(gg::decode_image(bytes, ext).sizes().vec(), (std::vector<int64_t>{3, 5, 7}));
    }
    GG_VERIFY_THROWS_WITH(gg::decode_image("GIF89a...", "x.gif"), gg::ImageError, "'x.gif' is not an image this build reads");
  }

  void imageFifoIsRefusedWithoutWaiting() {
    const std::string fifo = path("image.fifo");
    QCOMPARE(::mkfifo(fifo.c_str(), 0600), 0);
    const double t = seconds([&] {
      GG_VERIFY_THROWS_WITH(gg::read_image(fifo, 16), gg::ImageError, "is not a regular file");
      GG_VERIFY_THROWS_WITH(gg::read_image(fifo, 16), gg::ImageError, fifo);
    });
    QVERIFY(t < 5);
    GG_VERIFY_THROWS_WITH(gg::read_image(tmp.path().toStdString(), 16), gg::ImageError, "is not a regular file");
  }

  void nonFiniteImageIsNotWritten() {
    auto img = torch::zeros({3, 4, 4});
    img[1][2][3] = std::numeric_limits<float>::quiet_NaN();
    GG_VERIFY_THROWS_WITH(gg::to_bgr8(img), gg::ImageError, "non-finite values (NaN or Inf)");
  }

  // --- command line --------------------------------------------------------
  void threadsAreBounded() {
    GG_VERIFY_THROWS_WITH(gg::init_runtime(100000), gg::ConfigError, "--threads 100000: more than the limit of");
    GG_VERIFY_THROWS_WITH(gg::init_runtime(-3), gg::ConfigError, "--threads -3: must be >= 0");
    QVERIFY(gg::max_threads() >= 64);
    const auto r = gg::test::run_cli({"generate", "--prompt", "cat", "--threads", "100000", "--model", path("none")});
    QCOMPARE(r.code, 1);
    QVERIFY2(gg::test::contains(r.err, "--threads 100000: more than the limit of"), r.err.c_str());
  }

  // --- recipes -------------------------------------------------------------
  void recipeNumbersAreBoundedAndStrict_data() {
    QTest::addColumn<QString>("recipe");  // JSON
    QTest::addColumn<QString>("needle");
    auto row = [](const char* name, const json& j, const char* needle) {
      QTest::newRow(name) << QString::fromStdString(j.dump()) << QString(needle);
    };
    row("mean_w_samples 1e8", recipe_with({{"mean_w_samples", 100000000}}), "recipe.mean_w_samples: must be in [1, 65536]");
    row("mean_w_samples 2^31-1", recipe_with({{"mean_w_samples", 2147483647}}), "recipe.mean_w_samples: must be in [1, 65536]");
    row("mean_w_samples 2^32+4096 (was 4096)", recipe_with({{"mean_w_samples", 4294971392ull}}), "recipe.mean_w_samples: must be in [1, 65536]");
    row("mean_w_samples 1.5", recipe_with({{"mean_w_samples", 1.5}}), "recipe.mean_w_samples: expected an integer");
    row("seed -1 (was 2^64-1)", recipe_with({}, {{"seed", -1}}), "recipe.sources[0].seed: expected an integer in [0, 2^64 - 1], got -1");
    row("seed 1e30 (undefined behaviour)", recipe_with({}, {{"seed", 1e30}}), "recipe.sources[0].seed: expected an integer");
    row("seed 2^64 (was 0)", json::parse(R"({"sources": [{"prompt": "a", "seed": 18446744073709551616}]})"), "recipe.sources[0].seed: expected an integer");
    row("upsample_seed -1", recipe_with({{"upsample_seed", -1}}), "recipe.upsample_seed: expected an integer");
    row("psi 1e308 (black PNG)", recipe_with({}, {{"psi", 1e308}}), "recipe.sources[0].psi: must be finite and in [-10, 10] (the limit)");
    row("strength 1e308", recipe_with({{"directions", {{{"from", "a"}, {"to", "b"}, {"strength", 1e308}}}}}), "recipe.directions[0].strength: must be finite and in [-100, 100]");
    row("w 2147483647 (bad_alloc)", recipe_with({{"w", 2147483647}}), "recipe.w: source index 2147483647 is out of range (the recipe has 1 source)");
    row("w 5e8 (4 GB)", recipe_with({{"w", 5e8}}), "recipe.w: expected a source index or a list of weights");
    row("w [1e308, 1e308] (undefined tensor)", recipe_with({{"w", {1e308}}}), "recipe.w: weights must be finite and in [0, 1e6]");
    row("w: more weights than sources", recipe_with({{"w", {1, 1, 1}}}), "recipe.w: 3 weights for 1 source");
    row("layer index", recipe_with({{"layers", {{{"layers", "all"}, {"t", 99999999}}}}}), "recipe.layers[0].t: source index 99999999 is out of range");
    row("from_source 2^40", recipe_with({{"directions", {{{"from_source", 1099511627776ull}, {"to_source", 0}}}}}), "recipe.directions[0].from_source: must be in [-1, 64]");
    json many = recipe_with({});
    many["sources"] = json::array();
    for (int i = 0; i < 1000; ++i) many["sources"].push_back({{"prompt", "p" + std::to_string(i)}, {"seed", i}});
    row("1000 prompts (34 s)", many, "recipe.sources: 1000 sources, over the limit of 64");
    json grid = {{"format", "gigagan-recipe"}, {"grid", {{"columns", 10}, {"cells", json::array()}}}};
    for (int i = 0; i < 1025; ++i) grid["grid"]["cells"].push_back(recipe_with({}));
    row("grid of 1025 cells", grid, "recipe.grid.cells: 1025 cells, over the limit of 1024");
    json prompts = {{"format", "gigagan-recipe"}, {"grid", {{"columns", 10}, {"cells", json::array()}}}};
    for (int i = 0; i < 300; ++i)
      prompts["grid"]["cells"].push_back(recipe_with({}, {{"prompt", "prompt " + std::to_string(i)}}));
    row("grid of 300 prompts", prompts, "grid: 300 different prompts, over the limit of 256");
    row("grid columns 2^40", json({{"grid", {{"columns", 1099511627776ull}, {"cells", {recipe_with({})}}}}}), "recipe.grid.columns: must be in [1, 1024]");
    const std::string b64 = "AAAAAA==";  // one float, 0
    row("latent shape 2^40", recipe_with({}, {{"latent", {{"space", "w"}, {"shape", {1099511627776ull}}, {"float32_base64", b64}}}}), "latent.shape: dimensions must be integers in [1, 4194304]");
    json big = recipe_with({}, {{"latent", gg::tensor_to_json(torch::full({4}, 3e38f))}});
    big["sources"][0]["latent"]["space"] = "w";
    row("latent values 3e38 (black PNG)", big, "latent: holds values of magnitude up to");
  }
  void recipeNumbersAreBoundedAndStrict() {
    QFETCH(QString, recipe);
    QFETCH(QString, needle);
    const double t = seconds([&] {
      GG_VERIFY_THROWS_WITH(gg::RecipeGrid::parse(recipe.toStdString(), "hostile.json"), gg::ConfigError,
                            needle.toStdString());
      GG_VERIFY_THROWS_WITH(gg::RecipeGrid::parse(recipe.toStdString(), "hostile.json"), gg::ConfigError,
                            "recipe 'hostile.json'");
    });
    QVERIFY2(t < 5, std::to_string(t).c_str());
  }

  void invalidUtf8PromptSaysItIsThePrompt() {
    QVERIFY(!gg::is_valid_utf8("\xff"));
    QVERIFY(!gg::is_valid_utf8("caf\xc3"));           // cut sequence
    QVERIFY(!gg::is_valid_utf8("\xc0\xaf"));          // overlong
    QVERIFY(!gg::is_valid_utf8("\xed\xa0\x80"));      // surrogate
    QVERIFY(gg::is_valid_utf8("caf\xc3\xa9 \xf0\x9f\x90\xb1"));
    gg::Recipe r;
    r.sources = {gg::Source{"cat \xff face", 1, 1.0, {}}};
    GG_VERIFY_THROWS_WITH(r.validate(), gg::PromptError, "recipe.sources[0].prompt: the prompt is not valid UTF-8 (byte 4 of 10)");
    r.sources[0].prompt = "cat";
    r.directions = {{"noto", "\xfe", -1, -1, 1.0, "all"}};
    GG_VERIFY_THROWS_WITH(r.validate(), gg::PromptError, "recipe.directions[0].to: the prompt is not valid UTF-8");
    // Through the command line: exit 1 naming the prompt (was a json type_error 316).
    const std::string pkg = path("pkg");
    gg::test::write_tiny_package(pkg, false);
    const auto c = gg::test::run_cli({"generate", "--model", pkg, "--prompt", "\xff", "--out", path("x.png")});
    QCOMPARE(c.code, 1);
    QVERIFY2(gg::test::contains(c.err, "the prompt is not valid UTF-8 (byte 0"), c.err.c_str());
    QVERIFY(!fs::exists(path("x.png")));
  }

  void cliNumbersAreFiniteAndBounded() {
    if (!fs::exists(path("pkg"))) gg::test::write_tiny_package(path("pkg"), false);
    const std::string pkg = path("pkg"), out = path("n.png");
    auto r = gg::test::run_cli({"generate", "--model", pkg, "--prompt", "cat", "--psi", "nan", "--out", out});
    QCOMPARE(r.code, 2);
    QVERIFY2(gg::test::contains(r.err, "--psi expects a finite number, got 'nan'"), r.err.c_str());
    r = gg::test::run_cli({"generate", "--model", pkg, "--prompt", "cat", "--psi", "1e308", "--out", out});
    QCOMPARE(r.code, 1);  // was a black PNG with exit 0
    QVERIFY2(gg::test::contains(r.err, "psi: must be finite and in [-10, 10]"), r.err.c_str());
    r = gg::test::run_cli({"generate", "--model", pkg, "--prompt", "cat", "--direction-from", "a", "--direction-to", "b",
                           "--strength", "1e308", "--out", out});
    QCOMPARE(r.code, 1);
    QVERIFY2(gg::test::contains(r.err, "strength: must be finite and in [-100, 100]"), r.err.c_str());
    QVERIFY(!fs::exists(out));
  }

  void compressedRecipeChunkIsNamed() {
    // A PNG whose recipe iTXt chunk is compressed: say so, not "carries no recipe".
    std::string png = gg::encode_png(cv::Mat(4, 4, CV_8UC3, cv::Scalar(0, 0, 0)), {{gg::kRecipeChunkKey, "x"}});
    const auto at = png.find("iTXt");
    QVERIFY(at != std::string::npos);
    png[at + 4 + std::strlen(gg::kRecipeChunkKey) + 1] = 1;  // compression flag
    // Fix the chunk's CRC.
    const uint32_t len = (static_cast<uint8_t>(png[at - 4]) << 24) | (static_cast<uint8_t>(png[at - 3]) << 16) |
                         (static_cast<uint8_t>(png[at - 2]) << 8) | static_cast<uint8_t>(png[at - 1]);
    const uint32_t crc = gg::crc32(png.data() + at, 4 + len);
    for (int i = 0; i < 4; ++i) png[at + 4 + len + i] = static_cast<char>((crc >> (24 - 8 * i)) & 0xff);
    QVERIFY(gg::parse_png_text(png, "c.png").empty());
    QCOMPARE(gg::png_compressed_text_keys(png), (std::vector<std::string>{gg::kRecipeChunkKey}));
    const std::string file = path("compressed.png");
    write_bytes(file, png);
    if (!fs::exists(path("pkg"))) gg::test::write_tiny_package(path("pkg"), false);
    const auto r = gg::test::run_cli({"render", "--recipe", file, "--model", path("pkg"), "--out", path("r.png")});
    QCOMPARE(r.code, 1);
    QVERIFY2(gg::test::contains(r.err, file + "': its gigagan-recipe chunk is compressed"), r.err.c_str());
  }

  void nonFiniteRenderIsAnErrorNamingItsCause() {
    gg::Engine engine(gg::test::tiny_package(false));
    gg::Recipe r;
    r.sources = {gg::Source{"cat face", 3, 0.7, {}}};
    engine.stamp(r);
    QVERIFY(torch::isfinite(engine.render(r).image).all().item<bool>());
    {
      torch::NoGradGuard ng;
      for (auto& p : engine.package().generator->synthesis->parameters()) p.fill_(std::numeric_limits<float>::infinity());
    }
    GG_VERIFY_THROWS_WITH(engine.render(r), gg::ConfigError, "the generator produced non-finite pixels");
  }

  // --- datasets ------------------------------------------------------------
  void invalidUtf8CaptionsAreSkippedAndReported() {
    const fs::path dir = path("ds");
    fs::create_directories(dir);
    for (int i = 0; i < 3; ++i)
      QVERIFY(cv::imwrite((dir / ("i" + std::to_string(i) + ".png")).string(), cv::Mat(8, 8, CV_8UC3, cv::Scalar(i, 9, 9))));
    write_bytes((dir / "manifest.tsv").string(), "i0.png\tcat face\ni1.png\tdog \xff face\ni2.png\tred heart\n");
    gg::DatasetOptions o;
    o.resolution = 8;
    gg::Dataset ds(dir / "manifest.tsv", o);
    QCOMPARE(ds.report().usable, int64_t(2));
    QCOMPARE(ds.report().skipped.at(gg::skip_reason::kBadCaption), int64_t(1));
    QVERIFY(gg::test::contains(ds.report().skipped_summary(), "caption not UTF-8"));
    // Kohya sidecars too.
    const fs::path side = path("ds-side");
    fs::create_directories(side);
    QVERIFY(cv::imwrite((side / "a.png").string(), cv::Mat(8, 8, CV_8UC3, cv::Scalar(1, 2, 3))));
    QVERIFY(cv::imwrite((side / "b.png").string(), cv::Mat(8, 8, CV_8UC3, cv::Scalar(3, 2, 1))));
    write_bytes((side / "a.txt").string(), "a cat");
    write_bytes((side / "b.txt").string(), "a \xc3 dog");
    gg::Dataset ds2(side, o);
    QCOMPARE(ds2.report().usable, int64_t(1));
    QCOMPARE(ds2.report().skipped.at(gg::skip_reason::kBadCaption), int64_t(1));
    QVERIFY(gg::test::contains(ds2.report().listed.at(0).detail, "b.txt: invalid UTF-8 at byte 2"));
  }

  void datasetImageSizeIsCheckedBeforeDecoding() {
    const fs::path dir = path("ds-huge");
    fs::create_directories(dir);
    QVERIFY(cv::imwrite((dir / "ok.png").string(), cv::Mat(8, 8, CV_8UC3, cv::Scalar(1, 2, 3))));
    std::vector<uchar> buf;
    QVERIFY(cv::imencode(".png", cv::Mat(8, 8, CV_8UC3, cv::Scalar(1, 2, 3)), buf));
    std::string png(buf.begin(), buf.end());
    for (int i = 0; i < 4; ++i) png[16 + i] = png[20 + i] = static_cast<char>(i == 1 ? 0x01 : i == 2 ? 0x86 : i == 3 ? 0xA0 : 0);  // 100000
    write_bytes((dir / "huge.png").string(), png);
    write_bytes((dir / "manifest.tsv").string(), "ok.png\tcat\nhuge.png\tdog\n");
    gg::DatasetOptions o;
    o.resolution = 8;
    o.verify = true;
    gg::Dataset ds(dir / "manifest.tsv", o);
    QCOMPARE(ds.report().usable, int64_t(1));
    QCOMPARE(ds.report().skipped.at(gg::skip_reason::kUnreadable), int64_t(1));
    QVERIFY2(gg::test::contains(ds.report().listed.at(0).detail, "100000 x 100000 px, over the limit of 67108864 pixels"),
             ds.report().listed.at(0).detail.c_str());
  }

  // --- run folder ----------------------------------------------------------
  void statsAppendIsChecked() {
    const fs::path root = path("run-stats");
    gg::RunFolder run(root);
    // A line cut by an earlier full disk: the next line starts on its own.
    write_bytes((root / "stats.jsonl").string(), "{\"images\": 4}\n{\"images\": 8, \"los");
    run.append_stats({{"images", 12}});
    QCOMPARE(read_bytes((root / "stats.jsonl").string()), std::string("{\"images\": 4}\n{\"images\": 8, \"los\n{\"images\":12}\n"));
    // On resume the cut line and the lines after the checkpoint go.
    run.truncate_stats_after(8);
    QCOMPARE(read_bytes((root / "stats.jsonl").string()), std::string("{\"images\": 4}\n"));
    // A full disk is an error, not a silent cut line.
    fs::remove(root / "stats.jsonl");
    fs::create_symlink("/dev/full", root / "stats.jsonl");
    GG_VERIFY_THROWS_WITH(run.append_stats({{"images", 16}}), gg::CheckpointError, "cannot append to '" + (root / "stats.jsonl").string() + "'");
  }

  void unwritableRunFolderIsRefusedBeforeTraining() {
    const fs::path root = path("run-ro");
    fs::create_directories(root / "stats.jsonl");  // cannot be appended to
    GG_VERIFY_THROWS_WITH(gg::RunFolder{root}, gg::CheckpointError, "cannot append to '" + (root / "stats.jsonl").string() + "'");
    if (::geteuid() == 0) QSKIP("root writes into read-only folders; the permission case needs another user");
    const fs::path ro = path("run-ro2");
    gg::RunFolder{ro};
    fs::permissions(ro / "checkpoints", fs::perms::owner_read | fs::perms::owner_exec);
    GG_VERIFY_THROWS_WITH(gg::RunFolder{ro}, gg::CheckpointError, "is not writable");
    fs::permissions(ro / "checkpoints", fs::perms::owner_all);
  }

  void staleTemporariesAreRemoved() {
    const fs::path root = path("run-tmp");
    { gg::RunFolder run(root); }
    const long dead = dead_pid();
    const fs::path stale = root / "checkpoints" / ("ckpt-000000000008.safetensors.tmp." + std::to_string(dead));
    const fs::path live = root / "checkpoints" / ("ckpt-000000000012.safetensors.tmp." + std::to_string(::getppid()));
    const fs::path sample = root / "samples" / ("samples-000000000008.png.tmp." + std::to_string(dead));
    for (const auto& p : {stale, live, sample}) write_bytes(p.string(), "partial");
    gg::RunFolder run(root);
    QVERIFY(!fs::exists(stale));
    QVERIFY(!fs::exists(sample));
    QVERIFY(fs::exists(live));  // a live process's temporary is left alone
    QVERIFY(run.checkpoints().empty());
  }

  void resumeFallsBackToThePreviousGoodCheckpoint() {
    const fs::path root = path("run-resume");
    gg::RunFolder run(root);
    CounterTrainer t;
    for (int64_t images : {8, 16, 24}) {
      t.images = images;
      run.save(images, t.state(), 0);
      run.append_stats({{"images", images}});
    }
    // The newest is corrupt (a flipped bit in its data).
    const std::string newest = run.checkpoint_path(24).string();
    std::string bytes = read_bytes(newest);
    bytes[bytes.size() - 10] ^= 0x40;
    write_bytes(newest, bytes);
    CounterTrainer resumed;
    std::vector<std::string> skipped;
    QCOMPARE(gg::resume_latest(resumed, run, &skipped), run.checkpoint_path(16).string());
    QCOMPARE(resumed.images, int64_t(16));
    QCOMPARE(resumed.loaded_value, 16.0f);
    QCOMPARE(skipped.size(), size_t(1));
    QVERIFY2(gg::test::contains(skipped[0], newest) && gg::test::contains(skipped[0], "CRC-32"), skipped[0].c_str());
    // stats.jsonl no longer has the line written after the checkpoint (no duplicate on resume).
    QCOMPARE(read_bytes((root / "stats.jsonl").string()), std::string("{\"images\":8}\n{\"images\":16}\n"));
    // None good: an error naming the newest.
    for (int64_t images : {8, 16}) write_bytes(run.checkpoint_path(images).string(), "garbage");
    GG_VERIFY_THROWS_WITH(gg::resume_latest(resumed, run), gg::CheckpointError, "no checkpoint of '" + root.string() + "' can be loaded");
  }
};

QTEST_GUILESS_MAIN(TestHostileInput)
#include "test_hostile_input.moc"

// The trainers of training/ (gan_trainer.h, clip_trainer.h, run.h) through
// the real `gigagan train` / `train-clip` commands on the `tiny` preset:
// exact resume, NaN handling (stop and rollback), checkpoint atomicity,
// progress events, broken files, the contrastive loss on known inputs.
#include <QtTest/QtTest>

#include <algorithm>
#include <fstream>
#include <initializer_list>
#include <sstream>

#include <opencv2/imgcodecs.hpp>

#include "checkpoint.h"
#include "cli_support.h"
#include "clip_trainer.h"
#include "evaluate.h"
#include "generator.h"
#include "model_io.h"
#include "package.h"
#include "run.h"
#include "synthesis_network.h"
#include "upsampler.h"
#include "test_support.h"

namespace fs = std::filesystem;

namespace {

using gg::test::contains;
gg::test::CliResult run(const std::vector<std::string>& argv) { return gg::test::run_cli(argv); }

// `count` 16 px images with distinct colours and bars, sidecar captions (kohya
// layout), plus `broken` files that are not images.
void make_dataset(const fs::path& dir, int count, int broken = 0) {
  fs::create_directories(dir);
  const char* colours[] = {"red", "green", "blue", "yellow", "cyan", "magenta", "white", "black"};
  for (int i = 0; i < count; ++i) {
    cv::Mat img(16, 16, CV_8UC3, cv::Scalar(255 * (i & 1), 255 * ((i >> 1) & 1), 255 * ((i >> 2) & 1)));
    for (int y = 0; y < 16; ++y) img.at<cv::Vec3b>(y, i % 16) = cv::Vec3b(128, 128, 128);
    const std::string stem = "img" + std::to_string(i);
    cv::imwrite((dir / (stem + ".png")).string(), img);
    std::ofstream(dir / (stem + ".txt")) << colours[i % 8] << " square with a bar at " << i << ", test style";
  }
  for (int i = 0; i < broken; ++i) {
    std::ofstream(dir / ("broken" + std::to_string(i) + ".png")) << "not a png";
    std::ofstream(dir / ("broken" + std::to_string(i) + ".txt")) << "a broken picture";
  }
}

std::vector<std::string> train_args(const fs::path& data, const fs::path& out, int images) {
  return {"train", "--data", data.string(), "--config", "tiny", "--clip", "random", "--out", out.string(),
          "--images", std::to_string(images), "--batch", "4", "--threads", "1", "--progress", "json"};
}

std::vector<gg::json> events(const std::string& out) {
  std::vector<gg::json> ev;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) ev.push_back(gg::json::parse(line));  // every stdout line must be one JSON object
  return ev;
}

double max_diff(const gg::TensorMap& a, const gg::TensorMap& b, const std::string& prefix, int* compared) {
  double worst = 0;
  for (const auto& [name, t] : a) {
    if (name.rfind(prefix, 0) != 0) continue;
    auto it = b.find(name);
    if (it == b.end()) return 1e9;
    worst = std::max(worst, (t.to(torch::kDouble) - it->second.to(torch::kDouble)).abs().max().item<double>());
    ++*compared;
  }
  return worst;
}

// "" when checkpoints `a` and `b` hold equal tensors under every prefix (at
// least one each), else what differs.
std::string weight_difference(const fs::path& a, const fs::path& b, std::initializer_list<const char*> prefixes) {
  const auto ca = gg::load_checkpoint(a.string()), cb = gg::load_checkpoint(b.string());
  for (const char* prefix : prefixes) {
    int n = 0;
    const double d = max_diff(ca.tensors, cb.tensors, prefix, &n);
    if (n == 0) return std::string(prefix) + ": no tensors";
    if (d != 0.0) return std::string(prefix) + " differs by " + std::to_string(d);
  }
  return "";
}

// train-upsampler on the tiny preset (16 -> 64 px), 4 images, with extra options.
std::vector<std::string> upsampler_args(const fs::path& data, const fs::path& out,
                                        const std::vector<std::string>& extra) {
  auto args = train_args(data, out, 4);
  args[0] = "train-upsampler";
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

// The pixel term of a run's first step (-1 when it made none).
double first_step_pixel(const std::vector<std::string>& args) {
  auto r = run(args);
  if (r.code != 0) qWarning("%s", r.err.c_str());
  for (const auto& e : events(r.out))
    if (e["event"] == "step") return e.at("losses").at("g_pixel").get<double>();
  return -1.0;
}

}  // namespace

class TestTrainer : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;
  fs::path root() const { return fs::path(tmp_.path().toStdString()); }

 private Q_SLOTS:
  void initTestCase() {
    QVERIFY(tmp_.isValid());
    make_dataset(root() / "data", 8);
  }

  // A run of 2k steps and a run of k steps, stopped, resumed and run k more,
  // end with the same weights, EMA and optimiser state.
  void resumeIsExact() {
    const fs::path a = root() / "resume-a", b = root() / "resume-b";
    auto ra = run(train_args(root() / "data", a, 40));
    QVERIFY2(ra.code == 0, ra.err.c_str());
    auto rb1 = run(train_args(root() / "data", b, 20));
    QVERIFY2(rb1.code == 0, rb1.err.c_str());
    auto rb2 = run(train_args(root() / "data", b, 40));
    QVERIFY2(rb2.code == 0, rb2.err.c_str());
    const auto ev = events(rb2.out);
    QCOMPARE(ev.front().value("event", ""), std::string("start"));
    QVERIFY(ev.front().value("resumed", false));
    QCOMPARE(ev.front().value("images", -1), 20);
    const fs::path ckpt = fs::path("checkpoints") / "ckpt-000000000040.safetensors";
    const std::string diff =
        weight_difference(a / ckpt, b / ckpt, {"G.", "G_ema.", "D.", "VA.", "adam_g.", "adam_d.", "rng."});
    QVERIFY2(diff.empty(), diff.c_str());
    const auto ca = gg::load_checkpoint((a / ckpt).string());
    // Training moved the weights (the comparison is not between two copies of the init).
    const auto c20 = gg::load_checkpoint((b / "checkpoints" / "ckpt-000000000020.safetensors").string());
    int n = 0;
    QVERIFY(max_diff(ca.tensors, c20.tensors, "G.", &n) > 1e-4);
  }

  // Fine-tuning: a run's package keeps its D; `--init PKG` starts G and D
  // from it (the start event names both), `--d-warmup` leaves G untouched
  // while D trains, and a package without D starts D from scratch.
  void fineTuneStartsFromThePackagesDiscriminator() {
    const fs::path base = root() / "ft-base", pkg = base / "package";
    auto rb = run(train_args(root() / "data", base, 8));
    QVERIFY2(rb.code == 0, rb.err.c_str());
    QVERIFY(fs::exists(pkg / "discriminator.safetensors"));
    const auto ck8 = gg::load_checkpoint((base / "checkpoints" / "ckpt-000000000008.safetensors").string());
    const auto disc = gg::load_checkpoint((pkg / "discriminator.safetensors").string());
    QCOMPARE(disc.kind, std::string("discriminator"));
    for (const char* prefix : {"D.", "VA."}) {
      int n = 0;
      QVERIFY2(max_diff(ck8.tensors, disc.tensors, prefix, &n) == 0.0 && n > 0, prefix);
    }

    const fs::path ft = root() / "ft";
    auto args = train_args(root() / "data", ft, 8);
    args.insert(args.end(), {"--init", pkg.string(), "--d-warmup", "8", "--ema-rampup", "0"});
    auto r = run(args);
    QVERIFY2(r.code == 0, r.err.c_str());
    const auto start = events(r.out).front();
    QCOMPARE(start.at("init").at("discriminator").get<std::string>(), (pkg / "discriminator.safetensors").string());
    const auto after = gg::load_checkpoint((ft / "checkpoints" / "ckpt-000000000008.safetensors").string());
    const auto gen = gg::load_checkpoint((pkg / "generator.safetensors").string());
    gg::TensorMap g_after;
    for (const auto& [k, t] : gg::select_prefix(after.tensors, "G.")) g_after["G." + k] = t;
    gg::TensorMap g_pkg;
    for (const auto& [k, t] : gen.tensors) g_pkg["G." + k] = t;
    int n = 0;
    QVERIFY(max_diff(g_pkg, g_after, "G.", &n) == 0.0 && n > 0);  // G waited for D
    // D moved by two Adam steps from the package's D (~lr each), not from a fresh D (O(1) away).
    n = 0;
    const double d_moved = max_diff(disc.tensors, after.tensors, "D.", &n);
    QVERIFY2(d_moved > 0 && d_moved < 0.05, std::to_string(d_moved).c_str());

    // Without a discriminator in the package, D starts from scratch, and says so.
    const fs::path bare = root() / "ft-bare-pkg";
    auto p = run({"package", "--base", pkg.string(), "--no-discriminator", "--out", bare.string()});
    QVERIFY2(p.code == 0, p.err.c_str());
    QVERIFY(!fs::exists(bare / "discriminator.safetensors"));
    // --styles sets the style words the studio offers; bad ones are refused.
    p = run({"package", "--base", pkg.string(), "--styles", "noto,twemoji", "--sample-prompt", "cat face, noto style",
             "--sample-prompt", "red heart", "--out", (root() / "ft-styles").string()});
    QVERIFY2(p.code == 0, p.err.c_str());
    const auto styled = gg::load_package((root() / "ft-styles").string());
    QCOMPARE(styled.styles, (std::vector<std::string>{"noto", "twemoji"}));
    QCOMPARE(styled.sample_prompts, (std::vector<std::string>{"cat face, noto style", "red heart"}));
    p = run({"package", "--base", pkg.string(), "--sample-prompt", " ", "--out", (root() / "ft-styles3").string()});
    QCOMPARE(p.code, 2);
    p = run({"package", "--base", pkg.string(), "--sample-prompt", "ok", "--sample-prompt", "caf\xe9", "--out",
             (root() / "ft-styles4").string()});
    QVERIFY(p.code != 0 && !fs::exists(root() / "ft-styles4"));
    QVERIFY2(contains(p.err, "--sample-prompt 2: the prompt is not valid UTF-8"), p.err.c_str());
    p = run({"package", "--base", pkg.string(), "--styles", "noto,,x", "--out", (root() / "ft-styles2").string()});
    QCOMPARE(p.code, 2);
    QVERIFY2(contains(p.err, "--styles: entry 1, '': a style word"), p.err.c_str());
    auto args2 = train_args(root() / "data", root() / "ft-bare", 4);
    args2.insert(args2.end(), {"--init", bare.string()});
    auto r2 = run(args2);
    QVERIFY2(r2.code == 0, r2.err.c_str());
    QVERIFY(events(r2.out).front().at("init").at("discriminator").is_null());
    // A discriminator from another config is refused with the file named.
    auto bad = run({"package", "--base", pkg.string(), "--discriminator", (pkg / "clip.safetensors").string(), "--out",
                    (root() / "ft-bad").string()});
    QCOMPARE(bad.code, 1);
    QVERIFY2(contains(bad.err, "clip.safetensors"), bad.err.c_str());
  }

  // `package --generator`: an earlier checkpoint's EMA generator (or a
  // generator file) replaces the base package's; anything else is refused.
  void packageTakesAnEarlierCheckpointsGenerator() {
    const fs::path run_dir = root() / "pkg-gen", out = root() / "pkg-gen-8";
    auto args = train_args(root() / "data", run_dir, 16);
    args.insert(args.end(), {"--checkpoint-every", "8", "--keep", "2"});
    auto r = run(args);
    QVERIFY2(r.code == 0, r.err.c_str());
    const fs::path ck8 = run_dir / "checkpoints" / "ckpt-000000000008.safetensors";
    auto p = run({"package", "--base", (run_dir / "package").string(), "--generator", ck8.string(), "--out", out.string()});
    QVERIFY2(p.code == 0, p.err.c_str());
    gg::TensorMap want;
    for (const auto& [k, t] : gg::select_prefix(gg::load_checkpoint(ck8.string()).tensors, "G_ema.")) want["G." + k] = t;
    auto as_g = [](const fs::path& file) {
      gg::TensorMap m;
      for (const auto& [k, t] : gg::load_checkpoint(file.string()).tensors) m["G." + k] = t;
      return m;
    };
    int n = 0;
    QVERIFY(max_diff(want, as_g(out / "generator.safetensors"), "G.", &n) == 0.0 && n > 0);
    n = 0;  // the base package holds the newer generator
    QVERIFY(max_diff(want, as_g(run_dir / "package" / "generator.safetensors"), "G.", &n) > 0);
    // A generator file works the same; a CLIP file is refused with its name.
    auto p2 = run({"package", "--base", out.string(), "--generator", (run_dir / "package" / "generator.safetensors").string(),
                   "--out", (root() / "pkg-gen-16").string()});
    QVERIFY2(p2.code == 0, p2.err.c_str());
    n = 0;
    QVERIFY(max_diff(as_g(run_dir / "package" / "generator.safetensors"), as_g(root() / "pkg-gen-16" / "generator.safetensors"),
                     "G.", &n) == 0.0 && n > 0);
    auto bad = run({"package", "--base", out.string(), "--generator", (out / "clip.safetensors").string(), "--out",
                    (root() / "pkg-gen-bad").string()});
    QCOMPARE(bad.code, 1);
    QVERIFY2(contains(bad.err, "clip.safetensors") && contains(bad.err, "not a generator"), bad.err.c_str());
  }

  // `package --clip`: a CLIP trained apart (train-clip) replaces the base
  // package's frozen encoder, tensor for tensor; a file of another kind is
  // refused with its name.
  void packageSwapsTheEncoderClip() {
    const fs::path run_dir = root() / "pkg-clip-run", clip_run = root() / "pkg-clip-clip", out = root() / "pkg-clip";
    auto r = run(train_args(root() / "data", run_dir, 8));
    QVERIFY2(r.code == 0, r.err.c_str());
    r = run({"train-clip", "--data", (root() / "data").string(), "--config", "tiny", "--out", clip_run.string(),
             "--tokenizer", (run_dir / "package" / "tokenizer").string(), "--images", "16", "--batch", "8",
             "--seed", "5", "--augment", "", "--threads", "1"});
    QVERIFY2(r.code == 0, r.err.c_str());
    const fs::path clip_file = clip_run / "clip.safetensors";
    auto p = run({"package", "--base", (run_dir / "package").string(), "--clip", clip_file.string(), "--out", out.string()});
    QVERIFY2(p.code == 0, p.err.c_str());
    const auto want = gg::load_checkpoint(clip_file.string()).tensors;
    const auto got = gg::load_checkpoint((out / "clip.safetensors").string()).tensors;
    const auto old = gg::load_checkpoint((run_dir / "package" / "clip.safetensors").string()).tensors;
    QCOMPARE(got.size(), want.size());
    double diff = 0, from_old = 0;
    for (const auto& [k, t] : want) {
      diff = std::max(diff, (got.at(k) - t).abs().max().item<double>());
      if (t.is_floating_point()) from_old = std::max(from_old, (old.at(k) - t).abs().max().item<double>());
    }
    QCOMPARE(diff, 0.0);
    QVERIFY(from_old > 1e-3);  // really another CLIP than the base package's
    auto bad = run({"package", "--base", out.string(), "--clip", (out / "generator.safetensors").string(), "--out",
                    (root() / "pkg-clip-bad").string()});
    QCOMPARE(bad.code, 1);
    QVERIFY2(contains(bad.err, "generator.safetensors") && contains(bad.err, "not a clip"), bad.err.c_str());
    // A CLIP whose text features the generator cannot read, or whose ids are
    // not the tokenizer's, is refused by the same fit check load_package makes.
    auto c = gg::load_package(out.string()).clip->config;
    c.text_config.hidden_size *= 2;
    const fs::path wide = root() / "pkg-clip-wide.safetensors";
    gg::save_network(wide.string(), "clip", c, gg::ClipModel(c));
    bad = run({"package", "--base", out.string(), "--clip", wide.string(), "--out", (root() / "pkg-clip-bad").string()});
    QCOMPARE(bad.code, 1);
    QVERIFY2(contains(bad.err, "--clip '" + wide.string() + "'") &&
                 contains(bad.err, "the base package's generator reads text features of width"),
             bad.err.c_str());
    c = gg::load_package(out.string()).clip->config;
    c.text_config.bos_token_id -= 1;
    gg::save_network(wide.string(), "clip", c, gg::ClipModel(c));
    bad = run({"package", "--base", out.string(), "--clip", wide.string(), "--out", (root() / "pkg-clip-bad").string()});
    QCOMPARE(bad.code, 1);
    QVERIFY2(contains(bad.err, "the base package's tokenizer") && contains(bad.err, "does not match --clip"),
             bad.err.c_str());
    QVERIFY(!fs::exists(root() / "pkg-clip-bad"));
  }

  // --noise none: G trains without per-layer noise and its noise strengths
  // are held at 0 (after --init from a const-noise run whose strengths moved,
  // and after every step), so the package renders the same in const and none
  // mode; a const-noise package does not. Random noise is refused.
  void noiseNoneHoldsTheStrengthsAtZero() {
    const fs::path base = root() / "noise-base", run_none = root() / "noise-none";
    auto rb = run(train_args(root() / "data", base, 8));
    QVERIFY2(rb.code == 0, rb.err.c_str());
    auto args = train_args(root() / "data", run_none, 8);
    args.insert(args.end(), {"--init", (base / "package").string(), "--noise", "none"});
    auto r = run(args);
    QVERIFY2(r.code == 0, r.err.c_str());
    auto strengths = [](const fs::path& ck, const std::string& prefix) {
      std::vector<double> v;
      for (const auto& [name, t] : gg::load_checkpoint(ck.string()).tensors)
        if (name.rfind(prefix, 0) == 0 && contains(name, "noise_strength")) v.push_back(t.item<double>());
      return v;
    };
    const auto before = strengths(base / "checkpoints" / "ckpt-000000000008.safetensors", "G.");
    QVERIFY(!before.empty());
    QVERIFY(*std::max_element(before.begin(), before.end(), [](double a, double b) { return std::abs(a) < std::abs(b); }) != 0.0);
    const fs::path after = run_none / "checkpoints" / "ckpt-000000000008.safetensors";
    for (const char* prefix : {"G.", "G_ema."}) {
      const auto v = strengths(after, prefix);
      QCOMPARE(v.size(), before.size());
      for (double x : v) QCOMPARE(x, 0.0);
    }
    int n = 0;  // G did train
    QVERIFY(max_diff(gg::load_checkpoint((base / "checkpoints" / "ckpt-000000000008.safetensors").string()).tensors,
                     gg::load_checkpoint(after.string()).tensors, "G.", &n) > 1e-4);

    auto render = [](const fs::path& pkg_dir, gg::NoiseMode mode) {
      c10::InferenceMode inference;
      auto pkg = gg::load_package(pkg_dir.string());
      pkg.generator->synthesis->noise_mode = mode;
      torch::manual_seed(3);
      auto z = torch::randn({2, pkg.generator->config.z_dim});
      auto f = pkg.clip->text_features(pkg.tokenizer->encode_batch({"red square", "blue square"}).ids);
      return pkg.generator->forward(z, f.tokens, f.eot_index)[0].clone();
    };
    const auto none_c = render(run_none / "package", gg::NoiseMode::Const);
    QVERIFY(none_c.equal(render(run_none / "package", gg::NoiseMode::None)));
    QVERIFY((render(base / "package", gg::NoiseMode::Const) - render(base / "package", gg::NoiseMode::None))
                .abs().max().item<double>() > 0);

    auto bad = train_args(root() / "data", root() / "noise-random", 4);
    bad.insert(bad.end(), {"--noise", "random"});
    auto rr = run(bad);
    QCOMPARE(rr.code, 1);
    QVERIFY2(contains(rr.out + rr.err, "noise") && contains(rr.out + rr.err, "random"), (rr.out + rr.err).c_str());
  }

  // --progress json: every stdout line is an event; start, steps, a sample grid, a
  // checkpoint with a loadable package, done; stats.jsonl has a line per tick.
  void progressEventsAndRunFolder() {
    const fs::path out = root() / "progress";
    auto args = train_args(root() / "data", out, 16);
    args.insert(args.end(), {"--checkpoint-every", "8", "--keep", "1"});
    auto r = run(args);
    QVERIFY2(r.code == 0, r.err.c_str());
    std::map<std::string, int> count;
    gg::json last_checkpoint;
    for (const auto& e : events(r.out)) {
      ++count[e.at("event").get<std::string>()];
      if (e["event"] == "checkpoint") last_checkpoint = e;
      if (e["event"] == "step") {
        QVERIFY(e.at("losses").contains("g_gan") && e.at("losses").contains("d_real") &&
                e.at("losses").contains("g_clip") && e.at("losses").contains("d_match") &&
                e.at("losses").contains("g_vision"));
        QVERIFY(e.at("images_per_s").get<double>() > 0);
      }
    }
    QCOMPARE(count["start"], 1);
    QCOMPARE(count["step"], 4);
    QCOMPARE(count["checkpoint"], 2);
    QCOMPARE(count["done"], 1);
    QVERIFY(count["sample"] >= 1);
    QVERIFY(fs::exists(last_checkpoint.at("path").get<std::string>()));
    QVERIFY(fs::exists(fs::path(last_checkpoint.at("package").get<std::string>()) / "package.json"));
    QCOMPARE(gg::RunFolder(out).checkpoints().size(), size_t(1));  // --keep 1
    std::ifstream stats(out / "stats.jsonl");
    int lines = 0;
    for (std::string line; std::getline(stats, line);) lines += gg::json::parse(line).contains("losses");
    QCOMPARE(lines, 4);
  }

  // --recon-weight: the best-of-K paired L1 is reported and falls as G
  // learns the 8 images; with --short-captions the run still resumes exactly
  // (both draws are keyed on the sampler position and the shared z stream).
  void reconstructionLearnsThePairsAndResumes() {
    const fs::path a = root() / "recon-a", b = root() / "recon-b";
    auto with = [](std::vector<std::string> args) {
      args.insert(args.end(), {"--recon-weight", "20", "--recon-samples", "3", "--short-captions", "0.5",
                               "--match-weight", "0", "--vision-weight", "0", "--clip-weight", "0"});
      return args;
    };
    auto ra = run(with(train_args(root() / "data", a, 160)));
    QVERIFY2(ra.code == 0, ra.err.c_str());
    std::vector<double> recon;
    for (const auto& e : events(ra.out))
      if (e["event"] == "step") recon.push_back(e.at("losses").at("g_recon").get<double>());
    QCOMPARE(recon.size(), size_t(40));
    double first = 0, last = 0;
    for (int k = 0; k < 8; ++k) {
      first += recon[static_cast<size_t>(k)];
      last += recon[recon.size() - 1 - static_cast<size_t>(k)];
    }
    QVERIFY2(last < 0.7 * first, ("g_recon " + std::to_string(first / 8) + " -> " + std::to_string(last / 8)).c_str());
    auto rb1 = run(with(train_args(root() / "data", b, 80)));
    QVERIFY2(rb1.code == 0, rb1.err.c_str());
    auto rb2 = run(with(train_args(root() / "data", b, 160)));
    QVERIFY2(rb2.code == 0, rb2.err.c_str());
    const fs::path ckpt = fs::path("checkpoints") / "ckpt-000000000160.safetensors";
    const std::string diff = weight_difference(a / ckpt, b / ckpt, {"G.", "G_ema.", "D."});
    QVERIFY2(diff.empty(), diff.c_str());
    // --gan-weight 0: reconstruction only; D is never run, so it keeps its
    // initial weights however long G trains, and no D loss is reported.
    const fs::path r8 = root() / "recon-only-8", r16 = root() / "recon-only-16";
    auto only = [&](const fs::path& out, int images) {
      auto args = with(train_args(root() / "data", out, images));
      args.insert(args.end(), {"--gan-weight", "0"});
      return run(args);
    };
    auto o8 = only(r8, 8);
    QVERIFY2(o8.code == 0, o8.err.c_str());
    auto o16 = only(r16, 16);
    QVERIFY2(o16.code == 0, o16.err.c_str());
    for (const auto& e : events(o16.out))
      if (e["event"] == "step")
        QVERIFY(e.at("losses").contains("g_recon") && !e.at("losses").contains("g_gan") &&
                !e.at("losses").contains("d_real"));
    const auto c8 = gg::load_checkpoint((r8 / "checkpoints" / "ckpt-000000000008.safetensors").string());
    const auto c16 = gg::load_checkpoint((r16 / "checkpoints" / "ckpt-000000000016.safetensors").string());
    int nd = 0, ng = 0;
    QCOMPARE(max_diff(c8.tensors, c16.tensors, "D.", &nd), 0.0);
    QVERIFY(nd > 0);
    QVERIFY(max_diff(c8.tensors, c16.tensors, "G.", &ng) > 0);
    auto nothing = run({"train", "--data", (root() / "data").string(), "--config", "tiny", "--clip", "random", "--out",
                        (root() / "recon-none").string(), "--images", "4", "--gan-weight", "0", "--clip-weight", "0"});
    QCOMPARE(nothing.code, 1);
    QVERIFY2(contains(nothing.err, "gan_weight"), nothing.err.c_str());
    // Refused where it has no meaning, with the option named.
    auto up = run({"train-upsampler", "--data", (root() / "data").string(), "--config", "tiny", "--clip", "random",
                   "--out", (root() / "recon-up").string(), "--images", "4", "--recon-weight", "1"});
    QCOMPARE(up.code, 2);
    QVERIFY(contains(up.err, "--recon-weight"));
  }

  // --recon-samples 0: every G-step image is drawn with z = 0 (and
  // --recon-max-size restricts the levels). With the whole
  // 8-image set in one batch, the first step's g_recon (taken before any
  // update) is then the same under any seed, which changes z and the order
  // of the batch but not its pairs; with one random latent it is not.
  void reconstructionWithZeroLatent() {
    const fs::path base = root() / "recon-z-base";
    auto rb = run(train_args(root() / "data", base, 8));
    QVERIFY2(rb.code == 0, rb.err.c_str());
    auto first_recon = [&](const std::string& samples, const std::string& seed) {
      auto args = train_args(root() / "data", root() / ("recon-z" + samples + "-" + seed), 8);
      *(std::find(args.begin(), args.end(), "--batch") + 1) = "8";
      args.insert(args.end(), {"--init", (base / "package").string(), "--seed", seed, "--gan-weight", "0",
                               "--recon-weight", "1", "--recon-samples", samples, "--clip-weight", "0"});
      const auto r = run(args);
      if (r.code != 0) qWarning("%s", r.err.c_str());
      for (const auto& e : events(r.out))
        if (e["event"] == "step") return e.at("losses").at("g_recon").get<double>();
      return -1.0;
    };
    const double z0a = first_recon("0", "1"), z0b = first_recon("0", "2");
    const double z1a = first_recon("1", "1"), z1b = first_recon("1", "2");
    QVERIFY2(z0a > 0 && z1a > 0 && z1b > 0, "a run failed");
    QVERIFY2(std::abs(z0a - z0b) < 1e-5 * z0a, (std::to_string(z0a) + " vs " + std::to_string(z0b)).c_str());
    QVERIFY2(std::abs(z1a - z1b) > 1e-4 * z1a, (std::to_string(z1a) + " vs " + std::to_string(z1b)).c_str());
    // --recon-max-size: the same z = 0 images, the L1 averaged over the levels
    // of at most that size only (tiny: 4, 8, 16 px). 16 or more is every
    // level; 4 is the 4 px level alone; 8 averages 4 and 8 px, so each
    // level's own error follows and must be positive.
    auto first_recon_max = [&](const std::string& max) {
      auto args = train_args(root() / "data", root() / ("recon-max" + max), 8);
      *(std::find(args.begin(), args.end(), "--batch") + 1) = "8";
      args.insert(args.end(), {"--init", (base / "package").string(), "--seed", "1", "--gan-weight", "0",
                               "--recon-weight", "1", "--recon-samples", "0", "--clip-weight", "0",
                               "--recon-max-size", max});
      const auto r = run(args);
      if (r.code != 0) qWarning("%s", r.err.c_str());
      for (const auto& e : events(r.out))
        if (e["event"] == "step") return e.at("losses").at("g_recon").get<double>();
      return -1.0;
    };
    const double all = first_recon_max("1024"), l4 = first_recon_max("4"), m8 = first_recon_max("8");
    QVERIFY2(std::abs(all - z0a) < 1e-6 * z0a, (std::to_string(all) + " vs " + std::to_string(z0a)).c_str());
    const double l8 = 2 * m8 - l4, l16 = 3 * all - 2 * m8;
    QVERIFY2(l4 > 0 && l8 > 0 && l16 > 0 && std::abs(l4 - all) > 1e-4 * all,
             ("levels " + std::to_string(l4) + " " + std::to_string(l8) + " " + std::to_string(l16)).c_str());
    auto none = run({"train", "--data", (root() / "data").string(), "--config", "tiny", "--clip", "random", "--out",
                     (root() / "recon-max-2").string(), "--images", "4", "--recon-weight", "1", "--recon-max-size",
                     "2"});
    QCOMPARE(none.code, 1);
    QVERIFY2(contains(none.err, "recon_max_size") && contains(none.err, "4 px"), none.err.c_str());
    auto bad = run({"train", "--data", (root() / "data").string(), "--config", "tiny", "--clip", "random", "--out",
                    (root() / "recon-z-bad").string(), "--images", "4", "--recon-weight", "1", "--recon-samples", "-1"});
    QCOMPARE(bad.code, 1);
    QVERIFY2(contains(bad.err, "recon_samples") && contains(bad.err, "[0, 64]"), bad.err.c_str());
  }

  // --mode-seeking-weight: the term is reported for every G step, pushes a
  // prompt's images for two latents apart, and a run with it still resumes
  // exactly (its second latent comes from the shared z stream).
  void modeSeekingTermIsReportedAndResumes() {
    const fs::path a = root() / "ms-a", b = root() / "ms-b";
    auto with = [](std::vector<std::string> args) {
      args.insert(args.end(), {"--mode-seeking-weight", "0.01", "--recon-weight", "1", "--recon-samples", "2"});
      return args;
    };
    auto ra = run(with(train_args(root() / "data", a, 16)));
    QVERIFY2(ra.code == 0, ra.err.c_str());
    int steps = 0;
    for (const auto& e : events(ra.out))
      if (e["event"] == "step") {
        ++steps;
        const double ms = e.at("losses").at("g_mode_seeking").get<double>();
        QVERIFY2(std::isfinite(ms) && ms > 0, std::to_string(ms).c_str());
      }
    QCOMPARE(steps, 4);
    auto rb1 = run(with(train_args(root() / "data", b, 8)));
    QVERIFY2(rb1.code == 0, rb1.err.c_str());
    auto rb2 = run(with(train_args(root() / "data", b, 16)));
    QVERIFY2(rb2.code == 0, rb2.err.c_str());
    const fs::path ckpt = fs::path("checkpoints") / "ckpt-000000000016.safetensors";
    const std::string diff = weight_difference(a / ckpt, b / ckpt, {"G.", "D."});
    QVERIFY2(diff.empty(), diff.c_str());
    // Without the term, nothing of it is reported.
    auto off = run(train_args(root() / "data", root() / "ms-off", 4));
    QVERIFY2(off.code == 0, off.err.c_str());
    for (const auto& e : events(off.out))
      if (e["event"] == "step") QVERIFY(!e.at("losses").contains("g_mode_seeking"));
    auto neg = run({"train", "--data", (root() / "data").string(), "--config", "tiny", "--clip", "random", "--out",
                    (root() / "ms-bad").string(), "--images", "4", "--mode-seeking-weight", "-1"});
    QCOMPARE(neg.code, 1);
    QVERIFY2(contains(neg.err, "mode_seeking_weight"), neg.err.c_str());
    auto up = run({"train-upsampler", "--data", (root() / "data").string(), "--config", "tiny", "--clip", "random",
                   "--out", (root() / "ms-up").string(), "--images", "4", "--mode-seeking-weight", "1"});
    QCOMPARE(up.code, 2);
    QVERIFY2(contains(up.err, "--mode-seeking-weight"), up.err.c_str());
  }

  // --widen: a wider --config starts from a narrower package's G with the
  // same function (the EMA G too), and its D; without --widen the shapes are
  // refused, naming a tensor.
  void widenStartsAWiderGeneratorFromAPackage() {
    const fs::path base = root() / "widen-base", pkg = base / "package";
    auto rb = run(train_args(root() / "data", base, 8));
    QVERIFY2(rb.code == 0, rb.err.c_str());
    gg::json config = gg::json::parse(std::ifstream(gg::test::config_path("tiny")));
    config["name"] = "tiny-wide";
    config["generator"]["channels"] = {32, 32, 24};  // the 16 px level (no attention) grows from 16
    const fs::path wide_config = root() / "tiny-wide.json";
    std::ofstream(wide_config) << config.dump();
    auto wide_args = [&](const fs::path& out, bool widen) {
      auto args = train_args(root() / "data", out, 8);
      *(std::find(args.begin(), args.end(), "tiny")) = wide_config.string();
      args.insert(args.end(), {"--init", pkg.string(), "--d-warmup", "8", "--ema-rampup", "0"});
      if (widen) args.push_back("--widen");
      return args;
    };
    auto r = run(wide_args(root() / "widen", true));
    QVERIFY2(r.code == 0, r.err.c_str());
    QVERIFY(events(r.out).front().at("init").at("widened").get<bool>());
    // G waited for D, so both G and its EMA still draw what the package draws.
    const auto ck = gg::load_checkpoint((root() / "widen" / "checkpoints" / "ckpt-000000000008.safetensors").string());
    gg::GeneratorConfig narrow_config;
    auto narrow = gg::load_network<gg::GeneratorConfig, gg::Generator>((pkg / "generator.safetensors").string(),
                                                                         "generator", torch::kCPU, &narrow_config);
    const auto wide_gc = config.at("generator").get<gg::GeneratorConfig>();
    torch::manual_seed(3);
    auto z = torch::randn({2, narrow_config.z_dim});
    auto tokens = torch::randn({2, narrow_config.context_length, narrow_config.text_input_dim});
    auto eot = torch::full({2}, narrow_config.context_length - 1, torch::kLong);
    torch::NoGradGuard ng;
    const auto want = narrow->forward(z, tokens, eot);
    for (const char* prefix : {"G.", "G_ema."}) {
      gg::Generator wide(wide_gc);
      gg::load_state_dict_strict(*wide, gg::select_prefix(ck.tensors, prefix), prefix);
      QCOMPARE(wide->config.channels.back(), 24);
      const auto got = wide->forward(z, tokens, eot);
      QVERIFY2(gg::test::max_abs_diff(got[0], want[0]) < 1e-5, prefix);
    }
    int n = 0;
    const auto pkg_d = gg::load_checkpoint((pkg / "discriminator.safetensors").string());
    QVERIFY(max_diff(pkg_d.tensors, ck.tensors, "D.", &n) > 0 && n > 0);  // D trained from the package's D
    // `package` takes the wider G (with its D; the base package's D belongs to the narrow G).
    const std::string ck_file = (root() / "widen" / "checkpoints" / "ckpt-000000000008.safetensors").string();
    auto p = run({"package", "--base", pkg.string(), "--generator", ck_file, "--discriminator", ck_file, "--out",
                  (root() / "widen-pkg").string()});
    QVERIFY2(p.code == 0, p.err.c_str());
    QCOMPARE(gg::load_package((root() / "widen-pkg").string()).generator->config.channels.back(), 24);
    auto p_old_d = run({"package", "--base", pkg.string(), "--generator", ck_file, "--out",
                        (root() / "widen-pkg-bad").string()});
    QCOMPARE(p_old_d.code, 1);
    QVERIFY2(contains(p_old_d.err, "--discriminator") && contains(p_old_d.err, "--no-discriminator"),
             p_old_d.err.c_str());
    auto refused = run(wide_args(root() / "widen-no", false));
    QCOMPARE(refused.code, 1);
    QVERIFY2(contains(refused.err, "synthesis.b16.") && contains(refused.err, "shape"), refused.err.c_str());
    auto no_init = run({"train", "--data", (root() / "data").string(), "--config", wide_config.string(), "--clip",
                        "random", "--out", (root() / "widen-bare").string(), "--images", "4", "--widen"});
    QCOMPARE(no_init.code, 2);
    QVERIFY2(contains(no_init.err, "--widen"), no_init.err.c_str());
  }

  // `train-upsampler` runs its own losses (perceptual and pixel terms, no
  // vision-aided D), can switch the pixel term off, and exports a loadable
  // upsampler.
  void upsamplerTrainsWithItsLosses() {
    for (const std::string pixel : {"1", "0"}) {
      const fs::path out = root() / ("upsampler-pixel" + pixel);
      auto args = train_args(root() / "data", out, 8);
      args[0] = "train-upsampler";
      args.insert(args.end(), {"--pixel-weight", pixel});
      auto r = run(args);
      QVERIFY2(r.code == 0, r.err.c_str());
      int steps = 0;
      for (const auto& e : events(r.out)) {
        if (e["event"] != "step") continue;
        ++steps;
        const auto& l = e.at("losses");
        QVERIFY(l.contains("g_gan") && l.contains("g_perceptual") && l.contains("d_real") && !l.contains("g_vision"));
        QCOMPARE(l.contains("g_pixel"), pixel == "1");
        if (pixel == "1") QVERIFY(l.at("g_pixel").get<double>() > 0);
      }
      QCOMPARE(steps, 2);
      QVERIFY(fs::exists(out / "upsampler.safetensors"));
      auto u = gg::load_network<gg::UpsamplerConfig, gg::Upsampler>((out / "upsampler.safetensors").string(), "upsampler");
      QCOMPARE(u->config.output_resolution, 64);  // the tiny preset: 16 -> 64 px
    }
  }

  // --pixel-size: the pixel term compared at the output size is the mean
  // absolute difference of the whole images, which is at least that of their
  // 16 px box averages (the default) and, for an untrained upsampler's
  // output, larger (by about 0.2%: its error is mostly a colour offset,
  // the same at every size); the first step renders the same image in both
  // runs, so an ignored option gives equal values.
  // Sizes that do not divide the output, and the base generator, are refused.
  void upsamplerPixelSize() {
    auto first_pixel = [&](const std::string& size) {
      return first_step_pixel(upsampler_args(root() / "data", root() / ("upsampler-px" + size), {"--pixel-size", size}));
    };
    const double at_input = first_pixel("0"), at_16 = first_pixel("16"), at_output = first_pixel("64");
    QVERIFY(at_input > 0);
    QVERIFY2(std::abs(at_16 - at_input) < 1e-9, (std::to_string(at_16) + " vs " + std::to_string(at_input)).c_str());
    QVERIFY2(at_output > at_input + 1e-4, (std::to_string(at_output) + " vs " + std::to_string(at_input)).c_str());
    auto up_args = upsampler_args(root() / "data", root() / "upsampler-px24", {"--pixel-size", "24"});
    auto bad = run(up_args);
    QCOMPARE(bad.code, 1);
    QVERIFY2(contains(bad.err, "pixel_size 24") && contains(bad.err, "64 px"), bad.err.c_str());
    auto base_args = train_args(root() / "data", root() / "base-px", 4);
    base_args.insert(base_args.end(), {"--pixel-size", "16"});
    auto base = run(base_args);
    QCOMPARE(base.code, 2);
    QVERIFY2(contains(base.err, "--pixel-size"), base.err.c_str());
  }

  // --input-blur changes what the upsampler is given (its first step's
  // output, so its pixel term, differs from the unblurred run's, and repeats
  // exactly with the same seed); a radius past the input, and the base
  // generator, are refused.
  void upsamplerInputBlur() {
    auto first_pixel = [&](const std::string& blur, const std::string& tag) {
      return first_step_pixel(upsampler_args(root() / "data", root() / ("upsampler-blur" + tag), {"--input-blur", blur}));
    };
    const double sharp = first_pixel("0", "0"), blurred = first_pixel("1.5", "a"), again = first_pixel("1.5", "b");
    QVERIFY(sharp > 0 && blurred > 0);
    QVERIFY2(std::abs(blurred - sharp) > 1e-6, (std::to_string(blurred) + " vs " + std::to_string(sharp)).c_str());
    QCOMPARE(again, blurred);
    auto up_args = upsampler_args(root() / "data", root() / "upsampler-blur-big", {"--input-blur", "6"});
    auto bad = run(up_args);
    QCOMPARE(bad.code, 1);
    QVERIFY2(contains(bad.err, "input_blur") && contains(bad.err, "16 px"), bad.err.c_str());
    auto base_args = train_args(root() / "data", root() / "base-blur", 4);
    base_args.insert(base_args.end(), {"--input-blur", "1"});
    auto base = run(base_args);
    QCOMPARE(base.code, 2);
    QVERIFY2(contains(base.err, "--input-blur"), base.err.c_str());
  }

  // A NaN stops the run without writing a checkpoint; the last good one stays.
  void nanStopsAndKeepsLastCheckpoint() {
    const fs::path out = root() / "nan";
    auto args = train_args(root() / "data", out, 40);
    args.insert(args.end(), {"--checkpoint-every", "8", "--inject-nan-at-step", "3"});
    auto r = run(args);
    QCOMPARE(r.code, 1);
    gg::json error;
    for (const auto& e : events(r.out))
      if (e["event"] == "error") error = e;
    const std::string msg = error.value("message", "");
    QVERIFY2(contains(msg, "non-finite loss 'g_total'") && contains(msg, "ckpt-000000000008"), msg.c_str());
    auto cks = gg::RunFolder(out).checkpoints();
    QCOMPARE(cks.size(), size_t(1));
    QVERIFY(contains(cks.back().string(), "ckpt-000000000008"));
    gg::load_checkpoint(cks.back().string());  // loadable
  }

  // With --nan-rollbacks, the run reloads the last checkpoint, halves the lr and finishes.
  void nanRollsBack() {
    const fs::path out = root() / "rollback";
    auto args = train_args(root() / "data", out, 24);
    args.insert(args.end(), {"--checkpoint-every", "8", "--inject-nan-at-step", "3", "--nan-rollbacks", "1"});
    auto r = run(args);
    QVERIFY2(r.code == 0, r.err.c_str());
    bool warned = false;
    double lr = 0;
    for (const auto& e : events(r.out)) {
      if (e["event"] == "warning" && contains(e.value("message", ""), "rolled back")) warned = true;
      if (e["event"] == "step") lr = e.at("lr").get<double>();
    }
    QVERIFY(warned);
    QCOMPARE(lr, 1e-3);  // 2e-3 halved
  }

  // A checkpoint write interrupted half-way (a partial temporary file) leaves
  // the previous checkpoint the newest one, loadable; a failed write throws
  // and changes nothing.
  void interruptedWriteKeepsPrevious() {
    gg::RunFolder folder(root() / "atomic");
    gg::Checkpoint ck;
    ck.kind = "train-state";
    ck.tensors["x"] = torch::arange(10, torch::kFloat);
    const auto first = folder.save(100, ck, 3);
    const std::string bytes = [&] {
      std::ifstream in(first, std::ios::binary);
      return std::string(std::istreambuf_iterator<char>(in), {});
    }();
    std::ofstream(folder.checkpoint_path(200).string() + ".tmp.4242", std::ios::binary)
        << bytes.substr(0, bytes.size() / 2);
    QCOMPARE(folder.latest_checkpoint()->string(), first.string());
    QVERIFY(gg::load_checkpoint(folder.latest_checkpoint()->string()).tensors.at("x").equal(ck.tensors["x"]));
    // A torn file under the final name (not produced by the atomic writer) is caught on load.
    std::ofstream(folder.checkpoint_path(300), std::ios::binary) << bytes.substr(0, bytes.size() / 2);
    GG_VERIFY_THROWS_WITH(gg::load_checkpoint(folder.checkpoint_path(300).string()), gg::CheckpointError,
                          "ckpt-000000000300");
    fs::remove(folder.checkpoint_path(300));
    // The checkpoints folder made read-only: the write fails with a message, the old file survives.
    if (::geteuid() != 0) {
      fs::permissions(folder.checkpoints_dir(), fs::perms::owner_read | fs::perms::owner_exec);
      GG_VERIFY_THROWS_WITH(folder.save(400, ck, 3), gg::CheckpointError, "cannot");
      fs::permissions(folder.checkpoints_dir(), fs::perms::owner_all);
    }
    QCOMPARE(folder.latest_checkpoint()->string(), first.string());
  }

  // Broken and caption-less files are skipped and reported in the start event.
  void brokenFilesAreSkippedAndReported() {
    make_dataset(root() / "broken-data", 6, 2);
    std::ofstream(root() / "broken-data" / "nocaption.png") << "x";
    auto r = run(train_args(root() / "broken-data", root() / "broken-run", 8));
    QVERIFY2(r.code == 0, r.err.c_str());
    const auto start = events(r.out).front();
    QCOMPARE(start.at("train_size").get<int>(), 6);
    const std::string report = start.at("dataset").dump();
    QVERIFY2(contains(report, "unreadable") && contains(report, "broken0.png"), report.c_str());
    // An empty dataset is an error that says why.
    fs::create_directories(root() / "empty-data");
    auto e = run(train_args(root() / "empty-data", root() / "empty-run", 8));
    QCOMPARE(e.code, 1);
    QVERIFY2(contains(e.err, "empty-data"), e.err.c_str());
  }

  // An image that goes bad after the dataset was opened (and verified) is
  // skipped by the loader and reported once, as a warning event naming it.
  void imageCorruptedMidRunIsAWarning() {
    const fs::path data = root() / "midrun-data";
    make_dataset(data, 4);
    gg::DatasetOptions o;
    o.resolution = 16;
    o.verify = true;
    auto dataset = std::make_shared<const gg::Dataset>(data, o);
    QCOMPARE(dataset->size(), int64_t{4});
    // Reads every image of the set each step, as a loader would.
    struct Reader : gg::TrainerBase {
      std::shared_ptr<const gg::Dataset> data;
      std::function<void()> after_first_step;
      std::string mode() const override { return "test"; }
      int64_t batch_size() const override { return 1; }
      gg::StepResult step() override {
        for (int64_t i = 0; i < data->size(); ++i) data->load(i);
        if (steps == 0 && after_first_step) after_first_step();
        return {{{"loss", 1.0}}, ""};
      }
      gg::Checkpoint state() const override { return {}; }
      void load_state(const gg::Checkpoint&, const std::string&) override {}
      bool write_samples(const fs::path&) override { return false; }
      double learning_rate() const override { return 1; }
      void scale_learning_rate(double) override {}
      const gg::Dataset* training_data() const override { return data.get(); }
    } trainer;
    trainer.data = dataset;
    const fs::path victim = data / "img2.png";
    trainer.after_first_step = [&] { std::ofstream(victim, std::ios::trunc) << "garbage now"; };
    gg::RunFolder run(root() / "midrun-run");
    gg::LoopOptions loop;
    loop.images = 4;
    loop.checkpoint_images = 0;
    gg::RunControl control;
    std::vector<gg::json> warnings;
    gg::run_training(trainer, run, loop, control, [&](const gg::json& e) {
      if (e.at("event") == "warning") warnings.push_back(e);
    });
    QCOMPARE(static_cast<int>(warnings.size()), 1);  // once, not once per step
    const std::string message = warnings[0].at("message").get<std::string>();
    QVERIFY2(contains(message, "1 training image could not be read during the run") && contains(message, "img2.png"),
             message.c_str());
    QCOMPARE(dataset->report().skipped.at(gg::skip_reason::kUnreadable), int64_t{1});
  }

  // train-clip: contrastive loss falls on a small set; its outputs serve `train --clip`.
  void trainClipThenUseIt() {
    const fs::path out = root() / "clip";
    auto r = run({"train-clip", "--data", (root() / "data").string(), "--config", "tiny", "--out", out.string(),
                  "--images", "320", "--batch", "8", "--warmup", "16", "--lr", "2e-3", "--augment", "",
                  "--threads", "1", "--progress", "json"});
    QVERIFY2(r.code == 0, r.err.c_str());
    std::vector<double> losses;
    for (const auto& e : events(r.out))
      if (e["event"] == "step") losses.push_back(e["losses"]["clip"].get<double>());
    QVERIFY(losses.size() >= 10);
    const double first = (losses[0] + losses[1]) / 2, last = (losses[losses.size() - 1] + losses[losses.size() - 2]) / 2;
    QVERIFY2(last < 0.5 * first, (std::to_string(first) + " -> " + std::to_string(last)).c_str());
    QVERIFY(fs::exists(out / "clip.safetensors") && fs::exists(out / "tokenizer" / "vocab.json"));
    auto g = run({"train", "--data", (root() / "data").string(), "--config", "tiny", "--clip", out.string(), "--out",
                  (root() / "gan-on-clip").string(), "--images", "8", "--batch", "4", "--threads", "1"});
    QVERIFY2(g.code == 0, g.err.c_str());
  }

  // train-clip --init starts from another CLIP's weights (a fine-tune), so
  // with a negligible learning rate the result is that CLIP, not a fresh one;
  // a CLIP of another config is refused by name. --short-captions runs.
  void trainClipInitFineTunes() {
    const fs::path src = root() / "clip-init-src", ft = root() / "clip-init-ft", fresh = root() / "clip-init-fresh";
    const std::vector<std::string> common = {"--data", (root() / "data").string(), "--config", "tiny", "--batch", "8",
                                             "--warmup", "0", "--augment", "", "--threads", "1"};
    auto with = [&](std::vector<std::string> head, std::vector<std::string> tail) {
      head.insert(head.end(), common.begin(), common.end());
      head.insert(head.end(), tail.begin(), tail.end());
      return head;
    };
    auto r = run(with({"train-clip", "--out", src.string()}, {"--images", "32", "--lr", "2e-3", "--seed", "3"}));
    QVERIFY2(r.code == 0, r.err.c_str());
    const auto tiny_lr = std::vector<std::string>{"--images", "16", "--lr", "1e-12", "--short-captions", "0.5"};
    r = run(with({"train-clip", "--out", ft.string(), "--init", src.string()}, tiny_lr));
    QVERIFY2(r.code == 0, r.err.c_str());
    QVERIFY2(contains(r.out, "clip-init-src/clip.safetensors"), r.out.c_str());  // the start event names the file
    r = run(with({"train-clip", "--out", fresh.string()}, tiny_lr));
    QVERIFY2(r.code == 0, r.err.c_str());
    const auto a = gg::load_checkpoint((src / "clip.safetensors").string()).tensors;
    const auto b = gg::load_checkpoint((ft / "clip.safetensors").string()).tensors;
    const auto c = gg::load_checkpoint((fresh / "clip.safetensors").string()).tensors;
    double from_init = 0, from_fresh = 0;
    for (const auto& [name, t] : a) {
      if (!t.is_floating_point()) continue;
      from_init = std::max(from_init, (b.at(name) - t).abs().max().item<double>());
      from_fresh = std::max(from_fresh, (c.at(name) - t).abs().max().item<double>());
    }
    QVERIFY2(from_init < 1e-6, std::to_string(from_init).c_str());
    QVERIFY2(from_fresh > 1e-3, std::to_string(from_fresh).c_str());
    // Another config's CLIP, and a bad share, are refused with a clear message.
    r = run({"train-clip", "--data", (root() / "data").string(), "--config", "emoji64", "--out",
             (root() / "clip-init-bad").string(), "--init", src.string(), "--images", "8", "--threads", "1"});
    QVERIFY(r.code != 0);
    QVERIFY2(contains(r.err, "its CLIP config differs from --config's"), r.err.c_str());
    r = run(with({"train-clip", "--out", (root() / "clip-init-bad2").string()}, {"--short-captions", "1.5"}));
    QVERIFY(r.code != 0);
    QVERIFY2(contains(r.err, "short_captions") && contains(r.err, "[0, 1]"), r.err.c_str());
  }

  // --style-pairs: each emoji's other-style version is found by caption, and
  // a paired batch puts it (image and caption) in the second half.
  void stylePairsFindTheOtherStyle() {
    const fs::path dir = root() / "styled";
    fs::create_directories(dir);
    // noto: solid colour; twemoji: the same colour with a grey bar; "moon" has no twemoji version.
    const char* names[] = {"red apple", "blue car", "green tree", "moon"};
    for (int i = 0; i < 4; ++i)
      for (const std::string style : {"noto", "twemoji"}) {
        if (i == 3 && style == "twemoji") continue;
        cv::Mat img(16, 16, CV_8UC3, cv::Scalar(60 * i, 255 - 60 * i, 40));
        if (style == "twemoji") img.row(8).setTo(cv::Scalar(128, 128, 128));
        const std::string stem = style + std::to_string(i);
        cv::imwrite((dir / (stem + ".png")).string(), img);
        std::ofstream(dir / (stem + ".txt")) << names[i] << ", thing, " << style << " style";
      }
    gg::DatasetOptions o;
    o.resolution = 16;
    o.split = "all";
    gg::Dataset data(dir, o);
    QCOMPARE(data.size(), int64_t{7});
    const auto partner = gg::style_partners(data);
    int paired = 0;
    for (int64_t i = 0; i < data.size(); ++i) {
      const std::string& c = data.entry(i).caption;
      if (c.rfind("moon", 0) == 0) {
        QCOMPARE(partner[i], int64_t{-1});
        continue;
      }
      QVERIFY(partner[i] >= 0);
      const std::string& p = data.entry(partner[i]).caption;
      QCOMPARE(gg::with_style(c, gg::caption_style(p)), p);
      QVERIFY(gg::caption_style(c) != gg::caption_style(p));
      QCOMPARE(partner[partner[i]], i);
      ++paired;
    }
    QCOMPARE(paired, 6);
    // A batch of 4: slots 0, 1 hold a noto image and the moon; slots 2, 3 anything.
    int64_t noto_apple = -1, moon = -1, other = -1;
    for (int64_t i = 0; i < data.size(); ++i) {
      const std::string& c = data.entry(i).caption;
      if (c == "red apple, thing, noto style") noto_apple = i;
      else if (c.rfind("moon", 0) == 0) moon = i;
      else if (other < 0) other = i;
    }
    std::vector<int64_t> idx = {noto_apple, moon, other, other};
    std::vector<std::string> captions;
    std::vector<torch::Tensor> imgs;
    for (int64_t i : idx) {
      auto s = data.load(i);
      QVERIFY(s.has_value());
      imgs.push_back(s->image);
      captions.push_back(s->caption);
    }
    torch::Tensor batch = torch::stack(imgs), before = batch.clone();
    torch::Tensor paired_batch = batch;
    gg::pair_styles(data, partner, false, idx, paired_batch, captions);
    QCOMPARE(captions[2], std::string("red apple, thing, twemoji style"));
    QVERIFY(torch::equal(paired_batch[2], data.load(partner[noto_apple])->image));
    QVERIFY(!torch::equal(paired_batch[2], paired_batch[0]));  // the bar: really the other image
    QCOMPARE(captions[3], data.entry(other).caption);          // the moon has no partner: slot kept
    QVERIFY(torch::equal(paired_batch[3], before[3]));
    QVERIFY(torch::equal(batch, before));                      // the loader's batch is not written
    // And train-clip runs with it.
    auto r = run({"train-clip", "--data", dir.string(), "--config", "tiny", "--out", (root() / "clip-pairs").string(),
                  "--images", "32", "--batch", "4", "--warmup", "8", "--augment", "", "--style-pairs",
                  "--threads", "1"});
    QVERIFY2(r.code == 0, r.err.c_str());
  }

  // The contrastive loss on hand-made inputs: aligned pairs give a low loss,
  // swapped pairs a high one; equal captions are all positives.
  void contrastiveLossKnownValues() {
    auto eye = torch::eye(3);
    auto scale = torch::tensor(10.0);
    const double aligned = gg::clip_contrastive_loss(eye, eye, scale, {"a", "b", "c"}).item<double>();
    const double expected = -std::log(std::exp(10.0) / (std::exp(10.0) + 2.0));
    QVERIFY(std::abs(aligned - expected) < 1e-5);
    auto swapped = eye.index_select(0, torch::tensor({1, 0, 2}));
    QVERIFY(gg::clip_contrastive_loss(swapped, eye, scale, {"a", "b", "c"}).item<double>() > 5);
    // Rows 0 and 1 share a caption: both texts are right for both images.
    auto two = torch::tensor({{1.f, 0.f}, {1.f, 0.f}});
    const double dup = gg::clip_contrastive_loss(two, two, scale, {"same", "same"}).item<double>();
    QVERIFY(std::abs(dup - std::log(2.0)) < 1e-5);  // uniform over two equal positives
  }
};

QTEST_GUILESS_MAIN(TestTrainer)
#include "test_trainer.moc"

// Shared pieces of the engine subcommands (cli_engine.h) and the engine benchmark.
#include "cli_engine.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "adaptive_conv2d.h"
#include "bpe_trainer.h"
#include "drag.h"
#include "image_io.h"
#include "inversion.h"
#include "layers.h"
#include "model_config.h"
#include "runtime.h"

namespace gg::cli {

namespace fs = std::filesystem;

Option model_option() {
  return {"model", "PKG", "model package folder (package.json, tokenizer/, *.safetensors)", "the shipped models/emoji"};
}

std::string resolve_model_path(const Args& args) {
  if (args.has("model")) return args.get("model");
  std::string searched;
  for (const auto& dir : resource_dirs()) {
    const fs::path p = fs::path(dir) / "models" / "emoji";
    if (fs::exists(p / "package.json")) return p.string();
    searched += (searched.empty() ? "" : ", ") + p.string();
  }
  throw CheckpointError("the shipped model (models/emoji) is not installed (searched " + searched +
                        "); pass --model PKG with a model package, e.g. a training run's package/ folder");
}

std::unique_ptr<Engine> open_engine(const Args& args) {
  init_runtime(args.get_int("threads"));
  const torch::Device device = parse_device(args.get("device"));
  EngineOptions o;
  o.on_warning = [](const std::string& m) { std::cerr << "warning: " << m << "\n"; };
  return Engine::open(resolve_model_path(args), device, o);
}

std::string required(const Args& args, const std::string& name) {
  if (!args.has(name)) throw UsageError("gigagan " + args.command() + ": --" + name + " is required");
  return args.get(name);
}

void check_prompt(const std::string& prompt) {
  if (std::all_of(prompt.begin(), prompt.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); }))
    throw PromptError("empty prompt: describe the image, e.g. \"cat face, noto style\"");
}

uint64_t parse_seed(const std::string& s, const std::string& option) {
  try {
    size_t used = 0;
    const unsigned long long v = std::stoull(s, &used);
    if (used == s.size() && s[0] != '-') return v;
  } catch (const std::exception&) {
  }
  throw UsageError(option + " expects a non-negative integer seed, got '" + s + "'");
}

cv::Mat tile(const torch::Tensor& images, int columns) {
  const int n = static_cast<int>(images.size(0));
  if (n == 1) return to_bgr8(images[0]);
  columns = std::max(1, std::min(columns, n));
  const int rows = (n + columns - 1) / columns;
  const int h = static_cast<int>(images.size(2)), w = static_cast<int>(images.size(3));
  cv::Mat grid(rows * h, columns * w, CV_8UC3, cv::Scalar(255, 255, 255));
  for (int i = 0; i < n; ++i) to_bgr8(images[i]).copyTo(grid(cv::Rect((i % columns) * w, (i / columns) * h, w, h)));
  return grid;
}

Rendered render_and_save(Engine& engine, std::vector<Recipe> cells, int columns, const std::string& path,
                         std::ostream& out, bool allow_other_model) {
  for (auto& c : cells)
    if (c.model_hash.empty()) engine.stamp(c);
  const Rendered r = engine.render_batch(cells, allow_other_model);
  RecipeGrid grid;
  grid.columns = columns;
  grid.cells = cells;
  const auto& img = r.upsampled.defined() ? r.upsampled : r.image;
  write_png(path, tile(img, columns), {{kRecipeChunkKey, grid.to_json().dump()}});
  out << "wrote " << path << " (" << img.size(0) << " image" << (img.size(0) > 1 ? "s" : "") << ", "
      << img.size(3) << " px, recipe inside)\n";
  return r;
}

RecipeGrid read_recipe_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError("recipe file '" + path + "' cannot be read (missing or no permission)");
  std::ostringstream ss;
  ss << in.rdbuf();
  const std::string bytes = ss.str();
  if (bytes.size() >= 8 && bytes.compare(0, 8, std::string("\x89PNG\r\n\x1a\n", 8)) == 0) {
    const auto text = parse_png_text(bytes, path);
    auto it = text.find(kRecipeChunkKey);
    if (it == text.end()) {
      for (const auto& k : png_compressed_text_keys(bytes))
        if (k == kRecipeChunkKey)
          throw ConfigError("'" + path + "': its " + std::string(kRecipeChunkKey) +
                            " chunk is compressed (iTXt/zTXt with zlib); this build reads uncompressed recipe "
                            "chunks only, as gigagan and the studio write them");
      throw ConfigError("'" + path + "' carries no recipe (only PNGs written by gigagan or the studio do)");
    }
    return RecipeGrid::parse(it->second, path);
  }
  return RecipeGrid::parse(bytes, path);
}

namespace {

using Clock = std::chrono::steady_clock;

// A package of randomly initialised networks for a preset (speed only): the
// tokenizer is a BPE of a few captions; the CLIP vocabulary is sized to it.
ModelPackage random_package(const std::string& preset) {
  ModelConfig config = ModelConfig::load(resolve_config_path(preset));
  BpeTrainerConfig bpe;
  bpe.vocab_size = 600;
  bpe.min_frequency = 1;
  ModelPackage pkg;
  pkg.vocabulary = train_bpe({"cat face, noto style", "red heart, twemoji style", "grinning face with big eyes"}, bpe);
  const int vocab = static_cast<int>(pkg.vocabulary->size());
  config.clip.text_config.vocab_size = vocab;
  config.clip.text_config.bos_token_id = vocab - 2;
  config.clip.text_config.eos_token_id = config.clip.text_config.pad_token_id = vocab - 1;
  torch::manual_seed(0);
  pkg.name = preset + " (random weights)";
  pkg.clip = ClipModel(config.clip);
  pkg.generator = Generator(config.generator);
  if (config.upsampler.input_resolution == config.generator.resolution) pkg.upsampler = Upsampler(config.upsampler);
  return pkg;
}

template <class F>
double median_ms(F&& fn, int warmup, int iters) {
  for (int i = 0; i < warmup; ++i) fn();
  std::vector<double> t;
  for (int i = 0; i < iters; ++i) {
    const auto t0 = Clock::now();
    fn();
    t.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace

int engine_bench(const Args& args, std::ostream& out) {
  init_runtime(args.get_int("threads"));
  const torch::Device device = parse_device(args.get("device"));
  set_adaconv_impl(parse_adaconv_impl(args.get("adaconv")));
  const std::string what = args.get("engine");
  ModelPackage pkg;
  if (fs::exists(fs::path(what) / "package.json")) {
    pkg = load_package(what, device);
  } else {
    pkg = random_package(what);  // a preset name or config file
    pkg.clip->to(device);
    pkg.generator->to(device);
    if (pkg.upsampler) pkg.upsampler->to(device);
  }
  Engine engine(std::move(pkg));
  const int iters = std::max(1, args.get_int("iters")), warmup = std::max(0, args.get_int("warmup"));
  const double ref = args.get_double("reference-gflops");
  out << "runtime " << runtime_summary() << ", device " << device.str() << ", adaconv "
      << adaconv_impl_name(adaconv_impl()) << "\nmodel " << engine.model_name() << " (hash " << engine.model_hash()
      << ")\n";
  out << std::left << std::setw(40) << "engine, batch 1" << std::right << std::setw(10) << "ms" << std::setw(11)
      << "images/s" << std::setw(12) << "GFLOP/img" << std::setw(10) << "GFLOP/s" << std::setw(10) << "x floor"
      << "\n";
  Recipe plain;
  plain.sources = {Source{"cat face, noto style", 1, 0.7, {}}};
  engine.stamp(plain);
  Recipe interp = plain;
  interp.sources.push_back(Source{"red heart, twemoji style", 2, 0.7, {}});
  Recipe mixed = interp;
  mixed.layers = {{"coarse", {0, 1}, {}}};
  engine.render(interp);  // fill the caches: sliders run from cached text
  double t = 0;
  struct Case {
    std::string name;
    std::function<void()> fn;
  };
  Recipe up = plain;
  up.upsample = true;
  std::vector<Case> cases = {
      {"64 px from cached text", [&] { engine.render(plain); }},
      {"interpolation step (w and t, 2 prompts)",
       [&] {
         t = t > 0.9 ? 0.05 : t + 0.1;
         interp.w_weights = interp.t_weights = {1 - t, t};
         engine.render(interp);
       }},
      {"style mix (coarse from B)", [&] { engine.render(mixed); }},
  };
  if (engine.package().upsampler) {
    const int r = engine.package().upsampler->config.output_resolution;
    cases.push_back({"with the " + std::to_string(r) + " px upsampler", [&] { engine.render(up); }});
  }
  for (auto& cs : cases) {
    double flops = 0;
    {
      FlopCounter counter;
      cs.fn();
      flops = counter.flops();
    }
    const double ms = median_ms(cs.fn, warmup, iters);
    out << std::left << std::setw(40) << cs.name << std::right << std::fixed << std::setprecision(2) << std::setw(10)
        << ms << std::setprecision(1) << std::setw(11) << 1e3 / ms << std::setprecision(3) << std::setw(12)
        << flops / 1e9 << std::setprecision(1) << std::setw(10) << flops / 1e9 / (ms / 1e3) << std::setprecision(2)
        << std::setw(10) << ms / (flops / 1e9 / ref * 1e3) << "\n";
    out.flush();
  }
  if (args.flag("inversion")) {
    const auto target = engine.render(plain).image[0];
    for (bool plus : {false, true}) {
      InversionOptions o;
      o.prompt = "cat face, noto style";
      o.w_plus = plus;
      o.steps = args.get_int("inversion-steps");
      const auto r = invert(engine, target, o);
      out << "inversion " << (plus ? "W+" : "W ") << ": " << o.steps << " steps in " << std::setprecision(2)
          << r.seconds_latent << " s, MSE " << std::setprecision(5) << r.mse << " (mean w " << r.mean_w_mse << ")\n";
    }
  }
  if (args.flag("drag")) {
    // One handle dragged across the image (far enough never to arrive), timed
    // from the first step's report to the last: optimisation steps only.
    const int res = engine.package().generator->config.resolution;
    DragOptions o;
    o.points = {{{res * 0.25, res * 0.5}, {res - 1.0, res * 0.5}}};
    o.done_distance = 0;
    Clock::time_point first, last;
    int first_step = 0, last_step = 0;
    o.progress = [&](const DragProgress& p) {
      (p.step == 1 ? first : last) = Clock::now();
      (p.step == 1 ? first_step : last_step) = p.step;
      return true;
    };
    o.steps = 3;
    drag(engine, plain, o);  // warm-up
    o.steps = std::max(3, args.get_int("drag-steps"));
    const auto r = drag(engine, plain, o);
    const double s = std::chrono::duration<double>(last - first).count();
    const double rate = (last_step - first_step) / s;
    out << "drag (one handle, " << res << " px, default layers): " << r.steps
        << " steps in " << std::setprecision(2) << r.seconds << " s, " << std::setprecision(1) << rate
        << " steps/s (" << std::setprecision(2) << 1e3 / rate << " ms per step)\n";
  }
  return 0;
}

}  // namespace gg::cli

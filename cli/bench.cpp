// `gigagan bench`: generator forward speed for model configs. Prints, per
// config and batch size, ms per forward, images/s, GFLOP per image (counted by
// the layers themselves, see FlopCounter), achieved GFLOP/s and the ratio of
// the measured time to the time the FLOPs take at a reference rate
// (--reference-gflops, 140 GFLOP/s by default).
#include <algorithm>
#include <chrono>
#include <iomanip>
#include <sstream>

#include "adaptive_conv2d.h"
#include "cli.h"
#include "cli_engine.h"
#include "generator.h"
#include "model_config.h"
#include "runtime.h"

#include <torch/csrc/autograd/profiler_legacy.h>

namespace gg::cli {

namespace {

using Clock = std::chrono::steady_clock;

struct BenchRow {
  std::string config, what;
  int batch = 0;
  double ms = 0, images_per_s = 0, gflop_per_image = 0, gflops = 0, floor_ratio = 0;
};

// Median wall time of `iters` calls of fn (after `warmup` calls), in ms.
template <class F>
double time_ms(F&& fn, int warmup, int iters, const torch::Device& device) {
  auto sync = [&] {
    if (device.is_cuda()) torch::cuda::synchronize();
  };
  for (int i = 0; i < warmup; ++i) fn();
  sync();
  std::vector<double> t;
  for (int i = 0; i < iters; ++i) {
    const auto t0 = Clock::now();
    fn();
    sync();
    t.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace

Command bench_command() {
  Command c;
  c.name = "bench";
  c.summary =
      "Time the generator forward pass (batch 1 and 16 by default) and report images/s, GFLOP per image and "
      "achieved GFLOP/s.";
  c.options = {
      {"config", "FILE|PRESET", "model config (repeatable)", "", true},
      {"batch", "N[,N...]", "batch sizes", "1,16"},
      {"iters", "N", "timed iterations per measurement (median reported)", "10"},
      {"warmup", "N", "untimed iterations first", "2"},
      {"reference-gflops", "X", "FLOP rate for the 'x floor' column", "140"},
      {"train", "", "time full training steps (G and D, all losses) instead of generation", ""},
      {"gan-weight", "X", "with --train: weight of G's adversarial terms (0: a reconstruction-only step, D not run)",
       "1"},
      {"recon-weight", "X", "with --train: weight of the paired reconstruction L1 (0: off)", "0"},
      {"recon-samples", "K", "with --train: latents tried per image for --recon-weight (0: z = 0)", "4"},
      {"clip-weight", "X", "with --train: weight of G's CLIP loss", "0.2"},
      {"noise", "MODE", "with --train: G's per-layer noise in training (const, none; default: the config's)", ""},
      {"engine", "PKG|PRESET",
       "time the editing engine instead (64 px from cached text, interpolation, mixing, upsampler) on a model "
       "package, or a preset with random weights", ""},
      {"inversion", "", "with --engine: also time inversion into W and W+", ""},
      {"inversion-steps", "N", "with --inversion: steps", "300"},
      {"drag", "", "with --engine: also time drag editing (optimisation steps/s, one handle)", ""},
      {"drag-steps", "N", "with --drag: steps timed", "40"},
      {"profile", "PREFIX",
       "also record the timed generator calls as Chrome traces, PREFIX-<config>-b<batch>-<case>.json (chrome://tracing, "
       "or scripts/profile-summary for self time by op)", ""},
      adaconv_option(),
      device_option(),
      threads_option(),
  };
  c.run = [](const Args& args, std::ostream& out) {
    if (args.flag("train")) return train_bench(args, out);
    if (args.has("engine")) return engine_bench(args, out);
    init_runtime(args.get_int("threads"));
    const torch::Device device = parse_device(args.get("device"));
    set_adaconv_impl(parse_adaconv_impl(args.get("adaconv")));
    std::vector<std::string> configs = args.get_all("config");
    if (configs.empty()) configs = {"tiny", "emoji64"};
    const auto batches = args.get_int_list("batch");
    const int iters = std::max(1, args.get_int("iters")), warmup = std::max(0, args.get_int("warmup"));
    const double ref = args.get_double("reference-gflops");
    out << "runtime " << runtime_summary() << ", device " << device.str() << ", adaconv "
        << adaconv_impl_name(adaconv_impl()) << "\n";
    out << std::left << std::setw(12) << "config" << std::setw(22) << "what" << std::right << std::setw(6) << "batch"
        << std::setw(11) << "ms" << std::setw(11) << "images/s" << std::setw(12) << "GFLOP/img" << std::setw(10)
        << "GFLOP/s" << std::setw(10) << "x floor" << "\n";
    for (const auto& name : configs) {
      const ModelConfig config = ModelConfig::load(resolve_config_path(name));
      torch::manual_seed(0);
      Generator G(config.generator);
      G->to(device);
      G->eval();
      c10::InferenceMode inference;  // no autograd bookkeeping at all (cheaper than NoGradGuard per op)
      const auto& g = config.generator;
      for (int batch : batches) {
        auto opts = torch::TensorOptions().device(device);
        auto tokens = torch::randn({batch, g.context_length, g.text_input_dim}, opts);
        auto eot = torch::full({batch}, g.context_length - 1, opts.dtype(torch::kLong));
        auto z = torch::randn({batch, g.z_dim}, opts);
        auto text = G->encode_text(tokens, eot);
        struct Case {
          std::string what;
          std::function<void()> fn;
        };
        std::vector<Case> cases = {
            {"from cached text", [&] {
               auto w = G->map(z, text.t_global);
               G->synthesize(w.unsqueeze(1).expand({-1, g.num_ws(), -1}),
                             text.t_local.unsqueeze(1).expand({-1, g.num_ws(), -1, -1}));
             }},
            {"with text layers T", [&] { G->forward(z, tokens, eot); }},
        };
        for (size_t ci = 0; ci < cases.size(); ++ci) {
          auto& cs = cases[ci];
          double flops = 0;
          {
            FlopCounter counter;
            cs.fn();
            flops = counter.flops();
          }
          const double ms = time_ms(cs.fn, warmup, iters, device);
          if (args.has("profile")) {
            const std::string path = args.get("profile") + "-" + config.name + "-b" + std::to_string(batch) + "-" +
                                     std::to_string(ci) + ".json";
            torch::autograd::profiler::RecordProfile record(path);
            for (int i = 0; i < iters; ++i) cs.fn();
          }
          BenchRow r;
          r.gflop_per_image = flops / batch / 1e9;
          r.images_per_s = batch / (ms / 1e3);
          r.gflops = flops / 1e9 / (ms / 1e3);
          r.floor_ratio = ms / (flops / 1e9 / ref * 1e3);
          out << std::left << std::setw(12) << config.name << std::setw(22) << cs.what << std::right << std::setw(6)
              << batch << std::fixed << std::setprecision(2) << std::setw(11) << ms << std::setw(11)
              << r.images_per_s << std::setprecision(3) << std::setw(12) << r.gflop_per_image << std::setprecision(1)
              << std::setw(10) << r.gflops << std::setprecision(2) << std::setw(10) << r.floor_ratio << "\n";
          out.flush();
        }
      }
    }
    return 0;
  };
  return c;
}

}  // namespace gg::cli

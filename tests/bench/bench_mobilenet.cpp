// Google Benchmark: the frozen MobileNetV2 (model/mobilenet_v2.h) at 224 px,
// features + head, with the shipped nsfwjs weights when present (random
// weights otherwise: same speed). Prints ms, images/s and GFLOP/image.
// Run:  build/tests/bench/bench_mobilenet [--benchmark_filter=...]
//       (threads: GIGAGAN_BENCH_THREADS, default 2)
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>

#include "mobilenet_v2.h"

namespace {

gg::MobileNetV2 model() {
  const std::string f = std::string(GIGAGAN_SOURCE_DIR) + "/resources/models/mobilenet_v2/mobilenet_v2_nsfwjs.safetensors";
  if (std::filesystem::exists(f)) return gg::load_mobilenet_v2(f);
  gg::MobileNetV2 m;
  m->eval();
  return m;
}

void BM_MobileNetV2(benchmark::State& state) {
  const char* env = std::getenv("GIGAGAN_BENCH_THREADS");
  torch::set_num_threads(env ? std::atoi(env) : 2);
  const int64_t batch = state.range(0);
  const bool channels_last = state.range(1) != 0;
  auto m = model();
  torch::NoGradGuard no_grad;
  auto x = torch::rand({batch, 3, 224, 224});
  if (channels_last) x = x.contiguous(torch::MemoryFormat::ChannelsLast);
  double flops = 0;
  {
    gg::FlopCounter fc;
    m->forward(x);
    flops = fc.flops();
  }
  for (auto _ : state) benchmark::DoNotOptimize(m->forward(x).logits);
  state.counters["images/s"] =
      benchmark::Counter(static_cast<double>(batch), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP/img"] = flops / batch / 1e9;
  state.counters["threads"] = torch::get_num_threads();
}
BENCHMARK(BM_MobileNetV2)->ArgsProduct({{1, 32}, {0, 1}})->ArgNames({"batch", "channels_last"})
    ->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(3.0);

}  // namespace

BENCHMARK_MAIN();

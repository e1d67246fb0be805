// Google Benchmark: generator forward (emoji64 and tiny generator configs) and
// the AdaptiveConv2d formulations on the shapes of the emoji64 synthesis
// network. Prints ms, images/s, GFLOP/image (FlopCounter) and GFLOP/s.
// Run:  build/tests/bench/bench_generator [--benchmark_filter=Generator]
// With jemalloc: LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
//                MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1 build/.../bench_generator
// Ref: GigaGAN's "Sample-adaptive kernel selection" (Kang et al. 2023); the emoji64
// config below mirrors the "generator" section of resources/configs/emoji64.json.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "adaptive_conv2d.h"
#include "generator.h"

using namespace gg;

namespace {

GeneratorConfig emoji64_config() {
  GeneratorConfig c;
  c.z_dim = 128;
  c.text_input_dim = 512;  // CLIP ViT-B/32 text width (the emoji64 preset's frozen encoder)
  c.context_length = 77;
  c.text_dim = 128;
  c.text_layers = 2;
  c.text_heads = 2;
  c.w_dim = 256;
  c.mapping_layers = 4;
  c.resolution = 64;
  c.channels = {128, 128, 64, 32, 16};
  c.blocks_per_level = 2;
  c.num_kernels = 4;
  c.attention_resolutions = {8, 16};
  c.attention_head_dim = 64;
  return c;
}

GeneratorConfig tiny_config() {
  GeneratorConfig c;
  c.z_dim = 32;
  c.text_input_dim = 64;
  c.context_length = 16;
  c.text_dim = 32;
  c.text_layers = 1;
  c.text_heads = 2;
  c.w_dim = 32;
  c.mapping_layers = 2;
  c.resolution = 32;
  c.channels = {32, 32, 32, 16};
  c.blocks_per_level = 1;
  c.num_kernels = 4;
  c.attention_resolutions = {8};
  c.attention_head_dim = 16;
  return c;
}

void report(benchmark::State& state, double flops_per_iter, int64_t batch) {
  state.counters["images/s"] =
      benchmark::Counter(static_cast<double>(batch), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP/img"] = flops_per_iter / batch / 1e9;
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops_per_iter / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

// Generator forward from cached text (what a slider drag re-renders) and the
// full forward including the text layers T. Arg 0: batch, arg 1: 1 = with T.
void run_generator(benchmark::State& state, const GeneratorConfig& c) {
  const int64_t n = state.range(0);
  const bool with_text = state.range(1) != 0;
  torch::manual_seed(0);
  Generator G(c);
  G->eval();
  torch::NoGradGuard ng;
  auto tokens = torch::randn({n, c.context_length, c.text_input_dim});
  auto eot = torch::full({n}, c.context_length - 1, torch::kLong);
  auto z = torch::randn({n, c.z_dim});
  auto text = G->encode_text(tokens, eot);
  auto step = [&] {
    if (with_text) return G->forward(z, tokens, eot);
    return G->synthesize(G->broadcast_w(G->map(z, text.t_global)), G->broadcast_t_local(text.t_local));
  };
  double flops = 0;
  {
    FlopCounter fc;
    step();
    flops = fc.flops();
  }
  for (auto _ : state) benchmark::DoNotOptimize(step()[0].data_ptr());
  report(state, flops, n);
  state.SetLabel(std::string(adaconv_impl_name(adaconv_impl())) + (with_text ? " +T" : " cached text"));
}

void BM_GeneratorEmoji64(benchmark::State& state) { run_generator(state, emoji64_config()); }
BENCHMARK(BM_GeneratorEmoji64)->ArgsProduct({{1, 16}, {0, 1}})->Unit(benchmark::kMillisecond);
void BM_GeneratorTiny(benchmark::State& state) { run_generator(state, tiny_config()); }
BENCHMARK(BM_GeneratorTiny)->ArgsProduct({{1, 16}, {0}})->Unit(benchmark::kMillisecond);

// One AdaptiveConv2d 3x3 layer. Args: impl, batch, C_in = C_out, resolution, num_kernels.
void BM_AdaConv(benchmark::State& state) {
  const auto impl = static_cast<AdaConvImpl>(state.range(0));
  const int64_t n = state.range(1), c = state.range(2), r = state.range(3), nk = state.range(4);
  torch::manual_seed(0);
  AdaptiveConv2d conv(c, c, 3, 256, nk);
  torch::NoGradGuard ng;
  auto x = torch::randn({n, c, r, r});
  auto w = torch::randn({n, 256});
  double flops = 0;
  {
    FlopCounter fc;
    conv->forward_with(impl, x, w);
    flops = fc.flops();
  }
  for (auto _ : state) benchmark::DoNotOptimize(conv->forward_with(impl, x, w).data_ptr());
  report(state, flops, n);
  state.SetLabel(adaconv_impl_name(impl == AdaConvImpl::Auto ? conv->choose_impl(x) : impl));
}
void adaconv_args(benchmark::internal::Benchmark* b) {
  // The emoji64 synthesis shapes: (channels, resolution).
  const std::vector<std::pair<int, int>> shapes = {{128, 4}, {128, 8}, {64, 16}, {32, 32}, {16, 64}};
  for (int impl : {int(AdaConvImpl::PerSample), int(AdaConvImpl::Grouped), int(AdaConvImpl::Bank),
                   int(AdaConvImpl::Auto)})
    for (int n : {1, 16})
      for (auto [c, r] : shapes) b->Args({impl, n, c, r, 4});
}
BENCHMARK(BM_AdaConv)->Apply(adaconv_args)->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv) {
  at::set_num_threads(2);
  if (const char* impl = std::getenv("GG_ADACONV")) set_adaconv_impl(parse_adaconv_impl(impl));
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

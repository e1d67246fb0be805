// Function-preserving widening of a generator (Net2Net, zero outgoing weights).
#include "widen.h"

#include <cmath>

#include "errors.h"

namespace gg {
namespace {

// `wide_config` with `narrow`'s channels must equal `narrow`: only widths may differ.
void require_same_but_channels(const GeneratorConfig& wide, const GeneratorConfig& narrow, const std::string& source) {
  GeneratorConfig w = wide;
  w.channels = narrow.channels;
  if (json(w) != json(narrow))
    throw ConfigError("'" + source + "': its generator config differs from --config's in more than `channels` (" +
                      json(narrow).dump() + " vs " + json(wide).dump() + "); only channel widths can grow");
  if (wide.channels.size() != narrow.channels.size())
    throw ConfigError("'" + source + "': " + std::to_string(narrow.channels.size()) + " levels, --config has " +
                      std::to_string(wide.channels.size()));
  for (size_t l = 0; l < wide.channels.size(); ++l)
    if (wide.channels[l] < narrow.channels[l])
      throw ConfigError("'" + source + "': level " + std::to_string(4 << l) + " px has " +
                        std::to_string(narrow.channels[l]) + " channels, --config only " +
                        std::to_string(wide.channels[l]) + "; widening cannot remove channels");
}

}  // namespace

void widen_generator(Generator& wide, const GeneratorConfig& narrow_config, const TensorMap& narrow,
                     const std::string& source) {
  torch::NoGradGuard no_grad;
  require_same_but_channels(wide->config, narrow_config, source);
  Generator reference(narrow_config);
  load_state_dict_strict(*reference, narrow, source);

  // The reference load checked `narrow`'s names and shapes against its config;
  // channels do not change names, and only grow, so every tensor of `wide` has
  // a twin in `narrow` of the same rank, no larger in any dimension.
  TensorMap targets = state_dict(*wide);
  for (auto& [name, dst] : targets) {
    const torch::Tensor& src = narrow.at(name);
    torch::Tensor slice = dst;
    for (int64_t d = 0; d < src.dim(); ++d) slice = slice.narrow(d, 0, src.size(d));
    torch::Tensor value = src.to(dst.dtype());
    const bool adaconv_weight = dst.dim() == 5;  // AdaptiveConv2d: [N, out, in, k, k]
    if (adaconv_weight && dst.size(2) > src.size(2)) {
      dst.narrow(2, src.size(2), dst.size(2) - src.size(2)).zero_();
      value = value * std::sqrt(static_cast<double>(dst.size(2)) / static_cast<double>(src.size(2)));
    }
    slice.copy_(value);
  }

  // The check: the same z and text through both must give the same pyramid.
  const auto& c = narrow_config;
  auto gen = at::detail::createCPUGenerator(7);
  const int64_t n = 2;
  auto z = torch::randn({n, c.z_dim}, gen);
  auto tokens = torch::randn({n, c.context_length, c.text_input_dim}, gen);
  auto eot = torch::full({n}, c.context_length - 1, torch::kLong);
  // On a CPU copy of the wide generator (on a GPU, TF32 convolutions would not agree to 1e-4).
  Generator probe(wide->config);
  TensorMap wide_state = state_dict(*wide);
  for (auto& [name, t] : wide_state) t = t.to(torch::kCPU, torch::kFloat32);
  load_state_dict_strict(*probe, wide_state, source);
  reference->eval();
  probe->eval();
  auto a = reference->forward(z, tokens, eot);
  auto b = probe->forward(z, tokens, eot);
  for (size_t l = 0; l < a.size(); ++l) {
    const double scale = std::max(1.0, a[l].abs().max().item<double>());
    const double diff = (a[l] - b[l]).abs().max().item<double>();
    if (!(diff <= 1e-4 * scale)) {
      std::string grown;
      for (size_t k = 0; k < c.channels.size(); ++k)
        if (wide->config.channels[k] != c.channels[k])
          grown += (grown.empty() ? "" : ", ") + std::to_string(4 << k) + " px";
      throw ConfigError("'" + source + "': widening level(s) " + grown +
                        " changes the generator's output (by " + std::to_string(diff) + " at pyramid level " +
                        std::to_string(l) +
                        "); only levels without attention can grow (their layers would mix the new channels in)");
    }
  }
}

}  // namespace gg

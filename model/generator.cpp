// The GigaGAN generator G = G_synth o M with learned text layers T, and
// GeneratorConfig::validate / num_levels / num_ws.
// Ref: Kang et al. 2023 (GigaGAN, arXiv 2303.05511) Sec. 3.2, the generator.
#include "generator.h"

#include <algorithm>

namespace gg {


int GeneratorConfig::num_levels() const { return resolution >= 4 ? ilog2(resolution) - 1 : 0; }
int GeneratorConfig::num_ws() const { return num_levels() * blocks_per_level; }

void GeneratorConfig::validate() const {
  const std::string W = "GeneratorConfig.";
  // Upper limits first: every later check and the networks may then compute
  // with these sizes (no overflow, no endless loop, no terabyte allocation).
  config_require_range(resolution, 8, kMaxConfigResolution, W + "resolution");
  for (auto [v, f] : {std::pair{z_dim, "z_dim"}, {text_input_dim, "text_input_dim"}, {text_dim, "text_dim"},
                      {w_dim, "w_dim"}, {attention_head_dim, "attention_head_dim"}})
    config_require_range(v, 1, kMaxConfigWidth, W + f);
  config_require_range(context_length, 2, kMaxConfigContext, W + "context_length");
  for (auto [v, f] : {std::pair{text_layers, "text_layers"}, {text_heads, "text_heads"}, {mapping_layers, "mapping_layers"}})
    config_require_range(v, 0, kMaxConfigLayers, W + f);
  config_require_range(blocks_per_level, 1, 64, W + "blocks_per_level");
  config_require_range(num_kernels, 1, 64, W + "num_kernels");
  config_require_range(ffn_multiplier, 1, 16, W + "ffn_multiplier");
  config_require(static_cast<long long>(channels.size()) <= kMaxConfigLayers, W + "channels",
                 "has " + std::to_string(channels.size()) + " entries, more than the limit of " +
                     std::to_string(kMaxConfigLayers));
  for (size_t i = 0; i < channels.size(); ++i)
    config_require_range(channels[i], 1, kMaxConfigWidth, W + "channels[" + std::to_string(i) + "]");
  config_require(attention_resolutions.size() <= 16, W + "attention_resolutions",
                 "has " + std::to_string(attention_resolutions.size()) + " entries, more than the limit of 16");
  config_require(mapping_lr_multiplier <= 1e6 && attention_residual_gain <= 1e6, W + "mapping_lr_multiplier",
                 "mapping_lr_multiplier and attention_residual_gain must be <= 1e6");
  config_require(z_dim > 0, W + "z_dim", "must be positive, got " + std::to_string(z_dim));
  config_require(text_input_dim > 0, W + "text_input_dim",
                 "must be positive, got " + std::to_string(text_input_dim));
  config_require(context_length >= 2, W + "context_length",
                 "must be >= 2 (t_local has context_length - 1 tokens), got " +
                     std::to_string(context_length));
  config_require(text_dim > 0, W + "text_dim", "must be positive, got " + std::to_string(text_dim));
  config_require(text_layers >= 0, W + "text_layers", "must be >= 0, got " + std::to_string(text_layers));
  config_require(text_heads > 0 && text_dim % text_heads == 0, W + "text_heads",
                 "must be positive and divide text_dim (" + std::to_string(text_dim) + "), got " +
                     std::to_string(text_heads));
  config_require(w_dim > 0, W + "w_dim", "must be positive, got " + std::to_string(w_dim));
  config_require(mapping_layers >= 1, W + "mapping_layers",
                 "must be >= 1, got " + std::to_string(mapping_layers));
  config_require(mapping_lr_multiplier > 0, W + "mapping_lr_multiplier", "must be positive");
  config_require(is_pow2(resolution) && resolution >= 8, W + "resolution",
                 "must be a power of two >= 8, got " + std::to_string(resolution));
  const int levels = num_levels();
  config_require(static_cast<int>(channels.size()) == levels, W + "channels",
                 "expected " + std::to_string(levels) + " entries (one per level, 4 px first), got " +
                     std::to_string(channels.size()));
  for (size_t i = 0; i < channels.size(); ++i)
    config_require(channels[i] > 0, W + "channels",
                   "entry " + std::to_string(i) + " (" + std::to_string(4 << i) +
                       " px) must be positive, got " + std::to_string(channels[i]));
  config_require(blocks_per_level >= 1, W + "blocks_per_level",
                 "must be >= 1, got " + std::to_string(blocks_per_level));
  config_require(num_kernels >= 1, W + "num_kernels", "must be >= 1, got " + std::to_string(num_kernels));
  config_require(attention_head_dim > 0, W + "attention_head_dim", "must be positive");
  for (int r : attention_resolutions) {
    const bool level = is_pow2(r) && r >= 4 && r <= resolution;
    config_require(level, W + "attention_resolutions",
                   std::to_string(r) + " is not a level resolution (4, 8, ..., " +
                       std::to_string(resolution) + ")");
    const int c = channels[ilog2(r) - 2];
    config_require(c % attention_head_dim == 0, W + "attention_head_dim",
                   std::to_string(attention_head_dim) + " does not divide the " + std::to_string(c) +
                       " channels of the " + std::to_string(r) + " px attention level");
  }
  config_require(attention_residual_gain >= 0, W + "attention_residual_gain", "must be >= 0");
  config_require(ffn_multiplier >= 1, W + "ffn_multiplier", "must be >= 1");
  config_require(noise_mode_default == "const" || noise_mode_default == "random" ||
                     noise_mode_default == "none",
                 W + "noise_mode_default",
                 "expected const, random or none, got '" + noise_mode_default + "'");
}

GeneratorImpl::GeneratorImpl(const GeneratorConfig& c) : config(c) {
  config.validate();
  text_encoder = register_module("text_encoder", TextEncoder(config));
  mapping = register_module("mapping", MappingNetwork(config));
  synthesis = register_module("synthesis", SynthesisNetwork(config));
}

TextEncoding GeneratorImpl::encode_text(const torch::Tensor& clip_tokens, const torch::Tensor& eot_index) {
  // clip_tokens: [N, C, text_input_dim], eot_index: [N] -> {t_local, t_global}
  return text_encoder->forward(clip_tokens, eot_index);
}

torch::Tensor GeneratorImpl::map(const torch::Tensor& z, const torch::Tensor& t_global) {
  // z: [N, z_dim], t_global: [N, text_dim] -> [N, w_dim]
  return mapping->forward(z, t_global);
}

std::vector<torch::Tensor> GeneratorImpl::synthesize(const torch::Tensor& ws, const torch::Tensor& t_locals) {
  // ws: [N, num_ws, w_dim], t_locals: [N, num_ws, C-1, text_dim] -> pyramid
  return synthesis->forward(ws, t_locals);
}

std::vector<torch::Tensor> GeneratorImpl::forward(const torch::Tensor& z, const torch::Tensor& clip_tokens,
                                                  const torch::Tensor& eot_index) {
  // z: [N, z_dim], clip_tokens: [N, C, text_input_dim], eot_index: [N] -> pyramid, top first
  check_shape(z, {clip_tokens.defined() ? clip_tokens.size(0) : -1, config.z_dim}, "Generator z");
  const auto text = encode_text(clip_tokens, eot_index);
  const auto w = map(z, text.t_global);
  return synthesize(broadcast_w(w), broadcast_t_local(text.t_local));
}

torch::Tensor GeneratorImpl::broadcast_w(const torch::Tensor& w) const {
  check_shape(w, {-1, config.w_dim}, "Generator w");
  return w.unsqueeze(1).expand({-1, num_ws(), -1});
}

torch::Tensor GeneratorImpl::broadcast_t_local(const torch::Tensor& t) const {
  check_shape(t, {-1, config.context_length - 1, config.text_dim}, "Generator t_local");
  return t.unsqueeze(1).expand({-1, num_ws(), -1, -1});
}

torch::Tensor GeneratorImpl::mean_w(const torch::Tensor& t_global, int64_t samples) {
  // t_global: [N, text_dim] -> [N, w_dim]
  check_shape(t_global, {-1, config.text_dim}, "Generator t_global");
  const int64_t n = t_global.size(0);
  auto z = torch::randn({samples * n, config.z_dim}, t_global.options());
  auto t = t_global.unsqueeze(0).expand({samples, n, config.text_dim}).reshape({samples * n, config.text_dim});
  return map(z, t).view({samples, n, config.w_dim}).mean(0);
}

torch::Tensor GeneratorImpl::truncate(const torch::Tensor& w, const torch::Tensor& w_avg, double psi) {
  return w_avg + psi * (w - w_avg);
}

}  // namespace gg

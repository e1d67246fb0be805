// Config of the GigaGAN generator: text layers T, mapping M, synthesis G_synth.
// Ref: Kang et al. 2023 (GigaGAN, arXiv 2303.05511), "Generator design".
#pragma once
#include <string>
#include <vector>

#include "json_config.h"

namespace gg {

struct GeneratorConfig {
  // Inputs.
  int z_dim = 128;
  int text_input_dim = 768;  // width of the frozen CLIP text features (E_txt)
  int context_length = 77;   // C; t_local has C-1 tokens
  // Learned text layers T over the frozen encoder.
  int text_dim = 768;  // width of t_local / t_global
  int text_layers = 4;
  int text_heads = 8;
  // Mapping network M(z, t_global) (StyleGAN2 MLP, lr multiplier 0.01).
  int w_dim = 1024;
  int mapping_layers = 4;
  double mapping_lr_multiplier = 0.01;
  // Synthesis network.
  int resolution = 64;              // top of the pyramid; levels 4, 8, ..., resolution
  std::vector<int> channels = {};   // channels per level, lowest (4 px) first
  int blocks_per_level = 2;         // g_xa(g_attn(g_adaconv(.))) blocks per level
  int num_kernels = 8;              // N, size of the adaptive kernel bank
  std::vector<int> attention_resolutions = {8, 16, 32};  // levels with self/cross-attention
  int attention_head_dim = 64;
  double attention_residual_gain = 0.3;  // reduced residual gain (GigaGAN paper)
  int ffn_multiplier = 2;                // feed-forward width after attention
  std::string noise_mode_default = "const";  // "const" | "random" | "none"
  void validate() const;

  int num_levels() const;      // log2(resolution) - 1  (5 for 64 px)
  int num_ws() const;          // number of per-layer (w, t_local) slots in W+
};
GG_CONFIG_JSON(GeneratorConfig, z_dim, text_input_dim, context_length, text_dim, text_layers,
               text_heads, w_dim, mapping_layers, mapping_lr_multiplier, resolution, channels,
               blocks_per_level, num_kernels, attention_resolutions, attention_head_dim,
               attention_residual_gain, ffn_multiplier, noise_mode_default)

}  // namespace gg

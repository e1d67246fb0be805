// Config of the GigaGAN upsampler (asymmetric, text-conditioned U-Net).
// Ref: Kang et al. 2023 (GigaGAN, arXiv 2303.05511), "GAN-based upsampler".
#pragma once
#include <string>
#include <vector>

#include "json_config.h"

namespace gg {

struct UpsamplerConfig {
  int input_resolution = 64;
  int output_resolution = 512;  // 64->256, 64->512, 128->1024
  int down_blocks = 3;          // input -> input/8
  // Channels per resolution of the U-Net, lowest (bottleneck) resolution first;
  // down_blocks + log2(output/input) + 1 entries.
  std::vector<int> channels = {};
  int z_dim = 128;
  int w_dim = 512;
  int mapping_layers = 2;
  double mapping_lr_multiplier = 0.01;
  int text_input_dim = 768;
  int context_length = 77;
  int text_dim = 512;
  int text_layers = 2;
  int text_heads = 8;
  int num_kernels = 4;
  std::vector<int> attention_resolutions = {8, 16, 32};
  int attention_head_dim = 64;
  double attention_residual_gain = 0.3;
  double input_noise_std = 0.05;  // Gaussian noise on the low-res input (train and inference)
  void validate() const;
  int up_blocks() const;  // down_blocks + log2(output/input)
};
GG_CONFIG_JSON(UpsamplerConfig, input_resolution, output_resolution, down_blocks, channels,
               z_dim, w_dim, mapping_layers, mapping_lr_multiplier, text_input_dim,
               context_length, text_dim, text_layers, text_heads, num_kernels,
               attention_resolutions, attention_head_dim, attention_residual_gain,
               input_noise_std)

}  // namespace gg

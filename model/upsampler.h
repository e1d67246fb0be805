// The GigaGAN upsampler: an asymmetric, text-conditioned U-Net that takes a
// low-resolution image (e.g. 64 px) to a high-resolution one (e.g. 512 px) and
// returns an RGB pyramid so its own discriminator can apply MS-I/O.
// Ref: Kang et al. 2023 Sec. 3.5 and Appendix (GAN-based upsampler);
// StyleGAN2 residual blocks and skip
// ToRGB outputs where the paper is silent.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "adaptive_conv2d.h"
#include "attention.h"
#include "generator_config.h"
#include "layers.h"
#include "mapping_network.h"
#include "text_encoder.h"
#include "upsampler_config.h"

namespace gg {

// Encoder block: two 3x3 adaptive convs (the second to c_out), then a 2x2
// average down; residual path 1x1 conv + average down; sum scaled by sqrt(1/2)
// (StyleGAN2's resnet D block, with AdaptiveConv2d modulated by w).
struct UpsamplerDownBlockImpl : torch::nn::Module {
  UpsamplerDownBlockImpl(int64_t in_channels, int64_t out_channels, const UpsamplerConfig& config);
  // x: [N, C_in, H, W], w: [N, w_dim] -> [N, C_out, H/2, W/2]
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& w);
  AdaptiveConv2d conv0{nullptr}, conv1{nullptr};
  Conv2dLayer skip{nullptr};
};
TORCH_MODULE(UpsamplerDownBlock);

// Decoder block: 3x3 adaptive conv with 2x up, 3x3 adaptive conv; residual
// path 2x up + 1x1 conv; sum scaled by sqrt(1/2). Then, at equal resolution,
// the encoder skip is ADDED (sum scaled by sqrt(1/2)); then self-attention with
// w as an extra token and cross-attention to t_local where configured; then a
// ToRGB (1x1 adaptive conv, no demodulation) when the block's resolution is at
// least the input resolution.
struct UpsamplerUpBlockImpl : torch::nn::Module {
  UpsamplerUpBlockImpl(int64_t in_channels, int64_t out_channels, int64_t out_resolution,
                       bool attention, bool to_rgb, const UpsamplerConfig& config);
  // x: [N, C_in, H, W], w: [N, w_dim], t_local: [N, C-1, text_dim],
  // skip: [N, C_out, 2H, 2W] or undefined -> [N, C_out, 2H, 2W]
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& t_local,
                        const torch::Tensor& skip);
  int64_t out_channels, out_resolution;
  AdaptiveConv2d conv0{nullptr}, conv1{nullptr};
  Conv2dLayer skip_conv{nullptr};
  SelfAttention self_attn{nullptr};    // null when no attention at this resolution
  CrossAttention cross_attn{nullptr};  // null when no attention at this resolution
  AdaptiveConv2d to_rgb{nullptr};      // null below the input resolution
};
TORCH_MODULE(UpsamplerUpBlock);

struct UpsamplerImpl : torch::nn::Module {
  explicit UpsamplerImpl(const UpsamplerConfig& config);

  // image: [N, 3, r_in, r_in] in [-1, 1], z: [N, z_dim],
  // clip_tokens: [N, C, text_input_dim] (frozen CLIP), eot_index: [N] int64
  // -> RGB pyramid, index 0 = top: [N, 3, r_out / 2^l, r_out / 2^l] for l = 0 .. num_outputs()-1
  //    (r_out down to r_in).
  // Input noise (paper: moderate Gaussian noise on the low-res input, in training
  // AND inference): when add_input_noise, image + input_noise_std * noise is fed,
  // where noise is `input_noise` if given ([N, 3, r_in, r_in], standard normal;
  // see make_input_noise for a seeded one) and otherwise drawn from the global
  // torch generator (reproducible under torch::manual_seed).
  std::vector<torch::Tensor> forward(const torch::Tensor& image, const torch::Tensor& z,
                                     const torch::Tensor& clip_tokens,
                                     const torch::Tensor& eot_index, bool add_input_noise = true,
                                     const torch::Tensor& input_noise = {});

  // The same with precomputed conditioning (style mixing, interpolation):
  // w: [N, w_dim], t_local: [N, C-1, text_dim].
  std::vector<torch::Tensor> synthesize(const torch::Tensor& image, const torch::Tensor& w,
                                        const torch::Tensor& t_local, bool add_input_noise = true,
                                        const torch::Tensor& input_noise = {});

  // Standard-normal noise shaped like `image`, drawn on the CPU from `seed` and
  // moved to the image's device (same values on every device).
  static torch::Tensor make_input_noise(const torch::Tensor& image, uint64_t seed);

  // The generator config whose text/mapping fields the upsampler's own
  // MappingNetwork and TextEncoder are built from.
  static GeneratorConfig conditioning_config(const UpsamplerConfig& config);

  int num_outputs() const;  // log2(output/input) + 1 pyramid levels
  int bottleneck_resolution() const { return config.input_resolution >> config.down_blocks; }

  UpsamplerConfig config;
  TextEncoder text_encoder{nullptr};
  MappingNetwork mapping{nullptr};
  Conv2dLayer from_rgb{nullptr};
  std::vector<UpsamplerDownBlock> down;  // registered as down_<k>, input resolution first
  std::vector<UpsamplerUpBlock> up;      // registered as up_<k>, bottleneck first
};
TORCH_MODULE(Upsampler);

}  // namespace gg

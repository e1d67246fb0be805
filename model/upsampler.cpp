// Ref: Kang et al. 2023 (GigaGAN) Sec. 3.5 (GAN-based upsampler);
// StyleGAN2 (resnet blocks, skip ToRGB) where the paper is silent.
#include "upsampler.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <string>

namespace gg {

namespace {
const double kSqrtHalf = std::sqrt(0.5);
}  // namespace

// ---------------------------------------------------------------------------
int UpsamplerConfig::up_blocks() const {
  if (!is_pow2(input_resolution) || !is_pow2(output_resolution) || output_resolution < input_resolution)
    return down_blocks;
  return down_blocks + ilog2(output_resolution / input_resolution);
}

void UpsamplerConfig::validate() const {
  const std::string w = "UpsamplerConfig";
  config_require_range(input_resolution, 8, kMaxConfigResolution, w + ".input_resolution");
  config_require_range(output_resolution, 8, kMaxConfigResolution, w + ".output_resolution");
  config_require_range(down_blocks, 1, 16, w + ".down_blocks");
  for (auto [v, f] : {std::pair{z_dim, ".z_dim"}, {w_dim, ".w_dim"}, {text_input_dim, ".text_input_dim"},
                      {text_dim, ".text_dim"}, {attention_head_dim, ".attention_head_dim"}})
    config_require_range(v, 1, kMaxConfigWidth, w + f);
  config_require_range(context_length, 2, kMaxConfigContext, w + ".context_length");
  for (auto [v, f] : {std::pair{mapping_layers, ".mapping_layers"}, {text_layers, ".text_layers"},
                      {text_heads, ".text_heads"}})
    config_require_range(v, 0, kMaxConfigLayers, w + f);
  config_require_range(num_kernels, 1, 64, w + ".num_kernels");
  config_require(static_cast<long long>(channels.size()) <= kMaxConfigLayers, w + ".channels",
                 "has " + std::to_string(channels.size()) + " entries, more than the limit of " +
                     std::to_string(kMaxConfigLayers));
  for (size_t k = 0; k < channels.size(); ++k)
    config_require_range(channels[k], 1, kMaxConfigWidth, w + ".channels[" + std::to_string(k) + "]");
  config_require(attention_resolutions.size() <= 16, w + ".attention_resolutions",
                 "has " + std::to_string(attention_resolutions.size()) + " entries, more than the limit of 16");
  config_require(is_pow2(input_resolution) && input_resolution >= 8, w + ".input_resolution",
                 "must be a power of two >= 8, got " + std::to_string(input_resolution));
  config_require(is_pow2(output_resolution) && output_resolution > input_resolution,
                 w + ".output_resolution",
                 "must be a power of two above input_resolution (" + std::to_string(input_resolution) +
                     "), got " + std::to_string(output_resolution));
  config_require(down_blocks >= 1 && (input_resolution >> down_blocks) >= 4, w + ".down_blocks",
                 "must be >= 1 and keep the bottleneck at >= 4 px (input_resolution " +
                     std::to_string(input_resolution) + "), got " + std::to_string(down_blocks));
  const int n = up_blocks() + 1;
  config_require(static_cast<int>(channels.size()) == n, w + ".channels",
                 "expected " + std::to_string(n) + " entries (one per resolution " +
                     std::to_string(input_resolution >> down_blocks) + ".." +
                     std::to_string(output_resolution) + ", bottleneck first), got " +
                     std::to_string(channels.size()));
  for (size_t k = 0; k < channels.size(); ++k)
    config_require(channels[k] > 0, w + ".channels",
                   "entry " + std::to_string(k) + " must be positive, got " + std::to_string(channels[k]));
  config_require(z_dim > 0, w + ".z_dim", "must be positive");
  config_require(w_dim > 0, w + ".w_dim", "must be positive");
  config_require(mapping_layers >= 1, w + ".mapping_layers", "must be >= 1");
  config_require(mapping_lr_multiplier > 0, w + ".mapping_lr_multiplier", "must be positive");
  config_require(text_input_dim > 0, w + ".text_input_dim", "must be positive");
  config_require(context_length >= 2, w + ".context_length", "must be >= 2 (t_local has C-1 tokens)");
  config_require(text_dim > 0, w + ".text_dim", "must be positive");
  config_require(text_layers >= 0, w + ".text_layers", "must be >= 0");
  config_require(text_heads > 0 && text_dim % text_heads == 0, w + ".text_heads",
                 "must be positive and divide text_dim (" + std::to_string(text_dim) + "), got " +
                     std::to_string(text_heads));
  config_require(num_kernels >= 1, w + ".num_kernels", "must be >= 1");
  config_require(attention_head_dim > 0, w + ".attention_head_dim", "must be positive");
  config_require(attention_residual_gain > 0, w + ".attention_residual_gain", "must be positive");
  const int bottleneck = input_resolution >> down_blocks;
  for (int r : attention_resolutions) {
    config_require(is_pow2(r) && r > bottleneck && r <= output_resolution,
                   w + ".attention_resolutions",
                   "entry " + std::to_string(r) + " is not an up-block resolution (powers of two " +
                       std::to_string(2 * bottleneck) + ".." + std::to_string(output_resolution) + ")");
    require_attention_width(w, r, channels[ilog2(r / bottleneck)], attention_head_dim);
  }
  config_require(input_noise_std >= 0, w + ".input_noise_std", "must be >= 0");
}

// ---------------------------------------------------------------------------
UpsamplerDownBlockImpl::UpsamplerDownBlockImpl(int64_t in, int64_t out, const UpsamplerConfig& c) {
  conv0 = register_module("conv0", AdaptiveConv2d(in, in, 3, c.w_dim, c.num_kernels));
  conv1 = register_module("conv1", AdaptiveConv2d(in, out, 3, c.w_dim, c.num_kernels));
  skip = register_module("skip", Conv2dLayer(in, out, 1, /*bias=*/false, Activation::Linear, 1, 2));
}

torch::Tensor UpsamplerDownBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& w) {
  // x: [N, C_in, H, W], w: [N, w_dim] -> [N, C_out, H/2, W/2]
  check_shape(x, {-1, conv0->in_channels, -1, -1}, "UpsamplerDownBlock input");
  const auto y = downsample2x(conv1(conv0(x, w), w));
  return (y + skip(x)) * kSqrtHalf;
}

UpsamplerUpBlockImpl::UpsamplerUpBlockImpl(int64_t in, int64_t out, int64_t res, bool attention,
                                           bool rgb, const UpsamplerConfig& c)
    : out_channels(out), out_resolution(res) {
  conv0 = register_module("conv0", AdaptiveConv2d(in, out, 3, c.w_dim, c.num_kernels, true, /*up=*/2));
  conv1 = register_module("conv1", AdaptiveConv2d(out, out, 3, c.w_dim, c.num_kernels));
  skip_conv = register_module("skip_conv",
                              Conv2dLayer(in, out, 1, /*bias=*/false, Activation::Linear, /*up=*/2));
  if (attention) {
    self_attn = register_module("self_attn", SelfAttention(out, c.attention_head_dim, c.w_dim,
                                                           c.attention_residual_gain));
    cross_attn = register_module("cross_attn", CrossAttention(out, c.text_dim, c.attention_head_dim,
                                                              c.attention_residual_gain));
  }
  if (rgb)
    to_rgb = register_module("to_rgb", AdaptiveConv2d(out, 3, 1, c.w_dim, c.num_kernels,
                                                      /*demodulate=*/false, 1, Activation::Linear));
}

torch::Tensor UpsamplerUpBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& w,
                                            const torch::Tensor& t_local, const torch::Tensor& skip) {
  // x: [N, C_in, H, W], w: [N, w_dim], t_local: [N, C-1, text_dim], skip: [N, C_out, 2H, 2W] | {}
  // -> [N, C_out, 2H, 2W]
  check_shape(x, {-1, conv0->in_channels, -1, -1}, "UpsamplerUpBlock input");
  auto h = (conv1(conv0(x, w), w) + skip_conv(x)) * kSqrtHalf;
  if (skip.defined()) {
    check_shape(skip, {x.size(0), out_channels, h.size(2), h.size(3)}, "UpsamplerUpBlock skip");
    h = (h + skip) * kSqrtHalf;
  }
  if (self_attn) {
    h = self_attn(h, w);
    h = cross_attn(h, t_local);
  }
  return h;
}

// ---------------------------------------------------------------------------
GeneratorConfig UpsamplerImpl::conditioning_config(const UpsamplerConfig& c) {
  GeneratorConfig g;
  g.z_dim = c.z_dim;
  g.text_input_dim = c.text_input_dim;
  g.context_length = c.context_length;
  g.text_dim = c.text_dim;
  g.text_layers = c.text_layers;
  g.text_heads = c.text_heads;
  g.w_dim = c.w_dim;
  g.mapping_layers = c.mapping_layers;
  g.mapping_lr_multiplier = c.mapping_lr_multiplier;
  return g;
}

int UpsamplerImpl::num_outputs() const {
  return ilog2(config.output_resolution / config.input_resolution) + 1;
}

UpsamplerImpl::UpsamplerImpl(const UpsamplerConfig& c) : config(c) {
  config.validate();
  const auto& ch = config.channels;
  const int d = config.down_blocks;  // index of the input resolution in `channels`
  const int u = config.up_blocks();
  const int bottleneck = bottleneck_resolution();

  // Text-conditioned like the base generator: its own learned text layers over
  // the frozen CLIP tokens and its own mapping of (z, t_global).
  const auto gc = conditioning_config(config);
  text_encoder = register_module("text_encoder", TextEncoder(gc));
  mapping = register_module("mapping", MappingNetwork(gc));

  from_rgb = register_module("from_rgb", Conv2dLayer(3, ch[d], 1, true, Activation::LReLU));
  for (int k = 0; k < d; ++k)  // resolution index d - k -> d - k - 1
    down.push_back(register_module("down_" + std::to_string(k),
                                   UpsamplerDownBlock(ch[d - k], ch[d - k - 1], config)));
  for (int k = 0; k < u; ++k) {  // resolution index k -> k + 1
    const int res = bottleneck << (k + 1);
    const bool attn = std::find(config.attention_resolutions.begin(),
                                config.attention_resolutions.end(),
                                res) != config.attention_resolutions.end();
    up.push_back(register_module("up_" + std::to_string(k),
                                 UpsamplerUpBlock(ch[k], ch[k + 1], res, attn,
                                                  res >= config.input_resolution, config)));
  }
}

torch::Tensor UpsamplerImpl::make_input_noise(const torch::Tensor& image, uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  return torch::randn(image.sizes(), gen, torch::TensorOptions().dtype(image.scalar_type()))
      .to(image.device());
}

std::vector<torch::Tensor> UpsamplerImpl::forward(const torch::Tensor& image, const torch::Tensor& z,
                                                  const torch::Tensor& clip_tokens,
                                                  const torch::Tensor& eot_index, bool add_input_noise,
                                                  const torch::Tensor& input_noise) {
  // image: [N, 3, r_in, r_in], z: [N, z_dim], clip_tokens: [N, C, text_input_dim], eot_index: [N]
  // -> pyramid [N, 3, r_out/2^l, r_out/2^l], l = 0 .. num_outputs()-1
  check_shape(image, {-1, 3, config.input_resolution, config.input_resolution}, "Upsampler image");
  const int64_t n = image.size(0);
  check_shape(z, {n, config.z_dim}, "Upsampler z");
  check_shape(clip_tokens, {n, config.context_length, config.text_input_dim}, "Upsampler clip_tokens");
  check_shape(eot_index, {n}, "Upsampler eot_index");
  const auto text = text_encoder(clip_tokens, eot_index);
  const auto w = mapping(z, text.t_global);
  return synthesize(image, w, text.t_local, add_input_noise, input_noise);
}

std::vector<torch::Tensor> UpsamplerImpl::synthesize(const torch::Tensor& image, const torch::Tensor& w,
                                                     const torch::Tensor& t_local, bool add_input_noise,
                                                     const torch::Tensor& input_noise) {
  // image: [N, 3, r_in, r_in], w: [N, w_dim], t_local: [N, C-1, text_dim] -> pyramid, top first
  check_shape(image, {-1, 3, config.input_resolution, config.input_resolution}, "Upsampler image");
  const int64_t n = image.size(0);
  check_shape(w, {n, config.w_dim}, "Upsampler w");
  check_shape(t_local, {n, config.context_length - 1, config.text_dim}, "Upsampler t_local");
  auto x = image;
  if (add_input_noise && config.input_noise_std > 0) {
    if (input_noise.defined()) {
      check_shape(input_noise, {n, 3, config.input_resolution, config.input_resolution},
                  "Upsampler input_noise");
      x = x + config.input_noise_std * input_noise;
    } else {
      x = x + config.input_noise_std * torch::randn_like(x);
    }
  }

  // Encoder: skips[k] holds the features at resolution index k (bottleneck = 0).
  const int d = config.down_blocks;
  std::vector<torch::Tensor> skips(d + 1);
  auto h = from_rgb(x);
  skips[d] = h;
  for (int k = 0; k < d; ++k) {
    h = down[k](h, w);
    skips[d - k - 1] = h;
  }
  // Decoder: the bottleneck features start it; encoder features at equal
  // resolutions are added after each up block. RGB outputs accumulate as in
  // StyleGAN2's skip generator (img = up2x(img) + ToRGB(h)), from the input
  // resolution upwards, starting from the (clean) input image itself: the
  // network predicts what bilinear upsampling misses rather than the whole
  // image, so an untrained upsampler already returns a smooth upscale and
  // training spends itself on detail (the paper is silent; residual learning
  // as in SR GANs such as ESRGAN's global skip). Each level's running image is
  // one pyramid output.
  std::vector<torch::Tensor> pyramid;
  torch::Tensor img;
  for (size_t k = 0; k < up.size(); ++k) {
    const int idx = static_cast<int>(k) + 1;
    h = up[k](h, w, t_local, idx <= d ? skips[idx] : torch::Tensor());
    if (up[k]->to_rgb) {
      auto rgb = up[k]->to_rgb(h, w);
      img = img.defined() ? upsample2x(img) + rgb : image + rgb;
      pyramid.push_back(img);
    }
  }
  std::reverse(pyramid.begin(), pyramid.end());  // index 0 = output_resolution
  return pyramid;
}

}  // namespace gg

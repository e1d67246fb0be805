// Synthesis network G_synth.
// Ref: Kang et al. 2023 (GigaGAN) Sec. 3.2, synthesis network and image-pyramid output;
// StyleGAN2 networks_stylegan2.py SynthesisLayer, ToRGBLayer, SynthesisBlock
// (architecture 'skip').
// Choices where the paper is silent (StyleGAN2's):
// - Noise is added after the conv and before bias-free lrelu: conv (+bias) +
//   strength * noise, then lrelu with gain sqrt 2. The const noise buffer is
//   N(0, 1) per layer, drawn at construction and saved with the checkpoint.
// - toRGB is a 1x1 modulated conv without demodulation and a single kernel.
// - The first block of every level above 4 px upsamples 2x (bilinear, see
//   adaptive_conv2d.cpp); the skip path upsamples the previous RGB bilinearly.
#include "synthesis_network.h"

#include <algorithm>
#include <cstring>

namespace gg {

NoiseMode parse_noise_mode(const std::string& s) {
  if (s == "const") return NoiseMode::Const;
  if (s == "random") return NoiseMode::Random;
  if (s == "none") return NoiseMode::None;
  throw ConfigError("unknown noise mode '" + s + "' (expected const, random or none)");
}
const char* noise_mode_name(NoiseMode m) {
  switch (m) {
    case NoiseMode::Const: return "const";
    case NoiseMode::Random: return "random";
    case NoiseMode::None: return "none";
  }
  return "?";
}

SynthesisBlockImpl::SynthesisBlockImpl(int64_t in, int64_t out, int res, bool upsample, bool attention,
                                       const GeneratorConfig& c)
    : resolution(res) {
  conv = register_module("conv", AdaptiveConv2d(in, out, 3, c.w_dim, c.num_kernels, /*demod=*/true,
                                                upsample ? 2 : 1, Activation::Linear));
  noise_const = register_buffer("noise_const", new_randn({res, res}));
  noise_strength = register_parameter("noise_strength", new_zeros(at::IntArrayRef{}));
  if (attention) {
    attn = register_module("attn", SelfAttention(out, c.attention_head_dim, c.w_dim,
                                                 c.attention_residual_gain, c.ffn_multiplier));
    cross_attn = register_module("cross_attn",
                                 CrossAttention(out, c.text_dim, c.attention_head_dim,
                                                c.attention_residual_gain, c.ffn_multiplier));
  }
}

torch::Tensor SynthesisBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& w,
                                          const torch::Tensor& t_local, NoiseMode noise_mode) {
  // x: [N, C_in, r/up, r/up], w: [N, w_dim], t_local: [N, C-1, text_dim] -> [N, C_out, r, r]
  // lrelu(v) * sqrt 2 == lrelu(sqrt 2 * v): the gain is folded into the conv
  // (its demodulation coefficients and bias) and into the noise term, and
  // lrelu runs in place on the conv's fresh output.
  const double gain = activation_gain(Activation::LReLU);
  auto h = conv->forward_scaled(x, w, gain);  // g_adaconv, x gain
  check_shape(h, {x.size(0), -1, resolution, resolution}, "SynthesisBlock conv output");
  if (noise_mode == NoiseMode::Const) {
    if (!torch::GradMode::is_enabled() && !noise_strength.is_inference() && !noise_const.is_inference())
      h.add_(const_noise_term(h, gain));  // inference: one same-layout add
    else
      h.addcmul_(noise_const.view({1, 1, resolution, resolution}), noise_strength, gain);
  } else if (noise_mode == NoiseMode::Random)
    h.addcmul_(torch::randn({h.size(0), 1, resolution, resolution}, h.options()), noise_strength, gain);
  torch::leaky_relu_(h, 0.2);
  if (!attn.is_empty()) {
    h = attn->forward(h, w);               // g_attn, w appended as a token
    h = cross_attn->forward(h, t_local);   // g_xa
  }
  return h;
}

torch::Tensor SynthesisBlockImpl::const_noise_term(const torch::Tensor& h, double gain) {
  const auto format = h.suggest_memory_format();
  int64_t gain_bits = 0;
  std::memcpy(&gain_bits, &gain, sizeof gain);
  std::vector<int64_t> key = {gain_bits, noise_strength._version(), noise_const._version(),
                              reinterpret_cast<int64_t>(noise_strength.data_ptr()),
                              reinterpret_cast<int64_t>(noise_const.data_ptr()), h.size(1),
                              static_cast<int64_t>(format), static_cast<int64_t>(h.device().type()),
                              static_cast<int64_t>(h.device().index())};
  std::lock_guard<std::mutex> lock(noise_mutex_);
  if (!noise_term_.defined() || key != noise_key_) {
    c10::InferenceMode normal_tensors(false);
    torch::NoGradGuard no_grad;
    noise_term_ = (noise_const.detach().view({1, 1, resolution, resolution}) * (noise_strength.detach() * gain))
                      .expand({1, h.size(1), resolution, resolution})
                      .to(h.device())
                      .contiguous(format);
    noise_key_ = std::move(key);
  }
  return noise_term_;
}

SynthesisNetworkImpl::SynthesisNetworkImpl(const GeneratorConfig& c)
    : config(c), noise_mode(parse_noise_mode(c.noise_mode_default)) {
  c.validate();
  const int levels = c.num_levels(), bpl = c.blocks_per_level;
  const_input = register_parameter("const", new_randn({c.channels[0], 4, 4}));
  for (int l = 0; l < levels; ++l) {
    const int res = 4 << l;
    const bool attention = std::find(c.attention_resolutions.begin(), c.attention_resolutions.end(),
                                     res) != c.attention_resolutions.end();
    // A plain container per level so that parameters read "b8.block0.conv.weight",
    // "b8.torgb.weight" (StyleGAN2 names levels b4, b8, ...).
    auto level = register_module("b" + std::to_string(res), std::make_shared<torch::nn::Module>());
    for (int b = 0; b < bpl; ++b) {
      const int64_t in = (b == 0 && l > 0) ? c.channels[l - 1] : c.channels[l];
      blocks.push_back(level->register_module(
          "block" + std::to_string(b),
          SynthesisBlock(in, c.channels[l], res, /*upsample=*/b == 0 && l > 0, attention, c)));
      slots_.push_back({l * bpl + b, l, b, res, std::to_string(res) + "px.b" + std::to_string(b)});
    }
    to_rgb.push_back(level->register_module(
        "torgb", AdaptiveConv2d(c.channels[l], 3, 1, c.w_dim, /*num_kernels=*/1, /*demod=*/false, 1,
                                Activation::Linear)));
  }
}

std::vector<torch::Tensor> SynthesisNetworkImpl::forward(const torch::Tensor& ws,
                                                         const torch::Tensor& t_locals) {
  // ws: [N, num_ws, w_dim], t_locals: [N, num_ws, C-1, text_dim]
  // -> {[N, 3, res, res], [N, 3, res/2, res/2], ..., [N, 3, 4, 4]}
  const int64_t nws = num_ws();
  check_shape(ws, {-1, nws, config.w_dim}, "SynthesisNetwork ws");
  const int64_t n = ws.size(0);
  check_shape(t_locals, {n, nws, config.context_length - 1, config.text_dim},
              "SynthesisNetwork t_locals");
  auto x = const_input.unsqueeze(0).expand({n, -1, -1, -1});
  torch::Tensor rgb;
  std::vector<torch::Tensor> pyramid;  // built bottom-up, reversed at the end
  const int bpl = config.blocks_per_level;
  for (int l = 0; l < num_levels(); ++l) {
    for (int b = 0; b < bpl; ++b) {
      const int64_t s = l * bpl + b;
      x = blocks[s]->forward(x, ws.select(1, s), t_locals.select(1, s), noise_mode);
    }
    auto y = to_rgb[l]->forward(x, ws.select(1, l * bpl + bpl - 1));
    rgb = rgb.defined() ? y + upsample2x(rgb) : y;
    pyramid.push_back(rgb);
  }
  std::reverse(pyramid.begin(), pyramid.end());
  return pyramid;
}

}  // namespace gg

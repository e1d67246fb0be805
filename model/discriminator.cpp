// Ref: Kang et al. 2023 (GigaGAN) Sec. 3.3, Eq. (5)-(6);
// StyleGAN2 networks_stylegan2.py (modulated conv, equalized lr) where the paper is silent.
#include "discriminator.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace gg {

namespace {
// Conv2dLayer(k=3, down=2) computes a 3x3 conv at full resolution, then a 2x2
// average. The same function is one stride-2 4x4 conv (padding 1) whose kernel
// is the 3x3 kernel convolved with the 2x2 box: 0.44x the FLOPs. Exact up to
// float rounding (checked against Conv2dLayer::forward in test_discriminator).
torch::Tensor down_conv(Conv2dLayerImpl& c, const torch::Tensor& x) {
  check_shape(x, {-1, c.in_channels, -1, -1}, "Discriminator down conv input");
  const auto w = c.weight * c.weight_gain;  // [Co, Ci, 3, 3]
  namespace F = torch::nn::functional;
  const auto k4 = (F::pad(w, F::PadFuncOptions({0, 1, 0, 1})) + F::pad(w, F::PadFuncOptions({1, 0, 0, 1})) +
                   F::pad(w, F::PadFuncOptions({0, 1, 1, 0})) + F::pad(w, F::PadFuncOptions({1, 0, 1, 0}))) *
                  0.25;  // [Co, Ci, 4, 4]
  const int64_t h = x.size(2) / 2, wd = x.size(3) / 2;
  count_conv_flops(x.size(0), c.out_channels, c.in_channels, 4, h, wd);
  auto y = torch::conv2d(x, k4, c.bias.defined() ? c.bias * c.bias_gain : torch::Tensor(), 2, 1);
  return apply_activation(y, c.activation);
}

std::string list_str(const std::vector<int>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}
}  // namespace

// ---------------------------------------------------------------------------
void DiscriminatorConfig::validate() const {
  const std::string w = "DiscriminatorConfig";
  config_require_range(resolution, 8, kMaxConfigResolution, w + ".resolution");
  for (auto [v, f] : {std::pair{text_input_dim, ".text_input_dim"}, {text_dim, ".text_dim"},
                      {attention_head_dim, ".attention_head_dim"}})
    config_require_range(v, 1, kMaxConfigWidth, w + f);
  config_require_range(psi_channels, 0, kMaxConfigWidth, w + ".psi_channels");
  config_require_range(context_length, 1, kMaxConfigContext, w + ".context_length");
  for (auto [v, f] : {std::pair{text_layers, ".text_layers"}, {text_heads, ".text_heads"}})
    config_require_range(v, 0, kMaxConfigLayers, w + f);
  config_require(static_cast<long long>(channels.size()) <= kMaxConfigLayers, w + ".channels",
                 "has " + std::to_string(channels.size()) + " entries, more than the limit of " +
                     std::to_string(kMaxConfigLayers));
  for (size_t k = 0; k < channels.size(); ++k)
    config_require_range(channels[k], 1, kMaxConfigWidth, w + ".channels[" + std::to_string(k) + "]");
  config_require(attention_resolutions.size() <= 16, w + ".attention_resolutions",
                 "has " + std::to_string(attention_resolutions.size()) + " entries, more than the limit of 16");
  config_require(is_pow2(resolution) && resolution >= 8, w + ".resolution",
                 "must be a power of two >= 8, got " + std::to_string(resolution));
  const int layers = ilog2(resolution) - 1;  // r -> r/2 -> ... -> 4 -> 1
  config_require(levels >= 1 && levels <= layers, w + ".levels",
                 "must be in 1.." + std::to_string(layers) + " (pyramid levels down to 4 px at resolution " +
                     std::to_string(resolution) + "), got " + std::to_string(levels));
  config_require(static_cast<int>(channels.size()) == layers + 1, w + ".channels",
                 "expected " + std::to_string(layers + 1) + " entries (one per phi layer input at " +
                     std::to_string(resolution) + ".." + "4 px, plus the 1x1 output), got " +
                     std::to_string(channels.size()));
  for (size_t k = 0; k < channels.size(); ++k)
    config_require(channels[k] > 0, w + ".channels",
                   "entry " + std::to_string(k) + " must be positive, got " + std::to_string(channels[k]));
  config_require(text_input_dim > 0, w + ".text_input_dim", "must be positive");
  config_require(context_length > 0, w + ".context_length", "must be positive");
  config_require(text_dim > 0, w + ".text_dim", "must be positive");
  config_require(text_layers >= 0, w + ".text_layers", "must be >= 0");
  config_require(text_heads > 0 && text_dim % text_heads == 0, w + ".text_heads",
                 "must be positive and divide text_dim (" + std::to_string(text_dim) + "), got " +
                     std::to_string(text_heads));
  config_require(attention_head_dim > 0, w + ".attention_head_dim", "must be positive");
  config_require(attention_residual_gain > 0, w + ".attention_residual_gain", "must be positive");
  for (int r : attention_resolutions) {
    config_require(is_pow2(r) && r >= 4 && r <= resolution, w + ".attention_resolutions",
                   "entry " + std::to_string(r) + " is not a phi layer resolution (powers of two 4.." +
                       std::to_string(resolution) + "): " + list_str(attention_resolutions));
    require_attention_width(w, r, channels[ilog2(resolution / r)], attention_head_dim);
  }
  config_require(psi_channels >= 0, w + ".psi_channels", "must be >= 0 (0 = phi's channels)");
}

// ---------------------------------------------------------------------------
TextModulatedConv2dImpl::TextModulatedConv2dImpl(int64_t in, int64_t out, int64_t k,
                                                 int64_t sdim, bool demod, Activation act)
    : in_channels(in),
      out_channels(out),
      kernel_size(k),
      style_dim(sdim),
      demodulate(demod),
      activation(act),
      weight_gain(1.0 / std::sqrt(static_cast<double>(in * k * k))) {
  weight = register_parameter("weight", new_randn({out, in, k, k}));
  bias = register_parameter("bias", new_zeros({out}));
  affine = register_module("affine", FullyConnectedLayer(sdim, in, true, Activation::Linear, 1.0,
                                                         /*bias_init=*/1.0));
}

torch::Tensor TextModulatedConv2dImpl::forward(const torch::Tensor& x, const torch::Tensor& t) {
  // x: [N, C_in, H, W], t: [N, style_dim] -> [N, C_out, H, W]
  check_shape(x, {-1, in_channels, -1, -1}, "TextModulatedConv2d input");
  check_shape(t, {x.size(0), style_dim}, "TextModulatedConv2d style source");
  const auto s = affine(t);                 // [N, C_in]
  const auto w = weight * weight_gain;      // [C_out, C_in, k, k]
  count_conv_flops(x.size(0), out_channels, in_channels, kernel_size, x.size(2), x.size(3));
  auto y = torch::conv2d(x * s.unsqueeze(-1).unsqueeze(-1), w, {}, 1, kernel_size / 2);
  if (demodulate) {
    // d[n, o] = rsqrt(sum_i s[n,i]^2 * sum_k W[o,i,k]^2 + eps)
    const auto d = torch::rsqrt(torch::mm(s.square(), w.square().sum({2, 3}).t()) + 1e-8);
    y = y * d.unsqueeze(-1).unsqueeze(-1);
  }
  y = y + bias.view({1, -1, 1, 1});
  return apply_activation(y, activation);
}

// ---------------------------------------------------------------------------
DiscriminatorHeadImpl::DiscriminatorHeadImpl(int64_t in, int64_t hidden, int64_t text_dim) {
  layers = register_module("layers", torch::nn::ModuleList());
  layers->push_back(TextModulatedConv2d(in, hidden, 1, text_dim, true, Activation::LReLU));
  layers->push_back(TextModulatedConv2d(hidden, hidden, 1, text_dim, true, Activation::LReLU));
  layers->push_back(TextModulatedConv2d(hidden, hidden, 1, text_dim, true, Activation::LReLU));
  layers->push_back(TextModulatedConv2d(hidden, 1, 1, text_dim, false, Activation::Linear));
}

torch::Tensor DiscriminatorHeadImpl::forward(const torch::Tensor& h, const torch::Tensor& t_d) {
  // h: [N, C, H, W], t_D: [N, text_dim] -> [N, 1, H, W]
  auto x = h;
  for (const auto& m : *layers) x = m->as<TextModulatedConv2dImpl>()->forward(x, t_d);
  return x;
}

// ---------------------------------------------------------------------------
int DiscriminatorImpl::num_layers() const { return ilog2(config.resolution) - 1; }
int DiscriminatorImpl::scale_resolution(int j) const {
  return j >= num_layers() ? 1 : config.resolution >> j;
}
int DiscriminatorImpl::num_predictions() const {
  int n = 0;
  for (int i = 0; i < config.levels; ++i) n += num_layers() - i;
  return n;
}

DiscriminatorImpl::DiscriminatorImpl(const DiscriminatorConfig& c) : config(c) {
  config.validate();
  const int L = num_layers();
  const auto& ch = config.channels;

  // Text branch: project the frozen CLIP tokens, add a learned position
  // embedding, a few pre-LN transformer layers, a final LayerNorm.
  text_in = register_module("text_in", FullyConnectedLayer(config.text_input_dim, config.text_dim));
  text_position = register_parameter("text_position",
                                     new_randn({config.context_length, config.text_dim}, 0.02));
  text_layers = register_module("text_layers", torch::nn::ModuleList());
  for (int l = 0; l < config.text_layers; ++l)
    text_layers->push_back(TokenTransformerLayer(config.text_dim, config.text_heads));
  text_norm = register_module("text_norm", LayerNorm(config.text_dim));

  // Image branch phi. Choice (paper says "stride-2 conv"): a 3x3 conv followed by
  // 2x2 average pooling (Conv2dLayer down=2), i.e. a stride-2 conv with a
  // box-blurred kernel, as StyleGAN2 blurs before striding; forward runs it as
  // one stride-2 4x4 conv (down_conv above).
  from_rgb = register_module("from_rgb", torch::nn::ModuleList());
  for (int i = 0; i < config.levels; ++i)
    from_rgb->push_back(Conv2dLayer(3, ch[i], 1, true, Activation::LReLU));
  attention.resize(L, nullptr);
  for (int k = 0; k < L; ++k) {
    const int r = config.resolution >> k;
    if (std::find(config.attention_resolutions.begin(), config.attention_resolutions.end(), r) !=
        config.attention_resolutions.end())
      attention[k] = register_module("attention_" + std::to_string(k),
                                     SelfAttention(ch[k], config.attention_head_dim, 0,
                                                   config.attention_residual_gain));
  }
  for (int k = 0; k + 1 < L; ++k)
    down.push_back(register_module("down_" + std::to_string(k),
                                   Conv2dLayer(ch[k], ch[k + 1], 3, true, Activation::LReLU, 1, 2)));
  last = register_module("last", FullyConnectedLayer(int64_t(ch[L - 1]) * 16, ch[L], true,
                                                     Activation::LReLU));

  psi = register_module("psi", torch::nn::ModuleList());
  exit_conv = register_module("exit_conv", torch::nn::ModuleList());
  for (int j = 1; j <= L; ++j) {
    const int hidden = config.psi_channels > 0 ? config.psi_channels : ch[j];
    psi->push_back(DiscriminatorHead(ch[j], hidden, config.text_dim));
    exit_conv->push_back(Conv2dLayer(ch[j], 1, 1, true, Activation::Linear));
  }
}

torch::Tensor DiscriminatorImpl::text_embedding(const torch::Tensor& clip_tokens,
                                                const torch::Tensor& eot_index) {
  // clip_tokens: [N, C, text_input_dim], eot_index: [N] -> t_D: [N, text_dim]
  check_shape(clip_tokens, {-1, config.context_length, config.text_input_dim},
              "Discriminator clip_tokens");
  check_shape(eot_index, {clip_tokens.size(0)}, "Discriminator eot_index");
  auto t = text_in(clip_tokens) + text_position.unsqueeze(0);
  for (const auto& m : *text_layers) t = m->as<TokenTransformerLayerImpl>()->forward(t);
  t = text_norm(t);
  const auto rows = torch::arange(t.size(0), eot_index.options().dtype(torch::kLong));
  return t.index({rows, eot_index.to(torch::kLong)});
}

std::vector<DiscriminatorPrediction> DiscriminatorImpl::forward(
    const std::vector<torch::Tensor>& pyramid, const torch::Tensor& clip_tokens,
    const torch::Tensor& eot_index) {
  // pyramid[i]: [N, 3, R/2^i, R/2^i], clip_tokens: [N, C, text_input_dim], eot_index: [N]
  // -> predictions D_ij, each [N, 1, r_j, r_j]
  return forward_with_text(pyramid, text_embedding(clip_tokens, eot_index));
}

std::vector<DiscriminatorPrediction> DiscriminatorImpl::forward_with_text(
    const std::vector<torch::Tensor>& pyramid, const torch::Tensor& t_d) {
  // pyramid[i]: [N, 3, R/2^i, R/2^i], t_D: [N, text_dim] -> predictions D_ij, each [N, 1, r_j, r_j]
  return forward_with_texts(pyramid, {t_d})[0];
}

std::vector<std::vector<DiscriminatorPrediction>> DiscriminatorImpl::forward_with_texts(
    const std::vector<torch::Tensor>& pyramid, const std::vector<torch::Tensor>& t_ds) {
  // pyramid[i]: [N, 3, R/2^i, R/2^i], t_ds: T x [N, text_dim] -> T x predictions D_ij
  if (static_cast<int>(pyramid.size()) != config.levels)
    throw ShapeError("Discriminator: expected a pyramid of " + std::to_string(config.levels) +
                     " levels, got " + std::to_string(pyramid.size()));
  const int64_t n = pyramid[0].defined() ? pyramid[0].size(0) : -1;
  for (int i = 0; i < config.levels; ++i) {
    const int64_t r = config.resolution >> i;
    const std::string what = "Discriminator pyramid[" + std::to_string(i) + "]";
    check_shape(pyramid[i], {n, 3, r, r}, what.c_str());
  }
  if (t_ds.empty()) throw ShapeError("Discriminator: no text embedding t_D given");
  for (const auto& t_d : t_ds) check_shape(t_d, {n, config.text_dim}, "Discriminator t_D");
  const int64_t texts = static_cast<int64_t>(t_ds.size());
  const torch::Tensor t_all = texts == 1 ? t_ds[0] : torch::cat(t_ds);  // text-major: rows [t*N, (t+1)*N)

  // Every level's stream goes through the same layers, so the streams that are
  // active at layer k (levels i <= k) run as one batch, stream-major: rows
  // [s*N, (s+1)*N) belong to level i = s. This is the same function as running
  // phi_{i->j} per level (attention and convs are per sample) with larger GEMMs.
  // phi does not depend on the text: it runs once, and only the psi heads
  // run per text (the matching-aware loss costs heads, not a second phi).
  const int L = num_layers();
  std::vector<std::vector<DiscriminatorPrediction>> out(static_cast<size_t>(texts));
  for (auto& o : out) o.reserve(num_predictions());
  torch::Tensor h;
  for (int k = 0; k < L; ++k) {
    if (k < config.levels) {
      auto e = from_rgb[k]->as<Conv2dLayerImpl>()->forward(pyramid[k]);
      h = h.defined() ? torch::cat({h, e}, 0) : e;
    }
    if (attention[k]) h = attention[k]->forward(h);
    if (k + 1 < L) {
      h = down_conv(*down[k], h);
    } else {
      h = last->forward(h.flatten(1)).view({h.size(0), -1, 1, 1});
    }
    const int j = k + 1;
    const int64_t streams = h.size(0) / n;
    // Rows text-major, then stream-major: [(t*streams + s)*N, ...).
    const auto h_rep = texts == 1 ? h : h.repeat({texts, 1, 1, 1});
    const auto t_rep = t_all.view({texts, 1, n, -1}).expand({texts, streams, n, t_all.size(1)})
                           .reshape({texts * streams * n, t_all.size(1)});
    const auto skip = exit_conv[j - 1]->as<Conv2dLayerImpl>()->forward(h);  // text independent
    const auto logits = psi[j - 1]->as<DiscriminatorHeadImpl>()->forward(h_rep, t_rep) +
                        (texts == 1 ? skip : skip.repeat({texts, 1, 1, 1}));
    const auto parts = logits.split(n, 0);
    for (int64_t t = 0; t < texts; ++t)
      for (int64_t s = 0; s < streams; ++s)
        out[static_cast<size_t>(t)].push_back({static_cast<int>(s), j, parts[t * streams + s]});
  }
  for (auto& o : out)
    std::sort(o.begin(), o.end(), [](const DiscriminatorPrediction& a, const DiscriminatorPrediction& b) {
      return a.i != b.i ? a.i < b.i : a.j < b.j;
    });
  return out;
}

}  // namespace gg

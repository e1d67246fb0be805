// The GigaGAN discriminator: a text branch t_D, a shared image branch phi with
// late entry (pyramid level i enters at the layer of its resolution) and early
// exit (every later scale j is a prediction), and per-exit heads
//   D_ij(x, c) = psi_j(phi_{i->j}(x_i), t_D) + Conv1x1_j(phi_{i->j}(x_i)).
// Ref: Kang et al. 2023 Sec. 3.3 (multi-scale input, multi-scale output), Eq. (5)-(6).
#pragma once
#include <torch/torch.h>

#include <vector>

#include "attention.h"
#include "discriminator_config.h"
#include "layers.h"

namespace gg {

// StyleGAN2 modulated convolution whose style comes from a conditioning vector
// (here a text embedding) through its own FC `affine` (bias init 1):
//   s = affine(t);  y = d * conv(x * s, W) + b,  d[n,o] = rsqrt(sum_{i,k} (W[o,i,k] s[n,i])^2 + 1e-8)
// This is StyleGAN2's non-fused path (fused_modconv=False): modulating the input
// instead of the kernel is exact and needs no per-sample kernel, so it costs one
// dense conv. Used by psi_j (1x1) and by the vision-aided head (3x3).
struct TextModulatedConv2dImpl : torch::nn::Module {
  TextModulatedConv2dImpl(int64_t in_channels, int64_t out_channels, int64_t kernel_size,
                          int64_t style_dim, bool demodulate, Activation activation);
  // x: [N, C_in, H, W], t: [N, style_dim] -> [N, C_out, H, W]
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& t);

  int64_t in_channels, out_channels, kernel_size, style_dim;
  bool demodulate;
  Activation activation;
  double weight_gain;
  torch::Tensor weight, bias;  // [C_out, C_in, k, k], [C_out]
  FullyConnectedLayer affine{nullptr};
};
TORCH_MODULE(TextModulatedConv2d);

// psi_j: four 1x1 modulated convs, lrelu between, one output channel. The first
// three demodulate; the last does not (as StyleGAN2's ToRGB), so its output
// scale is learned rather than normalised away.
struct DiscriminatorHeadImpl : torch::nn::Module {
  DiscriminatorHeadImpl(int64_t in_channels, int64_t hidden_channels, int64_t text_dim);
  // h: [N, C, H, W], t_D: [N, text_dim] -> [N, 1, H, W]
  torch::Tensor forward(const torch::Tensor& h, const torch::Tensor& t_d);
  torch::nn::ModuleList layers{nullptr};
};
TORCH_MODULE(DiscriminatorHead);

// One prediction D_ij: pyramid level i entered phi, scale j left it.
struct DiscriminatorPrediction {
  int i = 0;
  int j = 0;
  torch::Tensor logits;  // [N, 1, r_j, r_j], r_j = resolution / 2^j (1 for the last scale)
};

struct DiscriminatorImpl : torch::nn::Module {
  explicit DiscriminatorImpl(const DiscriminatorConfig& config);

  // clip_tokens: [N, C, text_input_dim] (frozen CLIP features), eot_index: [N] int64
  // -> t_D: [N, text_dim] (the learned layers' output at each row's EOT token).
  torch::Tensor text_embedding(const torch::Tensor& clip_tokens, const torch::Tensor& eot_index);

  // pyramid: levels tensors, pyramid[i]: [N, 3, resolution/2^i, resolution/2^i] (x_0 = top);
  // t_D: [N, text_dim]
  // -> one prediction for every pair 0 <= i < levels, i < j <= num_layers(), sorted by (i, j).
  std::vector<DiscriminatorPrediction> forward_with_text(const std::vector<torch::Tensor>& pyramid,
                                                         const torch::Tensor& t_d);
  // The same for several texts at once (t_ds: T x [N, text_dim]) -> T lists of
  // predictions. phi runs once; only the text-modulated psi heads run per text,
  // so pairing the images with a second caption (matching-aware loss) costs
  // the heads only. forward_with_texts(p, {a, b})[1] == forward_with_text(p, b).
  std::vector<std::vector<DiscriminatorPrediction>> forward_with_texts(const std::vector<torch::Tensor>& pyramid,
                                                                       const std::vector<torch::Tensor>& t_ds);
  // Same, computing t_D from the frozen CLIP tokens first.
  std::vector<DiscriminatorPrediction> forward(const std::vector<torch::Tensor>& pyramid,
                                               const torch::Tensor& clip_tokens,
                                               const torch::Tensor& eot_index);

  // Number of phi layers: resolution -> resolution/2 -> ... -> 4 -> 1, i.e.
  // log2(resolution) - 1 (5 at 64 px). Exits are scales j = 1 .. num_layers().
  int num_layers() const;
  // Spatial size at scale j: resolution / 2^j, and 1 for j = num_layers().
  int scale_resolution(int j) const;
  // Number of (i, j) pairs forward returns.
  int num_predictions() const;

  DiscriminatorConfig config;
  // Text branch t_D.
  FullyConnectedLayer text_in{nullptr};
  torch::Tensor text_position;  // [context_length, text_dim]
  torch::nn::ModuleList text_layers{nullptr};
  LayerNorm text_norm{nullptr};
  // Image branch phi.
  torch::nn::ModuleList from_rgb{nullptr};       // [levels] 1x1 conv RGB -> channels[i]
  std::vector<SelfAttention> attention;          // [num_layers], null where no attention
  std::vector<Conv2dLayer> down;                 // [num_layers - 1] 3x3 conv, 2x2 average down
  FullyConnectedLayer last{nullptr};             // 4x4 -> 1x1 (flatten + FC == 4x4 valid conv)
  // Exits, index j - 1 for scale j.
  torch::nn::ModuleList psi{nullptr};
  torch::nn::ModuleList exit_conv{nullptr};  // Conv1x1_j, text independent
};
TORCH_MODULE(Discriminator);

}  // namespace gg

// Attention layers of GigaGAN.
// Ref: GigaGAN, "Interleaving attention with convolution"; ViTGAN (Lee et al.
// 2022) L2-distance attention; Kang et al. 2023 Sec. 3.2.
#pragma once
#include <torch/torch.h>

#include <memory>
#include <vector>

#include "fused_projection.h"
#include "layers.h"

namespace gg {

// Self-attention over the pixels of a feature map with L2-distance logits and
// tied key/query weights (one parameter `qk.weight` serves both), scaled so the
// logits are about unit normal at init, equalized lr, reduced residual gain,
// followed by a feed-forward layer. An optional extra token (the style w,
// projected to the channel width) is appended to the keys/values.
struct SelfAttentionImpl : torch::nn::Module {
  SelfAttentionImpl(int64_t channels, int64_t head_dim, int64_t extra_token_dim,
                    double residual_gain, int64_t ffn_multiplier = 2);
  // x: [N, C, H, W], extra: [N, extra_token_dim] (or undefined when extra_token_dim == 0)
  // -> [N, C, H, W] (residual included)
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& extra = {});
  // Attention logits of the last call's first head, for tests: [N, HW, HW(+1)].
  bool keep_logits = false;
  torch::Tensor last_logits;

  int64_t channels, heads, head_dim, extra_token_dim;
  double residual_gain;
  // logits = -|q_i - k_j|^2 * logit_scale, logit_scale = 1/sqrt(6 head_dim)
  // (about unit-normal logits at init; derivation in attention.cpp).
  double logit_scale;
  // The projection weights (not biases, not LayerNorm): they get weight decay.
  std::vector<torch::Tensor> weight_decay_parameters() const;

  LayerNorm norm{nullptr}, ffn_norm{nullptr};
  FullyConnectedLayer qk{nullptr};          // tied query/key projection (no bias)
  FullyConnectedLayer v{nullptr}, out{nullptr};
  FullyConnectedLayer extra_proj{nullptr};  // extra token (w) -> C; absent when extra_token_dim == 0
  FullyConnectedLayer ffn1{nullptr}, ffn2{nullptr};
  std::unique_ptr<FusedProjection> qkv_fused;  // qk and v in one GEMM without gradients
};
TORCH_MODULE(SelfAttention);

// Cross-attention: image features are queries, text tokens (t_local) keys and
// values; followed by a feed-forward layer; reduced residual gain.
struct CrossAttentionImpl : torch::nn::Module {
  CrossAttentionImpl(int64_t channels, int64_t context_dim, int64_t head_dim,
                     double residual_gain, int64_t ffn_multiplier = 2);
  // x: [N, C, H, W], context: [N, T, context_dim] -> [N, C, H, W]
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& context);

  int64_t channels, context_dim, heads, head_dim;
  double residual_gain;
  std::vector<torch::Tensor> weight_decay_parameters() const;

  LayerNorm norm{nullptr}, ffn_norm{nullptr};
  FullyConnectedLayer q{nullptr}, k{nullptr}, v{nullptr}, out{nullptr};
  FullyConnectedLayer ffn1{nullptr}, ffn2{nullptr};
  std::unique_ptr<FusedProjection> kv_fused;  // k and v of the context in one GEMM without gradients
};
TORCH_MODULE(CrossAttention);

// Pre-LN transformer layer on a token sequence (the learned text layers T of
// the generator and t_D of the discriminator): dot-product self-attention +
// MLP, equalized lr.
struct TokenTransformerLayerImpl : torch::nn::Module {
  TokenTransformerLayerImpl(int64_t dim, int64_t heads, int64_t ffn_multiplier = 4);
  // x: [N, T, dim] -> [N, T, dim]
  torch::Tensor forward(const torch::Tensor& x);
  int64_t dim, heads;
  std::vector<torch::Tensor> weight_decay_parameters() const;

  LayerNorm norm1{nullptr}, norm2{nullptr};
  FullyConnectedLayer q{nullptr}, k{nullptr}, v{nullptr}, out{nullptr};
  FullyConnectedLayer ffn1{nullptr}, ffn2{nullptr};  // MLP with GELU
  std::unique_ptr<FusedProjection> qkv_fused;  // q (scaled), k, v in one GEMM without gradients
};
TORCH_MODULE(TokenTransformerLayer);

// Weight-decay set for the trainer: the projection weights of every
// SelfAttention, CrossAttention and TokenTransformerLayer below `root`.
std::vector<torch::Tensor> attention_weight_decay_parameters(const torch::nn::Module& root);

}  // namespace gg

// Learned text layers T on top of the frozen CLIP text encoder.
// Ref: Kang et al. 2023 (GigaGAN), text conditioning: t = T(E_txt(c)); t_local = every
// token except EOT, t_global = the EOT token.
#pragma once
#include <torch/torch.h>

#include <vector>

#include "attention.h"
#include "generator_config.h"
#include "layers.h"

namespace gg {

struct TextEncoding {
  torch::Tensor t_local;   // [N, C-1, text_dim], token order preserved, EOT removed
  torch::Tensor t_global;  // [N, text_dim], the EOT token
};

struct TextEncoderImpl : torch::nn::Module {
  // Uses text_input_dim, context_length, text_dim, text_layers, text_heads.
  explicit TextEncoderImpl(const GeneratorConfig& config);
  // clip_tokens: [N, C, text_input_dim] (frozen CLIP features), eot_index: [N] int64
  // -> {t_local [N, C-1, text_dim], t_global [N, text_dim]}
  TextEncoding forward(const torch::Tensor& clip_tokens, const torch::Tensor& eot_index);

  int64_t input_dim, context_length, dim;
  FullyConnectedLayer input_proj{nullptr};    // text_input_dim -> text_dim
  torch::Tensor position_embedding;           // [C, text_dim]
  std::vector<TokenTransformerLayer> layers;  // "layers.0", ...
  LayerNorm final_norm{nullptr};
};
TORCH_MODULE(TextEncoder);

}  // namespace gg

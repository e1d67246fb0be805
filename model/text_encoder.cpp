// Learned text layers T on top of the frozen CLIP text encoder.
// Ref: Kang et al. 2023 (GigaGAN) Sec. 3.1, text conditioning t = T(E_txt(c)).
// The paper gives no details of T beyond "a few attention layers": we use an
// equalized-lr input projection, a learned position embedding (init N(0, 0.02^2)
// as CLIP/ViT), pre-LN TokenTransformerLayers (bidirectional: every token sees
// every other token, including those after EOT, which CLIP computes anyway) and a
// final LayerNorm, so t_local and t_global arrive normalized.
#include "text_encoder.h"

namespace gg {

TextEncoderImpl::TextEncoderImpl(const GeneratorConfig& c)
    : input_dim(c.text_input_dim), context_length(c.context_length), dim(c.text_dim) {
  config_require(c.text_input_dim > 0, "GeneratorConfig.text_input_dim", "must be positive");
  config_require(c.context_length >= 2, "GeneratorConfig.context_length", "must be >= 2");
  config_require(c.text_layers >= 0, "GeneratorConfig.text_layers", "must be >= 0");
  input_proj = register_module("input_proj", FullyConnectedLayer(c.text_input_dim, c.text_dim));
  position_embedding =
      register_parameter("position_embedding", new_randn({c.context_length, c.text_dim}, 0.02));
  // Registered under "layers.<i>" (a ModuleList) as HF-style checkpoints name layer stacks.
  auto list = register_module("layers", torch::nn::ModuleList());
  for (int i = 0; i < c.text_layers; ++i) {
    layers.push_back(TokenTransformerLayer(c.text_dim, c.text_heads));
    list->push_back(layers.back());
  }
  final_norm = register_module("final_norm", LayerNorm(c.text_dim));
}

TextEncoding TextEncoderImpl::forward(const torch::Tensor& clip_tokens, const torch::Tensor& eot_in) {
  // clip_tokens: [N, C, text_input_dim], eot_index: [N] -> t_local [N, C-1, D], t_global [N, D]
  check_shape(clip_tokens, {-1, context_length, input_dim}, "TextEncoder clip_tokens");
  const int64_t n = clip_tokens.size(0);
  check_shape(eot_in, {n}, "TextEncoder eot_index");
  if (eot_in.is_floating_point() || eot_in.is_complex())
    throw ShapeError("TextEncoder eot_index: expected an integer tensor");
  auto eot = eot_in.to(clip_tokens.device(), torch::kLong);
  if (n > 0 && ((eot < 0) | (eot >= context_length)).any().item<bool>())
    throw ShapeError("TextEncoder eot_index: every index must lie in [0, " +
                     std::to_string(context_length) + ")");

  auto t = input_proj->forward(clip_tokens) + position_embedding.unsqueeze(0);
  for (auto& l : layers) t = l->forward(t);
  t = final_norm->forward(t);  // [N, C, D]

  // t_local: token j of the output is input token j + (j >= eot), i.e. all but EOT, in order.
  auto j = torch::arange(context_length - 1, eot.options()).unsqueeze(0);  // [1, C-1]
  auto idx = j + (j >= eot.unsqueeze(1)).to(torch::kLong);                // [N, C-1]
  TextEncoding out;
  out.t_local = t.gather(1, idx.unsqueeze(2).expand({n, context_length - 1, dim}));
  out.t_global = t.gather(1, eot.view({n, 1, 1}).expand({n, 1, dim})).squeeze(1);
  return out;
}

}  // namespace gg

// The GigaGAN generator G = G_synth o M with learned text layers T.
// Ref: Kang et al. 2023 (GigaGAN, arXiv 2303.05511) Sec. 3.2, Fig. 4.
#pragma once
#include <torch/torch.h>

#include <vector>

#include "generator_config.h"
#include "mapping_network.h"
#include "synthesis_network.h"
#include "text_encoder.h"

namespace gg {

struct GeneratorImpl : torch::nn::Module {
  explicit GeneratorImpl(const GeneratorConfig& config);  // validates the config

  // clip_tokens: [N, C, text_input_dim], eot_index: [N] int64
  // -> {t_local [N, C-1, text_dim], t_global [N, text_dim]}
  TextEncoding encode_text(const torch::Tensor& clip_tokens, const torch::Tensor& eot_index);
  // z: [N, z_dim], t_global: [N, text_dim] -> w: [N, w_dim]
  torch::Tensor map(const torch::Tensor& z, const torch::Tensor& t_global);
  // ws: [N, num_ws, w_dim], t_locals: [N, num_ws, C-1, text_dim] -> pyramid, index 0 = top
  std::vector<torch::Tensor> synthesize(const torch::Tensor& ws, const torch::Tensor& t_locals);
  // z: [N, z_dim], clip_tokens: [N, C, text_input_dim], eot_index: [N]
  // -> pyramid; the single w and t_local go to every slot.
  std::vector<torch::Tensor> forward(const torch::Tensor& z, const torch::Tensor& clip_tokens,
                                     const torch::Tensor& eot_index);

  // w: [N, w_dim] -> [N, num_ws, w_dim] (an expanded view: no copy)
  torch::Tensor broadcast_w(const torch::Tensor& w) const;
  // t_local: [N, C-1, text_dim] -> [N, num_ws, C-1, text_dim] (an expanded view)
  torch::Tensor broadcast_t_local(const torch::Tensor& t_local) const;
  // Per-prompt mean w for the truncation trick: t_global [N, text_dim] -> [N, w_dim],
  // the average of M(z, t_global) over `samples` draws of z (global RNG, t_global's device).
  torch::Tensor mean_w(const torch::Tensor& t_global, int64_t samples = 256);
  // w_avg + psi (w - w_avg), any matching shapes.
  static torch::Tensor truncate(const torch::Tensor& w, const torch::Tensor& w_avg, double psi);

  const std::vector<SynthesisSlot>& slots() const { return synthesis->slots(); }
  int num_ws() const { return synthesis->num_ws(); }

  GeneratorConfig config;
  TextEncoder text_encoder{nullptr};
  MappingNetwork mapping{nullptr};
  SynthesisNetwork synthesis{nullptr};
};
TORCH_MODULE(Generator);

}  // namespace gg

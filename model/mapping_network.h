// Conditional mapping network M(z, t_global) -> w.
// Ref: Kang et al. 2023 (GigaGAN), mapping network; StyleGAN2 networks_stylegan2.py
// MappingNetwork (conditional form: embed(c), 2nd-moment normalization of both
// inputs, concatenation, an MLP with equalized lr and lr multiplier 0.01).
#pragma once
#include <torch/torch.h>

#include <vector>

#include "generator_config.h"
#include "layers.h"

namespace gg {

// x / sqrt(mean(x^2) + eps) over dim 1 (StyleGAN2).
torch::Tensor normalize_2nd_moment(const torch::Tensor& x, double eps = 1e-8);

struct MappingNetworkImpl : torch::nn::Module {
  // Uses z_dim, text_dim, w_dim, mapping_layers, mapping_lr_multiplier.
  explicit MappingNetworkImpl(const GeneratorConfig& config);
  // z: [N, z_dim], t_global: [N, text_dim] -> w: [N, w_dim]
  torch::Tensor forward(const torch::Tensor& z, const torch::Tensor& t_global);

  int64_t z_dim, text_dim, w_dim;
  FullyConnectedLayer embed{nullptr};     // t_global -> w_dim (lr multiplier 1, as StyleGAN2)
  std::vector<FullyConnectedLayer> fcs;   // "fc0".."fc{L-1}", lrelu, lr multiplier 0.01
};
TORCH_MODULE(MappingNetwork);

}  // namespace gg

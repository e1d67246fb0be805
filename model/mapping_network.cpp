// Conditional mapping network M(z, t_global) -> w.
// Ref: Kang et al. 2023 (GigaGAN), mapping network w = M(z, t_global); StyleGAN2 MappingNetwork.
#include "mapping_network.h"

namespace gg {

torch::Tensor normalize_2nd_moment(const torch::Tensor& x, double eps) {
  return x * torch::rsqrt(x.square().mean(1, true) + eps);
}

MappingNetworkImpl::MappingNetworkImpl(const GeneratorConfig& c)
    : z_dim(c.z_dim), text_dim(c.text_dim), w_dim(c.w_dim) {
  config_require(c.z_dim > 0 && c.text_dim > 0 && c.w_dim > 0, "MappingNetwork",
                 "z_dim, text_dim and w_dim must be positive");
  config_require(c.mapping_layers >= 1, "GeneratorConfig.mapping_layers", "must be >= 1");
  embed = register_module("embed", FullyConnectedLayer(c.text_dim, c.w_dim));
  int64_t in = c.z_dim + c.w_dim;  // [normalize(z), normalize(embed(t_global))]
  for (int i = 0; i < c.mapping_layers; ++i) {
    fcs.push_back(register_module("fc" + std::to_string(i),
                                  FullyConnectedLayer(in, c.w_dim, true, Activation::LReLU,
                                                      c.mapping_lr_multiplier)));
    in = c.w_dim;
  }
}

torch::Tensor MappingNetworkImpl::forward(const torch::Tensor& z, const torch::Tensor& t_global) {
  // z: [N, z_dim], t_global: [N, text_dim] -> w: [N, w_dim]
  check_shape(z, {-1, z_dim}, "MappingNetwork z");
  check_shape(t_global, {z.size(0), text_dim}, "MappingNetwork t_global");
  auto x = torch::cat({normalize_2nd_moment(z), normalize_2nd_moment(embed->forward(t_global))}, 1);
  for (auto& fc : fcs) x = fc->forward(x);
  return x;
}

}  // namespace gg

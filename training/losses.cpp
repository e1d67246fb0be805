#include "losses.h"

#include "errors.h"

namespace gg {

torch::Tensor d_loss_real(const torch::Tensor& logits) { return torch::softplus(-logits).mean(); }
torch::Tensor d_loss_fake(const torch::Tensor& logits) { return torch::softplus(logits).mean(); }
torch::Tensor g_loss(const torch::Tensor& logits) { return torch::softplus(-logits).mean(); }

torch::Tensor sum_over_pairs(const std::vector<torch::Tensor>& logits,
                             torch::Tensor (*loss)(const torch::Tensor&)) {
  if (logits.empty()) throw Error("sum_over_pairs: no discriminator predictions");
  torch::Tensor total = loss(logits[0]);
  for (size_t k = 1; k < logits.size(); ++k) total = total + loss(logits[k]);
  return total;
}

torch::Tensor r1_penalty(const torch::Tensor& outputs_sum, const std::vector<torch::Tensor>& inputs) {
  if (inputs.empty()) throw Error("r1_penalty: no inputs");
  auto grads = torch::autograd::grad({outputs_sum}, inputs, /*grad_outputs=*/{}, /*retain_graph=*/true,
                                     /*create_graph=*/true);
  torch::Tensor total;
  for (const auto& g : grads) {
    auto per_sample = g.square().flatten(1).sum(1).mean();
    total = total.defined() ? total + per_sample : per_sample;
  }
  return total;
}

torch::Tensor mode_seeking_loss(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& za,
                                const torch::Tensor& zb, double eps) {
  TORCH_CHECK(a.sizes() == b.sizes() && a.dim() >= 2, "mode_seeking_loss: images of different shapes");
  TORCH_CHECK(za.sizes() == zb.sizes() && za.size(0) == a.size(0), "mode_seeking_loss: latents do not match the images");
  const auto image_distance = (a - b).abs().flatten(1).mean(1);
  const auto z_distance = (za - zb).abs().flatten(1).mean(1);
  return (1.0 / (image_distance / z_distance + eps)).mean();
}

}  // namespace gg

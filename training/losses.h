// GAN losses of GigaGAN. Ref: Kang et al. 2023, "Discriminator design" (MS-I/O,
// matching-aware loss), StyleGAN2 (non-saturating logistic loss, R1).
// All return scalar tensors (means over the batch and over spatial logits).
#pragma once
#include <torch/torch.h>

#include <vector>

namespace gg {

// Non-saturating logistic loss, softplus form (V_GAN of the GigaGAN paper):
//   D: softplus(-D(real)) + softplus(D(fake));  G: softplus(-D(fake)).
torch::Tensor d_loss_real(const torch::Tensor& logits);  // mean softplus(-logits)
torch::Tensor d_loss_fake(const torch::Tensor& logits);  // mean softplus(logits)
torch::Tensor g_loss(const torch::Tensor& logits);       // mean softplus(-logits)

// Sum over a list of logit maps (one per MS-I/O (i, j) pair) of a per-map loss.
torch::Tensor sum_over_pairs(const std::vector<torch::Tensor>& logits,
                             torch::Tensor (*loss)(const torch::Tensor&));

// R1 penalty (Mescheder et al. 2018): E ||grad_x D(x)||^2 over the batch, for
// every input that requires grad; `outputs_sum` is the sum of real logits.
torch::Tensor r1_penalty(const torch::Tensor& outputs_sum, const std::vector<torch::Tensor>& inputs);

// Mode-seeking term (Mao et al. 2019, "Mode Seeking Generative Adversarial
// Networks for Diverse Image Synthesis"), for G: images `a` and `b` rendered
// for the same conditions from latents `za` and `zb` (row i with row i).
// Per row, ratio = mean |a - b| / mean |za - zb|; returns the mean over rows
// of 1 / (ratio + eps), which G minimises (the further apart a prompt's
// images for distant latents, the lower).
torch::Tensor mode_seeking_loss(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& za,
                                const torch::Tensor& zb, double eps = 1e-5);

}  // namespace gg

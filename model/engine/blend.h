// Barycentric blends of latents (w vectors, t_local token sequences) for
// prompt interpolation and style mixing: lerp, or slerp along the last
// dimension. Ref: White 2016, "Sampling Generative Networks" (slerp for
// latent interpolation); Kang et al. 2023 Sec. 4.5 (prompt interpolation).
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

namespace gg {

enum class BlendMode { Lerp, Slerp };
BlendMode parse_blend_mode(const std::string& s);  // "lerp" | "slerp"; ConfigError otherwise
const char* blend_mode_name(BlendMode m);

// Weights normalised to sum 1. Throws ConfigError when one is negative or not
// finite, when they sum to 0, or when there are not `count` of them.
std::vector<double> normalize_weights(const std::vector<double>& weights, size_t count, const std::string& what);

// a, b: same shape [..., D] -> [..., D]. Spherical interpolation of the
// directions along the last dimension, with the norm interpolated linearly:
// endpoints of equal norm give results of that norm for every t. Nearly
// parallel vectors fall back to lerp of the directions.
torch::Tensor slerp(const torch::Tensor& a, const torch::Tensor& b, double t);

// xs: tensors of one shape, weights: barycentric (>= 0, sum 1) -> blend.
// Lerp: sum_i w_i x_i. Slerp: pairwise slerps folded in order (x_0 with x_1 at
// w_1 / (w_0 + w_1), that with x_2, ...), which is plain slerp for two inputs.
// A weight vector with one entry 1 returns that input itself (no arithmetic,
// so the slider's ends are bit-identical to the pure sources).
torch::Tensor blend(const std::vector<torch::Tensor>& xs, const std::vector<double>& weights, BlendMode mode);

}  // namespace gg

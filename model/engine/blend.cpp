// Barycentric lerp / slerp (blend.h).
#include "blend.h"

#include <cmath>

#include "errors.h"

namespace gg {

BlendMode parse_blend_mode(const std::string& s) {
  if (s == "lerp") return BlendMode::Lerp;
  if (s == "slerp") return BlendMode::Slerp;
  throw ConfigError("unknown interpolation mode '" + s + "' (expected lerp or slerp)");
}

const char* blend_mode_name(BlendMode m) { return m == BlendMode::Lerp ? "lerp" : "slerp"; }

std::vector<double> normalize_weights(const std::vector<double>& weights, size_t count, const std::string& what) {
  if (weights.size() != count)
    throw ConfigError(what + ": expected " + std::to_string(count) + " weights (one per source), got " +
                      std::to_string(weights.size()));
  double sum = 0;
  for (double w : weights) {
    if (!std::isfinite(w) || w < 0 || w > 1e6)
      throw ConfigError(what + ": weights must be finite and in [0, 1e6] (the limit)");
    sum += w;
  }
  if (sum <= 0) throw ConfigError(what + ": the weights sum to 0");
  std::vector<double> out(weights);
  for (double& w : out) w /= sum;
  return out;
}

torch::Tensor slerp(const torch::Tensor& a, const torch::Tensor& b, double t) {
  // a, b: [..., D] -> [..., D]
  TORCH_CHECK(a.sizes() == b.sizes(), "slerp: shapes differ");
  const auto na = a.norm(2, -1, true), nb = b.norm(2, -1, true);
  const auto ua = a / na.clamp_min(1e-12), ub = b / nb.clamp_min(1e-12);
  const auto cos = (ua * ub).sum(-1, true).clamp(-1.0, 1.0);
  const auto omega = torch::acos(cos);
  const auto so = torch::sin(omega);
  const auto parallel = so.abs() < 1e-6;
  const auto safe = torch::where(parallel, torch::ones_like(so), so);
  auto ca = torch::where(parallel, torch::full_like(so, 1 - t), torch::sin((1 - t) * omega) / safe);
  auto cb = torch::where(parallel, torch::full_like(so, t), torch::sin(t * omega) / safe);
  auto dir = ca * ua + cb * ub;
  // Parallel fallback: renormalise the lerped direction.
  dir = torch::where(parallel, dir / dir.norm(2, -1, true).clamp_min(1e-12), dir);
  return dir * ((1 - t) * na + t * nb);
}

torch::Tensor blend(const std::vector<torch::Tensor>& xs, const std::vector<double>& weights, BlendMode mode) {
  TORCH_CHECK(!xs.empty() && xs.size() == weights.size(), "blend: one weight per input");
  for (size_t i = 0; i < weights.size(); ++i)
    if (weights[i] == 1.0) return xs[i];
  if (mode == BlendMode::Lerp) {
    torch::Tensor acc;
    for (size_t i = 0; i < xs.size(); ++i) {
      if (weights[i] == 0) continue;
      acc = acc.defined() ? acc.add(xs[i], weights[i]) : xs[i] * weights[i];
    }
    return acc;
  }
  torch::Tensor p;
  double acc = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    if (weights[i] == 0) continue;
    if (!p.defined()) {
      p = xs[i];
      acc = weights[i];
      continue;
    }
    acc += weights[i];
    p = slerp(p, xs[i], weights[i] / acc);
  }
  return p;
}

}  // namespace gg

// Ref: augment.h; DiffAugment (Zhao et al. 2020), github.com/mit-han-lab/data-efficient-gans DiffAugment_pytorch.py.
#include "augment.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "errors.h"
#include "layers.h"

namespace gg {

namespace F = torch::nn::functional;

AugmentPolicy AugmentPolicy::parse(const std::string& policy) {
  AugmentPolicy p;
  std::stringstream ss(policy);
  for (std::string tok; std::getline(ss, tok, ',');) {
    tok.erase(std::remove_if(tok.begin(), tok.end(), [](unsigned char c) { return std::isspace(c); }), tok.end());
    if (tok.empty() || tok == "none") continue;
    if (tok == "color") p.color = true;
    else if (tok == "translation") p.translation = true;
    else if (tok == "cutout") p.cutout = true;
    else
      throw ConfigError("augment: unknown policy '" + tok + "' in '" + policy +
                        "'; use a comma-separated subset of color, translation, cutout (or none)");
  }
  return p;
}

std::string AugmentPolicy::str() const {
  std::string s;
  for (auto [on, name] : {std::pair{color, "color"}, std::pair{translation, "translation"}, std::pair{cutout, "cutout"}})
    if (on) s += (s.empty() ? "" : ",") + std::string(name);
  return s.empty() ? "none" : s;
}

namespace {

// Per-sample parameters, drawn once for a whole pyramid (in reference pixels).
struct Params {
  torch::Tensor brightness, saturation, contrast;  // [N] in [0, 1)
  torch::Tensor shift_x, shift_y;                  // [N] integer pixels at the reference size
  torch::Tensor cut_x0, cut_x1, cut_y0, cut_y1;    // [N] cutout square, fractions of the side
};

Params draw(int64_t n, int64_t ref_h, int64_t ref_w, const AugmentPolicy& p, c10::optional<torch::Generator> gen,
            const torch::Device& target) {
  const torch::Device dev = gen.has_value() ? gen->device() : target;
  const auto opt = torch::TensorOptions().dtype(torch::kFloat32).device(dev);
  const auto lopt = torch::TensorOptions().dtype(torch::kInt64).device(dev);
  Params q;
  auto move = [&](const torch::Tensor& t) { return t.to(target); };
  if (p.color) {
    q.brightness = move(torch::rand({n}, gen, opt));
    q.saturation = move(torch::rand({n}, gen, opt));
    q.contrast = move(torch::rand({n}, gen, opt));
  }
  if (p.translation) {
    // DiffAugment: shift = int(side * ratio + 0.5), t ~ U{-shift, ..., shift}.
    const int64_t sx = static_cast<int64_t>(ref_w * p.translation_ratio + 0.5);
    const int64_t sy = static_cast<int64_t>(ref_h * p.translation_ratio + 0.5);
    q.shift_x = move(torch::randint(-sx, sx + 1, {n}, gen, lopt).to(torch::kFloat32));
    q.shift_y = move(torch::randint(-sy, sy + 1, {n}, gen, lopt).to(torch::kFloat32));
  }
  if (p.cutout) {
    // DiffAugment: size = int(side * ratio + 0.5), centre ~ U{0, ..., side - (size even ? 1 : 0)},
    // square [centre - size // 2, + size) clipped to the image.
    auto square = [&](int64_t side, torch::Tensor& lo, torch::Tensor& hi) {
      const int64_t size = static_cast<int64_t>(side * p.cutout_ratio + 0.5);
      const auto centre = torch::randint(0, side + (1 - size % 2), {n}, gen, lopt);
      const auto start = centre - size / 2;
      lo = move((start.clamp(0, side).to(torch::kFloat32) / static_cast<double>(side)));
      hi = move(((start + size).clamp(0, side).to(torch::kFloat32) / static_cast<double>(side)));
    };
    square(ref_w, q.cut_x0, q.cut_x1);
    square(ref_h, q.cut_y0, q.cut_y1);
  }
  return q;
}

torch::Tensor per_sample(const torch::Tensor& v, const torch::Tensor& like) {
  return v.to(like.scalar_type()).view({-1, 1, 1, 1});
}

// Fraction of each of `count` pixels (of width 1/count) covered by [lo, hi): [N, count].
torch::Tensor coverage(const torch::Tensor& lo, const torch::Tensor& hi, int64_t count) {
  const auto j = torch::arange(count, lo.options());
  const auto a = torch::max(j.unsqueeze(0) / static_cast<double>(count), lo.unsqueeze(1));
  const auto b = torch::min((j.unsqueeze(0) + 1) / static_cast<double>(count), hi.unsqueeze(1));
  return (b - a).clamp_min(0) * static_cast<double>(count);
}

// x: [N, C, H, W] -> [N, C, H, W], with the level's share of the parameters.
torch::Tensor apply(torch::Tensor x, const Params& q, const AugmentPolicy& p, int64_t ref_h, int64_t ref_w) {
  const int64_t n = x.size(0), h = x.size(2), w = x.size(3);
  if (p.color) {
    x = x + (per_sample(q.brightness, x) - 0.5);
    auto m = x.mean(1, true);
    x = (x - m) * (per_sample(q.saturation, x) * 2) + m;
    m = x.mean({1, 2, 3}, true);
    x = (x - m) * (per_sample(q.contrast, x) + 0.5) + m;
  }
  if (p.translation) {
    // Output pixel (i, j) reads input (i + dy, j + dx), dy = shift_y * h / ref_h
    // (bilinear when fractional). grid_sample, align_corners=false: a pixel
    // index k sits at (2k + 1) / size - 1; exact for integer shifts and
    // power-of-two sizes.
    const auto fopt = x.options().dtype(torch::kFloat32);
    const auto jx = torch::arange(w, fopt).unsqueeze(0) + (q.shift_x * (static_cast<double>(w) / ref_w)).unsqueeze(1);
    const auto iy = torch::arange(h, fopt).unsqueeze(0) + (q.shift_y * (static_cast<double>(h) / ref_h)).unsqueeze(1);
    const auto gx = ((jx * 2 + 1) / static_cast<double>(w) - 1).view({n, 1, w}).expand({n, h, w});
    const auto gy = ((iy * 2 + 1) / static_cast<double>(h) - 1).view({n, h, 1}).expand({n, h, w});
    const auto grid = torch::stack({gx, gy}, 3).to(x.scalar_type());
    x = F::grid_sample(x, grid,
                       F::GridSampleFuncOptions()
                           .mode(torch::kBilinear)
                           .padding_mode(p.reflect_padding ? F::GridSampleFuncOptions::padding_mode_t(torch::kReflection)
                                                           : F::GridSampleFuncOptions::padding_mode_t(torch::kZeros))
                           .align_corners(false));
  }
  if (p.cutout) {
    const auto cx = coverage(q.cut_x0, q.cut_x1, w);  // [N, W]
    const auto cy = coverage(q.cut_y0, q.cut_y1, h);  // [N, H]
    const auto mask = 1 - cy.unsqueeze(2) * cx.unsqueeze(1);  // [N, H, W]
    x = x * mask.unsqueeze(1).to(x.scalar_type());
  }
  return x;
}

}  // namespace

std::vector<torch::Tensor> augment_pyramid(const std::vector<torch::Tensor>& levels, const AugmentPolicy& policy,
                                           c10::optional<torch::Generator> generator) {
  if (levels.empty() || !policy.any()) return levels;
  const int64_t n = levels[0].size(0);
  int64_t ref_h = 0, ref_w = 0;
  for (const auto& x : levels) {
    check_shape(x, {n, -1, -1, -1}, "augment_pyramid level");
    ref_h = std::max(ref_h, x.size(2));
    ref_w = std::max(ref_w, x.size(3));
  }
  const Params q = draw(n, ref_h, ref_w, policy, generator, levels[0].device());
  std::vector<torch::Tensor> out;
  out.reserve(levels.size());
  for (const auto& x : levels) out.push_back(apply(x, q, policy, ref_h, ref_w));
  return out;
}

torch::Tensor diff_augment(const torch::Tensor& x, const AugmentPolicy& policy,
                           c10::optional<torch::Generator> generator) {
  // x: [N, C, H, W] -> [N, C, H, W]
  check_shape(x, {-1, -1, -1, -1}, "diff_augment input");
  return augment_pyramid({x}, policy, generator)[0];
}

torch::Tensor gaussian_blur(const torch::Tensor& x, const torch::Tensor& sigma) {
  TORCH_CHECK(x.dim() == 4, "gaussian_blur: x must be [N, C, H, W], got ", x.sizes());
  TORCH_CHECK(sigma.dim() == 1 && sigma.size(0) == x.size(0), "gaussian_blur: sigma must be [", x.size(0), "], got ",
              sigma.sizes());
  const auto s = sigma.to(torch::kCPU, torch::kFloat64);
  const double max_sigma = s.numel() ? s.max().item<double>() : 0.0;
  TORCH_CHECK(s.numel() == 0 || (s.min().item<double>() >= 0 && max_sigma <= 8),
              "gaussian_blur: sigma must be in [0, 8] px");
  const int64_t r = static_cast<int64_t>(std::ceil(3 * max_sigma));
  if (r == 0) return x;
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  TORCH_CHECK(r < h && r < w, "gaussian_blur: radius ", r, " px must be below the image size ", h, "x", w);
  // Kernels [N, 2r + 1]; sigma 0 is a unit impulse.
  const auto t = torch::arange(-r, r + 1, torch::kFloat64).view({1, -1});
  auto k = torch::exp(-t.pow(2) / (2 * s.clamp_min(1e-6).pow(2).view({-1, 1})));
  k = (k / k.sum(1, true)).to(x.options());
  k = k.repeat_interleave(c, 0);  // [N * C, 2r + 1], channel-major within an image
  auto y = x.reshape({1, n * c, h, w});
  y = F::pad(y, F::PadFuncOptions({r, r, 0, 0}).mode(torch::kReflect));
  y = F::conv2d(y, k.view({n * c, 1, 1, 2 * r + 1}), F::Conv2dFuncOptions().groups(n * c));
  y = F::pad(y, F::PadFuncOptions({0, 0, r, r}).mode(torch::kReflect));
  y = F::conv2d(y, k.view({n * c, 1, 2 * r + 1, 1}), F::Conv2dFuncOptions().groups(n * c));
  return y.view({n, c, h, w});
}

}  // namespace gg

// Differentiable augmentation for small datasets, applied to real and fake
// images alike before the discriminator (gradients flow through it to G).
// Ref: Zhao, Liu, Lin, Zhu, Han, "Differentiable Augmentation for
// Data-Efficient GAN Training", NeurIPS 2020 (DiffAugment: color, translation
// 1/8, cutout 1/2, in that order).
//
// GigaGAN's discriminator sees image pyramids (multi-scale input, Kang et al. 2023),
// so augment_pyramid draws ONE set of parameters per sample and applies the
// same transform to every level, scaled to its resolution:
//  - color: brightness + (u - 0.5), saturation x 2u, contrast x (u + 0.5), as
//    DiffAugment. These are per-pixel affine maps and channel / image means, so
//    they commute exactly with the 2x2 average that builds a pyramid.
//  - translation: an integer shift of up to ratio * side pixels at the largest
//    level (as DiffAugment), i.e. a fraction of the image size; a level of side
//    s is shifted by the same fraction (shift * s / side pixels, bilinear for a
//    fractional shift). Uncovered pixels are 0 (DiffAugment's zero padding,
//    mid-grey in [-1, 1]) or reflected.
//  - cutout: a square of ratio * side pixels at a random position, zeroed
//    (DiffAugment); a smaller level zeroes the same square, a partially
//    covered pixel in proportion to its covered area (so the cutout mask of a
//    level is exactly the box average of the full-size mask).
// Device-agnostic: parameters are drawn on the generator's device (or, without
// a generator, from the default generator of the input's device) and moved to
// the input's device; everything else runs where the input is.
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

namespace gg {

struct AugmentPolicy {
  bool color = false, translation = false, cutout = false;
  double translation_ratio = 0.125;  // max shift, fraction of the side (DiffAugment: 1/8)
  double cutout_ratio = 0.5;         // cutout side, fraction of the side (DiffAugment: 1/2)
  bool reflect_padding = false;      // translation fill: false zeros (DiffAugment), true reflection

  // "color,translation,cutout" (any subset, any order, spaces ignored); ""
  // or "none": identity. Unknown names throw ConfigError listing the valid ones.
  static AugmentPolicy parse(const std::string& policy);
  std::string str() const;  // canonical "color,translation,cutout" form
  bool any() const { return color || translation || cutout; }
};

// x: [N, C, H, W] -> [N, C, H, W]. Differentiable w.r.t. x.
torch::Tensor diff_augment(const torch::Tensor& x, const AugmentPolicy& policy,
                           c10::optional<torch::Generator> generator = c10::nullopt);

// levels: {[N, C, H_0, W_0], [N, C, H_1, W_1], ...} (any order of sizes; the
// largest is the reference) -> the same shapes, one transform per sample
// shared by all levels.
std::vector<torch::Tensor> augment_pyramid(const std::vector<torch::Tensor>& levels, const AugmentPolicy& policy,
                                           c10::optional<torch::Generator> generator = c10::nullopt);

// Gaussian blur with one standard deviation per image (pixels; 0 leaves the
// image as it is): x [N, C, H, W], sigma [N] in [0, 8] -> [N, C, H, W].
// Separable, radius ceil(3 max sigma), kernel normalised to sum 1, borders
// reflected (the radius must be below H and W). A degradation of the
// upsampler's low-res input in training (as Real-ESRGAN, Wang et al., ICCVW
// 2021, blurs before downsampling), so that it learns to sharpen inputs softer
// than a box average of a real image: the base generator's.
torch::Tensor gaussian_blur(const torch::Tensor& x, const torch::Tensor& sigma);

}  // namespace gg

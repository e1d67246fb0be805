// Metrics of `gigagan eval`, computed with an evaluator CLIP that never
// served in a loss: Frechet distance between CLIP image embeddings (FD-CLIP),
// CLIP score, R-precision, and the two emoji probes (style follows the
// prompt; coarse/fine style mixing). Ref: issue 3 "Observability", issue 4
// "Quality bar"; Heusel et al. 2017 (Frechet distance); Hessel et al. 2021
// (CLIPScore); Xu et al. 2018 (R-precision).
#pragma once
#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

#include "dataset.h"

namespace gg {

// Frechet distance between Gaussians fitted to a [N, D] and b [M, D]:
// |mu_a - mu_b|^2 + tr(C_a + C_b - 2 (C_a^1/2 C_b C_a^1/2)^1/2), in float64,
// matrix square roots by symmetric eigendecomposition (negative eigenvalues
// from rounding clamp to 0).
double frechet_distance(const torch::Tensor& a, const torch::Tensor& b);

// Mean over rows of 100 * max(cos(image_i, text_i), 0); unit-norm inputs [N, P].
double clip_score(const torch::Tensor& image, const torch::Tensor& text);

// Fraction of images whose own caption ranks first among `candidates` captions
// (its own and candidates-1 others drawn from `pool`, distinct texts, seeded).
// encode: captions -> unit-norm text embeddings [K, P].
double r_precision(const torch::Tensor& image, const std::vector<std::string>& captions,
                   const std::vector<std::string>& pool,
                   const std::function<torch::Tensor(const std::vector<std::string>&)>& encode, int candidates = 100,
                   uint64_t seed = 0);

// caption_style and with_style (dataset.h) read and replace a caption's style word.
// The caption with "noto" and "twemoji" swapped, or "" when it names neither.
std::string other_style_caption(const std::string& caption);

// Style probe: over the images whose caption names noto or twemoji, the share
// whose embedding scores its own caption above the same caption in the other
// style. image: [N, P] (row i for captions[i]); encode: captions -> [M, P].
struct StyleProbe {
  double rate = 0;
  int64_t count = 0;  // images probed (0: none named noto or twemoji; rate 0)
};
StyleProbe style_accuracy(const torch::Tensor& image, const std::vector<std::string>& captions,
                          const std::function<torch::Tensor(const std::vector<std::string>&)>& encode);

}  // namespace gg

// GAN inversion: find the latent that makes the generator reproduce a given
// image, in W (one w for every layer) or W+ (one w per layer), by Adam on
//   |G(w) - x|^2 + clip_weight * (1 - cos(E_img(G(w)), E_img(x)))
// with the prompt's text conditioning held fixed, starting from the prompt's
// mean w (StyleGAN2's projector: learning-rate ramp-up and cosine ramp-down).
// Optional pivotal tuning (PTI) then fine-tunes the synthesis weights around
// the found latent. The result is a Source (prompt + latent) that every other
// edit accepts.
// Ref: Karras et al. 2020 (StyleGAN2) Sec. 5 / projector.py; Abdal et al. 2019
// (Image2StyleGAN: W+); Roich et al. 2021 (PTI); Kang et al. 2023 Sec. 4.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <string>

#include "engine.h"

namespace gg {

struct InversionProgress {
  std::string phase;  // "latent" or "pti"
  int step = 0, steps = 0;
  double loss = 0, mse = 0;
};

struct InversionOptions {
  std::string prompt;          // text conditioning (required)
  bool w_plus = false;         // W+ (per layer) instead of W
  int steps = 300;             // Adam steps on the latent
  double lr = 0.05;            // peak learning rate for the latent
  double clip_weight = 0.1;    // weight of the CLIP image-feature loss (0 = pixels only)
  int pti_steps = 0;           // > 0: pivotal tuning of the synthesis weights afterwards
  double pti_lr = 3e-4;
  int mean_w_samples = 4096;
  // Called every step; return false to stop early (the best latent so far is kept).
  std::function<bool(const InversionProgress&)> progress;
};

struct InversionResult {
  Source source;             // prompt + latent (seed 0, psi 1)
  Recipe recipe;             // renders the reconstruction (stamped with the engine's model, PTI included)
  torch::Tensor reconstruction;  // [3, R, R] in [-1, 1], rendered from `recipe`
  double mse = 0;            // mean squared error vs the target, pixels in [-1, 1]
  double psnr = 0;           // dB, on the [0, 1] scale
  double mean_w_mse = 0;     // the same error for the prompt's mean w (where the search starts)
  double mse_before_pti = 0; // equals mse without PTI
  double seconds_latent = 0, seconds_pti = 0;
  int steps = 0;             // latent steps actually run
};

// target: [3, R, R] in [-1, 1] at the generator's resolution (image_io.h's
// read_image resizes). Throws PromptError for an empty prompt, ShapeError for a
// target of the wrong size. PTI leaves the engine with tuned weights (see
// Engine::model_hash, Engine::restore_weights).
InversionResult invert(Engine& engine, const torch::Tensor& target, const InversionOptions& options);

}  // namespace gg

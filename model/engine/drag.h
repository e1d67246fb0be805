// Drag-based point editing: grab points of a rendered image and move them to
// targets by optimising the W+ latent of the first synthesis slots (DragGAN:
// Pan et al., SIGGRAPH 2023, Sec. 3). Each step
//   1. renders the generator's features F up to a feature slot (bilinearly
//      resized to the image's resolution);
//   2. point tracking (Sec. 3.3): every handle moves to the pixel of a square
//      window of radius r2 around it whose feature is nearest (L2) to the
//      handle's feature in the starting image;
//   3. motion supervision (Sec. 3.2, Eq. 1): for the pixels q of a disk of
//      radius r1 around each handle p,
//        L = sum_q |F(q + d) - sg(F(q))|_1 + lambda |(F - F0) * (1 - M)|_1,
//      d the unit vector from p to its target, F(.) bilinear, sg stop-gradient,
//      M the mask of the region allowed to move, F0 the starting features
//      (both terms as means over pixels and channels, as DragGAN's code);
//      one Adam step on the optimised slots of w.
// Text stays fixed: the recipe's t_local per slot (and its t_global, through
// the recipe) are inputs. The result is a recipe with the W+ latent inside,
// so every other edit (mix, interpolate, render) accepts it like an inverted
// latent.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

#include "engine.h"

namespace gg {

// A point of the generator's image in pixels: x to the right, y down, (0, 0)
// the centre of the top-left pixel.
struct DragPoint {
  double x = 0, y = 0;
};

// A handle point and where it should go.
struct DragPair {
  DragPoint handle, target;
};

struct DragProgress {
  int step = 0, steps = 0;            // Adam steps done so far / at most
  double loss = 0;                    // the loss of this step (0 at step 0 and when nothing moved)
  std::vector<DragPoint> handles;     // tracked handle positions in the image of `ws`
  torch::Tensor ws;                   // the current latent [1, num_ws, w_dim] (detached; render it to show it)
};

struct DragOptions {
  std::vector<DragPair> points;       // at least one
  // [R, R] at the generator's resolution, > 0.5 where the image may move; an
  // undefined tensor lets everything move (no L1 term).
  torch::Tensor mask;
  // The slot whose output are the features F (a LayerTable name or index, one
  // slot); empty = the last slot of the level at half the resolution (DragGAN
  // uses StyleGAN2's 6th block, at a quarter of 512 px).
  std::string feature_layer;
  // The W+ slots optimised (LayerTable names); empty = every slot up to the
  // feature slot (coarse and middle on a 64 px model). Slots after the feature
  // slot get no gradient and are refused.
  std::string layers;
  int steps = 200;                    // Adam steps at most
  double lr = 4e-3;                   // Adam learning rate of the latent
  double mask_weight = 20;            // lambda of Eq. 1 (DragGAN: 20)
  double r1 = 0;                      // motion supervision radius in px; 0 = max(2, R / 32)
  double r2 = 0;                      // tracking window radius in px; 0 = max(3, R / 16)
  double done_distance = 1;           // px: a handle this close to its target stops pulling; all close -> done
  // Called after the tracking of every step (and once at step 0 with the
  // starting image); return false to stop (the current latent is kept).
  std::function<bool(const DragProgress&)> progress;
};

struct DragResult {
  Recipe recipe;                  // renders the result (stamped with the engine's model; the latent inside)
  Source source;                  // the prompt of source 0 with the W+ latent (for other edits)
  torch::Tensor image;            // [3, R, R] in [-1, 1], rendered from `recipe` (the generator's image)
  torch::Tensor upsampled;        // [3, R_up, R_up] when the recipe upsamples, else undefined
  std::vector<DragPoint> handles; // tracked handle positions in `image`
  int steps = 0;                  // Adam steps run
  bool reached = false;           // every handle within done_distance of its target
  bool stopped = false;           // progress returned false
  double seconds = 0;
};

// Drags the points of `start`'s image (rendered by `engine`; any recipe it
// renders). Throws ConfigError naming the bad option (a point outside the
// image, a layer after the feature slot, steps < 0), ShapeError for a mask of
// the wrong size.
DragResult drag(Engine& engine, const Recipe& start, const DragOptions& options);

// A recipe rendering `start` with the generator's per-slot w replaced by the
// W+ latent `ws` [num_ws, w_dim] (CPU float32); text, upsampler and noise as in
// `start`. Directions are baked into `ws` (kept for the upsampler only).
Recipe with_w_plus(const Recipe& start, const torch::Tensor& ws, const LayerTable& layers);

namespace drag_detail {

// The output of synthesis slot `slot`: ws [N, num_ws, w_dim], t_locals
// [N, num_ws, C-1, text_dim] -> [N, C, r, r]; blocks after `slot` are not run.
torch::Tensor slot_features(Generator& G, const torch::Tensor& ws, const torch::Tensor& t_locals, int slot);
// Features at points: F [1, C, H, W], xy [P, 2] in pixels -> [P, C], bilinear,
// clamped at the border.
torch::Tensor sample(const torch::Tensor& F, const torch::Tensor& xy);
// Nearest neighbour of `ref` [C] among the pixels of F [1, C, H, W] in the
// square window of radius r2 around round(p) (clipped to the image); ties go
// to the first pixel in row-major order.
DragPoint track(const torch::Tensor& F, const torch::Tensor& ref, DragPoint p, int r2);
// Motion supervision term of Eq. 1 for one handle: mean over the disk's pixels
// q (offsets o, |o| <= r1, from p) and channels of |F(q + d) - sg(F(q))|, d the
// unit vector from p to t.
torch::Tensor motion_loss(const torch::Tensor& F, DragPoint p, DragPoint t, double r1);

}  // namespace drag_detail

}  // namespace gg

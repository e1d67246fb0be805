// Several linear FullyConnectedLayers on the same input as ONE GEMM, without
// gradients: attention's key/value projections, which at batch 1 are small
// GEMMs whose per-call cost is a good part of their time. The concatenated
// weight (gains folded in) is built on first use and rebuilt when any weight
// or bias changes (version counter, storage, device), as AdaptiveConv2d's
// inference cache. When gradients are wanted, or a weight is an inference
// tensor (no version counter), each layer runs on its own as before.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <mutex>
#include <vector>

#include "layers.h"

namespace gg {

class FusedProjection {
 public:
  // gains: layer k's output is gains[k] * layers[k](x) (forward_scaled; default 1).
  explicit FusedProjection(std::vector<FullyConnectedLayer> layers, std::vector<double> gains = {});
  // x: [..., in] -> one [..., out_k] per layer, in order (views of one
  // output when fused).
  std::vector<torch::Tensor> forward(const torch::Tensor& x);
  // x: [..., in] -> [..., sum out_k], the layers' outputs side by side. With
  // `out` (that shape) the result is written there (directly by the GEMM
  // when out is contiguous) and returned.
  torch::Tensor forward_cat(const torch::Tensor& x, torch::Tensor out = {});

 private:
  bool fusable() const;
  torch::Tensor fused(const torch::Tensor& x, torch::Tensor out);
  std::vector<FullyConnectedLayer> layers_;
  std::vector<double> gains_;
  std::mutex mutex_;
  torch::Tensor weight_, bias_;   // [sum out, in] * gain, [sum out] * gain
  std::vector<int64_t> key_;      // versions of every weight and bias
  std::vector<const void*> data_;  // and their storages
};

}  // namespace gg

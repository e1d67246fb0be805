// Parameter creation. Every network in model/ creates its parameters and
// buffers through new_tensor(), so that inside a MetaScope the whole model is
// built on the meta device: shapes exist, no memory is allocated, and
// in-place initialisers are no-ops. Used by `gigagan info` for the paper sizes.
#pragma once
#include <torch/torch.h>

#include <cstdint>

namespace gg {

class MetaScope {
 public:
  MetaScope();
  ~MetaScope();
  MetaScope(const MetaScope&) = delete;
  MetaScope& operator=(const MetaScope&) = delete;
  static bool active();

 private:
  bool previous_;
};
torch::Tensor new_tensor(at::IntArrayRef sizes);  // float32, uninitialised
torch::Tensor new_randn(at::IntArrayRef sizes, double std = 1.0);
torch::Tensor new_zeros(at::IntArrayRef sizes);
torch::Tensor new_full(at::IntArrayRef sizes, double value);

int64_t count_parameters(const torch::nn::Module& m, bool trainable_only = false);

}  // namespace gg

// Adam / AdamW over a fixed list of named parameters, with its state as plain
// named tensors so a training checkpoint stores it exactly (resume is exact)
// and a NaN rollback can lower the learning rate in place.
// Ref: Kingma & Ba 2015 (Adam, Algorithm 1); Loshchilov & Hutter 2019 (decoupled
// weight decay); StyleGAN2 uses betas (0, 0.99), eps 1e-8.
#pragma once
#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

#include "checkpoint.h"

namespace gg {

struct AdamOptions {
  double lr = 2e-3;
  double beta1 = 0.0;
  double beta2 = 0.99;
  double eps = 1e-8;
  double weight_decay = 0.0;  // decoupled (AdamW), applied to `decayed` parameters only
};

class Adam {
 public:
  // params: (name, tensor) pairs, requires_grad; names key the state in checkpoints.
  // decayed: names that get weight decay (empty: none).
  Adam(std::vector<std::pair<std::string, torch::Tensor>> params, AdamOptions options,
       const std::vector<std::string>& decayed = {});

  // One update from the parameters' .grad (a parameter without grad is skipped).
  void step();
  void zero_grad();
  // True when every gradient is finite (checked before step() by the trainer).
  bool grads_finite() const;
  // Sum of squared gradient norms (for logs).
  double grad_norm() const;

  AdamOptions options;
  int64_t steps() const { return step_; }

  // State as "<prefix>step", "<prefix>m.<name>", "<prefix>v.<name>".
  void save(TensorMap& into, const std::string& prefix) const;
  // Throws CheckpointError naming the missing or misshaped tensor.
  void load(const TensorMap& from, const std::string& prefix, const std::string& source);

  const std::vector<std::pair<std::string, torch::Tensor>>& params() const { return params_; }
  // The state tensors themselves (m then v per parameter), for broadcasting.
  std::vector<torch::Tensor> state_tensors() const;
  void set_steps(int64_t steps) { step_ = steps; }

 private:
  std::vector<std::pair<std::string, torch::Tensor>> params_;
  std::vector<bool> decay_;
  std::vector<torch::Tensor> m_, v_;
  int64_t step_ = 0;
};

// Named trainable parameters of a module (requires_grad only), with a prefix.
std::vector<std::pair<std::string, torch::Tensor>> trainable_parameters(const torch::nn::Module& m,
                                                                        const std::string& prefix = "");

}  // namespace gg

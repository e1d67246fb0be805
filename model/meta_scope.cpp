#include "meta_scope.h"

namespace gg {

namespace {
thread_local bool t_meta = false;

torch::TensorOptions param_options() {
  return torch::TensorOptions().dtype(torch::kFloat32).device(t_meta ? torch::kMeta : torch::kCPU);
}
}  // namespace

MetaScope::MetaScope() : previous_(t_meta) { t_meta = true; }
MetaScope::~MetaScope() { t_meta = previous_; }
bool MetaScope::active() { return t_meta; }

torch::Tensor new_tensor(at::IntArrayRef sizes) { return torch::empty(sizes, param_options()); }
torch::Tensor new_randn(at::IntArrayRef sizes, double std) {
  auto t = new_tensor(sizes);
  if (!t_meta) t.normal_(0.0, std);
  return t;
}
torch::Tensor new_zeros(at::IntArrayRef sizes) {
  auto t = new_tensor(sizes);
  if (!t_meta) t.zero_();
  return t;
}
torch::Tensor new_full(at::IntArrayRef sizes, double value) {
  auto t = new_tensor(sizes);
  if (!t_meta) t.fill_(value);
  return t;
}

int64_t count_parameters(const torch::nn::Module& m, bool trainable_only) {
  int64_t n = 0;
  for (const auto& p : m.parameters(/*recurse=*/true))
    if (!trainable_only || p.requires_grad()) n += p.numel();
  return n;
}

}  // namespace gg

#include "adam.h"

#include <cmath>
#include <set>

#include "errors.h"

namespace gg {

Adam::Adam(std::vector<std::pair<std::string, torch::Tensor>> params, AdamOptions opts,
           const std::vector<std::string>& decayed)
    : options(opts), params_(std::move(params)) {
  std::set<std::string> decay(decayed.begin(), decayed.end());
  for (const auto& [name, p] : params_) {
    decay_.push_back(decay.count(name) > 0);
    m_.push_back(torch::zeros_like(p, torch::MemoryFormat::Preserve));
    v_.push_back(torch::zeros_like(p, torch::MemoryFormat::Preserve));
  }
}

void Adam::step() {
  torch::NoGradGuard no_grad;
  ++step_;
  const double b1 = options.beta1, b2 = options.beta2;
  const double bc1 = 1.0 - std::pow(b1, static_cast<double>(step_));
  const double bc2 = 1.0 - std::pow(b2, static_cast<double>(step_));
  const double step_size = options.lr / bc1;
  const double bc2_sqrt = std::sqrt(bc2);
  for (size_t i = 0; i < params_.size(); ++i) {
    torch::Tensor p = params_[i].second;
    const torch::Tensor& g = p.grad();
    if (!g.defined()) continue;
    if (decay_[i] && options.weight_decay > 0) p.mul_(1.0 - options.lr * options.weight_decay);
    m_[i].mul_(b1).add_(g, 1.0 - b1);
    v_[i].mul_(b2).addcmul_(g, g, 1.0 - b2);
    torch::Tensor denom = (v_[i].sqrt() / bc2_sqrt).add_(options.eps);
    p.addcdiv_(m_[i], denom, -step_size);
  }
}

void Adam::zero_grad() {
  for (auto& [name, p] : params_) {
    if (p.grad().defined()) p.mutable_grad() = torch::Tensor();
  }
}

bool Adam::grads_finite() const {
  for (const auto& [name, p] : params_) {
    if (p.grad().defined() && !torch::isfinite(p.grad()).all().item<bool>()) return false;
  }
  return true;
}

double Adam::grad_norm() const {
  double total = 0;
  for (const auto& [name, p] : params_)
    if (p.grad().defined()) total += p.grad().pow(2).sum().item<double>();
  return std::sqrt(total);
}

void Adam::save(TensorMap& into, const std::string& prefix) const {
  into[prefix + "step"] = torch::tensor({step_}, torch::kInt64);
  for (size_t i = 0; i < params_.size(); ++i) {
    into[prefix + "m." + params_[i].first] = m_[i].detach().cpu();
    into[prefix + "v." + params_[i].first] = v_[i].detach().cpu();
  }
}

void Adam::load(const TensorMap& from, const std::string& prefix, const std::string& source) {
  auto get = [&](const std::string& name) -> const torch::Tensor& {
    auto it = from.find(name);
    if (it == from.end())
      throw CheckpointError("'" + source + "' has no optimiser state '" + name +
                            "' (was it written by another model or trainer version?)");
    return it->second;
  };
  const torch::Tensor& step = get(prefix + "step");
  step_ = step.to(torch::kInt64).item<int64_t>();
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    for (auto* state : {&m_, &v_}) {
      const std::string name = prefix + (state == &m_ ? "m." : "v.") + params_[i].first;
      const torch::Tensor& t = get(name);
      if (t.sizes() != (*state)[i].sizes())
        throw CheckpointError("'" + source + "': optimiser state '" + name + "' has shape " +
                              c10::str(t.sizes()) + ", expected " + c10::str((*state)[i].sizes()));
      (*state)[i].copy_(t);
    }
  }
}

std::vector<torch::Tensor> Adam::state_tensors() const {
  std::vector<torch::Tensor> out;
  for (size_t i = 0; i < params_.size(); ++i) {
    out.push_back(m_[i]);
    out.push_back(v_[i]);
  }
  return out;
}

std::vector<std::pair<std::string, torch::Tensor>> trainable_parameters(const torch::nn::Module& m,
                                                                        const std::string& prefix) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& item : m.named_parameters(/*recurse=*/true))
    if (item.value().requires_grad()) out.emplace_back(prefix + item.key(), item.value());
  return out;
}

}  // namespace gg

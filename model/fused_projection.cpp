#include "fused_projection.h"

namespace gg {

FusedProjection::FusedProjection(std::vector<FullyConnectedLayer> layers, std::vector<double> gains)
    : layers_(std::move(layers)), gains_(std::move(gains)) {
  if (gains_.empty()) gains_.assign(layers_.size(), 1.0);
  if (gains_.size() != layers_.size()) throw ShapeError("FusedProjection: one gain per layer");
}

bool FusedProjection::fusable() const {
  // Fused only without gradients for the weights: the concatenated copy is
  // not a view, so a gradient through it would never reach the layers.
  if (layers_.size() < 2) return false;
  for (const auto& fc : layers_) {
    if (fc->activation != Activation::Linear || fc->in_features != layers_[0]->in_features || fc->weight.is_meta())
      return false;
    for (const auto* p : {&fc->weight, &fc->bias})
      if (p->defined() && (p->is_inference() || (torch::GradMode::is_enabled() && p->requires_grad()))) return false;
  }
  return true;
}

std::vector<torch::Tensor> FusedProjection::forward(const torch::Tensor& x) {
  std::vector<torch::Tensor> out;
  if (!fusable()) {
    for (size_t k = 0; k < layers_.size(); ++k) out.push_back(layers_[k]->forward_scaled(x, gains_[k]));
    return out;
  }
  const auto y = fused(x, {});
  int64_t at = 0;
  for (const auto& fc : layers_) {
    out.push_back(y.narrow(-1, at, fc->out_features));
    at += fc->out_features;
  }
  return out;
}

torch::Tensor FusedProjection::forward_cat(const torch::Tensor& x, torch::Tensor out) {
  if (fusable()) return fused(x, out);
  std::vector<torch::Tensor> parts;
  for (size_t k = 0; k < layers_.size(); ++k) parts.push_back(layers_[k]->forward_scaled(x, gains_[k]));
  auto y = torch::cat(parts, -1);
  return out.defined() ? out.copy_(y) : y;
}

torch::Tensor FusedProjection::fused(const torch::Tensor& x, torch::Tensor out) {
  torch::Tensor w, b;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<int64_t> key;
    std::vector<const void*> data;
    for (const auto& fc : layers_)
      for (const auto* p : {&fc->weight, &fc->bias})
        if (p->defined()) {
          key.push_back(p->_version());
          data.push_back(p->data_ptr());
        }
    if (!weight_.defined() || key != key_ || data != data_ || weight_.device() != x.device()) {
      // Normal tensors even when built inside InferenceMode: a later call with
      // gradients for x (inversion) saves the weight for backward.
      c10::InferenceMode normal_tensors(false);
      torch::NoGradGuard no_grad;
      std::vector<torch::Tensor> ws, bs;
      for (size_t k = 0; k < layers_.size(); ++k) {
        const auto& fc = layers_[k];
        ws.push_back(fc->weight.detach() * (fc->weight_gain * gains_[k]));
        bs.push_back(fc->bias.defined() ? fc->bias.detach() * (fc->bias_gain * gains_[k])
                                        : torch::zeros({fc->out_features}, fc->weight.options()));
      }
      weight_ = torch::cat(ws).to(x.device());
      bias_ = torch::cat(bs).to(x.device());
      key_ = std::move(key);
      data_ = std::move(data);
    }
    w = weight_;
    b = bias_;
  }
  const int64_t in = layers_[0]->in_features;
  if (!x.defined() || x.dim() < 1 || x.size(-1) != in)
    throw ShapeError("FusedProjection: expected [..., " + std::to_string(in) + "], got " +
                     (x.defined() ? shape_str(x.sizes()) : std::string("undefined")));
  count_matmul_flops(1, x.numel() / in, in, w.size(0));
  auto sizes = x.sizes().vec();
  sizes.back() = w.size(0);
  if (!out.defined()) return torch::addmm(b, x.reshape({-1, in}), w.t()).view(sizes);
  if (out.sizes().vec() != sizes)
    throw ShapeError("FusedProjection: out must be " + shape_str(sizes) + ", got " + shape_str(out.sizes()));
  // The GEMM writes into out only without a gradient for x (out= ops are not
  // differentiable; inversion's x needs one) and when out is contiguous.
  if (!out.is_contiguous() || (torch::GradMode::is_enabled() && x.requires_grad()))
    return out.copy_(torch::addmm(b, x.reshape({-1, in}), w.t()).view(sizes));
  auto out2 = out.view({-1, w.size(0)});
  torch::addmm_out(out2, b, x.reshape({-1, in}), w.t());
  return out;
}

}  // namespace gg

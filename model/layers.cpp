#include "layers.h"

#include <cmath>
#include <sstream>

namespace gg {

namespace {
thread_local bool t_meta = false;
thread_local FlopCounter* t_counter = nullptr;

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

std::string shape_str(at::IntArrayRef s) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << "]";
  return os.str();
}

void check_shape(const torch::Tensor& t, std::initializer_list<int64_t> expected,
                 const char* what) {
  bool ok = t.defined() && t.dim() == static_cast<int64_t>(expected.size());
  if (ok) {
    int64_t i = 0;
    for (int64_t e : expected) {
      if (e >= 0 && t.size(i) != e) ok = false;
      ++i;
    }
  }
  if (!ok) {
    std::ostringstream os;
    os << what << ": expected shape [";
    int64_t i = 0;
    for (int64_t e : expected) os << (i++ ? ", " : "") << (e < 0 ? std::string("*") : std::to_string(e));
    os << "], got " << (t.defined() ? shape_str(t.sizes()) : std::string("an undefined tensor"));
    throw ShapeError(os.str());
  }
}

void check_dim(const torch::Tensor& t, int64_t dim, const char* what) {
  if (!t.defined() || t.dim() != dim)
    throw ShapeError(std::string(what) + ": expected a " + std::to_string(dim) + "-D tensor, got " +
                     (t.defined() ? shape_str(t.sizes()) : std::string("an undefined tensor")));
}

FlopCounter::FlopCounter() : previous_(t_counter) { t_counter = this; }
FlopCounter::~FlopCounter() { t_counter = previous_; }
void FlopCounter::add(double f) {
  for (FlopCounter* c = t_counter; c; c = c->previous_) c->flops_ += f;
}
void count_conv_flops(int64_t n, int64_t c_out, int64_t c_in, int64_t k, int64_t h_out,
                      int64_t w_out) {
  if (t_counter) FlopCounter::add(2.0 * n * c_out * c_in * k * k * h_out * w_out);
}
void count_matmul_flops(int64_t batch, int64_t m, int64_t k, int64_t n) {
  if (t_counter) FlopCounter::add(2.0 * batch * m * k * n);
}

Activation parse_activation(const std::string& s) {
  if (s == "linear") return Activation::Linear;
  if (s == "lrelu") return Activation::LReLU;
  if (s == "gelu") return Activation::GELU;
  if (s == "quick_gelu") return Activation::QuickGELU;
  throw ConfigError("unknown activation '" + s + "' (expected linear, lrelu, gelu or quick_gelu)");
}

torch::Tensor apply_activation(const torch::Tensor& x, Activation a) {
  switch (a) {
    case Activation::Linear: return x;
    case Activation::LReLU: return torch::leaky_relu(x, 0.2) * std::sqrt(2.0);
    case Activation::GELU: return torch::gelu(x);
    case Activation::QuickGELU: return x * torch::sigmoid(1.702 * x);
  }
  return x;
}
double activation_gain(Activation a) { return a == Activation::LReLU ? std::sqrt(2.0) : 1.0; }

FullyConnectedLayerImpl::FullyConnectedLayerImpl(int64_t in, int64_t out, bool has_bias,
                                                 Activation act, double lr_mul, double bias_init)
    : in_features(in),
      out_features(out),
      activation(act),
      weight_gain(lr_mul / std::sqrt(static_cast<double>(in))),
      bias_gain(lr_mul) {
  weight = register_parameter("weight", new_randn({out, in}, 1.0 / lr_mul));
  if (has_bias) bias = register_parameter("bias", new_full({out}, bias_init / lr_mul));
}

torch::Tensor FullyConnectedLayerImpl::forward(const torch::Tensor& x) { return forward_scaled(x, 1.0); }

torch::Tensor FullyConnectedLayerImpl::forward_scaled(const torch::Tensor& x, double gain) {
  if (!x.defined() || x.dim() < 1 || x.size(-1) != in_features)
    throw ShapeError("FullyConnectedLayer: expected [..., " + std::to_string(in_features) +
                     "], got " + (x.defined() ? shape_str(x.sizes()) : std::string("undefined")));
  if (gain < 0) return forward_scaled(x, 1.0) * gain;  // lrelu(g v) == g lrelu(v) needs g >= 0
  count_matmul_flops(1, x.numel() / in_features, in_features, out_features);
  // The equalized-lr gains scale the GEMM's alpha/beta instead of the weight
  // and bias (two full passes over the weight per call otherwise). lrelu(g v)
  // == g lrelu(v) for g >= 0, so lrelu's sqrt 2 joins them and the activation
  // runs in place on the GEMM's fresh output.
  const bool fold_act = activation == Activation::LReLU || activation == Activation::Linear;
  const double g = gain * (fold_act ? activation_gain(activation) : 1.0);
  auto x2 = x.reshape({-1, in_features});
  auto y = bias.defined()
               ? torch::addmm(bias, x2, weight.t(), /*beta=*/bias_gain * g, /*alpha=*/weight_gain * g)
               : torch::mm(x2, weight.t()).mul_(weight_gain * g);
  if (activation == Activation::LReLU) torch::leaky_relu_(y, 0.2);
  auto sizes = x.sizes().vec();
  sizes.back() = out_features;
  y = y.view(sizes);
  if (fold_act) return y;
  y = apply_activation(y, activation);
  return gain == 1.0 ? y : y * gain;
}

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

Conv2dLayerImpl::Conv2dLayerImpl(int64_t in, int64_t out, int64_t k, bool has_bias,
                                 Activation act, int up_, int down_, double lr_mul)
    : in_channels(in),
      out_channels(out),
      kernel_size(k),
      activation(act),
      up(up_),
      down(down_),
      weight_gain(lr_mul / std::sqrt(static_cast<double>(in * k * k))),
      bias_gain(lr_mul) {
  if (up != 1 && up != 2) throw ConfigError("Conv2dLayer: up must be 1 or 2");
  if (down != 1 && down != 2) throw ConfigError("Conv2dLayer: down must be 1 or 2");
  weight = register_parameter("weight", new_randn({out, in, k, k}, 1.0 / lr_mul));
  if (has_bias) bias = register_parameter("bias", new_zeros({out}));
}

torch::Tensor Conv2dLayerImpl::forward(const torch::Tensor& x_in) {
  check_shape(x_in, {-1, in_channels, -1, -1}, "Conv2dLayer input");
  auto x = up == 2 ? upsample2x(x_in) : x_in;
  count_conv_flops(x.size(0), out_channels, in_channels, kernel_size, x.size(2), x.size(3));
  x = torch::conv2d(x, weight * weight_gain, bias.defined() ? bias * bias_gain : torch::Tensor(),
                    /*stride=*/1, /*padding=*/kernel_size / 2);
  if (down == 2) x = downsample2x(x);
  return apply_activation(x, activation);
}

LayerNormImpl::LayerNormImpl(int64_t d, double e, bool affine) : dim(d), eps(e) {
  if (affine) {
    weight = register_parameter("weight", new_full({d}, 1.0));
    bias = register_parameter("bias", new_zeros({d}));
  }
}
torch::Tensor LayerNormImpl::forward(const torch::Tensor& x) {
  if (!x.defined() || x.dim() < 1 || x.size(-1) != dim)
    throw ShapeError("LayerNorm: expected [..., " + std::to_string(dim) + "], got " +
                     (x.defined() ? shape_str(x.sizes()) : std::string("undefined")));
  return torch::layer_norm(x, {dim}, weight, bias, eps);
}

LinearImpl::LinearImpl(int64_t in, int64_t out, bool has_bias) : in_features(in), out_features(out) {
  // torch.nn.Linear's default: kaiming_uniform(a=sqrt(5)) == U(-1/sqrt(in), 1/sqrt(in)).
  const double bound = 1.0 / std::sqrt(static_cast<double>(in));
  weight = register_parameter("weight", new_tensor({out, in}));
  if (!MetaScope::active()) weight.data().uniform_(-bound, bound);
  if (has_bias) {
    bias = register_parameter("bias", new_tensor({out}));
    if (!MetaScope::active()) bias.data().uniform_(-bound, bound);
  }
}
torch::Tensor LinearImpl::forward(const torch::Tensor& x) {
  if (!x.defined() || x.dim() < 1 || x.size(-1) != in_features)
    throw ShapeError("Linear: expected [..., " + std::to_string(in_features) + "], got " +
                     (x.defined() ? shape_str(x.sizes()) : std::string("undefined")));
  count_matmul_flops(1, x.numel() / in_features, in_features, out_features);
  return torch::linear(x, weight, bias);
}

torch::Tensor upsample2x(const torch::Tensor& x) {
  check_dim(x, 4, "upsample2x");
  return torch::upsample_bilinear2d(x, {x.size(2) * 2, x.size(3) * 2}, /*align_corners=*/false);
}
torch::Tensor downsample2x(const torch::Tensor& x) {
  check_dim(x, 4, "downsample2x");
  return torch::avg_pool2d(x, 2);
}
std::vector<torch::Tensor> image_pyramid(const torch::Tensor& x, int levels) {
  std::vector<torch::Tensor> out{x};
  for (int i = 1; i < levels; ++i) out.push_back(downsample2x(out.back()));
  return out;
}

}  // namespace gg

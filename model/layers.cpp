#include "layers.h"

#include <cmath>
#include <sstream>

namespace gg {

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

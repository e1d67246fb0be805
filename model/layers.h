// StyleGAN2's equalized-learning-rate layers and the other small layers every
// network is built from (activations, LayerNorm, plain Linear, 2x resampling).
// Parameter creation is in meta_scope.h, shape checks in shape_check.h, FLOP
// counting in flop_counter.h.
// Ref: StyleGAN2 (Karras et al. 2020) networks_stylegan2.py FullyConnectedLayer,
// Conv2dLayer; GigaGAN's mapping network keeps StyleGAN2's lr multiplier 0.01.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <initializer_list>
#include <mutex>
#include <string>
#include <vector>

#include "errors.h"
#include "flop_counter.h"
#include "meta_scope.h"
#include "shape_check.h"

namespace gg {

// ---------------------------------------------------------------------------
// Activations. lrelu with StyleGAN2's gain sqrt(2) keeps unit variance.
enum class Activation { Linear, LReLU, GELU, QuickGELU };
Activation parse_activation(const std::string& s);  // "linear"|"lrelu"|"gelu"|"quick_gelu"
torch::Tensor apply_activation(const torch::Tensor& x, Activation a);
double activation_gain(Activation a);  // sqrt(2) for lrelu, 1 otherwise

// ---------------------------------------------------------------------------
// Equalized-learning-rate linear layer (StyleGAN2 FullyConnectedLayer).
// weight ~ N(0, 1/lr_mul^2), runtime scale lr_mul/sqrt(in); bias * lr_mul.
struct FullyConnectedLayerImpl : torch::nn::Module {
  FullyConnectedLayerImpl(int64_t in_features, int64_t out_features, bool bias = true,
                          Activation activation = Activation::Linear,
                          double lr_multiplier = 1.0, double bias_init = 0.0);
  // x: [..., in] -> [..., out]
  torch::Tensor forward(const torch::Tensor& x);
  // x: [..., in] -> [..., out]: gain * forward(x) (any gain; >= 0 is the fast one), in the same one
  // GEMM (gain is folded into addmm's alpha/beta; lrelu is positively
  // homogeneous, so its sqrt 2 is folded too). Callers use it for residual
  // and logit scales instead of a separate multiply.
  torch::Tensor forward_scaled(const torch::Tensor& x, double gain);

  int64_t in_features, out_features;
  Activation activation;
  double weight_gain, bias_gain;
  torch::Tensor weight, bias;  // [out, in], [out]

};
TORCH_MODULE(FullyConnectedLayer);

// Equalized-learning-rate 2-D convolution with optional 2x up/down sampling
// (bilinear up before, average-pool down after; StyleGAN2 uses FIR filters,
// we use the separable [1,1] box / bilinear equivalents for simplicity).
struct Conv2dLayerImpl : torch::nn::Module {
  Conv2dLayerImpl(int64_t in_channels, int64_t out_channels, int64_t kernel_size,
                  bool bias = true, Activation activation = Activation::Linear,
                  int up = 1, int down = 1, double lr_multiplier = 1.0);
  // x: [N, C_in, H, W] -> [N, C_out, H*up/down, W*up/down]
  torch::Tensor forward(const torch::Tensor& x);

  int64_t in_channels, out_channels, kernel_size;
  Activation activation;
  int up, down;
  double weight_gain, bias_gain;
  torch::Tensor weight, bias;  // [C_out, C_in, k, k], [C_out]
};
TORCH_MODULE(Conv2dLayer);

// Channel LayerNorm for NCHW maps and token LayerNorm for [N, T, C]
// (parameters `weight` and `bias`, as torch.nn.LayerNorm names them).
struct LayerNormImpl : torch::nn::Module {
  explicit LayerNormImpl(int64_t dim, double eps = 1e-5, bool affine = true);
  // x: [..., dim] -> same
  torch::Tensor forward(const torch::Tensor& x);
  int64_t dim;
  double eps;
  torch::Tensor weight, bias;
};
TORCH_MODULE(LayerNorm);

// Plain (non-equalized) linear layer with torch.nn.Linear's names and init,
// created through new_tensor() so meta mode works. Used by CLIP.
struct LinearImpl : torch::nn::Module {
  LinearImpl(int64_t in_features, int64_t out_features, bool bias = true);
  // x: [..., in] -> [..., out]
  torch::Tensor forward(const torch::Tensor& x);
  int64_t in_features, out_features;
  torch::Tensor weight, bias;
};
TORCH_MODULE(Linear);

// 2x resampling helpers used between levels.
torch::Tensor upsample2x(const torch::Tensor& x);    // bilinear, align_corners=false
torch::Tensor downsample2x(const torch::Tensor& x);  // 2x2 average
// An image pyramid from the top image: {x, x/2, x/4, ...}, `levels` entries.
std::vector<torch::Tensor> image_pyramid(const torch::Tensor& x, int levels);

}  // namespace gg

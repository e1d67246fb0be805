// Building blocks shared by every network: parameter creation (with a meta
// mode that allocates nothing, for counting the paper-size models), shape
// checks, a FLOP counter, and StyleGAN2's equalized-learning-rate layers.
// Ref: StyleGAN2 (Karras et al. 2020) networks_stylegan2.py FullyConnectedLayer,
// Conv2dLayer; ../shared/GIGAGAN.md "Mapping".
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <initializer_list>
#include <mutex>
#include <string>
#include <vector>

#include "errors.h"

namespace gg {

// ---------------------------------------------------------------------------
// Parameter creation. Every network in model/ creates its parameters and
// buffers through new_tensor(), so that inside a MetaScope the whole model is
// built on the meta device: shapes exist, no memory is allocated, and
// in-place initialisers are no-ops. Used by `gigagan info` for the paper sizes.
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

// ---------------------------------------------------------------------------
// Shape checks at module boundaries (StyleGAN's misc.assert_shape).
// -1 in `expected` matches any size. Throws ShapeError naming `what`.
void check_shape(const torch::Tensor& t, std::initializer_list<int64_t> expected,
                 const char* what);
void check_dim(const torch::Tensor& t, int64_t dim, const char* what);
std::string shape_str(at::IntArrayRef s);

// ---------------------------------------------------------------------------
// FLOP counter: layers add the multiply-adds x2 they perform while a
// FlopCounter is alive on this thread. Used by `gigagan bench`.
class FlopCounter {
 public:
  FlopCounter();
  ~FlopCounter();
  FlopCounter(const FlopCounter&) = delete;
  FlopCounter& operator=(const FlopCounter&) = delete;
  double flops() const { return flops_; }
  static void add(double f);  // no-op unless a counter is active

 private:
  double flops_ = 0;
  FlopCounter* previous_;
};
// conv: 2 * N * C_out * C_in/groups * k*k * H_out * W_out
void count_conv_flops(int64_t n, int64_t c_out, int64_t c_in, int64_t k, int64_t h_out,
                      int64_t w_out);
void count_matmul_flops(int64_t batch, int64_t m, int64_t k, int64_t n);

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

// Several linear FullyConnectedLayers on the same input as ONE GEMM, without
// gradients: attention's key/value projections, which at batch 1 are small
// GEMMs whose per-call cost is a good part of their time. The concatenated
// weight (gains folded in) is built on first use and rebuilt when any weight
// or bias changes (version counter, storage, device), as AdaptiveConv2d's
// inference cache. When gradients are wanted, or a weight is an inference
// tensor (no version counter), each layer runs on its own as before.
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

// Sample-adaptive kernel selection + StyleGAN2 modulation/demodulation.
// Ref: GigaGAN (arXiv 2303.05511), "Sample-adaptive kernel selection" (g_adaconv):
// Kang et al. 2023, Sec. 3.2, Eq. (1)-(2); StyleGAN2 Sec. 2.2 (demodulation).
//
//   K_n   = sum_i softmax(W_filter^T w_n + b_filter)_i * K_i      (bank of N kernels)
//   s_n   = W_mod^T w_n + b_mod                                    (per input channel)
//   W'_n  = K_n * s_n[i]           d_n[o] = rsqrt(sum_{i,k} W'_n[o,i,k]^2 + eps)
//   y_n   = d_n[o] * conv(x_n, W'_n)
#pragma once
#include <torch/torch.h>

#include <memory>
#include <mutex>
#include <string>

#include "fused_projection.h"
#include "layers.h"

namespace gg {

// How the per-sample convolution is computed. All are exact reformulations
// of the same function (tested against Naive to float32 rounding).
enum class AdaConvImpl {
  Auto,       // pick the fastest for the device and shapes
  Naive,      // reference: a loop over samples, kernels built explicitly
  PerSample,  // batched kernel build, then one dense conv per sample
  Grouped,    // one grouped conv with groups = batch (fast on CUDA, slow on CPU)
  Bank,       // dense conv with the whole bank, then mix outputs (N x FLOPs, one big GEMM)
};
AdaConvImpl parse_adaconv_impl(const std::string& s);
const char* adaconv_impl_name(AdaConvImpl impl);
// Process-wide choice (default Auto). Tests and benchmarks switch it.
void set_adaconv_impl(AdaConvImpl impl);
AdaConvImpl adaconv_impl();

struct AdaptiveConv2dImpl : torch::nn::Module {
  AdaptiveConv2dImpl(int64_t in_channels, int64_t out_channels, int64_t kernel_size,
                     int64_t w_dim, int64_t num_kernels, bool demodulate = true, int up = 1,
                     Activation activation = Activation::LReLU, bool bias = true);
  // x: [N, C_in, H, W], w: [N, w_dim] -> [N, C_out, H*up, W*up]
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& w);
  // Same function with an explicit implementation (used by tests/bench).
  // out_gain > 0 scales the output before the activation:
  // act(out_gain * (conv + bias)); folded into small tensors (demodulation
  // coefficients, styles, bias) instead of a pass over the output.
  torch::Tensor forward_with(AdaConvImpl impl, const torch::Tensor& x, const torch::Tensor& w,
                             double out_gain = 1.0);
  // x: [N, C_in, H, W], w: [N, w_dim] -> act(out_gain * (conv + bias)) with the Auto choice.
  torch::Tensor forward_scaled(const torch::Tensor& x, const torch::Tensor& w, double out_gain);
  // What Auto resolves to for input x (before upsampling) and styles w on x's
  // device; a call is a training call when gradients flow through the conv
  // (grad mode on and the bank, x or w requiring a gradient).
  AdaConvImpl choose_impl(const torch::Tensor& x, const torch::Tensor& w = {}) const;
  // CPU Auto rule for batch > 1 and Nk > 1 without gradients: Grouped up to
  // this output resolution, PerSample above; in training Grouped at every
  // resolution (measured; see choose_impl in adaptive_conv2d.cpp).
  static constexpr int64_t kGroupedMaxResolution = 32;

  int64_t in_channels, out_channels, kernel_size, w_dim, num_kernels;
  bool demodulate;
  int up;
  Activation activation;
  double weight_gain;
  torch::Tensor weight;             // kernel bank K: [num_kernels, C_out, C_in, k, k]
  torch::Tensor bias;               // [C_out]
  FullyConnectedLayer filter{nullptr};  // W_filter, b_filter: w -> num_kernels logits (absent if 1)
  FullyConnectedLayer affine{nullptr};  // W_mod, b_mod: w -> C_in styles (bias init 1)

 private:
  // The formulations of forward_with, one function each (see AdaConvImpl).
  // Per-sample terms of Eq. (1)-(2) shared by all but Naive: the kernel
  // weights a = softmax(W_filter^T w + b_filter) ([N, Nk], undefined when
  // Nk = 1), the styles s with the equalized-lr gain folded in ([N, Ci]) and
  // the bias with out_gain folded in ([Co], undefined without bias).
  struct Modulation {
    torch::Tensor a, s, b;
  };
  Modulation modulation(const torch::Tensor& w, double out_gain);
  torch::Tensor forward_naive(const torch::Tensor& x_in, const torch::Tensor& w, double out_gain);
  torch::Tensor forward_batch_one(const torch::Tensor& x_in, const Modulation& m, double out_gain);
  torch::Tensor forward_selected(AdaConvImpl impl, const torch::Tensor& x, const Modulation& m, double out_gain);
  torch::Tensor forward_bank(const torch::Tensor& x, const Modulation& m, double out_gain);
  torch::Tensor select_kernels(const Modulation& m) const;  // [N, Co, Ci, k, k]
  torch::Tensor per_tap(const torch::Tensor& v) const;      // [N, Ci] -> [N, Ci*k*k]
  static torch::Tensor demod_coef(torch::Tensor energy, double out_gain);

  // Inference (no gradient wanted) on the CPU, everything the batch-1 path
  // needs that does not depend on the sample, rebuilt whenever one of the
  // layer's tensors changes (version counter, storage, device); `bank`
  // undefined when it cannot be cached (inference-mode weights, not float32).
  // - bank: each kernel in channels_last order, [Nk, C_out * k * k * C_in]. A
  //   kernel selected from it is already the channels_last weight oneDNN
  //   wants, so the path skips a transposing copy of every selected kernel.
  // - With demodulation, for every pair i <= j of kernels,
  //   P_ij[o, c] = sum_taps K_i[o, c, tap] K_j[o, c, tap], [pairs * C_out, C_in],
  //   so that the demodulation energy of the selected kernel K = sum_i a_i K_i,
  //   e[o] = sum_{c,tap} K[o,c,tap]^2 s_c^2 = sum_{i<=j} m_ij a_i a_j (P_ij s^2)[o]
  //   (m_ij = 2 off the diagonal), needs no pass over K.
  // The per-sample arithmetic on vectors of C_in or C_out values (softmax of
  // the logits, pair coefficients, rsqrt, gains) runs as plain loops: as
  // tensor ops they were about 15 small ATen calls per layer, a good part of
  // a batch-1 forward.
  struct InferenceCache {
    torch::Tensor bank;          // [Nk, C_out * k * k * C_in]
    torch::Tensor pair_energy;   // [pairs * C_out, C_in] (demodulate only)
    std::vector<std::pair<int64_t, int64_t>> pairs;  // (i, j), i <= j, in pair_energy's order
  };
  InferenceCache inference_cache(const torch::Tensor& x);
  torch::Tensor forward_batch_one_cached(const InferenceCache& cache, const torch::Tensor& x_in,
                                         const torch::Tensor& w, double out_gain);
  // The affine and filter layers as one GEMM (its own cache, gains folded in,
  // this layer's weight gain on the styles): w -> [styles s (C_in) | kernel
  // logits (Nk > 1)] for the batch-1 path.
  std::unique_ptr<FusedProjection> styles_fused_;
  std::mutex cl_mutex_;
  InferenceCache cl_;
  std::vector<int64_t> cl_key_;
};
TORCH_MODULE(AdaptiveConv2d);

}  // namespace gg

// MobileNetV2 (Sandler et al. 2018, alpha 1.0), a frozen ImageNet-initialised
// image network for metrics, exactly as Keras 2.2.4's keras.applications
// builds it and as nsfwjs 4.4.0 ships it for TF.js ("MobileNetV2": Keras
// backbone with blocks 11-16 and Conv_1 fine-tuned, plus a 1280-256-128-5
// dense head; MIT, see resources/models/mobilenet_v2/README.md).
//
// The graph, layer by layer as in the Keras topology:
//   Conv1_pad (zero pad 0 top/left, 1 bottom/right) -> Conv1 3x3/2 valid ->
//   bn_Conv1 -> ReLU6; expanded_conv (depthwise 3x3 + project, no expansion);
//   block_1..16 inverted residuals (expand 1x1, depthwise 3x3, project 1x1, each
//   with BatchNormalization eps 1e-3; ReLU6 after expand and depthwise; stride-2
//   blocks 1, 3, 6, 13 pad 0/1 like Conv1 and convolve 'valid', the others are
//   3x3 'same'; residual add where stride 1 and widths match) -> Conv_1 1x1 to
//   1280 -> Conv_1_bn -> ReLU6 -> mean over the 7x7 grid (average_pooling2d_1)
//   -> dense_1 (256, relu) -> dense_2 (128, relu) -> dense_3 (5: Drawing,
//   Hentai, Neutral, Porn, Sexy; the original applies softmax).
// BatchNormalization is folded into the preceding convolution on every call
// (frozen statistics: y = conv(x, w * s) + beta - mean * s, s = gamma /
// sqrt(var + eps)).
//
// Parameters are named after the Keras layers, "<layer>.<weight>" (Conv1.kernel,
// block_3_expand_BN.moving_mean, dense_3.bias), in PyTorch layout: the file
// `gigagan convert-tfjs` writes from nsfwjs's model.json loads as it is.
// Ref: keras-applications 1.0.6 mobilenet_v2.py; nsfwjs src/index.ts (input
// pixels / 255, 224x224).
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

#include "layers.h"

namespace gg {

// Keras Conv2D / DepthwiseConv2D without bias: `kernel` [out, in, k, k] or
// `depthwise_kernel` [channels, 1, k, k].
struct KerasConvImpl : torch::nn::Module {
  KerasConvImpl(int64_t in, int64_t out, int64_t k, int64_t stride, bool depthwise);
  int64_t in, out, k, stride;
  bool depthwise;
  torch::Tensor kernel;
};
TORCH_MODULE(KerasConv);

// Keras BatchNormalization (inference): gamma, beta, moving_mean, moving_variance.
struct KerasBatchNormImpl : torch::nn::Module {
  explicit KerasBatchNormImpl(int64_t channels, double eps = 1e-3);
  double eps;
  torch::Tensor gamma, beta, moving_mean, moving_variance;
};
TORCH_MODULE(KerasBatchNorm);

// Keras Dense: kernel [out, in] (PyTorch layout), bias [out].
struct KerasDenseImpl : torch::nn::Module {
  KerasDenseImpl(int64_t in, int64_t out);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor kernel, bias;
};
TORCH_MODULE(KerasDense);

struct MobileNetV2Output {
  torch::Tensor pooled;  // [N, 1280]: mean of the last ReLU6 over the grid
  torch::Tensor logits;  // [N, 5]: dense_3 before softmax (undefined without the head)
};

struct MobileNetV2Impl : torch::nn::Module {
  static constexpr int64_t kFeatures = 1280;
  static constexpr int64_t kClasses = 5;
  static constexpr int64_t kImageSize = 224;

  // head: with nsfwjs's dense_1..3; without, only the backbone (features).
  explicit MobileNetV2Impl(bool head = true);
  // pixel_values: [N, 3, H, W] in [0, 1] (nsfwjs: pixels / 255), H, W >= 32;
  // 224 is what the model was trained on. Any other size runs the same graph
  // (the TF.js model's fixed pads included) and pools over the whole grid.
  MobileNetV2Output forward(const torch::Tensor& pixel_values);
  torch::Tensor features(const torch::Tensor& pixel_values);  // forward().pooled, without the head
  torch::Tensor logits(const torch::Tensor& pooled);          // the head on pooled features

  bool head;
  // Registered as Conv1, bn_Conv1, expanded_conv_* / block_N_*, Conv_1, Conv_1_bn, dense_1..3.
  struct Block {
    int64_t in, expansion, filters, stride;
    KerasConv expand{nullptr}, depthwise{nullptr}, project{nullptr};  // expand: null for block 0
    KerasBatchNorm expand_bn{nullptr}, depthwise_bn{nullptr}, project_bn{nullptr};
  };
  KerasConv conv1{nullptr}, conv_last{nullptr};
  KerasBatchNorm bn_conv1{nullptr}, bn_last{nullptr};
  std::vector<Block> blocks;
  KerasDense dense_1{nullptr}, dense_2{nullptr}, dense_3{nullptr};
};
TORCH_MODULE(MobileNetV2);

// images: [N, 3, H, W] in [-1, 1] (the generator's range) -> [N, 3, size, size]
// in [0, 1]: antialiased bilinear resize (as clip_preprocess), no crop.
torch::Tensor mobilenet_preprocess(const torch::Tensor& images, int64_t size = MobileNetV2Impl::kImageSize);

// Loads a file made by `gigagan convert-tfjs` from nsfwjs's MobileNetV2
// model.json (or any Keras MobileNetV2 alpha 1.0 with the same layer names;
// the head is loaded when the file has dense_1..3). Checks the Keras topology
// stored in the file (BatchNormalization epsilon, ReLU6, the 0/1 pads, the
// activations of the head) and loads strictly; throws CheckpointError naming
// the file and the layer or tensor. Returned frozen (no gradients), in eval
// mode, on `device`.
MobileNetV2 load_mobilenet_v2(const std::string& path, torch::Device device = torch::kCPU);

}  // namespace gg

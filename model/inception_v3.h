// InceptionV3 (Szegedy et al. 2016, "Rethinking the Inception Architecture"),
// a frozen ImageNet-initialised image network, exactly as Keras 2.2.4's
// keras.applications builds it and as nsfwjs 4.4.0 ships it for TF.js
// ("InceptionV3": the Keras backbone fine-tuned by nsfwjs's authors, plus a
// 2048-256-128-5 dense head; MIT, see resources/models/inception_v3/README.md).
//
// Used as the backbone of the vision-aided discriminator (Kumari et al. 2022;
// Projected GAN, Sauer et al. 2021), so that the network the metrics use
// (MobileNetV2, model/mobilenet_v2.h) is not the one G is trained against.
//
// The graph, as keras-applications 1.0.6 inception_v3.py: every unit is
// conv2d_<i> (no bias) -> batch_normalization_<i> (epsilon 1e-3, scale=False:
// no gamma) -> ReLU, numbered 1..94 in the order the Keras code creates them.
// Stem: 3x3/2 valid 32, 3x3 valid 32, 3x3 same 64, max 3x3/2, 1x1 80, 3x3
// valid 192, max 3x3/2; mixed0-2 (35x35 at 299 px: 256, 288, 288 channels),
// mixed3 (grid reduction, 768), mixed4-7 (17x17, 768; factorised 1x7/7x1),
// mixed8 (reduction, 1280), mixed9-10 (8x8, 2048); then nsfwjs's head:
// average over the 8x8 grid, dense_1 (256, relu), dense_2 (128, relu),
// dense_3 (5 classes; the original applies softmax). Every 'same' convolution
// has stride 1 and odd kernels (symmetric padding); the 3x3 average pools are
// 'same' and, as TF's, do not count the padding.
// BatchNormalization is folded into the convolution (y = conv(x, w s) + beta -
// mean s, s = 1 / sqrt(var + eps)), once per weights (cached).
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

#include "mobilenet_v2.h"

namespace gg {

struct InceptionV3Output {
  std::vector<torch::Tensor> mixed;  // mixed0..mixed<last>: [N, C_k, g_k, g_k]
  torch::Tensor pooled;              // [N, 2048]: mean of mixed10 over the grid (undefined if not run to 10)
  torch::Tensor logits;              // [N, 5]: dense_3 before softmax (undefined without the head)
};

struct InceptionV3Impl : torch::nn::Module {
  static constexpr int64_t kFeatures = 2048;
  static constexpr int64_t kClasses = 5;
  static constexpr int64_t kImageSize = 299;
  static constexpr int kMixedBlocks = 11;  // mixed0..mixed10
  static constexpr int64_t kMinImageSize = 75;

  explicit InceptionV3Impl(bool head = true);

  // pixel_values: [N, 3, H, W] in [0, 1] (nsfwjs: pixels / 255), H, W >= 75.
  // Runs up to and including mixed<last_block> (0..10); the pooled features
  // and logits only when last_block is 10 (logits with the head).
  InceptionV3Output forward(const torch::Tensor& pixel_values, int last_block = kMixedBlocks - 1);

  // Output channels of mixed<k>.
  static int64_t mixed_channels(int k);

  struct Unit {
    int64_t in, out, kh, kw, stride;
    bool same;
    torch::Tensor kernel;                          // conv2d_<i>.kernel [out, in, kh, kw]
    torch::Tensor beta, moving_mean, moving_variance;  // batch_normalization_<i>
  };
  bool head;
  std::vector<Unit> units;  // conv2d_1..94 in Keras order
  KerasDense dense_1{nullptr}, dense_2{nullptr}, dense_3{nullptr};

  // Folded weights of unit i (recomputed when the stored weights change).
  std::pair<torch::Tensor, torch::Tensor> folded(size_t i);

 private:
  std::vector<std::pair<torch::Tensor, torch::Tensor>> folded_;
  std::vector<const void*> folded_from_;
  std::vector<int64_t> folded_version_;
};
TORCH_MODULE(InceptionV3);

// Loads a file made by `gigagan convert-tfjs` (with or without --quantized)
// from nsfwjs's InceptionV3 model.json. Checks the stored Keras topology
// (94 Conv2D without bias, BatchNormalization epsilon 1e-3 without scale),
// dequantizes uint8 codes as TF.js does, loads strictly; throws
// CheckpointError naming the file and the tensor. Returned frozen, in eval
// mode, on `device`.
InceptionV3 load_inception_v3(const std::string& path, torch::Device device = torch::kCPU);

}  // namespace gg

// Vision-aided discriminator: a frozen pretrained image network (the CLIP
// image encoder, as the paper, or an ImageNet-initialised InceptionV3),
// features of a few intermediate layers, a fixed random projection per layer
// (Projected GAN), then a small text-modulated 3x3-conv head per layer with
// one logit per cell.
// Ref: the vision-aided adversarial loss of GigaGAN (arXiv 2303.05511):
// Kang et al. 2023 Sec. 3.4; Kumari et al. 2022 (Vision-aided GAN); Sauer et al. 2021
// (Projected GAN: fixed random 1x1 projection of pretrained features).
#pragma once
#include <torch/torch.h>

#include <vector>

#include "clip.h"
#include "discriminator.h"
#include "discriminator_config.h"
#include "inception_v3.h"
#include "layers.h"

namespace gg {

// Head on one feature layer: head_layers 3x3 convs modulated by the text
// (TextModulatedConv2d, StyleGAN2 modulation + demodulation, style from the
// pooled CLIP text feature through an FC), lrelu, then a 1x1 conv to 1 channel.
struct VisionAidedHeadImpl : torch::nn::Module {
  VisionAidedHeadImpl(int64_t in_channels, int64_t channels, int64_t layers, int64_t text_dim);
  // x: [N, C_in, g, g], text: [N, text_dim] -> [N, 1, g, g]
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& text);
  torch::nn::ModuleList convs{nullptr};
  Conv2dLayer out{nullptr};
};
TORCH_MODULE(VisionAidedHead);

struct VisionAidedDiscriminatorImpl : torch::nn::Module {
  // `clip` is the frozen CLIP vision tower, shared with the rest of the model.
  // It is held, NOT registered: its parameters are not in this module's
  // parameters()/state_dict (it is loaded and frozen by its owner), and this
  // module never changes their requires_grad. Gradients still flow through it
  // to the input images. Must live on the same device as this module.
  VisionAidedDiscriminatorImpl(const VisionAidedConfig& config, ClipVisionTransformer clip);
  // backbone "inception_v3": the frozen InceptionV3 (load_inception_v3), held
  // the same way; feature_layers name its mixed blocks.
  VisionAidedDiscriminatorImpl(const VisionAidedConfig& config, InceptionV3 inception);

  // images: [N, 3, H, W] in [-1, 1] (any size; clip_preprocess resizes to the
  // CLIP input size), text_pooled: [N, text_input_dim] (the frozen CLIP pooled text feature)
  // -> one logits map per feature layer, [N, 1, g, g] (CLIP: g = image_size / patch_size;
  // InceptionV3: the grid of that mixed block at backbone_image_size).
  std::vector<torch::Tensor> forward(const torch::Tensor& images, const torch::Tensor& text_pooled);

  // The fixed projected features (after the random projection) of each feature
  // layer: [N, projection_channels, g, g]. Used by forward and by tests.
  std::vector<torch::Tensor> projected_features(const torch::Tensor& images);

  VisionAidedConfig config;
  ClipVisionTransformer clip{nullptr};    // held, not registered (see above)
  InceptionV3 inception{nullptr};         // held, not registered; set instead of clip
  std::vector<torch::Tensor> projection;  // buffers "projection_<k>": [projection_channels, D]
  torch::nn::ModuleList heads{nullptr};   // one VisionAidedHead per feature layer

 private:
  void build(const std::vector<int64_t>& feature_dims);  // projections and heads
};
TORCH_MODULE(VisionAidedDiscriminator);

}  // namespace gg

// Config of the GigaGAN discriminator and of the vision-aided discriminator.
// Ref: Kang et al. 2023 (GigaGAN, arXiv 2303.05511), "Discriminator design", vision-aided GAN.
#pragma once
#include <string>
#include <vector>

#include "json_config.h"

namespace gg {

struct DiscriminatorConfig {
  int resolution = 64;  // top pyramid level; phi has log2(r) - 1 layers r -> r/2 -> ... -> 4 -> 1
  // Pyramid levels the MS-I/O loss feeds (x_0 .. x_{L-1}, resolution / 2^i); 1 .. log2(r) - 1.
  // Exits j run over every phi scale 1 .. log2(r) - 1 whatever `levels` is, so an upsampler's
  // D (e.g. 512 px fed 512..64) can use fewer levels than phi has layers.
  int levels = 5;
  std::vector<int> channels = {};  // channels of phi's layer inputs, top resolution first:
                                   // log2(resolution) entries (levels + 1 when levels reach
                                   // 4 px, as for the 64 px base); the last is the 1x1 output
  int text_input_dim = 768;        // frozen CLIP text width
  int context_length = 77;
  int text_dim = 512;  // width of t_D
  int text_layers = 2;
  int text_heads = 8;
  std::vector<int> attention_resolutions = {8, 16, 32};  // phi layers with self-attention
  int attention_head_dim = 64;
  double attention_residual_gain = 0.3;
  int psi_channels = 0;  // width of psi_j's 1x1 convs; 0 = same as phi's channels at j
  void validate() const;
};
GG_CONFIG_JSON(DiscriminatorConfig, resolution, levels, channels, text_input_dim, context_length,
               text_dim, text_layers, text_heads, attention_resolutions, attention_head_dim,
               attention_residual_gain, psi_channels)

struct VisionAidedConfig {
  bool enabled = true;
  // The frozen network whose features the heads judge: "clip", the model's
  // own CLIP vision tower (as the paper, with a pretrained CLIP), or
  // "inception_v3", an ImageNet-initialised InceptionV3 (model/inception_v3.h).
  std::string backbone = "clip";
  // clip: vision encoder layers whose tokens are used (0 = embeddings);
  // inception_v3: mixed blocks (0..10) whose feature maps are used.
  std::vector<int> feature_layers = {};
  int backbone_image_size = 0;           // inception_v3: images are resized to this side (>= 75); 0: 299
  int projection_channels = 64;          // fixed random projection (Projected GAN), not trained
  int head_channels = 128;               // width of the 3x3-conv head
  int head_layers = 2;
  int text_input_dim = 768;  // CLIP text pooled width used for modulation
  int projection_seed = 0;   // seed of the fixed random projections (registered buffers)
  void validate() const;
};
GG_CONFIG_JSON(VisionAidedConfig, enabled, backbone, feature_layers, backbone_image_size, projection_channels,
               head_channels, head_layers, text_input_dim, projection_seed)

}  // namespace gg

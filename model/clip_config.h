// Config of the CLIP text and vision towers. Field names are those of the
// Hugging Face CLIPTextConfig / CLIPVisionConfig, so a model folder's
// config.json maps onto them (see ClipConfig::from_hf_json).
// Ref: Radford et al. 2021 (CLIP); GigaGAN (Kang et al. 2023) uses CLIP ViT-L/14.
#pragma once
#include <string>

#include "json_config.h"

namespace gg {

struct ClipTextConfig {
  int vocab_size = 49408;
  int max_position_embeddings = 77;  // the context length C
  int hidden_size = 768;
  int intermediate_size = 3072;
  int num_hidden_layers = 12;
  int num_attention_heads = 12;
  std::string hidden_act = "quick_gelu";
  double layer_norm_eps = 1e-5;
  int bos_token_id = 49406;  // <|startoftext|>
  int eos_token_id = 49407;  // <|endoftext|>, also used for padding (as OpenAI CLIP)
  int pad_token_id = 49407;
  void validate() const;
};
GG_CONFIG_JSON(ClipTextConfig, vocab_size, max_position_embeddings, hidden_size,
               intermediate_size, num_hidden_layers, num_attention_heads, hidden_act,
               layer_norm_eps, bos_token_id, eos_token_id, pad_token_id)

struct ClipVisionConfig {
  int image_size = 224;
  int patch_size = 14;
  int num_channels = 3;
  int hidden_size = 1024;
  int intermediate_size = 4096;
  int num_hidden_layers = 24;
  int num_attention_heads = 16;
  std::string hidden_act = "quick_gelu";
  double layer_norm_eps = 1e-5;
  void validate() const;
};
GG_CONFIG_JSON(ClipVisionConfig, image_size, patch_size, num_channels, hidden_size,
               intermediate_size, num_hidden_layers, num_attention_heads, hidden_act,
               layer_norm_eps)

// Defaults: openai/clip-vit-large-patch14 (ViT-L/14), the paper's encoder.
struct ClipConfig {
  ClipTextConfig text_config;
  ClipVisionConfig vision_config;
  int projection_dim = 768;
  double logit_scale_init_value = 2.6592;
  // GigaGAN (Kang et al. 2023) takes text features from the penultimate
  // layer: -1 = last layer, -2 = penultimate, ...
  int text_feature_layer = -2;
  void validate() const;
  // Reads a Hugging Face CLIPModel config.json, keeping the fields above and
  // ignoring the rest (HF configs carry many unrelated keys).
  static ClipConfig from_hf_json(const json& j);
};
GG_CONFIG_JSON(ClipConfig, text_config, vision_config, projection_dim, logit_scale_init_value,
               text_feature_layer)

}  // namespace gg

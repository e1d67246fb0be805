// CLIP text and vision transformers with OpenAI CLIP's architecture (pre-LN,
// quick-GELU, causal mask in the text tower; ViT patch embedding, class token,
// pre/post layer norm and projections in the vision tower). Parameters are
// registered under the Hugging Face key names (`text_model.encoder.layers.0.
// self_attn.q_proj.weight`, `vision_model.pre_layrnorm.weight`, ...), so an
// `openai/clip-vit-large-patch14` safetensors file loads without renaming.
// Ref: Radford et al. 2021; HF transformers modeling_clip.py (names only).
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

#include "clip_config.h"
#include "layers.h"

namespace gg {

// A learned lookup table with a single parameter `weight` [num, dim] (HF's
// nn.Embedding names), created through new_randn so that meta mode works.
struct ClipEmbeddingImpl : torch::nn::Module {
  ClipEmbeddingImpl(int64_t num, int64_t dim, double init_std);
  // ids: any shape, int64 -> [..., dim]
  torch::Tensor forward(const torch::Tensor& ids);
  int64_t num, dim;
  torch::Tensor weight;
};
TORCH_MODULE(ClipEmbedding);

// HF CLIPTextEmbeddings: token_embedding, position_embedding. The HF buffer
// `position_ids` is not registered (positions are 0..T-1); loaders ignore it.
struct ClipTextEmbeddingsImpl : torch::nn::Module {
  ClipTextEmbeddingsImpl(int64_t vocab, int64_t positions, int64_t dim);
  // input_ids: [N, T] int64, T <= positions -> [N, T, dim]
  torch::Tensor forward(const torch::Tensor& input_ids);
  ClipEmbedding token_embedding{nullptr}, position_embedding{nullptr};
};
TORCH_MODULE(ClipTextEmbeddings);

// HF CLIPVisionEmbeddings' patch_embedding: Conv2d(C, D, P, stride P, bias=False).
struct ClipPatchEmbeddingImpl : torch::nn::Module {
  ClipPatchEmbeddingImpl(int64_t channels, int64_t dim, int64_t patch);
  // x: [N, C, S, S] -> [N, D, S/P, S/P]
  torch::Tensor forward(const torch::Tensor& x);
  int64_t channels, dim, patch;
  torch::Tensor weight;  // [D, C, P, P]
};
TORCH_MODULE(ClipPatchEmbedding);

// HF CLIPVisionEmbeddings: class_embedding [D], patch_embedding, position_embedding [1 + (S/P)^2, D].
struct ClipVisionEmbeddingsImpl : torch::nn::Module {
  explicit ClipVisionEmbeddingsImpl(const ClipVisionConfig& config);
  // pixel_values: [N, C, S, S] -> [N, 1 + (S/P)^2, D] (class token first)
  torch::Tensor forward(const torch::Tensor& pixel_values);
  ClipVisionConfig config;
  torch::Tensor class_embedding;
  ClipPatchEmbedding patch_embedding{nullptr};
  ClipEmbedding position_embedding{nullptr};
};
TORCH_MODULE(ClipVisionEmbeddings);

struct ClipEncoderOutput {
  // [N, T, D]. As HF: text: last layer after final_layer_norm; vision: last
  // layer WITHOUT post_layernorm (HF applies post_layernorm to `pooled` only).
  torch::Tensor last_hidden_state;
  std::vector<torch::Tensor> hidden_states;  // [0] = embeddings, [i] = output of layer i (HF convention)
  torch::Tensor pooled;                      // [N, D]: text: EOT token after final_layer_norm;
                                             //         vision: class token after post_layernorm
};

struct ClipAttentionImpl : torch::nn::Module {  // HF CLIPAttention: q_proj k_proj v_proj out_proj
  ClipAttentionImpl(int64_t dim, int64_t heads);
  // x: [N, T, D], mask: [T, T] additive or undefined -> [N, T, D]
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask = {});
  int64_t dim, heads;
  Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, out_proj{nullptr};
};
TORCH_MODULE(ClipAttention);

struct ClipMlpImpl : torch::nn::Module {  // HF CLIPMLP: fc1 fc2
  ClipMlpImpl(int64_t dim, int64_t hidden, Activation act);
  torch::Tensor forward(const torch::Tensor& x);
  Activation act;
  Linear fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(ClipMlp);

struct ClipEncoderLayerImpl : torch::nn::Module {  // layer_norm1 self_attn layer_norm2 mlp
  ClipEncoderLayerImpl(int64_t dim, int64_t heads, int64_t hidden, Activation act, double eps);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask = {});
  LayerNorm layer_norm1{nullptr}, layer_norm2{nullptr};
  ClipAttention self_attn{nullptr};
  ClipMlp mlp{nullptr};
};
TORCH_MODULE(ClipEncoderLayer);

// HF CLIPEncoder: layers.N
struct ClipEncoderImpl : torch::nn::Module {
  ClipEncoderImpl(int64_t layers, int64_t dim, int64_t heads, int64_t hidden, Activation act,
                  double eps);
  // x: [N, T, D] -> {x, layer 1 output, ..., layer `num_layers` output}
  // (num_layers < 0: all layers; fewer layers skip the rest of the work).
  std::vector<torch::Tensor> forward(const torch::Tensor& x, const torch::Tensor& mask = {},
                                     int64_t num_layers = -1);
  torch::nn::ModuleList layers{nullptr};
};
TORCH_MODULE(ClipEncoder);

// Registered as `text_model`: embeddings.{token,position}_embedding, encoder.layers.N, final_layer_norm.
struct ClipTextTransformerImpl : torch::nn::Module {
  explicit ClipTextTransformerImpl(const ClipTextConfig& config);
  // input_ids: [N, C] int64 -> hidden states of every layer, pooled EOT token.
  // The EOT position of a row is its first eos_token_id (argmax for HF vocabularies).
  ClipEncoderOutput forward(const torch::Tensor& input_ids);
  // hidden_states[layer] of forward() (HF indexing; negative counts from the
  // end: -1 = last layer, -2 = penultimate) WITHOUT final_layer_norm, running
  // only the layers it needs. Throws ConfigError for a layer out of range.
  torch::Tensor hidden_state(const torch::Tensor& input_ids, int64_t layer);
  // Index of the EOT token in each row: [N] int64. Throws PromptError naming
  // the row when a row has no eos_token_id.
  torch::Tensor eot_index(const torch::Tensor& input_ids) const;
  // Causal additive mask [T, T] (0 on and below the diagonal, -inf above).
  static torch::Tensor causal_mask(int64_t t, const torch::TensorOptions& options);
  ClipTextConfig config;
  ClipTextEmbeddings embeddings{nullptr};
  ClipEncoder encoder{nullptr};
  LayerNorm final_layer_norm{nullptr};
};
TORCH_MODULE(ClipTextTransformer);

// Registered as `vision_model`: embeddings.{class_embedding,patch_embedding,position_embedding},
// pre_layrnorm (sic, HF spelling), encoder.layers.N, post_layernorm.
struct ClipVisionTransformerImpl : torch::nn::Module {
  explicit ClipVisionTransformerImpl(const ClipVisionConfig& config);
  // pixel_values: [N, 3, S, S] normalised with CLIP mean/std -> tokens [N, 1 + (S/P)^2, D]
  ClipEncoderOutput forward(const torch::Tensor& pixel_values);
  ClipVisionConfig config;
  ClipVisionEmbeddings embeddings{nullptr};
  LayerNorm pre_layrnorm{nullptr};
  ClipEncoder encoder{nullptr};
  LayerNorm post_layernorm{nullptr};
};
TORCH_MODULE(ClipVisionTransformer);

// text_model, vision_model, text_projection (no bias), visual_projection (no bias), logit_scale.
struct ClipModelImpl : torch::nn::Module {
  explicit ClipModelImpl(const ClipConfig& config);
  // input_ids: [N, C] -> L2-normalised text embeddings [N, projection_dim]
  torch::Tensor encode_text(const torch::Tensor& input_ids);
  // images: [N, 3, H, W] in [-1, 1] (any size) -> L2-normalised image embeddings [N, projection_dim]
  torch::Tensor encode_image(const torch::Tensor& images);
  // Unnormalised projections of the pooled outputs (HF get_text_features /
  // get_image_features): ids [N, C] -> [N, P]; pixel_values (already
  // preprocessed, [N, 3, S, S]) -> [N, P].
  torch::Tensor text_embeds(const torch::Tensor& input_ids);
  torch::Tensor image_embeds(const torch::Tensor& pixel_values);
  // The frozen text features GigaGAN consumes: the layer picked by
  // config.text_feature_layer, passed through final_layer_norm: [N, C, D]; and
  // the EOT index of each row: [N].
  struct TextFeatures {
    torch::Tensor tokens;     // [N, C, hidden_size]
    torch::Tensor eot_index;  // [N] int64
    torch::Tensor pooled;     // [N, hidden_size]: EOT token of `tokens`
  };
  TextFeatures text_features(const torch::Tensor& input_ids);
  ClipConfig config;
  ClipTextTransformer text_model{nullptr};
  ClipVisionTransformer vision_model{nullptr};
  Linear text_projection{nullptr}, visual_projection{nullptr};
  torch::Tensor logit_scale;
};
TORCH_MODULE(ClipModel);

// images in [-1, 1], any size -> resized (bilinear, antialiased when shrinking)
// to `size` and normalised with OpenAI CLIP's mean/std: [N, 3, size, size].
// A non-square input is stretched to a square (no centre crop: GigaGAN's
// images are square). Works on any device and floating dtype.
torch::Tensor clip_preprocess(const torch::Tensor& images, int64_t size);

// Loads a Hugging Face CLIPModel: `folder_or_file` is a folder holding
// config.json and model.safetensors, or a .safetensors file with config.json
// beside it. F16/BF16 weights are converted to float32. Loading is strict:
// a missing, extra (other than the HF `*.position_ids` buffers) or wrongly
// shaped tensor throws CheckpointError naming it; a bad config throws
// ConfigError. The model is returned in eval mode on `device`.
ClipModel load_hf_clip(const std::string& folder_or_file, torch::Device device = torch::kCPU);

}  // namespace gg

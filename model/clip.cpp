// CLIP text and vision transformers (OpenAI CLIP, HF CLIPModel key names).
// Ref: Radford et al. 2021 "Learning Transferable Visual Models From Natural
// Language Supervision"; HF transformers modeling_clip.py / configuration_clip.py
// (module structure, key names, initialisation, config defaults);
// GigaGAN (Kang et al. 2023) uses CLIP ViT-L/14 and its penultimate-layer text features.
#include "clip.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "checkpoint.h"
#include "safetensors.h"

namespace gg {

namespace {

// HF _init_weights: Linear weights ~ N(0, std), biases zero. In meta mode
// there is nothing to initialise.
void init_linear(Linear& l, double std) {
  if (MetaScope::active()) return;
  torch::NoGradGuard no_grad;
  l->weight.normal_(0.0, std);
  if (l->bias.defined()) l->bias.zero_();
}

std::string fmt_double(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

// ---------------------------------------------------------------------------
// Validation, shared by the struct-level validate() and ClipConfig::validate()
// (which names fields as ClipConfig.text_config.<field>).

// The encoder fields both towers share (same names in both HF configs).
template <class Config>
void validate_encoder(const Config& c, const std::string& where) {
  auto f = [&](const char* field) { return where + "." + field; };
  config_require_range(c.hidden_size, 1, kMaxConfigWidth, f("hidden_size"));
  config_require_range(c.intermediate_size, 1, 4 * kMaxConfigWidth, f("intermediate_size"));
  config_require_range(c.num_hidden_layers, 1, kMaxConfigLayers, f("num_hidden_layers"));
  config_require_range(c.num_attention_heads, 1, kMaxConfigLayers, f("num_attention_heads"));
  config_require(c.hidden_size > 0, f("hidden_size"), "must be positive, got " + std::to_string(c.hidden_size));
  config_require(c.num_attention_heads > 0, f("num_attention_heads"),
                 "must be positive, got " + std::to_string(c.num_attention_heads));
  config_require(c.hidden_size % c.num_attention_heads == 0, f("hidden_size"),
                 "must be divisible by num_attention_heads (" + std::to_string(c.hidden_size) + " % " +
                     std::to_string(c.num_attention_heads) + " != 0)");
  config_require(c.intermediate_size > 0, f("intermediate_size"),
                 "must be positive, got " + std::to_string(c.intermediate_size));
  config_require(c.num_hidden_layers > 0, f("num_hidden_layers"),
                 "must be positive, got " + std::to_string(c.num_hidden_layers));
  config_require(c.hidden_act == "quick_gelu" || c.hidden_act == "gelu", f("hidden_act"),
                 "expected 'quick_gelu' or 'gelu', got '" + c.hidden_act + "'");
  config_require(c.layer_norm_eps > 0 && std::isfinite(c.layer_norm_eps), f("layer_norm_eps"),
                 "must be a positive number, got " + fmt_double(c.layer_norm_eps));
}

void validate_text(const ClipTextConfig& c, const std::string& where) {
  auto f = [&](const char* field) { return where + "." + field; };
  config_require_range(c.vocab_size, 1, kMaxConfigVocab, f("vocab_size"));
  config_require_range(c.max_position_embeddings, 1, kMaxConfigContext, f("max_position_embeddings"));
  config_require(c.vocab_size > 0, f("vocab_size"), "must be positive, got " + std::to_string(c.vocab_size));
  config_require(c.max_position_embeddings > 0, f("max_position_embeddings"),
                 "must be positive, got " + std::to_string(c.max_position_embeddings));
  validate_encoder(c, where);
  const std::string range = "must be a token id in [0, vocab_size = " + std::to_string(c.vocab_size) + "), got ";
  config_require(c.bos_token_id >= 0 && c.bos_token_id < c.vocab_size, f("bos_token_id"),
                 range + std::to_string(c.bos_token_id));
  config_require(c.eos_token_id >= 0 && c.eos_token_id < c.vocab_size, f("eos_token_id"),
                 range + std::to_string(c.eos_token_id));
  config_require(c.pad_token_id >= 0 && c.pad_token_id < c.vocab_size, f("pad_token_id"),
                 range + std::to_string(c.pad_token_id));
}

void validate_vision(const ClipVisionConfig& c, const std::string& where) {
  auto f = [&](const char* field) { return where + "." + field; };
  config_require_range(c.image_size, 1, kMaxConfigResolution, f("image_size"));
  config_require_range(c.patch_size, 1, kMaxConfigResolution, f("patch_size"));
  config_require_range(c.num_channels, 1, 64, f("num_channels"));
  config_require(c.image_size > 0, f("image_size"), "must be positive, got " + std::to_string(c.image_size));
  config_require(c.patch_size > 0, f("patch_size"), "must be positive, got " + std::to_string(c.patch_size));
  config_require(c.image_size % c.patch_size == 0, f("image_size"),
                 "must be a multiple of patch_size (" + std::to_string(c.image_size) + " % " +
                     std::to_string(c.patch_size) + " != 0)");
  config_require(c.num_channels > 0, f("num_channels"), "must be positive, got " + std::to_string(c.num_channels));
  validate_encoder(c, where);
}

// Reads `obj[key]` into `out` when present; a wrongly typed value is a
// ConfigError naming `where.key`.
template <typename T>
void read_hf_field(const json& obj, const char* key, T& out, const std::string& where) {
  if (!obj.contains(key) || obj.at(key).is_null()) return;
  const json& v = obj.at(key);
  bool ok;
  if constexpr (std::is_same_v<T, std::string>) ok = v.is_string();
  else if constexpr (std::is_integral_v<T>) ok = v.is_number_integer();
  else ok = v.is_number();
  if (!ok)
    throw ConfigError(where + "." + key + ": expected a " +
                      (std::is_same_v<T, std::string> ? "string" : std::is_integral_v<T> ? "integer" : "number") +
                      ", got " + v.dump());
  if constexpr (std::is_same_v<T, std::string>) {
    out = v.get<T>();
  } else {
    try {
      detail::config_get_to(v, out);  // no silent wrap-around of out-of-range integers
    } catch (const ConfigError& e) {
      throw ConfigError(where + "." + key + ": " + e.what());
    }
  }
}

// The encoder fields both towers share.
template <class Config>
void read_hf_encoder(const json& j, Config& c, const std::string& where) {
  read_hf_field(j, "hidden_size", c.hidden_size, where);
  read_hf_field(j, "intermediate_size", c.intermediate_size, where);
  read_hf_field(j, "num_hidden_layers", c.num_hidden_layers, where);
  read_hf_field(j, "num_attention_heads", c.num_attention_heads, where);
  read_hf_field(j, "hidden_act", c.hidden_act, where);
  read_hf_field(j, "layer_norm_eps", c.layer_norm_eps, where);
}

void read_hf_text(const json& j, ClipTextConfig& c, const std::string& where) {
  if (!j.is_object()) throw ConfigError(where + ": expected a JSON object, got " + j.type_name());
  read_hf_field(j, "vocab_size", c.vocab_size, where);
  read_hf_field(j, "max_position_embeddings", c.max_position_embeddings, where);
  read_hf_encoder(j, c, where);
  read_hf_field(j, "bos_token_id", c.bos_token_id, where);
  read_hf_field(j, "eos_token_id", c.eos_token_id, where);
  read_hf_field(j, "pad_token_id", c.pad_token_id, where);
}

void read_hf_vision(const json& j, ClipVisionConfig& c, const std::string& where) {
  if (!j.is_object()) throw ConfigError(where + ": expected a JSON object, got " + j.type_name());
  read_hf_field(j, "image_size", c.image_size, where);
  read_hf_field(j, "patch_size", c.patch_size, where);
  read_hf_field(j, "num_channels", c.num_channels, where);
  read_hf_encoder(j, c, where);
}

// Normalises token ids to int64 and checks them: [N, T], 1 <= T <= positions,
// every id in [0, vocab).
torch::Tensor checked_ids(const torch::Tensor& input_ids, const ClipTextConfig& c) {
  check_dim(input_ids, 2, "CLIP input_ids");
  if (at::isFloatingType(input_ids.scalar_type()) || input_ids.scalar_type() == torch::kBool)
    throw ShapeError("CLIP input_ids: expected an integer tensor, got " +
                     std::string(c10::toString(input_ids.scalar_type())));
  const int64_t t = input_ids.size(1);
  if (t < 1 || t > c.max_position_embeddings)
    throw PromptError("CLIP input_ids: sequence length " + std::to_string(t) + " is outside [1, " +
                      std::to_string(c.max_position_embeddings) +
                      "] (max_position_embeddings); tokenize with that context length");
  auto ids = input_ids.to(torch::kLong);
  if (ids.numel() > 0) {
    const int64_t lo = ids.min().item<int64_t>(), hi = ids.max().item<int64_t>();
    if (lo < 0 || hi >= c.vocab_size)
      throw PromptError("CLIP input_ids: token id " + std::to_string(lo < 0 ? lo : hi) +
                        " is outside the vocabulary [0, " + std::to_string(c.vocab_size) +
                        "); was the prompt tokenized with this model's tokenizer?");
  }
  return ids;
}

// Row i of x at position idx[i]: x [N, T, D], idx [N] -> [N, D].
torch::Tensor gather_rows(const torch::Tensor& x, const torch::Tensor& idx) {
  return x.index({torch::arange(x.size(0), idx.options()), idx});
}

torch::Tensor l2_normalize(const torch::Tensor& x) {
  return torch::nn::functional::normalize(x, torch::nn::functional::NormalizeFuncOptions().p(2).dim(-1));
}

}  // namespace

// ---------------------------------------------------------------------------
// Config
void ClipTextConfig::validate() const { validate_text(*this, "ClipTextConfig"); }
void ClipVisionConfig::validate() const { validate_vision(*this, "ClipVisionConfig"); }

void ClipConfig::validate() const {
  validate_text(text_config, "ClipConfig.text_config");
  validate_vision(vision_config, "ClipConfig.vision_config");
  config_require_range(projection_dim, 1, kMaxConfigWidth, "ClipConfig.projection_dim");
  config_require(projection_dim > 0, "ClipConfig.projection_dim",
                 "must be positive, got " + std::to_string(projection_dim));
  config_require(std::isfinite(logit_scale_init_value), "ClipConfig.logit_scale_init_value",
                 "must be finite, got " + fmt_double(logit_scale_init_value));
  const int l = text_config.num_hidden_layers;
  config_require(text_feature_layer >= -(l + 1) && text_feature_layer <= l, "ClipConfig.text_feature_layer",
                 "must index the text tower's " + std::to_string(l + 1) +
                     " hidden states (0 = embeddings, -1 = last layer, -2 = penultimate), i.e. lie in [" +
                     std::to_string(-(l + 1)) + ", " + std::to_string(l) + "], got " +
                     std::to_string(text_feature_layer));
}

ClipConfig ClipConfig::from_hf_json(const json& j) {
  const std::string where = "CLIP config.json";
  if (!j.is_object()) throw ConfigError(where + ": expected a JSON object, got " + j.type_name());
  // Missing fields take Hugging Face's defaults (configuration_clip.py), not
  // ours: an HF config.json that omits a field means HF's value.
  ClipConfig c;
  c.text_config.hidden_size = 512;
  c.text_config.intermediate_size = 2048;
  c.text_config.num_hidden_layers = 12;
  c.text_config.num_attention_heads = 8;
  c.text_config.pad_token_id = 1;
  c.vision_config.hidden_size = 768;
  c.vision_config.intermediate_size = 3072;
  c.vision_config.num_hidden_layers = 12;
  c.vision_config.num_attention_heads = 12;
  c.vision_config.patch_size = 32;
  c.projection_dim = 512;
  c.logit_scale_init_value = 2.6592;
  // As HF's CLIPConfig.__init__: `*_config_dict` (older files) overrides `*_config`.
  if (j.contains("text_config") && !j.at("text_config").is_null())
    read_hf_text(j.at("text_config"), c.text_config, where + " text_config");
  if (j.contains("text_config_dict") && !j.at("text_config_dict").is_null())
    read_hf_text(j.at("text_config_dict"), c.text_config, where + " text_config_dict");
  if (j.contains("vision_config") && !j.at("vision_config").is_null())
    read_hf_vision(j.at("vision_config"), c.vision_config, where + " vision_config");
  if (j.contains("vision_config_dict") && !j.at("vision_config_dict").is_null())
    read_hf_vision(j.at("vision_config_dict"), c.vision_config, where + " vision_config_dict");
  read_hf_field(j, "projection_dim", c.projection_dim, where);
  read_hf_field(j, "logit_scale_init_value", c.logit_scale_init_value, where);
  // Legacy HF configs (e.g. openai/clip-vit-large-patch14) say eos_token_id = 2,
  // bos 0, pad 1; HF then pools at argmax(input_ids), which with OpenAI's
  // vocabulary is the first <|endoftext|> = vocab_size - 1. We map the legacy
  // ids to the real ones so "first eos_token_id" pools at the same position;
  // padding is <|endoftext|>, as OpenAI's tokenizer pads.
  if (c.text_config.eos_token_id == 2) {
    c.text_config.eos_token_id = c.text_config.vocab_size - 1;
    if (c.text_config.bos_token_id == 0) c.text_config.bos_token_id = c.text_config.vocab_size - 2;
    if (c.text_config.pad_token_id == 1) c.text_config.pad_token_id = c.text_config.vocab_size - 1;
  }
  c.validate();
  return c;
}

// ---------------------------------------------------------------------------
// Embeddings
ClipEmbeddingImpl::ClipEmbeddingImpl(int64_t n, int64_t d, double init_std) : num(n), dim(d) {
  weight = register_parameter("weight", new_randn({n, d}, init_std));
}

torch::Tensor ClipEmbeddingImpl::forward(const torch::Tensor& ids) {
  // ids: any shape, int64 -> [..., dim]
  return torch::embedding(weight, ids);
}

ClipTextEmbeddingsImpl::ClipTextEmbeddingsImpl(int64_t vocab, int64_t positions, int64_t dim) {
  // HF init: both tables ~ N(0, 0.02).
  token_embedding = register_module("token_embedding", ClipEmbedding(vocab, dim, 0.02));
  position_embedding = register_module("position_embedding", ClipEmbedding(positions, dim, 0.02));
}

torch::Tensor ClipTextEmbeddingsImpl::forward(const torch::Tensor& input_ids) {
  // input_ids: [N, T] int64 -> [N, T, D]
  check_dim(input_ids, 2, "ClipTextEmbeddings input_ids");
  const int64_t t = input_ids.size(1);
  if (t > position_embedding->num)
    throw ShapeError("ClipTextEmbeddings: sequence length " + std::to_string(t) + " exceeds " +
                     std::to_string(position_embedding->num) + " positions");
  return token_embedding(input_ids) + position_embedding->weight.slice(0, 0, t).unsqueeze(0);
}

ClipPatchEmbeddingImpl::ClipPatchEmbeddingImpl(int64_t c, int64_t d, int64_t p)
    : channels(c), dim(d), patch(p) {
  weight = register_parameter("weight", new_randn({d, c, p, p}, 0.02));  // HF: N(0, initializer_range)
}

torch::Tensor ClipPatchEmbeddingImpl::forward(const torch::Tensor& x) {
  // x: [N, C, S, S] -> [N, D, S/P, S/P]
  check_shape(x, {-1, channels, -1, -1}, "ClipPatchEmbedding input");
  count_conv_flops(x.size(0), dim, channels, patch, x.size(2) / patch, x.size(3) / patch);
  return torch::conv2d(x, weight, /*bias=*/{}, /*stride=*/patch);
}

ClipVisionEmbeddingsImpl::ClipVisionEmbeddingsImpl(const ClipVisionConfig& c) : config(c) {
  const int64_t d = c.hidden_size, grid = c.image_size / c.patch_size;
  class_embedding = register_parameter("class_embedding", new_randn({d}, 1.0 / std::sqrt(double(d))));
  patch_embedding = register_module("patch_embedding", ClipPatchEmbedding(c.num_channels, d, c.patch_size));
  position_embedding = register_module("position_embedding", ClipEmbedding(1 + grid * grid, d, 0.02));
}

torch::Tensor ClipVisionEmbeddingsImpl::forward(const torch::Tensor& pixel_values) {
  // pixel_values: [N, C, S, S] -> [N, 1 + (S/P)^2, D]
  check_shape(pixel_values, {-1, config.num_channels, config.image_size, config.image_size},
              "ClipVisionEmbeddings pixel_values (resize with clip_preprocess)");
  const int64_t n = pixel_values.size(0), d = config.hidden_size;
  auto patches = patch_embedding(pixel_values).flatten(2).transpose(1, 2);  // [N, g*g, D]
  auto cls = class_embedding.view({1, 1, d}).expand({n, 1, d});
  return torch::cat({cls, patches}, 1) + position_embedding->weight.unsqueeze(0);
}

// ---------------------------------------------------------------------------
// Transformer layers
ClipAttentionImpl::ClipAttentionImpl(int64_t d, int64_t h) : dim(d), heads(h) {
  if (h <= 0 || d % h != 0)
    throw ConfigError("ClipAttention: dim " + std::to_string(d) + " is not divisible by " + std::to_string(h) +
                      " heads");
  // HF registration order: k, v, q, out.
  k_proj = register_module("k_proj", Linear(d, d));
  v_proj = register_module("v_proj", Linear(d, d));
  q_proj = register_module("q_proj", Linear(d, d));
  out_proj = register_module("out_proj", Linear(d, d));
}

torch::Tensor ClipAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& mask) {
  // x: [N, T, D], mask: [T, T] additive or undefined -> [N, T, D]
  check_shape(x, {-1, -1, dim}, "ClipAttention input");
  const int64_t n = x.size(0), t = x.size(1), hd = dim / heads;
  // [N, T, D] -> [N*H, T, hd]
  auto split = [&](const torch::Tensor& y) { return y.view({n, t, heads, hd}).transpose(1, 2).reshape({n * heads, t, hd}); };
  auto q = split(q_proj(x) * (1.0 / std::sqrt(static_cast<double>(hd))));
  auto k = split(k_proj(x));
  auto v = split(v_proj(x));
  count_matmul_flops(n * heads, t, hd, t);
  auto logits = torch::bmm(q, k.transpose(1, 2));  // [N*H, T, T]
  if (mask.defined()) {
    check_shape(mask, {t, t}, "ClipAttention mask");
    logits = logits + mask;
  }
  auto attn = torch::softmax(logits, -1);
  count_matmul_flops(n * heads, t, t, hd);
  auto o = torch::bmm(attn, v).view({n, heads, t, hd}).transpose(1, 2).reshape({n, t, dim});
  return out_proj(o);
}

ClipMlpImpl::ClipMlpImpl(int64_t dim, int64_t hidden, Activation a) : act(a) {
  fc1 = register_module("fc1", Linear(dim, hidden));
  fc2 = register_module("fc2", Linear(hidden, dim));
}

torch::Tensor ClipMlpImpl::forward(const torch::Tensor& x) {
  // x: [..., D] -> [..., D]
  return fc2(apply_activation(fc1(x), act));
}

ClipEncoderLayerImpl::ClipEncoderLayerImpl(int64_t dim, int64_t heads, int64_t hidden, Activation act,
                                           double eps) {
  // HF registration order: self_attn, layer_norm1, mlp, layer_norm2.
  self_attn = register_module("self_attn", ClipAttention(dim, heads));
  layer_norm1 = register_module("layer_norm1", LayerNorm(dim, eps));
  mlp = register_module("mlp", ClipMlp(dim, hidden, act));
  layer_norm2 = register_module("layer_norm2", LayerNorm(dim, eps));
}

torch::Tensor ClipEncoderLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& mask) {
  // x: [N, T, D], mask: [T, T] or undefined -> [N, T, D]  (pre-LN residual block)
  auto h = x + self_attn(layer_norm1(x), mask);
  return h + mlp(layer_norm2(h));
}

ClipEncoderImpl::ClipEncoderImpl(int64_t n_layers, int64_t dim, int64_t heads, int64_t hidden, Activation act,
                                 double eps) {
  layers = register_module("layers", torch::nn::ModuleList());
  // HF init (initializer_factor 1): q/k/v and fc2 ~ N(0, D^-0.5 (2L)^-0.5),
  // out_proj ~ N(0, D^-0.5), fc1 ~ N(0, (2D)^-0.5), biases 0.
  const double d = static_cast<double>(dim);
  const double in_std = std::pow(d, -0.5) * std::pow(2.0 * n_layers, -0.5);
  for (int64_t i = 0; i < n_layers; ++i) {
    ClipEncoderLayer layer(dim, heads, hidden, act, eps);
    init_linear(layer->self_attn->q_proj, in_std);
    init_linear(layer->self_attn->k_proj, in_std);
    init_linear(layer->self_attn->v_proj, in_std);
    init_linear(layer->self_attn->out_proj, std::pow(d, -0.5));
    init_linear(layer->mlp->fc1, std::pow(2.0 * d, -0.5));
    init_linear(layer->mlp->fc2, in_std);
    layers->push_back(layer);
  }
}

std::vector<torch::Tensor> ClipEncoderImpl::forward(const torch::Tensor& x, const torch::Tensor& mask,
                                                    int64_t num_layers) {
  // x: [N, T, D] -> num_layers + 1 tensors [N, T, D]
  const int64_t total = static_cast<int64_t>(layers->size());
  const int64_t run = num_layers < 0 ? total : std::min(num_layers, total);
  std::vector<torch::Tensor> states{x};
  states.reserve(run + 1);
  for (int64_t i = 0; i < run; ++i) states.push_back(layers->ptr<ClipEncoderLayerImpl>(i)->forward(states.back(), mask));
  return states;
}

// ---------------------------------------------------------------------------
// Text tower
ClipTextTransformerImpl::ClipTextTransformerImpl(const ClipTextConfig& c) : config(c) {
  config.validate();
  embeddings = register_module(
      "embeddings", ClipTextEmbeddings(c.vocab_size, c.max_position_embeddings, c.hidden_size));
  encoder = register_module("encoder", ClipEncoder(c.num_hidden_layers, c.hidden_size, c.num_attention_heads,
                                                   c.intermediate_size, parse_activation(c.hidden_act),
                                                   c.layer_norm_eps));
  final_layer_norm = register_module("final_layer_norm", LayerNorm(c.hidden_size, c.layer_norm_eps));
}

torch::Tensor ClipTextTransformerImpl::causal_mask(int64_t t, const torch::TensorOptions& options) {
  return torch::full({t, t}, -std::numeric_limits<double>::infinity(), options).triu(1);
}

torch::Tensor ClipTextTransformerImpl::eot_index(const torch::Tensor& input_ids) const {
  check_dim(input_ids, 2, "CLIP input_ids");
  auto is_eos = input_ids == static_cast<int64_t>(config.eos_token_id);  // [N, T]
  auto has = is_eos.any(1);
  if (!has.all().item<bool>()) {
    const int64_t row = (~has).nonzero().flatten()[0].item<int64_t>();
    throw PromptError("CLIP input_ids: row " + std::to_string(row) + " has no end-of-text token (id " +
                      std::to_string(config.eos_token_id) +
                      "); the tokenizer must end every prompt with it (truncate before it, not after)");
  }
  // argmax returns the first maximum: the first EOT of each row (as HF).
  return is_eos.to(torch::kInt).argmax(1);
}

ClipEncoderOutput ClipTextTransformerImpl::forward(const torch::Tensor& input_ids) {
  // input_ids: [N, C] int64 -> last_hidden_state [N, C, D], hidden_states L+1 x [N, C, D], pooled [N, D]
  auto ids = checked_ids(input_ids, config);
  auto eot = eot_index(ids);
  auto x = embeddings(ids);
  ClipEncoderOutput out;
  out.hidden_states = encoder(x, causal_mask(ids.size(1), x.options()));
  out.last_hidden_state = final_layer_norm(out.hidden_states.back());
  out.pooled = gather_rows(out.last_hidden_state, eot);
  return out;
}

torch::Tensor ClipTextTransformerImpl::hidden_state(const torch::Tensor& input_ids, int64_t layer) {
  // input_ids: [N, C] -> [N, C, D]
  const int64_t l = config.num_hidden_layers;
  const int64_t idx = layer < 0 ? l + 1 + layer : layer;
  config_require(idx >= 0 && idx <= l, "ClipTextTransformer hidden_state layer",
                 std::to_string(layer) + " does not index " + std::to_string(l + 1) + " hidden states");
  auto ids = checked_ids(input_ids, config);
  auto x = embeddings(ids);
  return encoder(x, causal_mask(ids.size(1), x.options()), idx).back();
}

// ---------------------------------------------------------------------------
// Vision tower
ClipVisionTransformerImpl::ClipVisionTransformerImpl(const ClipVisionConfig& c) : config(c) {
  config.validate();
  embeddings = register_module("embeddings", ClipVisionEmbeddings(c));
  pre_layrnorm = register_module("pre_layrnorm", LayerNorm(c.hidden_size, c.layer_norm_eps));
  encoder = register_module("encoder", ClipEncoder(c.num_hidden_layers, c.hidden_size, c.num_attention_heads,
                                                   c.intermediate_size, parse_activation(c.hidden_act),
                                                   c.layer_norm_eps));
  post_layernorm = register_module("post_layernorm", LayerNorm(c.hidden_size, c.layer_norm_eps));
}

ClipEncoderOutput ClipVisionTransformerImpl::forward(const torch::Tensor& pixel_values) {
  // pixel_values: [N, C, S, S] -> last_hidden_state [N, 1+(S/P)^2, D], hidden_states L+1, pooled [N, D]
  auto x = pre_layrnorm(embeddings(pixel_values));
  ClipEncoderOutput out;
  out.hidden_states = encoder(x);
  out.last_hidden_state = out.hidden_states.back();
  out.pooled = post_layernorm(out.last_hidden_state.select(1, 0));
  return out;
}

// ---------------------------------------------------------------------------
// CLIPModel
ClipModelImpl::ClipModelImpl(const ClipConfig& c) : config(c) {
  config.validate();
  // HF registration order: text_model, vision_model, visual_projection, text_projection, logit_scale.
  text_model = register_module("text_model", ClipTextTransformer(c.text_config));
  vision_model = register_module("vision_model", ClipVisionTransformer(c.vision_config));
  visual_projection =
      register_module("visual_projection", Linear(c.vision_config.hidden_size, c.projection_dim, /*bias=*/false));
  text_projection =
      register_module("text_projection", Linear(c.text_config.hidden_size, c.projection_dim, /*bias=*/false));
  init_linear(visual_projection, std::pow(double(c.vision_config.hidden_size), -0.5));
  init_linear(text_projection, std::pow(double(c.text_config.hidden_size), -0.5));
  logit_scale = register_parameter("logit_scale", new_full({}, c.logit_scale_init_value));
}

torch::Tensor ClipModelImpl::text_embeds(const torch::Tensor& input_ids) {
  // input_ids: [N, C] -> [N, P]
  return text_projection(text_model(input_ids).pooled);
}

torch::Tensor ClipModelImpl::image_embeds(const torch::Tensor& pixel_values) {
  // pixel_values: [N, 3, S, S] (CLIP-normalised) -> [N, P]
  return visual_projection(vision_model(pixel_values).pooled);
}

torch::Tensor ClipModelImpl::encode_text(const torch::Tensor& input_ids) {
  // input_ids: [N, C] -> [N, P], unit L2 norm
  return l2_normalize(text_embeds(input_ids));
}

torch::Tensor ClipModelImpl::encode_image(const torch::Tensor& images) {
  // images: [N, 3, H, W] in [-1, 1] -> [N, P], unit L2 norm
  check_shape(images, {-1, 3, -1, -1}, "ClipModel::encode_image images");
  return l2_normalize(image_embeds(clip_preprocess(images, config.vision_config.image_size)));
}

ClipModelImpl::TextFeatures ClipModelImpl::text_features(const torch::Tensor& input_ids) {
  // input_ids: [N, C] -> tokens [N, C, D], eot_index [N], pooled [N, D]
  TextFeatures f;
  auto ids = checked_ids(input_ids, config.text_config);
  f.eot_index = text_model->eot_index(ids);
  // Only the layers up to text_feature_layer run (the last one is skipped for -2).
  f.tokens = text_model->final_layer_norm(text_model->hidden_state(ids, config.text_feature_layer));
  f.pooled = gather_rows(f.tokens, f.eot_index);
  return f;
}

// ---------------------------------------------------------------------------
torch::Tensor clip_preprocess(const torch::Tensor& images, int64_t size) {
  // images: [N, 3, H, W] in [-1, 1] -> [N, 3, size, size]
  check_shape(images, {-1, 3, -1, -1}, "clip_preprocess images");
  if (size <= 0) throw ShapeError("clip_preprocess: size must be positive, got " + std::to_string(size));
  auto x = (images + 1.0) * 0.5;  // [0, 1], as CLIP's ToTensor
  if (x.size(2) != size || x.size(3) != size) {
    // Antialiased bilinear (a triangle filter widened by the scale when
    // shrinking, PIL's BILINEAR); equals plain bilinear when enlarging.
    namespace F = torch::nn::functional;
    x = F::interpolate(x, F::InterpolateFuncOptions()
                              .size(std::vector<int64_t>{size, size})
                              .mode(torch::kBilinear)
                              .align_corners(false)
                              .antialias(true));
  }
  auto opts = x.options();
  auto mean = torch::tensor({0.48145466, 0.4578275, 0.40821073}, opts.dtype(torch::kDouble)).to(opts).view({1, 3, 1, 1});
  auto std = torch::tensor({0.26862954, 0.26130258, 0.27577711}, opts.dtype(torch::kDouble)).to(opts).view({1, 3, 1, 1});
  return (x - mean) / std;
}

ClipModel load_hf_clip(const std::string& folder_or_file, torch::Device device) {
  namespace fs = std::filesystem;
  const fs::path p(folder_or_file);
  fs::path dir, weights;
  if (fs::is_directory(p)) {
    dir = p;
    weights = p / "model.safetensors";
  } else {
    weights = p;
    dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  }
  if (!fs::is_regular_file(weights))
    throw CheckpointError("'" + weights.string() +
                          "' not found: expected a Hugging Face CLIP model folder holding config.json and "
                          "model.safetensors (e.g. a download of openai/clip-vit-large-patch14)");
  const fs::path config_file = dir / "config.json";
  std::ifstream in(config_file);
  if (!in)
    throw CheckpointError("'" + config_file.string() + "' not found: a Hugging Face CLIP model needs its config.json next to '" +
                          weights.string() + "'");
  json j;
  try {
    j = json::parse(in);
  } catch (const json::exception& e) {
    throw ConfigError("'" + config_file.string() + "' is not valid JSON: " + e.what());
  }
  ClipConfig config;
  try {
    config = ClipConfig::from_hf_json(j);
  } catch (const ConfigError& e) {
    throw ConfigError("'" + config_file.string() + "': " + e.what());
  }

  auto file = read_safetensors(weights.string());
  TensorMap tensors;
  for (auto& [name, t] : file.tensors)
    tensors[name] = (t.is_floating_point() && t.scalar_type() != torch::kFloat32) ? t.to(torch::kFloat32) : t;
  file.tensors.clear();
  ClipModel model(config);
  // HF's position_ids buffers (arange) are not parameters of ours; older files carry them.
  load_state_dict_strict(*model, tensors, weights.string(),
                         {"text_model.embeddings.position_ids", "vision_model.embeddings.position_ids"});
  tensors.clear();
  model->to(device);
  model->eval();
  return model;
}

}  // namespace gg

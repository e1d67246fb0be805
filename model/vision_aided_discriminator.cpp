// Ref: Kang et al. 2023 (GigaGAN) Sec. 3.4, the vision-aided adversarial loss;
// Projected GAN (Sauer et al. 2021) for the fixed random projection.
#include "vision_aided_discriminator.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <string>

namespace gg {

void VisionAidedConfig::validate() const {
  const std::string w = "VisionAidedConfig";
  if (!enabled) return;  // a disabled vision-aided D is never built
  config_require(feature_layers.size() <= 64, w + ".feature_layers",
                 "has " + std::to_string(feature_layers.size()) + " entries, more than the limit of 64");
  for (auto [v, f] : {std::pair{projection_channels, ".projection_channels"}, {head_channels, ".head_channels"},
                      {text_input_dim, ".text_input_dim"}})
    config_require_range(v, 1, kMaxConfigWidth, w + f);
  config_require_range(head_layers, 1, kMaxConfigLayers, w + ".head_layers");
  config_require(backbone == "clip" || backbone == "inception_v3", w + ".backbone",
                 "is '" + backbone + "'; expected clip or inception_v3");
  const bool inception = backbone == "inception_v3";
  for (int l : feature_layers) {
    if (inception)
      config_require(l >= 0 && l < InceptionV3Impl::kMixedBlocks, w + ".feature_layers",
                     "mixed block " + std::to_string(l) + " is outside 0..10 (InceptionV3's mixed0..mixed10)");
    else
      config_require_range(l, 0, kMaxConfigLayers, w + ".feature_layers");
  }
  config_require(!feature_layers.empty(), w + ".feature_layers",
                 inception ? "must name at least one InceptionV3 mixed block when enabled"
                           : "must name at least one CLIP vision layer when enabled");
  if (backbone_image_size != 0)
    config_require_range(backbone_image_size, static_cast<int>(InceptionV3Impl::kMinImageSize), 1024,
                         w + ".backbone_image_size");
  std::set<int> seen;
  for (int l : feature_layers) {
    config_require(l >= 0, w + ".feature_layers",
                   "layer " + std::to_string(l) + " is negative (0 = embeddings, i = output of layer i)");
    config_require(seen.insert(l).second, w + ".feature_layers",
                   "layer " + std::to_string(l) + " is listed twice");
  }
  config_require(projection_channels > 0, w + ".projection_channels", "must be positive");
  config_require(head_channels > 0, w + ".head_channels", "must be positive");
  config_require(head_layers >= 1, w + ".head_layers", "must be >= 1");
  config_require(text_input_dim > 0, w + ".text_input_dim", "must be positive");
  config_require(projection_seed >= 0, w + ".projection_seed", "must be >= 0");
}

// ---------------------------------------------------------------------------
VisionAidedHeadImpl::VisionAidedHeadImpl(int64_t in, int64_t ch, int64_t layers, int64_t text_dim) {
  convs = register_module("convs", torch::nn::ModuleList());
  for (int64_t l = 0; l < layers; ++l)
    convs->push_back(
        TextModulatedConv2d(l == 0 ? in : ch, ch, 3, text_dim, true, Activation::LReLU));
  out = register_module("out", Conv2dLayer(ch, 1, 1, true, Activation::Linear));
}

torch::Tensor VisionAidedHeadImpl::forward(const torch::Tensor& x, const torch::Tensor& text) {
  // x: [N, C_in, g, g], text: [N, text_dim] -> [N, 1, g, g]
  auto h = x;
  for (const auto& m : *convs) h = m->as<TextModulatedConv2dImpl>()->forward(h, text);
  return out(h);
}

// ---------------------------------------------------------------------------
VisionAidedDiscriminatorImpl::VisionAidedDiscriminatorImpl(const VisionAidedConfig& c,
                                                           ClipVisionTransformer clip_model)
    : config(c), clip(std::move(clip_model)) {
  config.validate();
  if (!config.enabled)
    throw ConfigError("VisionAidedConfig.enabled: is false; do not build a disabled vision-aided D");
  if (config.backbone != "clip")
    throw ConfigError("VisionAidedConfig.backbone: is '" + config.backbone + "'; this D was given a CLIP vision model");
  if (!clip) throw ConfigError("VisionAidedDiscriminator: no CLIP vision model given");
  const auto& vc = clip->config;
  for (int l : config.feature_layers)
    config_require(l <= vc.num_hidden_layers, "VisionAidedConfig.feature_layers",
                   "layer " + std::to_string(l) + " is outside 0.." +
                       std::to_string(vc.num_hidden_layers) + " (the CLIP vision layers)");
  build(std::vector<int64_t>(config.feature_layers.size(), vc.hidden_size));
}

VisionAidedDiscriminatorImpl::VisionAidedDiscriminatorImpl(const VisionAidedConfig& c, InceptionV3 inception_model)
    : config(c), inception(std::move(inception_model)) {
  config.validate();
  if (!config.enabled)
    throw ConfigError("VisionAidedConfig.enabled: is false; do not build a disabled vision-aided D");
  if (config.backbone != "inception_v3")
    throw ConfigError("VisionAidedConfig.backbone: is '" + config.backbone + "'; this D was given an InceptionV3");
  if (!inception) throw ConfigError("VisionAidedDiscriminator: no InceptionV3 given");
  std::vector<int64_t> dims;
  for (int l : config.feature_layers) dims.push_back(InceptionV3Impl::mixed_channels(l));
  build(dims);
}

void VisionAidedDiscriminatorImpl::build(const std::vector<int64_t>& dims) {
  const int64_t p = config.projection_channels;
  // Fixed random projections, deterministic from projection_seed, drawn on the
  // CPU in feature-layer order and registered as buffers (not parameters), so
  // checkpoints round-trip them and the optimizer never sees them. Scaled by
  // 1/sqrt(D) so a unit-variance feature projects to unit variance.
  auto gen = at::detail::createCPUGenerator(static_cast<uint64_t>(config.projection_seed));
  for (size_t k = 0; k < dims.size(); ++k) {
    const int64_t d = dims[k];
    auto buf = new_tensor({p, d});
    if (!MetaScope::active()) {
      torch::NoGradGuard no_grad;
      buf.copy_(torch::randn({p, d}, gen, torch::kFloat32) / std::sqrt(static_cast<double>(d)));
    }
    projection.push_back(register_buffer("projection_" + std::to_string(k), buf));
  }
  heads = register_module("heads", torch::nn::ModuleList());
  for (size_t k = 0; k < dims.size(); ++k)
    heads->push_back(VisionAidedHead(p, config.head_channels, config.head_layers, config.text_input_dim));
}

std::vector<torch::Tensor> VisionAidedDiscriminatorImpl::projected_features(
    const torch::Tensor& images) {
  // images: [N, 3, H, W] in [-1, 1] -> per feature layer [N, projection_channels, g, g]
  check_shape(images, {-1, 3, -1, -1}, "VisionAidedDiscriminator images");
  const int64_t n = images.size(0);
  std::vector<torch::Tensor> out;
  if (inception) {
    // Feature maps of the chosen mixed blocks, normalised per position over
    // channels (non-affine LayerNorm, as the CLIP tokens below), then the
    // fixed 1x1 random projection.
    const int64_t side = config.backbone_image_size > 0 ? config.backbone_image_size : InceptionV3Impl::kImageSize;
    const int last = *std::max_element(config.feature_layers.begin(), config.feature_layers.end());
    const auto enc = inception->forward(mobilenet_preprocess(images, side), last);
    for (size_t k = 0; k < config.feature_layers.size(); ++k) {
      const auto& fm = enc.mixed.at(static_cast<size_t>(config.feature_layers[k]));  // [N, C, g, g]
      const int64_t c = fm.size(1);
      auto tok = torch::layer_norm(fm.permute({0, 2, 3, 1}), {c});  // [N, g, g, C]
      count_matmul_flops(1, n * fm.size(2) * fm.size(3), c, config.projection_channels);
      out.push_back(torch::matmul(tok, projection[k].t()).permute({0, 3, 1, 2}).contiguous());
    }
    return out;
  }
  const auto& vc = clip->config;
  const auto enc = clip->forward(clip_preprocess(images, vc.image_size));
  const int64_t g = vc.image_size / vc.patch_size;
  for (size_t k = 0; k < config.feature_layers.size(); ++k) {
    const int l = config.feature_layers[k];
    if (l >= static_cast<int>(enc.hidden_states.size()))
      throw ShapeError("VisionAidedDiscriminator: CLIP returned " +
                       std::to_string(enc.hidden_states.size()) + " hidden states, layer " +
                       std::to_string(l) + " requested");
    const auto& hs = enc.hidden_states[l];
    check_shape(hs, {n, 1 + g * g, vc.hidden_size}, "VisionAidedDiscriminator CLIP hidden state");
    // Drop the class token; a non-affine LayerNorm over D first (our choice:
    // intermediate ViT activations have a few very large channels, which would
    // otherwise dominate the random projection).
    auto tok = torch::layer_norm(hs.slice(1, 1), {vc.hidden_size});  // [N, P, D]
    // (Module::to() moves buffers with set_data, so these handles stay valid.)
    const auto& proj = projection[k];
    count_matmul_flops(1, n * g * g, vc.hidden_size, config.projection_channels);
    auto f = torch::matmul(tok, proj.t());  // [N, P, proj]
    out.push_back(f.transpose(1, 2).reshape({n, config.projection_channels, g, g}));
  }
  return out;
}

std::vector<torch::Tensor> VisionAidedDiscriminatorImpl::forward(const torch::Tensor& images,
                                                                 const torch::Tensor& text_pooled) {
  // images: [N, 3, H, W] in [-1, 1], text_pooled: [N, text_input_dim] -> per layer [N, 1, g, g]
  check_shape(images, {-1, 3, -1, -1}, "VisionAidedDiscriminator images");
  check_shape(text_pooled, {images.size(0), config.text_input_dim},
              "VisionAidedDiscriminator text_pooled");
  const auto feats = projected_features(images);
  std::vector<torch::Tensor> out;
  for (size_t k = 0; k < feats.size(); ++k)
    out.push_back(heads[k]->as<VisionAidedHeadImpl>()->forward(feats[k], text_pooled));
  return out;
}

}  // namespace gg

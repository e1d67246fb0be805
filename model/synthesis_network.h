// Synthesis network G_synth: learned 4x4 constant, levels 4..resolution px,
// blocks g_xa(g_attn(g_adaconv(f, w), w), t_local), StyleGAN2 skip toRGB, an
// image pyramid as output.
// Ref: Kang et al. 2023 (GigaGAN, arXiv 2303.05511) Sec. 3.2
// and Fig. 4; StyleGAN2 SynthesisLayer / SynthesisBlock (skip architecture).
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

#include "adaptive_conv2d.h"
#include "attention.h"
#include "generator_config.h"
#include "layers.h"

namespace gg {

// Per-layer noise: the registered const buffer, fresh random noise, or none.
enum class NoiseMode { Const, Random, None };
NoiseMode parse_noise_mode(const std::string& s);  // "const" | "random" | "none"
const char* noise_mode_name(NoiseMode m);

// One W+ slot: which (w, t_local) pair a block reads.
struct SynthesisSlot {
  int index;       // level * blocks_per_level + block
  int level;       // 0 = 4 px
  int block;       // block within the level
  int resolution;  // px
  std::string name;  // e.g. "8px.b1"
};

// One block: AdaptiveConv2d 3x3 (2x up for the first block of levels > 0) +
// noise + lrelu, then (at attention resolutions) SelfAttention with the w token
// and CrossAttention to t_local.
struct SynthesisBlockImpl : torch::nn::Module {
  SynthesisBlockImpl(int64_t in_channels, int64_t out_channels, int resolution, bool upsample,
                     bool attention, const GeneratorConfig& config);
  // x: [N, C_in, r/up, r/up], w: [N, w_dim], t_local: [N, C-1, text_dim] -> [N, C_out, r, r]
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& t_local,
                        NoiseMode noise_mode);

  int resolution;
  AdaptiveConv2d conv{nullptr};        // bias, linear; lrelu comes after the noise
  torch::Tensor noise_const;           // buffer [r, r]
  torch::Tensor noise_strength;        // scalar, init 0 (StyleGAN2)
  SelfAttention attn{nullptr};         // absent below/above attention_resolutions
  CrossAttention cross_attn{nullptr};

 private:
  // Inference with const noise: gain * strength * noise_const repeated over the
  // channels in the conv output's layout, [1, C_out, r, r]. Adding it is one
  // pass over same-layout tensors; broadcasting [r, r] over the channels of a
  // channels_last output (and the 0-d strength) is TensorIterator's slow path.
  // Rebuilt when the strength, the noise or the layout changes.
  torch::Tensor const_noise_term(const torch::Tensor& h, double gain);
  std::mutex noise_mutex_;
  torch::Tensor noise_term_;
  std::vector<int64_t> noise_key_;
};
TORCH_MODULE(SynthesisBlock);

struct SynthesisNetworkImpl : torch::nn::Module {
  explicit SynthesisNetworkImpl(const GeneratorConfig& config);  // config must be valid
  // ws: [N, num_ws, w_dim], t_locals: [N, num_ws, C-1, text_dim]
  // -> pyramid, index 0 = [N, 3, resolution, resolution], ..., index L-1 = [N, 3, 4, 4].
  // Block `slot` reads ws[:, slot] and t_locals[:, slot]; level l's toRGB reads
  // the w of the level's last block. The common case (one w, one prompt) passes
  // w.unsqueeze(1).expand(...) and t_local.unsqueeze(1).expand(...): views, no copies.
  std::vector<torch::Tensor> forward(const torch::Tensor& ws, const torch::Tensor& t_locals);

  const std::vector<SynthesisSlot>& slots() const { return slots_; }
  int num_ws() const { return static_cast<int>(slots_.size()); }
  int num_levels() const { return static_cast<int>(to_rgb.size()); }

  GeneratorConfig config;
  NoiseMode noise_mode;                       // from config.noise_mode_default; may be changed
  torch::Tensor const_input;                  // "const": [channels[0], 4, 4]
  std::vector<SynthesisBlock> blocks;         // one per slot, "b<res>.block<i>"
  std::vector<AdaptiveConv2d> to_rgb;         // one per level, "b<res>.torgb"

 private:
  std::vector<SynthesisSlot> slots_;
};
TORCH_MODULE(SynthesisNetwork);

}  // namespace gg

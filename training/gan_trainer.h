// `gigagan train`: the GigaGAN base generator against its discriminators with
// the full objective of the GigaGAN paper (Kang et al. 2023):
//   D: V_MSIO over every (i, j) pair (real vs fake) + matching-aware pairs
//      (x, c_hat) and (G(c), c_hat) as fakes + the vision-aided D's logistic
//      loss + lazy R1 on reals;
//   G: non-saturating V_MSIO + matching-aware term softplus(D(G(c), c_hat))
//      + CLIP contrastive loss with the frozen CLIP + vision-aided G loss.
// Adam (betas 0, 0.99; lazy-regularisation corrected for D), G EMA with a
// half-life in images (StyleGAN2), gradient accumulation over micro-batches,
// optional data parallelism through a gradient reducer (training/distributed.h).
// Ref: GigaGAN (arXiv 2303.05511), "Discriminator design" and its losses;
// Karras et al. 2020 (StyleGAN2: lazy R1, EMA); Kang et al. 2023 Sec. 3.3-3.4.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "adam.h"
#include "augment.h"
#include "clip.h"
#include "dataset.h"
#include "discriminator.h"
#include "generator.h"
#include "model_config.h"
#include "run.h"
#include "tokenizer.h"
#include "upsampler.h"
#include "vision_aided_discriminator.h"

namespace gg {

struct GanTrainOptions {
  int batch = 32;           // images per optimiser step (over all ranks)
  int micro_batch = 0;      // images per forward/backward on one rank; 0: batch / world size
  double lr_g = 2e-3;
  double lr_d = 2e-3;
  double beta1 = 0.0;
  double beta2 = 0.99;
  double attention_weight_decay = 0.0;  // decoupled, on attention projections (GigaGAN paper)
  double r1_gamma = 0.05;
  int r1_interval = 16;     // lazy R1: every this many steps, scaled by the interval
  double match_weight = 1.0;   // matching-aware loss, for G and D
  double match_style_negatives = 0;  // share of its c_hat that is the image's own caption in another style
  double clip_weight = 0.2;    // CLIP contrastive loss (G)
  double vision_weight = 0.5;  // vision-aided loss (G and its D); ignored when the config disables it
  // The vision-aided D's backbone weights when the config's backbone is
  // inception_v3 (a file made by `gigagan convert-tfjs`; the CLIP backbone is the run's CLIP).
  std::string vision_backbone_weights;
  double ema_half_life_images = 10000;
  double ema_rampup = 0.05;    // EMA half-life <= rampup * images seen (0: off; fine-tuning an --init G)
  int64_t d_warmup_images = 0;  // G is not updated for this many images (D catches up with an --init G)
  // Paired reconstruction for the base generator (not in the paper; 0: off).
  // Each G-step image is drawn for its real image's caption with recon_samples
  // latents (no gradients); the one closest to the real image (mean L1 over
  // the pyramid levels) is the one G renders in its step, and that image's L1
  // to the real pyramid is added with this weight: implicit maximum
  // likelihood (Li & Malik 2018) / best-of-many (Bhattacharyya et al. 2018),
  // so a caption's images are pulled towards its real image without every z
  // being pulled to it (seeds keep their differences).
  double recon_weight = 0;
  // The reconstruction term (and the choice among recon_samples latents)
  // sees only the pyramid levels of at most this many pixels (0: every
  // level). A term on the coarse levels alone holds the layout and colours
  // of a caption's real image and leaves the detail to the adversarial game.
  int recon_max_size = 0;
  // Weight of G's adversarial terms (V_MSIO, matching-aware, vision-aided).
  // 0: a reconstruction-only phase: D and its R1 are not run at all.
  double gan_weight = 1;
  // 0: every G-step image is drawn with z = 0, so w comes from the text alone
  // and the reconstruction is a deterministic caption -> image regression (a
  // diagnostic: can G learn its training images from their captions?).
  int recon_samples = 4;
  // Share of the batch whose caption is shortened to the emoji's label
  // ("pizza"), half of them keeping the style clause ("pizza, noto style"):
  // the short prompts a user types are then captions the model was trained
  // on, and a prompt without a style word leaves the style to z.
  double short_captions = 0;
  // Mode-seeking term (not in the paper; Mao et al., "Mode Seeking Generative
  // Adversarial Networks for Diverse Image Synthesis", CVPR 2019): each G-step
  // image is rendered a second time for the same caption with another z, and
  // G pays weight / (ratio + 1e-5), ratio = mean |image_1 - image_2| / mean
  // |z_1 - z_2|. It works against seeds of one prompt collapsing to one image.
  // 0: off (no second render).
  double mode_seeking_weight = 0;
  std::string augment = "translation,cutout";  // DiffAugment on real and fake alike ("" none)
  // G's per-layer noise in training: "" (the config's noise_mode_default),
  // "const" or "none". With "none" the noise strengths are held at 0, so the
  // checkpoint renders the same whatever noise mode it is later run in.
  // ("random" is refused: its draws from the global RNG would desynchronise
  // the z stream that all ranks share.)
  std::string noise;
  uint64_t seed = 0;
  int sample_prompts = 8;      // sample grid: prompts (fixed, from the data) x sample_seeds
  int sample_seeds = 2;
  double perceptual_weight = 1.0;  // upsampler only: CLIP-feature loss against the real high-res image
  double pixel_weight = 30.0;      // upsampler only: L1 between output and real, both averaged down to pixel_size
                                   // (30: what the shipped upsampler used; 1 had not pulled its drifted colours back after 250 images)
  // Side (px) at which the upsampler's pixel term compares output and real
  // image (both box-averaged to it); 0: the input resolution (the upscale
  // must give its input back, and says nothing about detail finer than it).
  // The output resolution makes it the full-resolution L1 of super-resolution
  // training (EDSR, Real-ESRGAN): edges where the real image has them.
  int pixel_size = 0;
  // Upsampler only: each training image's low-res input is blurred with a
  // Gaussian of standard deviation drawn uniformly from [0, input_blur]
  // input pixels (0: off), before the input noise. The base generator's
  // images are softer than a box average of a real image; trained on these,
  // the upsampler learns to give them the real images' edges.
  double input_blur = 0;
  int64_t inject_nan_at_step = -1;  // testing aid: the G loss becomes NaN at this step (once per process)
  void validate() const;
};
GG_CONFIG_JSON(GanTrainOptions, batch, micro_batch, lr_g, lr_d, beta1, beta2, attention_weight_decay, r1_gamma,
               r1_interval, match_weight, clip_weight, vision_weight, ema_half_life_images, ema_rampup, augment,
               seed, sample_prompts, sample_seeds, perceptual_weight, pixel_weight, inject_nan_at_step,
               d_warmup_images, match_style_negatives, noise, recon_weight, recon_samples, short_captions, gan_weight,
               vision_backbone_weights, mode_seeking_weight, recon_max_size, pixel_size, input_blur)

// Frozen CLIP text features per caption, computed once and kept (a caption's
// features never change while the encoder is frozen).
class TextCache {
 public:
  TextCache(ClipModel clip, const Tokenizer& tokenizer, torch::Device device);
  struct Features {
    torch::Tensor tokens;     // [N, C, D]
    torch::Tensor eot_index;  // [N] int64
    torch::Tensor pooled;     // [N, D]
    torch::Tensor embed;      // [N, P], unit norm (CLIP text embedding)
  };
  Features get(const std::vector<std::string>& captions);
  size_t size() const { return cache_.size(); }

 private:
  struct Entry {
    torch::Tensor tokens, pooled, embed;
    int64_t eot = 0;
  };
  ClipModel clip_;
  const Tokenizer& tokenizer_;
  torch::Device device_;
  std::unordered_map<std::string, Entry> cache_;
};

// All-reduce (average) of gradients across data-parallel ranks; null when alone.
using GradientReducer = std::function<void(const std::vector<torch::Tensor>& params)>;

struct DataParallel {
  int rank = 0;
  int world = 1;
  GradientReducer reduce;                                   // averages .grad of the given parameters over ranks
  std::function<bool(bool)> any;                            // OR of a flag over ranks
  std::function<void(const std::vector<torch::Tensor>&)> broadcast;  // rank 0's values to every rank
};

// Where a step's time goes, for `gigagan bench --train`. FLOPs are the
// layers' counted forward multiply-adds x2, times 3 for a pass whose weights
// train (forward + input and weight gradients), 2 for a frozen pass that
// gradients flow through, 1 for a pass without backward, 4 for the R1 pass
// (forward, input gradient with its graph, and that graph's backward).
struct StepProfile {
  std::map<std::string, double> seconds;  // phase -> total seconds
  std::map<std::string, double> flops;    // phase -> total training FLOPs (its forward and the backward it causes)
  std::map<std::string, double> forward_flops;  // phase -> FLOPs of the forward pass itself
  int64_t steps = 0;
};

// What a GanTrainer trains: the base generator (64 px from text) or the GAN
// upsampler (text-conditioned, 64 -> 256 px from real (low, high) pairs).
// The upsampler uses the base losses without the vision-aided one, plus a
// perceptual loss on frozen CLIP image features (no VGG/LPIPS weights exist
// here), and Gaussian noise on its input (GigaGAN's "GAN-based upsampler").
enum class GanTarget { Base, Upsampler };

class GanTrainer : public TrainerBase {
 public:
  // `clip` and `tokenizer` are the frozen encoder (trained by train-clip).
  // For the upsampler the dataset must carry high-res pairs (hr_resolution).
  GanTrainer(const ModelConfig& config, const GanTrainOptions& options, std::shared_ptr<const Dataset> train,
             ClipModel clip, std::shared_ptr<Tokenizer> tokenizer, torch::Device device = torch::kCPU,
             DataParallel dp = {}, GanTarget target = GanTarget::Base);
  ~GanTrainer() override;

  std::string mode() const override { return target_ == GanTarget::Base ? "gan" : "upsampler"; }
  int64_t batch_size() const override { return options_.batch; }
  StepResult step() override;
  Checkpoint state() const override;
  void load_state(const Checkpoint& ck, const std::string& source) override;
  bool write_samples(const std::filesystem::path& path) override;
  std::string export_package(const RunFolder& run) override;
  double learning_rate() const override { return options_.lr_g * lr_scale_; }
  void synchronize() override;
  void scale_learning_rate(double factor) override;
  const Dataset* training_data() const override { return train_.get(); }

  // Starts the trained network (and its EMA) from these weights (fine-tuning); same config required,
  // except with `widen_from` (the weights' generator config): then they may be
  // narrower than this run's generator and are widened keeping G's function
  // (widen.h; base GAN only).
  void init_generator(const TensorMap& generator, const std::string& source, const json& widen_from = json());
  // Fine-tuning: D (and the vision-aided heads) from a "discriminator"
  // checkpoint (a package's discriminator.safetensors) or a `gigagan train`
  // checkpoint; D's config must be this run's.
  // When only the vision-aided config differs (another backbone or layers),
  // D is loaded and the vision-aided heads start fresh: returns false then.
  bool init_discriminator(const Checkpoint& ck, const std::string& source);
  // D and the vision-aided heads as a "discriminator" checkpoint (packages keep it).
  Checkpoint discriminator_state() const;
  // Where export_package also copies the tokenizer and CLIP from.
  void set_package_sources(std::string tokenizer_folder, std::string description);

  void enable_profile(bool on) { profiling_ = on; profile_ = {}; }
  const StepProfile& profile() const { return profile_; }

  Generator& generator() { return G_; }  // null when training the upsampler
  Generator& generator_ema() { return G_ema_; }
  Upsampler& upsampler_ema() { return U_ema_; }  // null when training the base
  Discriminator& discriminator() { return D_; }
  const std::vector<std::string>& sample_captions() const { return sample_captions_; }

 private:
  void start_loader(int64_t position);
  std::vector<torch::Tensor> real_pyramid(const torch::Tensor& images) const;
  std::vector<torch::Tensor> augment(const std::vector<torch::Tensor>& pyramid) const;
  // D logits for the pyramid against each text in `t_ds` (one batched pass).
  std::vector<std::vector<torch::Tensor>> d_logits(const std::vector<torch::Tensor>& pyramid,
                                                   const std::vector<torch::Tensor>& t_ds);
  void update_ema();
  // --noise none: G's and G_ema's noise strengths (held_noise_strengths_, found
  // once at construction, where the noise mode is set) back to 0, after
  // construction, loads and every G step.
  void hold_noise_strengths();
  // After backward: all-reduce the optimiser's gradients (data parallel) and
  // agree whether they are finite; false (gradients cleared, `r` names the
  // cause) when the step must not be applied.
  bool gradients_ready(Adam& adam, const char* what, StepResult& r);
  // The trained network and its EMA (G or U).
  torch::nn::Module& net();
  torch::nn::Module& net_ema();
  const torch::nn::Module& net() const;
  const torch::nn::Module& net_ema() const;
  // The trained network's pyramid for latents z, text and (upsampler) low-res input.
  std::vector<torch::Tensor> generate(bool ema, const torch::Tensor& z, const TextCache::Features& text,
                                      const torch::Tensor& low);
  // Upsampler: L2 between frozen CLIP vision features of fake and real at the
  // CLIP's input size (whole image) and on one same-place crop at full resolution.
  torch::Tensor perceptual_loss(const torch::Tensor& fake, const torch::Tensor& real);
  torch::Tensor draw_z(int64_t n);
  // recon_weight: per-image distance [b - a] between G's pyramid `fake` and
  // rows [a, b) of the real pyramid `real` (mean L1 over levels).
  torch::Tensor recon_distance(const std::vector<torch::Tensor>& fake, const std::vector<torch::Tensor>& real,
                               int64_t a, int64_t b) const;
  // recon_samples > 1: for candidates [K, N, z_dim], each image's latent whose
  // G image is closest to its real image (no gradients) -> [N, z_dim].
  torch::Tensor choose_recon_z(const torch::Tensor& candidates, const TextCache::Features& text,
                               const std::vector<torch::Tensor>& real);
  void set_requires_grad(bool g_trains);

  // One optimiser step in the phases of StyleGAN's loss.py: the batch (this
  // rank's share, text features, latents), G's loss and update (Gmain), D's
  // loss (Dmain), lazy R1 (Dreg).
  struct StepInputs {
    std::vector<std::string> captions;
    TextCache::Features text, text_hat;  // the captions' and the wrong captions' (c_hat) features
    torch::Tensor lows, reals;           // reals: the high-res images for the upsampler, else lows
    torch::Tensor z_g, z_d;              // latents of the G and D phases
    torch::Tensor z_ms;                  // mode_seeking_weight > 0: the second latent of each G-step image
    std::vector<torch::Tensor> real_levels;  // recon_weight > 0: the reals' pyramid, as G's levels
    int micro_steps = 1;
    double share = 1.0;  // each micro-batch's share of the step's gradient
  };
  StepInputs prepare_step();
  // G's total loss on micro-batch rows [a, b) (every term recorded in `r`).
  torch::Tensor g_loss_micro(const StepInputs& in, int64_t a, int64_t b, StepResult& r);
  torch::Tensor g_clip_loss(const torch::Tensor& fake, const TextCache::Features& t,
                            const std::vector<std::string>& captions, int64_t a);
  // Backward over every micro-batch, then Adam and EMA; false when the step
  // must not be applied (non-finite gradients; `r` says why).
  bool g_main(const StepInputs& in, StepResult& r);
  void d_main(const StepInputs& in, StepResult& r);  // accumulates D's gradients
  void d_reg(const StepInputs& in, StepResult& r);   // accumulates R1's gradients
  void record(StepResult& r, const char* name, const torch::Tensor& value) const;
  StepProfile* timing() { return profiling_ ? &profile_ : nullptr; }

  ModelConfig config_;
  GanTrainOptions options_;
  std::shared_ptr<const Dataset> train_;
  ClipModel clip_;
  std::shared_ptr<Tokenizer> tokenizer_;
  torch::Device device_;
  DataParallel dp_;
  int micro_;
  std::unique_ptr<TextCache> text_;
  GanTarget target_;
  Generator G_{nullptr}, G_ema_{nullptr};
  Upsampler U_{nullptr}, U_ema_{nullptr};
  std::vector<torch::Tensor> sample_low_, sample_high_;  // upsampler samples: fixed (low, high) pairs
  Discriminator D_{nullptr};
  VisionAidedDiscriminator VA_{nullptr};
  std::unique_ptr<Adam> adam_g_, adam_d_;
  std::unique_ptr<BatchLoader> loader_;
  AugmentPolicy augment_;
  double lr_scale_ = 1.0;
  std::vector<std::string> sample_captions_;
  torch::Tensor sample_z_;
  std::string tokenizer_folder_, description_;
  bool profiling_ = false;
  bool nan_injected_ = false;
  std::vector<torch::Tensor> held_noise_strengths_;  // --noise none
  StepProfile profile_;
};

// A "discriminator" checkpoint from either such a checkpoint (returned as is)
// or a `gigagan train` train-state checkpoint (its D.* and VA.* tensors and its
// model config). Throws CheckpointError naming `source` for any other kind.
Checkpoint discriminator_checkpoint(const Checkpoint& ck, const std::string& source);

// The weights of a "generator" (or "upsampler": `kind`) checkpoint, or the EMA
// weights (G_ema.*) of a `gigagan train` (`train-upsampler`) train-state
// checkpoint, with the network's config (a train-state's model config
// section). Throws CheckpointError naming `source` for any other kind.
struct NetworkWeights {
  json config;
  TensorMap tensors;
};
NetworkWeights ema_network_weights(Checkpoint ck, const std::string& kind, const std::string& source);

}  // namespace gg

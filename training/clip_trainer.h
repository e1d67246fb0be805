// `gigagan train-clip`: a CLIP (text + image towers) trained contrastively on
// a captioned dataset, for machines where no pretrained CLIP exists.
// Used as GigaGAN's frozen encoder, and, with another seed and size, as
// the evaluator CLIP that only computes metrics.
// Ref: Radford et al. 2021 (symmetric InfoNCE, learned temperature clamped at
// 100).
#pragma once
#include <torch/torch.h>

#include <filesystem>
#include <memory>
#include <string>

#include "adam.h"
#include "augment.h"
#include "clip.h"
#include "dataset.h"
#include "run.h"
#include "tokenizer.h"

namespace gg {

struct ClipTrainOptions {
  int batch = 128;
  double lr = 5e-4;
  double weight_decay = 0.1;     // AdamW, on matrices only
  int64_t warmup_images = 5000;  // linear warm-up, then cosine to lr_min_ratio * lr
  double lr_min_ratio = 0.1;
  int64_t images = 200000;       // the schedule's length (the loop's target)
  uint64_t seed = 0;             // weights, sampler and augmentation
  std::string augment = "translation";  // DiffAugment policy on the images ("" none)
  // Style-paired batches: the second half of each batch holds the first
  // half's emoji in the other style ("noto style" <-> "twemoji style"), where
  // the dataset has it. In random batches of 128 out of ~7,000 images the
  // other style of the same emoji is almost never a negative, so the
  // contrastive loss barely rewards telling styles apart; with pairs it must.
  bool style_pairs = false;
  // Share of captions shortened to the emoji's label, half of them with the
  // style clause ("pizza", "pizza, noto style"), as the GAN trainer's option:
  // the short prompts users type, which a frozen encoder trained only on full
  // captions has never seen. Equal captions in a batch count as positives.
  double short_captions = 0;
  void validate() const;
};
GG_CONFIG_JSON(ClipTrainOptions, batch, lr, weight_decay, warmup_images, lr_min_ratio, images, seed, augment,
               style_pairs, short_captions)

// Tokenizer for a CLIP config: context = max_position_embeddings, pad id from the config.
Tokenizer load_clip_tokenizer(const std::string& folder, const ClipConfig& config);
// Trains a BPE vocabulary of the config's vocab_size on the captions of `dataset`
// and writes it to `folder` (vocab.json + merges.txt). When the captions run
// out of pairs first, placeholder tokens fill the gap, so the special tokens
// always get the config's bos/eos ids (checked).
void train_clip_tokenizer(const Dataset& dataset, const ClipConfig& config, const std::string& folder);

class ClipTrainer : public TrainerBase {
 public:
  // The run folder holds tokenizer/ (trained here unless `tokenizer_folder` is
  // given, then copied), clip.safetensors (export) and checkpoints.
  ClipTrainer(const ClipConfig& config, const ClipTrainOptions& options,
              std::shared_ptr<const Dataset> train, std::shared_ptr<const Dataset> val,
              const RunFolder& run, const std::string& tokenizer_folder = "",
              torch::Device device = torch::kCPU);
  ~ClipTrainer() override;

  std::string mode() const override { return "clip"; }
  int64_t batch_size() const override { return options_.batch; }
  StepResult step() override;
  Checkpoint state() const override;
  void load_state(const Checkpoint& ck, const std::string& source) override;
  bool write_samples(const std::filesystem::path& path) override;
  json evaluate() override;
  std::string export_package(const RunFolder& run) override;
  double learning_rate() const override;
  void scale_learning_rate(double factor) override { lr_scale_ *= factor; }
  const Dataset* training_data() const override { return train_.get(); }

  ClipModel& model() { return clip_; }

 private:
  void start_loader(int64_t position);
  torch::Tensor tokenize(const std::vector<std::string>& captions) const;

  ClipConfig config_;
  ClipTrainOptions options_;
  std::shared_ptr<const Dataset> train_, val_;
  std::filesystem::path tokenizer_dir_;
  std::unique_ptr<Tokenizer> tokenizer_;
  torch::Device device_;
  ClipModel clip_{nullptr};
  std::unique_ptr<Adam> adam_;
  std::unique_ptr<BatchLoader> loader_;
  AugmentPolicy augment_;
  double lr_scale_ = 1.0;
  std::vector<int64_t> partner_;  // style_pairs: train index -> its other-style entry, or -1
};

// For each entry of `dataset`, the index of the entry whose caption is the
// same with the other of the two styles ("noto" <-> "twemoji"), or -1.
std::vector<int64_t> style_partners(const Dataset& dataset);
// Style-paired batch (ClipTrainOptions::style_pairs): slot half + i of
// `images` [B, 3, R, R] (a new tensor; the input is not written) and
// `captions` becomes the other-style partner of slot i (i < B / 2), read from
// `dataset` (its high-res image when `hr`); a slot whose emoji has no partner
// keeps what it had. `indices`: the dataset index of each slot.
void pair_styles(const Dataset& dataset, const std::vector<int64_t>& partner, bool hr,
                 const std::vector<int64_t>& indices, torch::Tensor& images, std::vector<std::string>& captions);

// Symmetric contrastive loss with soft targets: rows whose captions are equal
// are all positives. image, text: [N, P] unit norm; scale: exp(logit_scale).
torch::Tensor clip_contrastive_loss(const torch::Tensor& image, const torch::Tensor& text,
                                    const torch::Tensor& scale, const std::vector<std::string>& captions);

}  // namespace gg

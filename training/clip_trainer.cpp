#include "clip_trainer.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "bpe_trainer.h"
#include "errors.h"
#include "evaluate.h"
#include "model_io.h"

namespace gg {

namespace fs = std::filesystem;

void ClipTrainOptions::validate() const {
  config_require(batch >= 2, "ClipTrainOptions.batch", "must be at least 2 (contrastive loss), got " + std::to_string(batch));
  config_require(lr > 0 && std::isfinite(lr), "ClipTrainOptions.lr", "must be positive");
  config_require(weight_decay >= 0, "ClipTrainOptions.weight_decay", "must be >= 0");
  config_require(warmup_images >= 0, "ClipTrainOptions.warmup_images", "must be >= 0");
  config_require(lr_min_ratio >= 0 && lr_min_ratio <= 1, "ClipTrainOptions.lr_min_ratio", "must be in [0, 1]");
  config_require(images > 0, "ClipTrainOptions.images", "must be positive");
  config_require(short_captions >= 0 && short_captions <= 1, "ClipTrainOptions.short_captions",
                 "must be in [0, 1], got " + std::to_string(short_captions));
  AugmentPolicy::parse(augment);
}

Tokenizer load_clip_tokenizer(const std::string& folder, const ClipConfig& config) {
  TokenizerOptions options;
  options.context_length = config.text_config.max_position_embeddings;
  options.pad_id = config.text_config.pad_token_id;
  Tokenizer t = Tokenizer::from_folder(folder, options);
  if (t.vocab_size() > config.text_config.vocab_size)
    throw ConfigError("tokenizer '" + folder + "' has " + std::to_string(t.vocab_size()) +
                      " tokens but the CLIP config's vocab_size is " + std::to_string(config.text_config.vocab_size));
  return t;
}

void train_clip_tokenizer(const Dataset& dataset, const ClipConfig& config, const std::string& folder) {
  BpeTrainerConfig bpe;
  bpe.vocab_size = config.text_config.vocab_size;
  bpe.min_frequency = 2;
  BpeTrainer trainer(bpe);
  for (int64_t i = 0; i < dataset.size(); ++i) trainer.add_text(dataset.entry(i).caption);
  BpeVocabulary vocab = trainer.train();
  // A small caption set runs out of pairs before the config's vocabulary size:
  // pad with placeholder tokens (never produced by a merge) so the special
  // tokens keep the ids the CLIP config expects.
  const int64_t target = config.text_config.vocab_size;
  if (vocab.size() > target)
    throw ConfigError("BPE vocabulary of " + std::to_string(vocab.size()) + " tokens exceeds vocab_size " +
                      std::to_string(target));
  if (vocab.size() < target) {
    std::vector<std::string> specials(vocab.tokens.end() - 2, vocab.tokens.end());
    vocab.tokens.resize(vocab.tokens.size() - 2);
    for (int64_t k = 0; static_cast<int64_t>(vocab.tokens.size()) < target - 2; ++k)
      vocab.tokens.push_back("<|unused_" + std::to_string(k) + "|>");
    vocab.tokens.insert(vocab.tokens.end(), specials.begin(), specials.end());
  }
  const int64_t bos = vocab.size() - 2, eos = vocab.size() - 1;
  if (bos != config.text_config.bos_token_id || eos != config.text_config.eos_token_id)
    throw ConfigError("the CLIP config's bos/eos ids (" + std::to_string(config.text_config.bos_token_id) + ", " +
                      std::to_string(config.text_config.eos_token_id) + ") are not the vocabulary's last two ids (" +
                      std::to_string(bos) + ", " + std::to_string(eos) + ")");
  save_bpe_vocabulary(vocab, folder);
}

torch::Tensor clip_contrastive_loss(const torch::Tensor& image, const torch::Tensor& text,
                                    const torch::Tensor& scale, const std::vector<std::string>& captions) {
  const int64_t n = image.size(0);
  auto logits = scale * torch::matmul(image, text.t());  // [N, N]: image i vs caption j
  auto same = torch::zeros({n, n}, image.options());
  {
    auto acc = same.accessor<float, 2>();
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) acc[i][j] = captions[i] == captions[j] ? 1.f : 0.f;
  }
  auto targets = same / same.sum(1, true);  // symmetric pattern: the same for both directions
  auto li = -(targets * torch::log_softmax(logits, 1)).sum(1).mean();
  auto lt = -(targets * torch::log_softmax(logits.t(), 1)).sum(1).mean();
  return 0.5 * (li + lt);
}

ClipTrainer::ClipTrainer(const ClipConfig& config, const ClipTrainOptions& options,
                         std::shared_ptr<const Dataset> train, std::shared_ptr<const Dataset> val,
                         const RunFolder& run, const std::string& tokenizer_folder, torch::Device device)
    : config_(config),
      options_(options),
      train_(std::move(train)),
      val_(std::move(val)),
      tokenizer_dir_(run.root() / "tokenizer"),
      device_(device),
      augment_(AugmentPolicy::parse(options.augment)) {
  config_.validate();
  options_.validate();
  if (!tokenizer_folder.empty()) {
    if (fs::absolute(tokenizer_folder) != fs::absolute(tokenizer_dir_)) {
      fs::create_directories(tokenizer_dir_);
      for (const char* f : {"vocab.json", "merges.txt"})
        fs::copy_file(fs::path(tokenizer_folder) / f, tokenizer_dir_ / f, fs::copy_options::overwrite_existing);
    }
  } else if (!fs::exists(tokenizer_dir_ / "vocab.json")) {
    train_clip_tokenizer(*train_, config_, tokenizer_dir_.string());
  }
  tokenizer_ = std::make_unique<Tokenizer>(load_clip_tokenizer(tokenizer_dir_.string(), config_));

  torch::manual_seed(options_.seed);
  clip_ = ClipModel(config_);
  clip_->to(device_);
  clip_->train();
  auto params = trainable_parameters(*clip_);
  std::vector<std::string> decayed;
  for (const auto& [name, p] : params)
    if (p.dim() >= 2) decayed.push_back(name);
  AdamOptions adam;
  adam.lr = options_.lr;
  adam.beta1 = 0.9;
  adam.beta2 = 0.98;
  adam.eps = 1e-6;
  adam.weight_decay = options_.weight_decay;
  adam_ = std::make_unique<Adam>(params, adam, decayed);
  if (options_.style_pairs) {
    partner_ = style_partners(*train_);
    if (std::none_of(partner_.begin(), partner_.end(), [](int64_t j) { return j >= 0; }))
      throw DatasetError("train-clip --style-pairs: no caption of the training set has a partner in the other style "
                         "(captions must end in \", noto style\" or \", twemoji style\")");
  }
  start_loader(0);
}

std::vector<int64_t> style_partners(const Dataset& dataset) {
  std::unordered_map<std::string, int64_t> by_caption;
  for (int64_t i = 0; i < dataset.size(); ++i) by_caption.emplace(dataset.entry(i).caption, i);
  std::vector<int64_t> partner(static_cast<size_t>(dataset.size()), -1);
  for (int64_t i = 0; i < dataset.size(); ++i) {
    const std::string other = other_style_caption(dataset.entry(i).caption);
    if (other.empty()) continue;
    auto it = by_caption.find(other);
    if (it != by_caption.end()) partner[static_cast<size_t>(i)] = it->second;
  }
  return partner;
}

void pair_styles(const Dataset& dataset, const std::vector<int64_t>& partner, bool hr,
                 const std::vector<int64_t>& indices, torch::Tensor& images, std::vector<std::string>& captions) {
  const int64_t half = images.size(0) / 2;
  images = images.clone();
  for (int64_t i = 0; i < half; ++i) {
    const int64_t j = partner.at(static_cast<size_t>(indices.at(static_cast<size_t>(i))));
    if (j < 0) continue;  // no other-style version: keep the loader's image in that slot
    auto s = dataset.load(j);
    if (!s) continue;     // a bad file is reported by the dataset; keep the slot's image
    images[half + i].copy_(hr ? s->image_hr : s->image);
    captions.at(static_cast<size_t>(half + i)) = s->caption;
  }
}

ClipTrainer::~ClipTrainer() {
  if (loader_) loader_->stop();
}

void ClipTrainer::start_loader(int64_t position) {
  restart_loader(loader_, train_, options_.batch, options_.seed, position, 0, options_.short_captions);
}

torch::Tensor ClipTrainer::tokenize(const std::vector<std::string>& captions) const {
  return tokenizer_->encode_batch(captions).ids.to(device_);
}

double ClipTrainer::learning_rate() const {
  const double t = static_cast<double>(images);
  double f;
  if (options_.warmup_images > 0 && t < static_cast<double>(options_.warmup_images)) {
    f = (t + options_.batch) / static_cast<double>(options_.warmup_images);
  } else {
    const double span = std::max<double>(1.0, static_cast<double>(options_.images - options_.warmup_images));
    const double p = std::min(1.0, (t - static_cast<double>(options_.warmup_images)) / span);
    f = options_.lr_min_ratio + (1 - options_.lr_min_ratio) * 0.5 * (1 + std::cos(M_PI * p));
  }
  return options_.lr * f * lr_scale_;
}

StepResult ClipTrainer::step() {
  Batch batch = loader_->next();
  // With high-res pairs loaded (--hr), the tower sees those (e.g. 128 px from the 256 px files).
  torch::Tensor images = batch.images_hr.defined() ? batch.images_hr : batch.images;
  std::vector<std::string> captions = batch.captions;
  if (options_.style_pairs) pair_styles(*train_, partner_, batch.images_hr.defined(), batch.indices, images, captions);
  images = images.to(device_);
  if (augment_.any()) images = diff_augment(images, augment_);
  torch::Tensor ids = tokenize(captions);
  auto img = clip_->encode_image(images);
  auto txt = clip_->encode_text(ids);
  auto scale = clip_->logit_scale.exp().clamp_max(100.0);
  auto loss = clip_contrastive_loss(img, txt, scale, captions);
  StepResult r;
  adam_->zero_grad();
  loss.backward();
  const double l = loss.item<double>();
  if (!std::isfinite(l) || !adam_->grads_finite()) {
    r.non_finite = std::isfinite(l) ? "clip gradient" : "clip";
    adam_->zero_grad();
    return r;
  }
  adam_->options.lr = learning_rate();
  adam_->step();
  {
    torch::NoGradGuard ng;
    clip_->logit_scale.clamp_(0.0, std::log(100.0));
    auto hit = (torch::matmul(img, txt.t()).argmax(1) == torch::arange(img.size(0), img.options().dtype(torch::kLong)));
    r.losses["accuracy"] = hit.to(torch::kFloat).mean().item<double>();
  }
  r.losses["clip"] = l;
  r.losses["temperature"] = scale.item<double>();
  return r;
}

Checkpoint ClipTrainer::state() const {
  Checkpoint ck;
  ck.kind = "train-state";
  ck.config = {{"mode", "clip"}, {"clip", config_}, {"options", options_}};
  add_prefix(ck.tensors, state_dict(*clip_), "clip.");
  adam_->save(ck.tensors, "adam.");
  save_progress(ck, {loader_->position(), lr_scale_});
  return ck;
}

void ClipTrainer::load_state(const Checkpoint& ck, const std::string& source) {
  if (ck.kind != "train-state" || ck.config.value("mode", "") != "clip")
    throw CheckpointError("'" + source + "' is not a train-clip checkpoint (kind '" + ck.kind + "')");
  if (json(ck.config.at("clip")) != json(config_))
    throw CheckpointError("'" + source + "' was trained with another CLIP config; resume with the same --config");
  load_state_dict_strict(*clip_, select_prefix(ck.tensors, "clip."), source);
  adam_->load(ck.tensors, "adam.", source);
  const Progress p = load_progress(ck, source);
  lr_scale_ = p.lr_scale;
  start_loader(p.position);
}

bool ClipTrainer::write_samples(const fs::path&) { return false; }

json ClipTrainer::evaluate() {
  if (!val_ || val_->size() < 2) return json::object();
  torch::NoGradGuard ng;
  clip_->eval();
  const int64_t n = std::min<int64_t>(val_->size(), 512);
  std::vector<torch::Tensor> imgs;
  std::vector<std::string> caps;
  for (int64_t i = 0; i < n; ++i) {
    auto s = val_->load(i);
    if (!s) continue;
    imgs.push_back(s->image_hr.defined() ? s->image_hr : s->image);
    caps.push_back(s->caption);
  }
  // Texts in batches of 128, as the images.
  auto encode_texts = [&](const std::vector<std::string>& t) {
    std::vector<torch::Tensor> out;
    for (size_t b = 0; b < t.size(); b += 128)
      out.push_back(clip_->encode_text(tokenize(std::vector<std::string>(t.begin() + b, t.begin() + std::min(t.size(), b + 128)))));
    return torch::cat(out);
  };
  std::vector<torch::Tensor> ie;
  for (size_t b = 0; b < imgs.size(); b += 128) {
    const size_t e = std::min(imgs.size(), b + 128);
    ie.push_back(clip_->encode_image(torch::stack(std::vector<torch::Tensor>(imgs.begin() + b, imgs.begin() + e)).to(device_)));
  }
  auto image_emb = torch::cat(ie);
  auto sim = torch::matmul(image_emb, encode_texts(caps).t());
  auto target = torch::arange(sim.size(0), torch::kLong);
  const double i2t = (sim.argmax(1).cpu() == target).to(torch::kFloat).mean().item<double>();
  const double t2i = (sim.argmax(0).cpu() == target).to(torch::kFloat).mean().item<double>();
  json metrics = {{"val_image_to_text_top1", i2t}, {"val_text_to_image_top1", t2i}, {"val_size", sim.size(0)}};
  // The style probe of `gigagan eval`, on real images.
  const StyleProbe style = style_accuracy(image_emb, caps, encode_texts);
  if (style.count > 0) metrics["val_style_accuracy"] = style.rate;
  clip_->train();
  return metrics;
}

std::string ClipTrainer::export_package(const RunFolder& run) {
  const fs::path path = run.root() / "clip.safetensors";
  save_network(path.string(), "clip", config_, clip_);
  return path.string();
}

}  // namespace gg

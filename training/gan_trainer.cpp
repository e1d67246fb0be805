#include "gan_trainer.h"

#include <chrono>
#include <cmath>
#include <optional>
#include <set>

#include "clip_trainer.h"
#include "errors.h"
#include "losses.h"
#include "model_io.h"
#include "package.h"
#include "widen.h"

namespace gg {

namespace fs = std::filesystem;

void GanTrainOptions::validate() const {
  config_require(batch >= 1, "GanTrainOptions.batch", "must be positive, got " + std::to_string(batch));
  config_require(micro_batch >= 0, "GanTrainOptions.micro_batch", "must be >= 0 (0: the whole batch)");
  config_require(lr_g > 0 && lr_d > 0, "GanTrainOptions.lr_g/lr_d", "must be positive");
  config_require(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1, "GanTrainOptions.beta1/beta2", "must be in [0, 1)");
  config_require(r1_gamma >= 0, "GanTrainOptions.r1_gamma", "must be >= 0");
  config_require(r1_interval >= 1, "GanTrainOptions.r1_interval", "must be >= 1");
  config_require(noise.empty() || noise == "const" || noise == "none", "GanTrainOptions.noise",
                 "must be const or none (or empty: the config's), got '" + noise +
                     "'; random noise is not supported in training (its draws would desynchronise the ranks' z)");
  config_require(match_style_negatives >= 0 && match_style_negatives <= 1, "GanTrainOptions.match_style_negatives",
                 "must be in [0, 1], got " + std::to_string(match_style_negatives));
  config_require(match_weight >= 0 && clip_weight >= 0 && vision_weight >= 0 && perceptual_weight >= 0 &&
                     pixel_weight >= 0,
                 "GanTrainOptions weights",
                 "match_weight, clip_weight, vision_weight, perceptual_weight and pixel_weight must be >= 0");
  config_require(ema_half_life_images >= 0 && ema_rampup >= 0, "GanTrainOptions.ema_half_life_images",
                 "must be >= 0");
  config_require(recon_weight >= 0 && std::isfinite(recon_weight), "GanTrainOptions.recon_weight", "must be >= 0");
  config_require(gan_weight >= 0 && std::isfinite(gan_weight), "GanTrainOptions.gan_weight", "must be >= 0");
  config_require(mode_seeking_weight >= 0 && std::isfinite(mode_seeking_weight), "GanTrainOptions.mode_seeking_weight",
                 "must be >= 0 and finite");
  config_require(gan_weight > 0 || recon_weight > 0 || clip_weight > 0, "GanTrainOptions.gan_weight",
                 "is 0, so G needs another loss: recon_weight or clip_weight > 0");
  config_require(recon_max_size == 0 || recon_max_size >= 4, "GanTrainOptions.recon_max_size",
                 "must be 0 (every level) or at least 4 px, the smallest pyramid level, got " +
                     std::to_string(recon_max_size));
  config_require(pixel_size >= 0 && pixel_size <= 8192, "GanTrainOptions.pixel_size",
                 "must be 0 (the input resolution) or a side in px up to 8192, got " + std::to_string(pixel_size));
  config_require(input_blur >= 0 && input_blur <= 8, "GanTrainOptions.input_blur",
                 "must be in [0, 8] px, got " + std::to_string(input_blur));
  config_require(recon_samples >= 0 && recon_samples <= 64, "GanTrainOptions.recon_samples",
                 "must be in [0, 64], got " + std::to_string(recon_samples));
  config_require(short_captions >= 0 && short_captions <= 1, "GanTrainOptions.short_captions",
                 "must be in [0, 1], got " + std::to_string(short_captions));
  config_require(d_warmup_images >= 0, "GanTrainOptions.d_warmup_images", "must be >= 0");
  config_require(sample_prompts >= 1 && sample_seeds >= 1, "GanTrainOptions.sample_prompts", "must be >= 1");
  AugmentPolicy::parse(augment);
}

// ---------------------------------------------------------------------------
TextCache::TextCache(ClipModel clip, const Tokenizer& tokenizer, torch::Device device)
    : clip_(std::move(clip)), tokenizer_(tokenizer), device_(device) {}

TextCache::Features TextCache::get(const std::vector<std::string>& captions) {
  std::vector<std::string> missing;
  std::set<std::string> seen;
  for (const auto& c : captions)
    if (!cache_.count(c) && seen.insert(c).second) missing.push_back(c);
  // One caption per forward: a caption's features must not depend on which
  // other captions were missing at the same time (batched GEMMs may round
  // differently), or a resumed run would drift from an uninterrupted one.
  for (const auto& c : missing) {
    torch::NoGradGuard ng;
    TokenBatch tb = tokenizer_.encode_batch({c});
    auto ids = tb.ids.to(device_);
    auto f = clip_->text_features(ids);
    auto embed = clip_->encode_text(ids);
    cache_[c] = Entry{f.tokens[0], f.pooled[0], embed[0], tb.eot_index[0].item<int64_t>()};
  }
  std::vector<torch::Tensor> tokens, pooled, embed;
  std::vector<int64_t> eot;
  for (const auto& c : captions) {
    const Entry& e = cache_.at(c);
    tokens.push_back(e.tokens);
    pooled.push_back(e.pooled);
    embed.push_back(e.embed);
    eot.push_back(e.eot);
  }
  return {torch::stack(tokens), torch::tensor(eot, torch::kInt64).to(device_), torch::stack(pooled),
          torch::stack(embed)};
}

// ---------------------------------------------------------------------------
namespace {

std::vector<std::string> parameter_names_of(const torch::nn::Module& m, const std::vector<torch::Tensor>& subset,
                                            const std::string& prefix) {
  std::set<const void*> ids;
  for (const auto& t : subset) ids.insert(t.unsafeGetTensorImpl());
  std::vector<std::string> out;
  for (const auto& item : m.named_parameters(true))
    if (ids.count(item.value().unsafeGetTensorImpl())) out.push_back(prefix + item.key());
  return out;
}

TextCache::Features slice(const TextCache::Features& f, int64_t begin, int64_t end) {
  return {f.tokens.slice(0, begin, end), f.eot_index.slice(0, begin, end), f.pooled.slice(0, begin, end),
          f.embed.slice(0, begin, end)};
}

torch::Tensor mean_over(const std::vector<torch::Tensor>& logits, torch::Tensor (*loss)(const torch::Tensor&)) {
  // The vision-aided D gives one map per feature layer: average them, so the
  // weight does not depend on how many layers are used.
  return sum_over_pairs(logits, loss) / static_cast<double>(logits.size());
}

// Profiling (`gigagan bench --train`) of one phase of a step, kept out of the
// loss code: while alive, times the scope and counts its forward FLOPs
// (x `multiplier` for the backward they cause) into `profile` under `phase`.
// Does nothing when `profile` is null.
class PhaseTimer {
 public:
  PhaseTimer(StepProfile* profile, const char* phase, double multiplier)
      : profile_(profile), phase_(phase), multiplier_(multiplier) {
    if (profile_) {
      counter_.emplace();
      t0_ = std::chrono::steady_clock::now();
    }
  }
  ~PhaseTimer() {
    if (!profile_) return;
    profile_->flops[phase_] += counter_->flops() * multiplier_;
    profile_->forward_flops[phase_] += counter_->flops();
    profile_->seconds[phase_] += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  }
  PhaseTimer(const PhaseTimer&) = delete;
  PhaseTimer& operator=(const PhaseTimer&) = delete;

 private:
  StepProfile* profile_;
  const char* phase_;
  double multiplier_;
  std::optional<FlopCounter> counter_;
  std::chrono::steady_clock::time_point t0_;
};

}  // namespace

GanTrainer::GanTrainer(const ModelConfig& config, const GanTrainOptions& options, std::shared_ptr<const Dataset> train,
                       ClipModel clip, std::shared_ptr<Tokenizer> tokenizer, torch::Device device, DataParallel dp,
                       GanTarget target)
    : config_(config),
      options_(options),
      train_(std::move(train)),
      clip_(std::move(clip)),
      tokenizer_(std::move(tokenizer)),
      device_(device),
      dp_(std::move(dp)),
      target_(target),
      augment_(AugmentPolicy::parse(options.augment)) {
  config_.validate();
  options_.validate();
  if (dp_.world < 1 || dp_.rank < 0 || dp_.rank >= dp_.world)
    throw ConfigError("data parallel: rank " + std::to_string(dp_.rank) + " of world size " + std::to_string(dp_.world));
  if (options_.batch % dp_.world != 0)
    throw ConfigError("GanTrainOptions.batch (" + std::to_string(options_.batch) + ") must be a multiple of the world size (" +
                      std::to_string(dp_.world) + ")");
  const int per_rank = options_.batch / dp_.world;
  micro_ = options_.micro_batch > 0 ? options_.micro_batch : per_rank;
  if (per_rank % micro_ != 0)
    throw ConfigError("GanTrainOptions.micro_batch (" + std::to_string(micro_) + ") must divide the batch per rank (" +
                      std::to_string(per_rank) + ")");
  const bool up = target_ == GanTarget::Upsampler;
  const int want = up ? config_.upsampler.input_resolution : config_.generator.resolution;
  if (train_->options().resolution != want)
    throw ConfigError("the dataset is opened at " + std::to_string(train_->options().resolution) + " px but the " +
                      (up ? "upsampler takes " : "generator makes ") + std::to_string(want) + " px");
  if (up && train_->options().hr_resolution != config_.upsampler.output_resolution)
    throw ConfigError("the upsampler makes " + std::to_string(config_.upsampler.output_resolution) +
                      " px but the dataset's high-res pairs are " + std::to_string(train_->options().hr_resolution) +
                      " px");
  if (options_.pixel_size > 0) {
    const int out_px = config_.upsampler.output_resolution, p = options_.pixel_size;
    if (!up || p > out_px || out_px % p != 0)
      throw ConfigError("GanTrainOptions.pixel_size " + std::to_string(p) +
                        (up ? " must divide the upsampler's output resolution, " + std::to_string(out_px) + " px"
                            : " is the upsampler's pixel term; the base generator has none"));
  }
  if (options_.input_blur > 0) {
    const int in_px = config_.upsampler.input_resolution;
    if (!up || std::ceil(3 * options_.input_blur) >= in_px)
      throw ConfigError("GanTrainOptions.input_blur " + std::to_string(options_.input_blur) +
                        (up ? " px: the blur's radius (3 sigma) must be below the input size, " + std::to_string(in_px) +
                                  " px"
                            : " is the upsampler's input degradation; the base generator has none"));
  }

  clip_->to(device_);
  clip_->eval();
  for (auto& p : clip_->parameters()) p.requires_grad_(false);
  text_ = std::make_unique<TextCache>(clip_, *tokenizer_, device_);

  torch::manual_seed(options_.seed);
  if (up) {
    U_ = Upsampler(config_.upsampler);
    U_ema_ = Upsampler(config_.upsampler);
    D_ = Discriminator(config_.upsampler_discriminator);
  } else {
    G_ = Generator(config_.generator);
    G_ema_ = Generator(config_.generator);
    D_ = Discriminator(config_.discriminator);
  }
  net().to(device_);
  net_ema().to(device_);
  D_->to(device_);
  {
    torch::NoGradGuard ng;
    load_state_dict_strict(net_ema(), state_dict(net()), "the trained network");
  }
  if (G_ && !options_.noise.empty()) {
    const NoiseMode mode = parse_noise_mode(options_.noise);
    for (auto* g : {&G_, &G_ema_}) {
      (*g)->synthesis->noise_mode = mode;
      if (mode == NoiseMode::None)
        for (auto& p : (*g)->named_parameters())
          if (p.key().size() >= 14 && p.key().compare(p.key().size() - 14, 14, "noise_strength") == 0)
            held_noise_strengths_.push_back(p.value());
    }
  }
  hold_noise_strengths();
  net_ema().eval();
  for (auto& p : net_ema().parameters()) p.requires_grad_(false);
  if (!up && config_.vision_aided.enabled && options_.vision_weight > 0) {
    if (config_.vision_aided.backbone == "inception_v3") {
      if (options_.vision_backbone_weights.empty())
        throw ConfigError("the vision-aided D's backbone is inception_v3, but no weights were given "
                          "(--vision-backbone-weights FILE)");
      VA_ = VisionAidedDiscriminator(config_.vision_aided,
                                     load_inception_v3(options_.vision_backbone_weights, device_));
    } else {
      VA_ = VisionAidedDiscriminator(config_.vision_aided, clip_->vision_model);
    }
    VA_->to(device_);
  }

  AdamOptions ag;
  ag.lr = options_.lr_g;
  ag.beta1 = options_.beta1;
  ag.beta2 = options_.beta2;
  ag.weight_decay = options_.attention_weight_decay;
  adam_g_ = std::make_unique<Adam>(trainable_parameters(net(), "G."), ag,
                                   parameter_names_of(net(), attention_weight_decay_parameters(net()), "G."));
  // Lazy regularisation (StyleGAN2): D's optimiser runs on a c = k/(k+1)
  // longer effective horizon to keep the step size of the regularised problem.
  const double c = static_cast<double>(options_.r1_interval) / (options_.r1_interval + 1);
  AdamOptions ad = ag;
  ad.lr = options_.lr_d * c;
  ad.beta1 = std::pow(options_.beta1, c);
  ad.beta2 = std::pow(options_.beta2, c);
  auto d_params = trainable_parameters(*D_, "D.");
  auto d_decay = parameter_names_of(*D_, attention_weight_decay_parameters(*D_), "D.");
  if (VA_)
    for (auto& p : trainable_parameters(*VA_, "VA.")) d_params.push_back(p);
  adam_d_ = std::make_unique<Adam>(d_params, ad, d_decay);

  // Fixed sample prompts (evenly spaced through the data) and seeds; the
  // upsampler also keeps their (low, high) images.
  const int64_t n = std::min<int64_t>(options_.sample_prompts, train_->size());
  for (int64_t k = 0; k < n; ++k) {
    const int64_t i = k * train_->size() / n;
    sample_captions_.push_back(train_->entry(i).caption);
    if (up) {
      auto s = train_->load(i);
      if (!s) throw DatasetError("sample image '" + train_->entry(i).image.string() + "' cannot be read");
      sample_low_.push_back(s->image);
      sample_high_.push_back(s->image_hr);
    }
  }
  auto gen = at::detail::createCPUGenerator(options_.seed + 12345);
  const int z_dim = up ? config_.upsampler.z_dim : config_.generator.z_dim;
  sample_z_ = torch::randn({options_.sample_seeds, z_dim}, gen).to(device_);
  start_loader(0);
}

GanTrainer::~GanTrainer() {
  if (loader_) loader_->stop();
}

void GanTrainer::start_loader(int64_t position) {
  restart_loader(loader_, train_, options_.batch, options_.seed, position, options_.match_style_negatives,
                 options_.short_captions);
}

void GanTrainer::init_generator(const TensorMap& generator, const std::string& source, const json& widen_from) {
  torch::NoGradGuard ng;
  if (widen_from.is_null()) {
    load_state_dict_strict(net(), generator, source);
    load_state_dict_strict(net_ema(), generator, source);
  } else {
    if (target_ != GanTarget::Base) throw ConfigError("widening an --init generator: only the base GAN trainer widens");
    widen_generator(G_, config_from_json<GeneratorConfig>(widen_from, source, "generator"), generator, source);
    load_state_dict_strict(net_ema(), state_dict(net()), source);  // the EMA starts as G, new channels included
  }
  hold_noise_strengths();
}

void GanTrainer::hold_noise_strengths() {
  torch::NoGradGuard ng;
  for (auto& p : held_noise_strengths_) p.zero_();
}

torch::nn::Module& GanTrainer::net() { return U_ ? static_cast<torch::nn::Module&>(*U_) : *G_; }
torch::nn::Module& GanTrainer::net_ema() { return U_ema_ ? static_cast<torch::nn::Module&>(*U_ema_) : *G_ema_; }
const torch::nn::Module& GanTrainer::net() const { return U_ ? static_cast<const torch::nn::Module&>(*U_) : *G_; }
const torch::nn::Module& GanTrainer::net_ema() const {
  return U_ema_ ? static_cast<const torch::nn::Module&>(*U_ema_) : *G_ema_;
}

std::vector<torch::Tensor> GanTrainer::generate(bool ema, const torch::Tensor& z, const TextCache::Features& text,
                                                const torch::Tensor& low) {
  if (target_ == GanTarget::Upsampler)
    return (ema ? U_ema_ : U_)->forward(low, z, text.tokens, text.eot_index, /*add_input_noise=*/true);
  return (ema ? G_ema_ : G_)->forward(z, text.tokens, text.eot_index);
}

torch::Tensor GanTrainer::perceptual_loss(const torch::Tensor& fake, const torch::Tensor& real) {
  // fake, real: [N, 3, R, R] in [-1, 1]. CLIP hidden states of every layer,
  // layer-normalised per token (as LPIPS unit-normalises channels), squared
  // distance averaged; on the whole image and on a random crop of the CLIP's
  // input size at full resolution (same place in both), so fine detail counts.
  const auto& vc = clip_->vision_model->config;
  const int64_t s = vc.image_size, r = fake.size(2);
  auto features = [&](const torch::Tensor& x) {
    auto enc = clip_->vision_model->forward(clip_preprocess(x, s));
    std::vector<torch::Tensor> f;
    for (size_t l = 1; l < enc.hidden_states.size(); ++l)
      f.push_back(torch::layer_norm(enc.hidden_states[l], {enc.hidden_states[l].size(-1)}));
    return f;
  };
  auto distance = [&](const torch::Tensor& a, const torch::Tensor& b) {
    auto fa = features(a);
    std::vector<torch::Tensor> fb;
    {
      torch::NoGradGuard ng;
      fb = features(b);
    }
    torch::Tensor d = torch::zeros({}, a.options());
    for (size_t l = 0; l < fa.size(); ++l) d = d + (fa[l] - fb[l]).pow(2).mean();
    return d / static_cast<double>(fa.size());
  };
  torch::Tensor loss = distance(fake, real);
  if (r > s) {
    const int64_t y = torch::randint(0, r - s + 1, {1}).item<int64_t>();
    const int64_t x = torch::randint(0, r - s + 1, {1}).item<int64_t>();
    loss = loss + distance(fake.slice(2, y, y + s).slice(3, x, x + s), real.slice(2, y, y + s).slice(3, x, x + s));
  }
  return loss;
}

void GanTrainer::set_package_sources(std::string tokenizer_folder, std::string description) {
  tokenizer_folder_ = std::move(tokenizer_folder);
  description_ = std::move(description);
}

void GanTrainer::scale_learning_rate(double factor) {
  lr_scale_ *= factor;
  adam_g_->options.lr *= factor;
  adam_d_->options.lr *= factor;
}

torch::Tensor GanTrainer::draw_z(int64_t n) {
  // Drawn for the whole batch on every rank (same RNG stream), then sliced:
  // ranks see the z a single process would.
  auto z = torch::randn({n, config_.generator.z_dim});
  return z.to(device_);
}

void GanTrainer::set_requires_grad(bool g_trains) {
  for (auto& p : net().parameters()) p.requires_grad_(g_trains);
  for (auto& p : D_->parameters()) p.requires_grad_(!g_trains);
  if (VA_)
    for (auto& p : VA_->parameters()) p.requires_grad_(!g_trains);
}

torch::Tensor GanTrainer::recon_distance(const std::vector<torch::Tensor>& fake, const std::vector<torch::Tensor>& real,
                                         int64_t a, int64_t b) const {
  // Mean absolute difference per image at every pyramid level (up to
  // recon_max_size px), averaged over the levels: the coarse levels weigh the
  // layout as much as 64 px weighs detail.
  TORCH_CHECK(fake.size() == real.size(), "recon: ", fake.size(), " generated levels against ", real.size(), " real");
  torch::Tensor d;
  int used = 0;
  for (size_t l = 0; l < fake.size(); ++l) {
    if (options_.recon_max_size > 0 && fake[l].size(-1) > options_.recon_max_size) continue;
    auto e = (fake[l] - real[l].slice(0, a, b)).abs().flatten(1).mean(1);
    d = d.defined() ? d + e : e;
    ++used;
  }
  TORCH_CHECK(used > 0, "recon: no pyramid level of at most ", options_.recon_max_size, " px");
  return d / static_cast<double>(used);
}

torch::Tensor GanTrainer::choose_recon_z(const torch::Tensor& candidates, const TextCache::Features& text,
                                         const std::vector<torch::Tensor>& real) {
  // candidates: [K, N, z_dim]. One no-gradient pass of G per micro-batch over
  // all K x n latents; returns [N, z_dim], each image's closest candidate.
  torch::NoGradGuard ng;
  const int64_t K = candidates.size(0), N = candidates.size(1);
  std::vector<torch::Tensor> chosen;
  for (int64_t a = 0; a < N; a += micro_) {
    const int64_t b = std::min(N, a + micro_), n = b - a;
    auto t = slice(text, a, b);
    TextCache::Features tk{t.tokens.repeat({K, 1, 1}), t.eot_index.repeat({K}), t.pooled.repeat({K, 1}),
                           t.embed.repeat({K, 1})};
    auto z = candidates.slice(1, a, b).reshape({K * n, -1});
    auto fake = G_->forward(z, tk.tokens, tk.eot_index);
    std::vector<torch::Tensor> rk;
    for (const auto& r : real) rk.push_back(r.slice(0, a, b).repeat({K, 1, 1, 1}));
    auto d = recon_distance(fake, rk, 0, K * n).view({K, n});
    auto best = d.argmin(0);  // [n]
    chosen.push_back(candidates.slice(1, a, b).permute({1, 0, 2}).index({torch::arange(n, best.options()), best}));
  }
  return torch::cat(chosen);
}

std::vector<torch::Tensor> GanTrainer::real_pyramid(const torch::Tensor& images) const {
  return image_pyramid(images, D_->config.levels);
}

std::vector<torch::Tensor> GanTrainer::augment(const std::vector<torch::Tensor>& pyramid) const {
  if (!augment_.any()) return pyramid;
  return augment_pyramid(pyramid, augment_);
}

std::vector<std::vector<torch::Tensor>> GanTrainer::d_logits(const std::vector<torch::Tensor>& pyramid,
                                                             const std::vector<torch::Tensor>& t_ds) {
  auto preds = D_->forward_with_texts(pyramid, t_ds);
  std::vector<std::vector<torch::Tensor>> out(preds.size());
  for (size_t t = 0; t < preds.size(); ++t)
    for (const auto& p : preds[t]) out[t].push_back(p.logits);
  return out;
}

void GanTrainer::record(StepResult& r, const char* name, const torch::Tensor& value) const {
  const double x = value.item<double>();
  r.losses[name] += x;
  if (!std::isfinite(x) && r.non_finite.empty()) r.non_finite = name;
}

GanTrainer::StepInputs GanTrainer::prepare_step() {
  StepInputs in;
  Batch batch;
  {
    PhaseTimer timer(timing(), "data", 0);
    batch = loader_->next();
  }
  if (profiling_) ++profile_.steps;
  const int64_t per_rank = options_.batch / dp_.world;
  const int64_t begin = dp_.rank * per_rank;
  in.micro_steps = static_cast<int>(per_rank / micro_);
  in.share = static_cast<double>(micro_) / static_cast<double>(per_rank);
  in.captions = std::vector<std::string>(batch.captions.begin() + begin, batch.captions.begin() + begin + per_rank);
  const auto captions_hat =
      std::vector<std::string>(batch.captions_hat.begin() + begin, batch.captions_hat.begin() + begin + per_rank);
  {
    PhaseTimer timer(timing(), "text features", 1);
    in.text = text_->get(in.captions);
    in.text_hat = text_->get(captions_hat);
  }
  const bool up = target_ == GanTarget::Upsampler;
  in.lows = batch.images.slice(0, begin, begin + per_rank).to(device_);
  in.reals = up ? batch.images_hr.slice(0, begin, begin + per_rank).to(device_) : in.lows;
  in.z_g = draw_z(options_.batch).slice(0, begin, begin + per_rank);
  in.z_d = draw_z(options_.batch).slice(0, begin, begin + per_rank);
  // Drawn for the whole batch on every rank (same stream), then sliced; only when on, so runs without the
  // term keep their z stream.
  if (!up && options_.mode_seeking_weight > 0) in.z_ms = draw_z(options_.batch).slice(0, begin, begin + per_rank);
  // Input noise of the upsampler is drawn inside its forward from the global RNG.
  if (up && options_.input_blur > 0) {
    // Drawn for the whole batch on every rank (same stream), then sliced; only when on.
    const auto sigma = (torch::rand({options_.batch}, torch::kFloat64) * options_.input_blur).slice(0, begin, begin + per_rank);
    in.lows = gaussian_blur(in.lows, sigma);
  }
  if (!up && options_.recon_weight > 0) {
    in.real_levels = image_pyramid(in.reals, config_.generator.num_levels());
    if (options_.recon_samples == 0) {
      in.z_g = torch::zeros_like(in.z_g);
    } else if (options_.recon_samples > 1 && images >= options_.d_warmup_images) {
      // Best of K: drawn on every rank for the whole batch (same stream), then sliced.
      const int64_t K = options_.recon_samples;
      torch::Tensor extra =
          draw_z(options_.batch * (K - 1)).view({K - 1, options_.batch, -1}).slice(1, begin, begin + per_rank);
      PhaseTimer timer(timing(), "G step: recon choice", 1);
      in.z_g = choose_recon_z(torch::cat({in.z_g.unsqueeze(0), extra}), in.text, in.real_levels);
    }
  }
  return in;
}

torch::Tensor GanTrainer::g_clip_loss(const torch::Tensor& fake, const TextCache::Features& t,
                                      const std::vector<std::string>& captions, int64_t a) {
  // L_CLIP: the generated image's CLIP embedding against every caption of the
  // batch; captions equal to its own count as positives.
  torch::Tensor image;
  {
    PhaseTimer timer(timing(), "G step: CLIP image", 2);
    image = clip_->encode_image(fake);
  }
  const int64_t n = fake.size(0);
  auto logits_clip = clip_->logit_scale.exp().clamp_max(100.0) * torch::matmul(image, t.embed.t());
  auto same = torch::zeros({n, n}, image.options());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j)
      if (captions[static_cast<size_t>(a + i)] == captions[static_cast<size_t>(a + j)]) same[i][j] = 1.0;
  return -(same / same.sum(1, true) * torch::log_softmax(logits_clip, 1)).sum(1).mean();
}

torch::Tensor GanTrainer::g_loss_micro(const StepInputs& in, int64_t a, int64_t b, StepResult& r) {
  const bool up = target_ == GanTarget::Upsampler;
  const bool adversarial = options_.gan_weight > 0;
  auto t = slice(in.text, a, b);
  auto t_hat = slice(in.text_hat, a, b);
  std::vector<torch::Tensor> fake;
  {
    PhaseTimer timer(timing(), "G step: G forward", 3);
    fake = generate(false, in.z_g.slice(0, a, b), t, in.lows.slice(0, a, b));
  }
  torch::Tensor total = torch::zeros({}, fake[0].options());
  std::vector<torch::Tensor> aug;
  if (adversarial) {
    // V_MSIO with the non-saturating loss, and the matching-aware term: G(c)
    // paired with a wrong caption c_hat is fake for G too.
    aug = augment(fake);
    std::vector<torch::Tensor> t_ds = {D_->text_embedding(t.tokens, t.eot_index)};
    if (options_.match_weight > 0) t_ds.push_back(D_->text_embedding(t_hat.tokens, t_hat.eot_index));
    std::vector<std::vector<torch::Tensor>> logits;
    {
      PhaseTimer timer(timing(), "G step: D forward", 2);
      logits = d_logits(aug, t_ds);
    }
    torch::Tensor g_gan = sum_over_pairs(logits[0], g_loss);
    total = options_.gan_weight * g_gan;
    record(r, "g_gan", g_gan);
    if (options_.match_weight > 0) {
      auto g_match = sum_over_pairs(logits[1], d_loss_fake);
      total = total + options_.gan_weight * options_.match_weight * g_match;
      record(r, "g_match", g_match);
    }
  }
  if (options_.clip_weight > 0) {
    auto g_clip = g_clip_loss(fake[0], t, in.captions, a);
    total = total + options_.clip_weight * g_clip;
    record(r, "g_clip", g_clip);
  }
  if (VA_ && adversarial) {
    std::vector<torch::Tensor> va;
    {
      PhaseTimer timer(timing(), "G step: vision-aided D", 2);
      va = VA_->forward(aug[0], t.pooled);
    }
    auto g_vision = mean_over(va, g_loss);
    total = total + options_.gan_weight * options_.vision_weight * g_vision;
    record(r, "g_vision", g_vision);
  }
  if (up && options_.perceptual_weight > 0) {
    torch::Tensor g_perceptual;
    {
      PhaseTimer timer(timing(), "G step: perceptual", 2);
      g_perceptual = perceptual_loss(fake[0], in.reals.slice(0, a, b));
    }
    total = total + options_.perceptual_weight * g_perceptual;
    record(r, "g_perceptual", g_perceptual);
  }
  if (up && options_.pixel_weight > 0) {
    // The perceptual features are layer-normalised per token, blind to
    // absolute colour: without this term the upsampler's colours drift.
    // Averaged down to the input resolution (pixel_size 0), the output should
    // give back the real low-res image: LPIPS's early layers constrain the
    // same low frequencies. At the output resolution it is the L1 of
    // super-resolution training, which asks for the real image's edges.
    const auto real = in.reals.slice(0, a, b);
    const int64_t factor = real.size(2) / (options_.pixel_size > 0 ? options_.pixel_size : in.lows.size(2));
    auto g_pixel = (torch::avg_pool2d(fake[0], factor) - torch::avg_pool2d(real, factor)).abs().mean();
    total = total + options_.pixel_weight * g_pixel;
    record(r, "g_pixel", g_pixel);
  }
  if (in.z_ms.defined()) {
    std::vector<torch::Tensor> fake2;
    {
      PhaseTimer timer(timing(), "G step: mode-seeking G forward", 3);
      fake2 = generate(false, in.z_ms.slice(0, a, b), t, in.lows.slice(0, a, b));
    }
    auto g_mode_seeking = mode_seeking_loss(fake[0], fake2[0], in.z_g.slice(0, a, b), in.z_ms.slice(0, a, b));
    total = total + options_.mode_seeking_weight * g_mode_seeking;
    record(r, "g_mode_seeking", g_mode_seeking);
  }
  if (!in.real_levels.empty()) {
    auto g_recon = recon_distance(fake, in.real_levels, a, b).mean();
    total = total + options_.recon_weight * g_recon;
    record(r, "g_recon", g_recon);
  }
  return total;
}

bool GanTrainer::g_main(const StepInputs& in, StepResult& r) {
  set_requires_grad(true);
  adam_g_->zero_grad();
  for (int m = 0; m < in.micro_steps; ++m) {
    const int64_t a = m * micro_, b = a + micro_;
    torch::Tensor total = g_loss_micro(in, a, b, r);
    if (options_.inject_nan_at_step == steps && !nan_injected_) {
      nan_injected_ = true;  // once per process, so a rollback can get past it
      total = total * std::numeric_limits<double>::quiet_NaN();
    }
    record(r, "g_total", total);
    PhaseTimer timer(timing(), "G step: backward", 0);
    (total * in.share).backward();
  }
  if (!gradients_ready(*adam_g_, "G gradient", r)) return false;
  PhaseTimer timer(timing(), "G step: Adam + EMA", 0);
  adam_g_->step();
  adam_g_->zero_grad();
  hold_noise_strengths();
  update_ema();
  return true;
}

void GanTrainer::d_main(const StepInputs& in, StepResult& r) {
  for (int m = 0; m < in.micro_steps; ++m) {
    const int64_t a = m * micro_, b = a + micro_;
    auto t = slice(in.text, a, b);
    auto t_hat = slice(in.text_hat, a, b);
    std::vector<torch::Tensor> fake;
    {
      torch::NoGradGuard ng;
      PhaseTimer timer(timing(), "D step: G forward", 1);
      fake = generate(false, in.z_d.slice(0, a, b), t, in.lows.slice(0, a, b));
    }
    auto real = real_pyramid(in.reals.slice(0, a, b));
    auto real_aug = augment(real);
    auto fake_aug = augment(fake);
    std::vector<torch::Tensor> t_ds = {D_->text_embedding(t.tokens, t.eot_index)};
    if (options_.match_weight > 0) t_ds.push_back(D_->text_embedding(t_hat.tokens, t_hat.eot_index));
    // Real and fake in one batched pass per text.
    std::vector<torch::Tensor> both;
    for (size_t l = 0; l < real_aug.size(); ++l) both.push_back(torch::cat({real_aug[l], fake_aug[l]}));
    std::vector<torch::Tensor> t_both;
    for (const auto& td : t_ds) t_both.push_back(torch::cat({td, td}));
    std::vector<std::vector<torch::Tensor>> logits;
    {
      PhaseTimer timer(timing(), "D step: D forward", 3);
      logits = d_logits(both, t_both);
    }
    const int64_t n = b - a;
    auto part = [&](const std::vector<torch::Tensor>& ls, bool real_half) {
      std::vector<torch::Tensor> out;
      for (const auto& l : ls) out.push_back(real_half ? l.slice(0, 0, n) : l.slice(0, n, 2 * n));
      return out;
    };
    auto d_real = sum_over_pairs(part(logits[0], true), d_loss_real);
    auto d_fake = sum_over_pairs(part(logits[0], false), d_loss_fake);
    torch::Tensor total = d_real + d_fake;
    record(r, "d_real", d_real);
    record(r, "d_fake", d_fake);
    if (options_.match_weight > 0) {
      auto d_match = sum_over_pairs(logits[1], d_loss_fake);  // (x, c_hat) and (G(c), c_hat) are both fake
      total = total + options_.match_weight * d_match;
      record(r, "d_match", d_match);
    }
    if (VA_) {
      std::vector<torch::Tensor> va;
      {
        PhaseTimer timer(timing(), "D step: vision-aided D", 1);
        va = VA_->forward(torch::cat({real_aug[0], fake_aug[0]}), torch::cat({t.pooled, t.pooled}));
      }
      auto d_vision = mean_over(part(va, true), d_loss_real) + mean_over(part(va, false), d_loss_fake);
      total = total + options_.vision_weight * d_vision;
      record(r, "d_vision", d_vision);
    }
    PhaseTimer timer(timing(), "D step: backward", 0);
    (total * in.share).backward();
  }
}

void GanTrainer::d_reg(const StepInputs& in, StepResult& r) {
  for (int m = 0; m < in.micro_steps; ++m) {
    const int64_t a = m * micro_, b = a + micro_;
    auto t = slice(in.text, a, b);
    auto real = real_pyramid(in.reals.slice(0, a, b).detach());
    for (auto& level : real) level = level.detach().requires_grad_(true);
    // Not augmented: grid_sample has no double backward in LibTorch, and R1
    // penalises D's gradient at the data itself.
    std::vector<DiscriminatorPrediction> preds;
    {
      PhaseTimer timer(timing(), "R1: D forward", 4);
      preds = D_->forward(real, t.tokens, t.eot_index);
    }
    torch::Tensor sum = torch::zeros({}, in.reals.options());
    for (const auto& p : preds) sum = sum + p.logits.sum();
    auto r1 = r1_penalty(sum, real);
    record(r, "r1", r1);
    PhaseTimer timer(timing(), "R1: backward", 0);
    (r1 * (options_.r1_gamma / 2 * options_.r1_interval) * in.share).backward();
  }
}

StepResult GanTrainer::step() {
  StepResult r;
  const StepInputs in = prepare_step();
  // G: V_MSIO (non-saturating) + matching-aware + CLIP + vision-aided (+ the
  // reconstruction and upsampler terms). Not during the D warm-up of a
  // fine-tuning run (d_warmup_images): a fresh D would first push an --init
  // generator around with meaningless gradients.
  if (images >= options_.d_warmup_images && !g_main(in, r)) return r;
  if (options_.gan_weight > 0) {
    // D: V_MSIO + matching-aware + vision-aided, then lazy R1 on reals every
    // r1_interval steps, scaled by the interval (StyleGAN2).
    set_requires_grad(false);
    adam_d_->zero_grad();
    d_main(in, r);
    if (options_.r1_gamma > 0 && steps % options_.r1_interval == 0) d_reg(in, r);
    if (!gradients_ready(*adam_d_, "D gradient", r)) return r;
    PhaseTimer timer(timing(), "D step: Adam", 0);
    adam_d_->step();
    adam_d_->zero_grad();
  }  // gan_weight 0: G learns from the reconstruction (and CLIP) terms alone; D rests
  for (auto& [k, v] : r.losses) v /= in.micro_steps;
  return r;
}

bool GanTrainer::gradients_ready(Adam& adam, const char* what, StepResult& r) {
  // Average over ranks, then decide on every rank alike whether to step.
  if (dp_.reduce) {
    std::vector<torch::Tensor> params;
    for (const auto& [name, p] : adam.params()) params.push_back(p);
    dp_.reduce(params);
  }
  if (r.non_finite.empty() && !adam.grads_finite()) r.non_finite = what;
  if (dp_.any && dp_.any(!r.non_finite.empty()) && r.non_finite.empty()) r.non_finite = "another rank's loss";
  if (r.non_finite.empty()) return true;
  adam.zero_grad();
  return false;
}

void GanTrainer::synchronize() {
  if (!dp_.broadcast) return;
  torch::NoGradGuard ng;
  std::vector<torch::Tensor> all;
  for (auto* m : {&net(), &net_ema(), static_cast<torch::nn::Module*>(D_.get())}) {
    for (auto& p : m->parameters()) all.push_back(p.data());
    for (auto& b : m->buffers()) all.push_back(b);
  }
  if (VA_)
    for (auto& p : VA_->parameters()) all.push_back(p.data());
  for (auto& t : adam_g_->state_tensors()) all.push_back(t);
  for (auto& t : adam_d_->state_tensors()) all.push_back(t);
  auto counters = torch::tensor({images, steps, loader_->position(), adam_g_->steps(), adam_d_->steps()}, torch::kInt64);
  auto scale = torch::tensor({lr_scale_}, torch::kDouble);
  auto rng = rng_state("").at("cpu").clone();
  all.push_back(counters);
  all.push_back(scale);
  all.push_back(rng);
  dp_.broadcast(all);
  images = counters[0].item<int64_t>();
  steps = counters[1].item<int64_t>();
  adam_g_->set_steps(counters[3].item<int64_t>());
  adam_d_->set_steps(counters[4].item<int64_t>());
  scale_learning_rate(scale.item<double>() / lr_scale_);
  set_rng_state({{"cpu", rng}}, "");
  start_loader(counters[2].item<int64_t>());
}

void GanTrainer::update_ema() {
  torch::NoGradGuard ng;
  double half_life = options_.ema_half_life_images;
  if (options_.ema_rampup > 0) half_life = std::min(half_life, static_cast<double>(images) * options_.ema_rampup);
  const double beta = half_life > 0 ? std::pow(0.5, static_cast<double>(options_.batch) / half_life) : 0.0;
  auto src = net().named_parameters(true);
  auto dst = net_ema().named_parameters(true);
  for (const auto& item : src) dst[item.key()].copy_(item.value().detach().lerp(dst[item.key()], beta));
  auto sb = net().named_buffers(true);
  auto db = net_ema().named_buffers(true);
  for (const auto& item : sb) db[item.key()].copy_(item.value());
}

Checkpoint discriminator_checkpoint(const Checkpoint& ck, const std::string& source) {
  if (ck.kind == "discriminator") return ck;
  if (ck.kind != "train-state" || ck.config.value("mode", "") != "gan")
    throw CheckpointError("'" + source + "' holds neither a discriminator nor a `gigagan train` checkpoint (kind '" +
                          ck.kind + "')");
  Checkpoint d;
  d.kind = "discriminator";
  d.config = {{"model", ck.config.at("model")}};
  add_prefix(d.tensors, select_prefix(ck.tensors, "D."), "D.");
  add_prefix(d.tensors, select_prefix(ck.tensors, "VA."), "VA.");
  return d;
}

NetworkWeights ema_network_weights(Checkpoint ck, const std::string& kind, const std::string& source) {
  const bool up = kind == "upsampler";
  if (ck.kind == kind) return {std::move(ck.config), std::move(ck.tensors)};
  if (ck.kind == "train-state" && ck.config.value("mode", "") == (up ? "upsampler" : "gan"))
    return {ck.config.value("model", json::object()).value(kind, json()), select_prefix(ck.tensors, "G_ema.")};
  throw CheckpointError("'" + source + "' holds a " + ck.kind + ", not a " + kind + " or a `gigagan " +
                        (up ? "train-upsampler" : "train") + "` checkpoint");
}

Checkpoint GanTrainer::discriminator_state() const {
  Checkpoint d;
  d.kind = "discriminator";
  d.config = {{"model", config_}};
  add_prefix(d.tensors, state_dict(*D_), "D.");
  if (VA_) add_prefix(d.tensors, state_dict(*VA_), "VA.");
  return d;
}

bool GanTrainer::init_discriminator(const Checkpoint& ck, const std::string& source) {
  if (target_ != GanTarget::Base) throw ConfigError("init_discriminator: only the base GAN trainer takes a D");
  const Checkpoint d = discriminator_checkpoint(ck, source);
  const json model = d.config.value("model", json::object());
  const json mine = config_;
  if (model.value("discriminator", json()) != mine.at("discriminator"))
    throw CheckpointError("'" + source + "': its discriminator config differs from this run's (--config " +
                          config_.name + "); a D only fine-tunes with the config it was trained with");
  // Read through the struct, so that fields added since (with their defaults) compare equal.
  bool same_vision = false;
  try {
    same_vision = json(model.value("vision_aided", json()).get<VisionAidedConfig>()) == mine.at("vision_aided");
  } catch (const std::exception&) {
    same_vision = false;
  }
  torch::NoGradGuard ng;
  load_state_dict_strict(*D_, select_prefix(d.tensors, "D."), source);
  if (VA_ && same_vision) load_state_dict_strict(*VA_, select_prefix(d.tensors, "VA."), source);
  return !VA_ || same_vision;
}

Checkpoint GanTrainer::state() const {
  Checkpoint ck;
  ck.kind = "train-state";
  ck.config = {{"mode", mode()}, {"model", config_}, {"options", options_}};
  add_prefix(ck.tensors, state_dict(net()), "G.");
  add_prefix(ck.tensors, state_dict(net_ema()), "G_ema.");
  add_prefix(ck.tensors, state_dict(*D_), "D.");
  if (VA_) add_prefix(ck.tensors, state_dict(*VA_), "VA.");
  adam_g_->save(ck.tensors, "adam_g.");
  adam_d_->save(ck.tensors, "adam_d.");
  save_progress(ck, {loader_->position(), lr_scale_});
  return ck;
}

void GanTrainer::load_state(const Checkpoint& ck, const std::string& source) {
  if (ck.kind != "train-state" || ck.config.value("mode", "") != mode())
    throw CheckpointError("'" + source + "' is not a `gigagan " + (mode() == "gan" ? "train" : "train-upsampler") +
                          "` checkpoint (kind '" + ck.kind + "', mode '" + ck.config.value("mode", "") + "')");
  if (json(ck.config.at("model")) != json(config_))
    throw CheckpointError("'" + source + "' was trained with another model config; resume with the same --config");
  torch::NoGradGuard ng;
  load_state_dict_strict(net(), select_prefix(ck.tensors, "G."), source);
  load_state_dict_strict(net_ema(), select_prefix(ck.tensors, "G_ema."), source);
  load_state_dict_strict(*D_, select_prefix(ck.tensors, "D."), source);
  if (VA_) load_state_dict_strict(*VA_, select_prefix(ck.tensors, "VA."), source);
  hold_noise_strengths();
  adam_g_->load(ck.tensors, "adam_g.", source);
  adam_d_->load(ck.tensors, "adam_d.", source);
  const Progress p = load_progress(ck, source);
  scale_learning_rate(p.lr_scale / lr_scale_);
  start_loader(p.position);
}

bool GanTrainer::write_samples(const fs::path& path) {
  torch::NoGradGuard ng;
  const int64_t p = static_cast<int64_t>(sample_captions_.size()), s = sample_z_.size(0);
  std::vector<std::string> caps;
  for (int64_t k = 0; k < s; ++k)
    for (int64_t i = 0; i < p; ++i) caps.push_back(sample_captions_[static_cast<size_t>(i)]);
  auto text = text_->get(caps);
  auto z = sample_z_.repeat_interleave(p, 0);
  if (target_ == GanTarget::Upsampler) {
    // Rows: bicubic upscaling of the input, the upsampler (one row per seed), the real high-res image.
    auto low = torch::stack(sample_low_).to(device_);
    auto high = torch::stack(sample_high_).to(device_);
    const int64_t r = high.size(2);
    auto bicubic = torch::nn::functional::interpolate(
        low, torch::nn::functional::InterpolateFuncOptions().size(std::vector<int64_t>{r, r}).mode(torch::kBicubic).align_corners(false));
    auto out = U_ema_->forward(low.repeat({s, 1, 1, 1}), z, text.tokens, text.eot_index, true,
                               UpsamplerImpl::make_input_noise(low.repeat({s, 1, 1, 1}), options_.seed + 777))[0];
    save_image_grid(torch::cat({bicubic.clamp(-1, 1), out, high}), static_cast<int>(p), path);
    return true;
  }
  auto images = G_ema_->forward(z, text.tokens, text.eot_index)[0];
  save_image_grid(images, static_cast<int>(p), path);
  return true;
}

std::string GanTrainer::export_package(const RunFolder& run) {
  if (target_ == GanTarget::Upsampler) {
    // The upsampler alone (EMA weights); `gigagan package` joins it to a base model.
    const fs::path path = run.root() / "upsampler.safetensors";
    save_network(path.string(), "upsampler", config_.upsampler, U_ema_);
    return path.string();
  }
  // The current G_ema with the frozen CLIP and its tokenizer: a model package
  // the engine and the studio load as is ("Use in studio").
  ModelPackage pkg;
  pkg.name = run.root().filename().string();
  pkg.description = description_ + " (" + std::to_string(images) + " images)";
  pkg.sample_prompts = sample_captions_;
  pkg.styles = dataset_styles(*train_);
  pkg.tokenizer_folder = tokenizer_folder_;
  pkg.clip = clip_;
  pkg.generator = G_ema_;
  pkg.discriminator = discriminator_state();  // so --init RUN/package fine-tunes against this D
  save_package(run.package_dir().string(), pkg);
  return run.package_dir().string();
}

}  // namespace gg

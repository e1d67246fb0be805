// The latent-editing engine (engine.h).
#include "engine.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "checkpoint.h"
#include "errors.h"

namespace gg {

namespace {

constexpr uint64_t kMeanWSeed = 0x6d65616e5f77ull;        // "mean_w"
constexpr uint64_t kUpsamplerZSalt = 0x9e3779b97f4a7c15ull;  // the upsampler's z stream differs from G's

std::string hex32(uint32_t v) {
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", v);
  return buf;
}

bool is_blank(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); });
}

std::vector<double> padded(std::vector<double> w, size_t n) {
  if (w.size() < n) w.resize(n, 0.0);
  return w;
}

// Mean of M(z, t_global) over `samples` z drawn from a fixed-seed CPU generator.
torch::Tensor mean_of_mapping(MappingNetwork& mapping, const torch::Tensor& t_global, int64_t z_dim, int samples) {
  // t_global: [1, D] -> [1, w_dim]
  auto gen = at::detail::createCPUGenerator(kMeanWSeed);
  torch::Tensor sum;
  const int chunk = 1024;
  for (int done = 0; done < samples; done += chunk) {
    const int n = std::min(chunk, samples - done);
    auto z = torch::randn({n, z_dim}, gen, torch::kFloat32).to(t_global.device());
    auto w = mapping->forward(z, t_global.expand({n, t_global.size(1)})).sum(0, true);
    sum = sum.defined() ? sum + w : w;
  }
  return sum / samples;
}

}  // namespace

torch::Tensor seeded_z(uint64_t seed, int64_t dim, const torch::Device& device) {
  auto gen = at::detail::createCPUGenerator(seed);
  return torch::randn({1, dim}, gen, torch::kFloat32).to(device);
}

Engine::Engine(ModelPackage package, EngineOptions options)
    : pkg_(std::move(package)),
      options_(std::move(options)),
      device_(torch::kCPU),
      prompts_(options_.prompt_cache_size),
      mean_ws_(options_.prompt_cache_size * 2),
      source_ws_cache_(options_.w_cache_size) {
  prepare_package(pkg_);  // a no-op for loaded packages but the freeze
  device_ = pkg_.generator->parameters().front().device();
  layers_.slots = pkg_.generator->slots();
  layers_.has_upsampler = static_cast<bool>(pkg_.upsampler);
  hash_ = pkg_.hash;
}

std::unique_ptr<Engine> Engine::open(const std::string& dir, const torch::Device& device, EngineOptions options) {
  return std::make_unique<Engine>(load_package(dir, device), std::move(options));
}

void Engine::stamp(Recipe& recipe) const {
  recipe.model_name = pkg_.name;
  recipe.model_hash = hash_;
}

void Engine::check_model(const Recipe& r, bool allow_other_model) const {
  if (allow_other_model || r.model_hash.empty() || r.model_hash == hash_) return;
  throw ConfigError("the recipe was made with model '" + r.model_name + "' (hash " + r.model_hash +
                    ") but the loaded model is '" + pkg_.name + "' (hash " + hash_ +
                    "): load that model (--model) or allow another model (--any-model)");
}

std::shared_ptr<const PromptEncoding> Engine::encode(const std::string& prompt) {
  if (is_blank(prompt)) throw PromptError("empty prompt: describe the image, e.g. \"cat face, noto style\"");
  if (auto hit = prompts_.get(prompt)) return hit;
  torch::NoGradGuard no_grad;  // not InferenceMode: inversion differentiates through these
  auto e = std::make_shared<PromptEncoding>();
  e->prompt = prompt;
  const TokenizedPrompt tp = pkg_.tokenizer->encode(prompt);
  e->truncated = tp.truncated;
  if (tp.truncated && options_.on_warning)
    options_.on_warning("prompt truncated to " + std::to_string(pkg_.tokenizer->context_length()) +
                        " tokens: \"" + prompt + "\"");
  auto ids = torch::tensor(tp.ids, torch::kLong).unsqueeze(0).to(device_);
  const auto f = pkg_.clip->text_features(ids);
  e->g = pkg_.generator->encode_text(f.tokens, f.eot_index);
  if (pkg_.upsampler) e->u = pkg_.upsampler->text_encoder->forward(f.tokens, f.eot_index);
  ++text_encodings_;
  prompts_.put(prompt, e);
  return e;
}

torch::Tensor Engine::mean_w(const std::string& prompt, int samples, bool upsampler) {
  if (upsampler && !pkg_.upsampler) throw ConfigError("this model has no upsampler");
  const std::string key = std::string(upsampler ? "u" : "g") + std::to_string(samples) + '\0' + prompt;
  if (auto hit = mean_ws_.get(key)) return *hit;
  const auto e = encode(prompt);
  torch::NoGradGuard no_grad;
  auto m = upsampler ? mean_of_mapping(pkg_.upsampler->mapping, e->u.t_global, pkg_.upsampler->config.z_dim, samples)
                     : mean_of_mapping(pkg_.generator->mapping, e->g.t_global, pkg_.generator->config.z_dim, samples);
  mean_ws_.put(key, std::make_shared<torch::Tensor>(m));
  return m;
}

// The untruncated w of a (network, seed, prompt) source: from the cache, or
// computed by `map` (without autograd) and remembered.
torch::Tensor Engine::cached_source_w(const char* network, const Source& s, const std::function<torch::Tensor()>& map) {
  const std::string key = network + std::to_string(s.seed) + '\0' + s.prompt;
  if (auto hit = source_ws_cache_.get(key)) return *hit;
  torch::Tensor raw;
  {
    torch::NoGradGuard no_grad;
    raw = map();
  }
  source_ws_cache_.put(key, std::make_shared<torch::Tensor>(raw));
  ++source_ws_;
  return raw;
}

torch::Tensor Engine::source_w(const Source& s, int samples) {
  const auto& g = pkg_.generator->config;
  if (s.latent) {
    const auto& w = s.latent->w;
    const bool ok = s.latent->plus ? (w.dim() == 2 && w.size(0) == g.num_ws() && w.size(1) == g.w_dim)
                                   : (w.dim() == 1 && w.size(0) == g.w_dim);
    if (!ok)
      throw ConfigError("latent of shape " + c10::str(w.sizes()) + " does not fit this model (W: [" +
                        std::to_string(g.w_dim) + "], W+: [" + std::to_string(g.num_ws()) + ", " +
                        std::to_string(g.w_dim) + "])");
    return w.to(device_).unsqueeze(0);
  }
  const torch::Tensor raw = cached_source_w("g", s, [&] {
    return pkg_.generator->map(seeded_z(s.seed, g.z_dim, device_), encode(s.prompt)->g.t_global);
  });
  if (s.psi == 1.0) return raw;
  torch::NoGradGuard no_grad;
  return GeneratorImpl::truncate(raw, mean_w(s.prompt, samples), s.psi);
}

torch::Tensor Engine::source_up_w(const Source& s, int samples) {
  if (!pkg_.upsampler) throw ConfigError("this model has no upsampler (its package has no \"upsampler\" entry)");
  const auto& u = pkg_.upsampler->config;
  const torch::Tensor raw = cached_source_w("u", s, [&] {
    return pkg_.upsampler->mapping->forward(seeded_z(s.seed ^ kUpsamplerZSalt, u.z_dim, device_),
                                            encode(s.prompt)->u.t_global);
  });
  if (s.psi == 1.0) return raw;
  torch::NoGradGuard no_grad;
  return GeneratorImpl::truncate(raw, mean_w(s.prompt, samples, true), s.psi);
}

Conditioning Engine::conditioning(const std::vector<Recipe>& cells, bool upsample) {
  TORCH_CHECK(!cells.empty(), "conditioning: no recipe");
  if (upsample && !pkg_.upsampler)
    throw ConfigError("this model has no upsampler (its package has no \"upsampler\" entry)");
  torch::NoGradGuard no_grad;
  const int num_ws = pkg_.generator->num_ws();
  const int L = layers_.size();
  const int up = layers_.upsampler_index();
  Conditioning out;
  std::vector<torch::Tensor> ws_rows, t_rows, uw_rows, ut_rows;
  for (const auto& r : cells) {
    r.validate();
    const size_t n = r.sources.size();
    // Weights per layer.
    const auto base_w = r.w_weights.empty() ? padded({1.0}, n) : normalize_weights(padded(r.w_weights, n), n, "recipe.w");
    const auto base_t = r.t_weights.empty() ? padded({1.0}, n) : normalize_weights(padded(r.t_weights, n), n, "recipe.t");
    std::vector<std::vector<double>> aw(L, base_w), at(L, base_t);
    for (size_t k = 0; k < r.layers.size(); ++k) {
      const auto& lb = r.layers[k];
      const std::string where = "recipe.layers[" + std::to_string(k) + "]";
      const auto idx = layers_.parse(lb.layers);
      const auto w = lb.w.empty() ? std::vector<double>{} : normalize_weights(padded(lb.w, n), n, where + ".w");
      const auto t = lb.t.empty() ? std::vector<double>{} : normalize_weights(padded(lb.t, n), n, where + ".t");
      for (int i : idx) {
        if (!w.empty()) aw[i] = w;
        if (!t.empty()) at[i] = t;
      }
    }
    // Sources' latents and text.
    std::vector<torch::Tensor> src_w, src_t;
    std::vector<bool> plus(n);
    for (size_t i = 0; i < n; ++i) {
      src_w.push_back(source_w(r.sources[i], r.mean_w_samples));
      plus[i] = src_w.back().dim() == 3;
      src_t.push_back(encode(r.sources[i].prompt)->g.t_local);
    }
    // Blends, shared between layers with equal weights (so that an
    // all-layers-alike recipe keeps one w and one t: expanded views, no copies).
    std::map<std::vector<double>, torch::Tensor> w_memo, t_memo;
    std::vector<torch::Tensor> w_slot(num_ws), t_slot(num_ws);
    for (int s = 0; s < num_ws; ++s) {
      bool per_slot = false;
      for (size_t i = 0; i < n; ++i) per_slot = per_slot || (plus[i] && aw[s][i] != 0);
      if (per_slot) {
        std::vector<torch::Tensor> xs;
        for (size_t i = 0; i < n; ++i) xs.push_back(plus[i] ? src_w[i].select(1, s) : src_w[i]);
        w_slot[s] = blend(xs, aw[s], r.blend);
      } else {
        auto it = w_memo.find(aw[s]);
        if (it == w_memo.end()) {
          std::vector<torch::Tensor> xs;
          for (size_t i = 0; i < n; ++i) xs.push_back(plus[i] ? src_w[i].select(1, s) : src_w[i]);
          it = w_memo.emplace(aw[s], blend(xs, aw[s], r.blend)).first;
        }
        w_slot[s] = it->second;
      }
      auto jt = t_memo.find(at[s]);
      if (jt == t_memo.end()) jt = t_memo.emplace(at[s], blend(src_t, at[s], r.blend)).first;
      t_slot[s] = jt->second;
    }
    // Upsampler slot.
    torch::Tensor uw, ut;
    if (upsample) {
      std::vector<torch::Tensor> xs, ts;
      for (size_t i = 0; i < n; ++i) {
        xs.push_back(source_up_w(r.sources[i], r.mean_w_samples));
        ts.push_back(encode(r.sources[i].prompt)->u.t_local);
      }
      uw = blend(xs, aw[up], r.blend);
      ut = blend(ts, at[up], r.blend);
    }
    // Directions.
    for (size_t k = 0; k < r.directions.size(); ++k) {
      const auto& d = r.directions[k];
      const auto idx = layers_.parse(d.layers);
      auto g_dir = [&](int s) -> torch::Tensor {
        if (d.from_source >= 0) {
          auto a = src_w[d.from_source], b = src_w[d.to_source];
          if (a.dim() == 3) a = a.select(1, s);
          if (b.dim() == 3) b = b.select(1, s);
          return b - a;
        }
        return mean_w(d.to, r.mean_w_samples) - mean_w(d.from, r.mean_w_samples);
      };
      for (int s : idx) {
        if (s < num_ws) {
          w_slot[s] = w_slot[s] + d.strength * g_dir(s);
        } else if (upsample) {
          const auto delta =
              d.from_source >= 0
                  ? source_up_w(r.sources[d.to_source], r.mean_w_samples) -
                        source_up_w(r.sources[d.from_source], r.mean_w_samples)
                  : mean_w(d.to, r.mean_w_samples, true) - mean_w(d.from, r.mean_w_samples, true);
          uw = uw + d.strength * delta;
        }
      }
    }
    // Assemble [1, num_ws, ...]: one shared tensor -> an expanded view.
    const bool one_w = std::all_of(w_slot.begin(), w_slot.end(), [&](const torch::Tensor& t) { return t.is_same(w_slot[0]); });
    const bool one_t = std::all_of(t_slot.begin(), t_slot.end(), [&](const torch::Tensor& t) { return t.is_same(t_slot[0]); });
    ws_rows.push_back(one_w ? pkg_.generator->broadcast_w(w_slot[0]) : torch::stack(w_slot, 1));
    t_rows.push_back(one_t ? pkg_.generator->broadcast_t_local(t_slot[0]) : torch::stack(t_slot, 1));
    if (upsample) {
      uw_rows.push_back(uw);
      ut_rows.push_back(ut);
      out.up_seeds.push_back(r.upsample_seed ? *r.upsample_seed : r.sources[0].seed);
    }
  }
  out.ws = ws_rows.size() == 1 ? ws_rows[0] : torch::cat(ws_rows, 0);
  out.t_locals = t_rows.size() == 1 ? t_rows[0] : torch::cat(t_rows, 0);
  if (upsample) {
    out.up_w = uw_rows.size() == 1 ? uw_rows[0] : torch::cat(uw_rows, 0);
    out.up_t = ut_rows.size() == 1 ? ut_rows[0] : torch::cat(ut_rows, 0);
  }
  return out;
}

void Engine::set_noise(const std::string& noise) {
  pkg_.generator->synthesis->noise_mode = parse_noise_mode(noise);
}

namespace {

// The final check on what the engine renders: a non-finite pixel would be
// written as black with exit 0. Names the cause: a non-finite latent (from
// psi, a direction's strength or a recipe's latent) or the network itself.
void check_finite_output(const torch::Tensor& image, const torch::Tensor& w, const torch::Tensor& t,
                         const char* network) {
  if (torch::isfinite(image).all().item<bool>()) return;
  if (w.defined() && !torch::isfinite(w).all().item<bool>())
    throw ConfigError(std::string("the rendered image is not finite (NaN or Inf) because its latent w is not: a "
                                  "truncation psi, direction strength or latent value too large overflowed"));
  if (t.defined() && !torch::isfinite(t).all().item<bool>())
    throw ConfigError("the rendered image is not finite (NaN or Inf) because its text conditioning is not "
                      "(the text encoder's weights may be corrupt)");
  throw ConfigError(std::string("the ") + network + " produced non-finite pixels (NaN or Inf) from a finite "
                    "latent: its weights are corrupt or overflow for this latent; nothing was written");
}

}  // namespace

Rendered Engine::synthesize(const Conditioning& c) {
  c10::InferenceMode inference;
  Rendered r;
  r.image = pkg_.generator->synthesize(c.ws, c.t_locals)[0];
  check_finite_output(r.image, c.ws, c.t_locals, "generator");
  if (c.up_w.defined()) {
    std::vector<torch::Tensor> noise;
    for (int64_t i = 0; i < r.image.size(0); ++i)
      noise.push_back(UpsamplerImpl::make_input_noise(r.image.narrow(0, i, 1), c.up_seeds.at(i)));
    const auto nz = noise.size() == 1 ? noise[0] : torch::cat(noise, 0);
    r.upsampled = pkg_.upsampler->synthesize(r.image, c.up_w, c.up_t, true, nz)[0];
    check_finite_output(r.upsampled, c.up_w, c.up_t, "upsampler");
  }
  return r;
}

Rendered Engine::render(const Recipe& recipe, bool allow_other_model) {
  return render_batch({recipe}, allow_other_model);
}

Rendered Engine::render_batch(const std::vector<Recipe>& cells, bool allow_other_model) {
  if (cells.empty()) throw ConfigError("nothing to render (no recipe)");
  RecipeGrid limits;  // cells and distinct prompts within the grid limits, before any work
  limits.cells = cells;
  limits.validate();
  for (const auto& r : cells) {
    check_model(r, allow_other_model);
    if (r.noise != cells[0].noise || r.upsample != cells[0].upsample)
      throw ConfigError("recipes rendered together must agree on noise and upsample");
  }
  set_noise(cells[0].noise);
  return synthesize(conditioning(cells, cells[0].upsample));
}

torch::Tensor Engine::upsample(const torch::Tensor& images, const std::vector<Source>& sources, int samples) {
  if (!pkg_.upsampler) throw ConfigError("this model has no upsampler (its package has no \"upsampler\" entry)");
  const auto& u = pkg_.upsampler->config;
  if (images.dim() != 4 || images.size(0) != static_cast<int64_t>(sources.size()) || images.size(1) != 3 ||
      images.size(2) != u.input_resolution || images.size(3) != u.input_resolution)
    throw ShapeError("upsample: expected images [N, 3, " + std::to_string(u.input_resolution) + ", " +
                     std::to_string(u.input_resolution) + "] and one source per image");
  Conditioning c;
  std::vector<torch::Tensor> ws, ts;
  for (const auto& s : sources) {
    ws.push_back(source_up_w(s, samples));
    ts.push_back(encode(s.prompt)->u.t_local);
    c.up_seeds.push_back(s.seed);
  }
  c10::InferenceMode inference;
  const auto img = images.to(device_, torch::kFloat32);
  std::vector<torch::Tensor> noise;
  for (int64_t i = 0; i < img.size(0); ++i)
    noise.push_back(UpsamplerImpl::make_input_noise(img.narrow(0, i, 1), c.up_seeds[i]));
  const auto up_w = torch::cat(ws, 0), up_t = torch::cat(ts, 0);
  auto out = pkg_.upsampler->synthesize(img, up_w, up_t, true, torch::cat(noise, 0))[0];
  check_finite_output(out, up_w, up_t, "upsampler");
  return out;
}

void Engine::begin_weight_edit() {
  if (original_synthesis_) return;
  original_synthesis_ = std::make_unique<TensorMap>();
  for (const auto& [name, t] : state_dict(*pkg_.generator->synthesis)) (*original_synthesis_)[name] = t.clone();
}

void Engine::weights_changed() {
  if (!original_synthesis_)
    throw ConfigError("weights_changed: call it after saving the original weights (inversion.h does)");
  uint32_t crc = 0;
  for (const auto& [name, t] : state_dict(*pkg_.generator->synthesis)) {
    auto c = t.to(torch::kCPU, torch::kFloat32).contiguous();
    crc = crc32(name.data(), name.size(), crc);
    crc = crc32(c.data_ptr(), static_cast<size_t>(c.numel()) * 4, crc);
  }
  hash_ = pkg_.hash + "+pti-" + hex32(crc);
}

void Engine::restore_weights() {
  if (!original_synthesis_) return;
  torch::NoGradGuard no_grad;
  load_state_dict_strict(*pkg_.generator->synthesis, *original_synthesis_, "the package's synthesis weights");
  original_synthesis_.reset();
  hash_ = pkg_.hash;
}

}  // namespace gg

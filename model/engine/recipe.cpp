// Recipes (recipe.h): JSON round trip and model-independent validation.
#include "recipe.h"

#include <cmath>
#include <cstring>
#include <set>
#include <sstream>

#include "errors.h"
#include "utf8.h"

namespace gg {

namespace {

const char* kB64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64_encode(const uint8_t* p, size_t n) {
  std::string out;
  out.reserve((n + 2) / 3 * 4);
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = static_cast<uint32_t>(p[i]) << 16;
    if (i + 1 < n) v |= static_cast<uint32_t>(p[i + 1]) << 8;
    if (i + 2 < n) v |= p[i + 2];
    out.push_back(kB64[(v >> 18) & 63]);
    out.push_back(kB64[(v >> 12) & 63]);
    out.push_back(i + 1 < n ? kB64[(v >> 6) & 63] : '=');
    out.push_back(i + 2 < n ? kB64[v & 63] : '=');
  }
  return out;
}

std::string base64_decode(const std::string& s, const std::string& where) {
  int rev[256];
  std::fill(rev, rev + 256, -1);
  for (int i = 0; i < 64; ++i) rev[static_cast<unsigned char>(kB64[i])] = i;
  if (s.size() % 4 != 0) throw ConfigError(where + ": base64 length is not a multiple of 4");
  std::string out;
  for (size_t i = 0; i < s.size(); i += 4) {
    uint32_t v = 0;
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = s[i + k];
      if (c == '=' && i + 4 == s.size() && k >= 2) {
        ++pad;
        v <<= 6;
        continue;
      }
      const int d = rev[static_cast<unsigned char>(c)];
      if (d < 0 || pad) throw ConfigError(where + ": invalid base64");
      v = (v << 6) | static_cast<uint32_t>(d);
    }
    out.push_back(static_cast<char>((v >> 16) & 0xff));
    if (pad < 2) out.push_back(static_cast<char>((v >> 8) & 0xff));
    if (pad < 1) out.push_back(static_cast<char>(v & 0xff));
  }
  return out;
}

template <class T>
T field(const json& j, const char* key, const T& fallback, const std::string& where) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  try {
    return j[key].get<T>();
  } catch (const json::exception& e) {
    throw ConfigError(where + "." + key + ": " + e.what());
  }
}

// Strict numbers: no wrap-around (-1 -> 2^64-1, 2^32+4096 -> 4096) and no
// float-to-integer overflow (1e30 -> undefined behaviour).
uint64_t uint_field(const json& j, const char* key, uint64_t fallback, const std::string& where) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  const json& v = j[key];
  if (!v.is_number_integer() || (!v.is_number_unsigned() && v.get<int64_t>() < 0))
    throw ConfigError(where + "." + key + ": expected an integer in [0, 2^64 - 1], got " + v.dump());
  return v.get<uint64_t>();
}

int int_field(const json& j, const char* key, int fallback, const std::string& where, int64_t lo, int64_t hi) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  const json& v = j[key];
  const std::string range = "[" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  if (!v.is_number_integer()) throw ConfigError(where + "." + key + ": expected an integer in " + range + ", got " + v.dump());
  const bool in = v.is_number_unsigned() ? v.get<uint64_t>() <= static_cast<uint64_t>(hi)
                                         : v.get<int64_t>() >= lo && v.get<int64_t>() <= hi;
  if (!in) throw ConfigError(where + "." + key + ": must be in " + range + " (the limit), got " + v.dump());
  return static_cast<int>(v.get<int64_t>());
}

double number_field(const json& j, const char* key, double fallback, const std::string& where) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  const json& v = j[key];
  if (!v.is_number()) throw ConfigError(where + "." + key + ": expected a number, got " + v.dump());
  const double d = v.get<double>();
  if (!std::isfinite(d)) throw ConfigError(where + "." + key + ": expected a finite number, got " + v.dump());
  return d;
}

void check_keys(const json& j, std::initializer_list<const char*> known, const std::string& where) {
  if (!j.is_object()) throw ConfigError(where + ": expected a JSON object, got " + std::string(j.type_name()));
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool ok = false;
    for (const char* k : known) ok = ok || it.key() == k;
    if (!ok) throw ConfigError(where + ": unknown field '" + it.key() + "'");
  }
}

std::vector<double> weights_from_json(const json& j, size_t sources, const std::string& where) {
  // A number n means "source n alone"; a list gives one weight per source.
  if (j.is_number_integer()) {
    if ((!j.is_number_unsigned() && j.get<int64_t>() < 0) || j.get<uint64_t>() >= sources)
      throw ConfigError(where + ": source index " + j.dump() + " is out of range (the recipe has " +
                        std::to_string(sources) + " source" + (sources == 1 ? "" : "s") + ")");
    const size_t i = j.get<size_t>();
    std::vector<double> w(i + 1, 0.0);
    w[i] = 1.0;
    return w;
  }
  if (!j.is_array()) throw ConfigError(where + ": expected a source index or a list of weights");
  if (j.size() > sources)
    throw ConfigError(where + ": " + std::to_string(j.size()) + " weights for " + std::to_string(sources) +
                      " source" + (sources == 1 ? "" : "s") + " (one weight per source)");
  std::vector<double> w;
  for (const auto& x : j) {
    if (!x.is_number()) throw ConfigError(where + ": expected a source index or a list of weights");
    w.push_back(x.get<double>());
  }
  return w;
}

// Pads one-hot shorthand ([0, 0, 1] from index 2) to the number of sources.
std::vector<double> padded(std::vector<double> w, size_t n) {
  if (w.size() < n) w.resize(n, 0.0);
  return w;
}

}  // namespace

json tensor_to_json(const torch::Tensor& t) {
  auto c = t.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  // Little-endian float32 bytes (this code runs on little-endian hosts only).
  return {{"shape", c.sizes().vec()},
          {"float32_base64", base64_encode(static_cast<const uint8_t*>(c.data_ptr()), c.numel() * 4)}};
}

torch::Tensor tensor_from_json(const json& j, const std::string& where) {
  check_keys(j, {"shape", "float32_base64", "space"}, where);
  if (j.contains("shape") && (!j["shape"].is_array() || j["shape"].size() > 4))
    throw ConfigError(where + ".shape: expected a list of at most 4 dimensions");
  std::vector<int64_t> shape;
  int64_t n = 1;
  if (j.contains("shape"))
    for (const auto& d : j["shape"]) {
      if (!d.is_number_integer() || (!d.is_number_unsigned() && d.get<int64_t>() <= 0) ||
          d.get<uint64_t>() == 0 || d.get<uint64_t>() > static_cast<uint64_t>(kMaxLatentElements))
        throw ConfigError(where + ".shape: dimensions must be integers in [1, " +
                          std::to_string(kMaxLatentElements) + "], got " + d.dump());
      n *= d.get<int64_t>();
      if (n > kMaxLatentElements)
        throw ConfigError(where + ".shape: more than " + std::to_string(kMaxLatentElements) + " values (the limit)");
      shape.push_back(d.get<int64_t>());
    }
  const std::string bytes = base64_decode(field<std::string>(j, "float32_base64", "", where), where);
  if (shape.empty() || static_cast<int64_t>(bytes.size()) != n * 4)
    throw ConfigError(where + ": shape and data size disagree");
  auto t = torch::empty(shape, torch::kFloat32);
  std::memcpy(t.data_ptr(), bytes.data(), bytes.size());
  if (!torch::isfinite(t).all().item<bool>()) throw ConfigError(where + ": holds non-finite values (NaN or Inf)");
  if (t.abs().max().item<double>() > kMaxLatentValue)
    throw ConfigError(where + ": holds values of magnitude up to " + std::to_string(t.abs().max().item<double>()) +
                      ", over the limit of " + std::to_string(static_cast<int>(kMaxLatentValue)));
  return t;
}

void check_prompt_text(const std::string& prompt, const std::string& where) {
  const size_t bad = utf8_invalid_at(prompt);
  if (bad != std::string::npos)
    throw PromptError(where + ": the prompt is not valid UTF-8 (byte " + std::to_string(bad) + " of " +
                      std::to_string(prompt.size()) + "); retype it or save it as UTF-8");
  if (prompt.size() > kMaxPromptBytes)
    throw PromptError(where + ": the prompt is " + std::to_string(prompt.size()) + " bytes, over the limit of " +
                      std::to_string(kMaxPromptBytes));
}

namespace {

std::string fmt(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

}  // namespace

void Recipe::validate() const {
  if (sources.empty()) throw ConfigError("recipe: needs at least one source (a prompt and a seed)");
  if (sources.size() > kMaxRecipeSources)
    throw ConfigError("recipe.sources: " + std::to_string(sources.size()) + " sources, over the limit of " +
                      std::to_string(kMaxRecipeSources));
  if (layers.size() > kMaxRecipeLayerBlends)
    throw ConfigError("recipe.layers: " + std::to_string(layers.size()) + " entries, over the limit of " +
                      std::to_string(kMaxRecipeLayerBlends));
  if (directions.size() > kMaxRecipeDirections)
    throw ConfigError("recipe.directions: " + std::to_string(directions.size()) + " entries, over the limit of " +
                      std::to_string(kMaxRecipeDirections));
  const size_t n = sources.size();
  for (size_t i = 0; i < n; ++i) {
    const auto& s = sources[i];
    const std::string where = "recipe.sources[" + std::to_string(i) + "]";
    bool blank = true;
    for (char c : s.prompt) blank = blank && std::isspace(static_cast<unsigned char>(c));
    if (blank)
      throw PromptError("empty prompt (source " + std::to_string(i) + "): describe the image, e.g. \"cat face\"");
    check_prompt_text(s.prompt, where + ".prompt");
    if (!std::isfinite(s.psi) || std::abs(s.psi) > kMaxPsi)
      throw ConfigError(where + ".psi: must be finite and in [-" + fmt(kMaxPsi) + ", " + fmt(kMaxPsi) +
                        "] (the limit), got " + fmt(s.psi));
    if (s.latent && (!s.latent->w.defined() || s.latent->w.dim() != (s.latent->plus ? 2 : 1)))
      throw ConfigError(where + ".latent: shape does not match its space");
    if (s.latent) {
      if (s.latent->w.numel() > kMaxLatentElements)
        throw ConfigError(where + ".latent: more than " + std::to_string(kMaxLatentElements) + " values (the limit)");
      if (!torch::isfinite(s.latent->w).all().item<bool>())
        throw ConfigError(where + ".latent: holds non-finite values (NaN or Inf)");
      if (s.latent->w.numel() > 0 && s.latent->w.abs().max().item<double>() > kMaxLatentValue)
        throw ConfigError(where + ".latent: holds values over the limit of " + fmt(kMaxLatentValue) +
                          " in magnitude");
    }
  }
  if (!w_weights.empty()) normalize_weights(padded(w_weights, n), n, "recipe.w");
  if (!t_weights.empty()) normalize_weights(padded(t_weights, n), n, "recipe.t");
  for (size_t k = 0; k < layers.size(); ++k) {
    const std::string where = "recipe.layers[" + std::to_string(k) + "]";
    if (!layers[k].w.empty()) normalize_weights(padded(layers[k].w, n), n, where + ".w");
    if (!layers[k].t.empty()) normalize_weights(padded(layers[k].t, n), n, where + ".t");
  }
  for (size_t k = 0; k < directions.size(); ++k) {
    const auto& d = directions[k];
    const std::string where = "recipe.directions[" + std::to_string(k) + "]";
    const bool by_prompt = !d.from.empty() || !d.to.empty();
    const bool by_source = d.from_source >= 0 || d.to_source >= 0;
    if (by_prompt == by_source)
      throw ConfigError(where + ": give either two prompts (from, to) or two source indices");
    if (by_prompt && (d.from.empty() || d.to.empty()))
      throw PromptError(where + ": empty prompt in a direction (both 'from' and 'to' are needed)");
    if (by_source && (d.from_source < 0 || d.to_source < 0 || d.from_source >= static_cast<int>(n) ||
                      d.to_source >= static_cast<int>(n)))
      throw ConfigError(where + ": source index out of range");
    if (by_prompt) {
      check_prompt_text(d.from, where + ".from");
      check_prompt_text(d.to, where + ".to");
    }
    if (!std::isfinite(d.strength) || std::abs(d.strength) > kMaxStrength)
      throw ConfigError(where + ".strength: must be finite and in [-" + fmt(kMaxStrength) + ", " +
                        fmt(kMaxStrength) + "] (the limit), got " + fmt(d.strength));
  }
  if (noise != "const" && noise != "none")
    throw ConfigError("recipe.noise: expected const or none, got '" + noise + "'");
  if (mean_w_samples < 1 || mean_w_samples > kMaxMeanWSamples)
    throw ConfigError("recipe.mean_w_samples: must be in [1, " + std::to_string(kMaxMeanWSamples) +
                      "] (the limit), got " + std::to_string(mean_w_samples));
}

json Recipe::to_json() const {
  json j = {{"format", kRecipeFormat}, {"version", kRecipeFormatVersion}};
  j["model"] = {{"name", model_name}, {"hash", model_hash}};
  json src = json::array();
  for (const auto& s : sources) {
    json e = {{"prompt", s.prompt}, {"seed", s.seed}, {"psi", s.psi}};
    if (s.latent) {
      e["latent"] = tensor_to_json(s.latent->w);
      e["latent"]["space"] = s.latent->plus ? "w+" : "w";
    }
    src.push_back(e);
  }
  j["sources"] = src;
  j["blend"] = blend_mode_name(blend);
  if (!w_weights.empty()) j["w"] = w_weights;
  if (!t_weights.empty()) j["t"] = t_weights;
  if (!layers.empty()) {
    json a = json::array();
    for (const auto& l : layers) {
      json e = {{"layers", l.layers}};
      if (!l.w.empty()) e["w"] = l.w;
      if (!l.t.empty()) e["t"] = l.t;
      a.push_back(e);
    }
    j["layers"] = a;
  }
  if (!directions.empty()) {
    json a = json::array();
    for (const auto& d : directions) {
      json e = {{"strength", d.strength}, {"layers", d.layers}};
      if (d.from_source >= 0) {
        e["from_source"] = d.from_source;
        e["to_source"] = d.to_source;
      } else {
        e["from"] = d.from;
        e["to"] = d.to;
      }
      a.push_back(e);
    }
    j["directions"] = a;
  }
  j["upsample"] = upsample;
  if (upsample_seed) j["upsample_seed"] = *upsample_seed;
  j["noise"] = noise;
  j["mean_w_samples"] = mean_w_samples;
  return j;
}

Recipe Recipe::from_json(const json& j) {
  const std::string R = "recipe";
  check_keys(j, {"format", "version", "model", "sources", "blend", "w", "t", "layers", "directions", "upsample",
                 "upsample_seed", "noise", "mean_w_samples"},
             R);
  if (field<std::string>(j, "format", kRecipeFormat, R) != kRecipeFormat)
    throw ConfigError("recipe.format: expected \"" + std::string(kRecipeFormat) + "\"");
  if (int_field(j, "version", 1, R, 0, 1 << 30) > kRecipeFormatVersion)
    throw ConfigError("recipe.version: written by a newer gigagan (this build reads version " +
                      std::to_string(kRecipeFormatVersion) + ")");
  Recipe r;
  if (j.contains("model")) {
    check_keys(j["model"], {"name", "hash"}, R + ".model");
    r.model_name = field<std::string>(j["model"], "name", "", R + ".model");
    r.model_hash = field<std::string>(j["model"], "hash", "", R + ".model");
  }
  if (!j.contains("sources") || !j["sources"].is_array())
    throw ConfigError("recipe.sources: expected a list of {prompt, seed, psi}");
  if (j["sources"].size() > kMaxRecipeSources)
    throw ConfigError("recipe.sources: " + std::to_string(j["sources"].size()) + " sources, over the limit of " +
                      std::to_string(kMaxRecipeSources));
  for (const auto& [list, limit] : {std::pair<const char*, size_t>{"layers", kMaxRecipeLayerBlends},
                                    {"directions", kMaxRecipeDirections}})
    if (j.contains(list) && j[list].is_array() && j[list].size() > limit)
      throw ConfigError("recipe." + std::string(list) + ": " + std::to_string(j[list].size()) +
                        " entries, over the limit of " + std::to_string(limit));
  for (size_t i = 0; i < j["sources"].size(); ++i) {
    const std::string where = R + ".sources[" + std::to_string(i) + "]";
    const json& e = j["sources"][i];
    check_keys(e, {"prompt", "seed", "psi", "latent"}, where);
    Source s;
    s.prompt = field<std::string>(e, "prompt", "", where);
    s.seed = uint_field(e, "seed", 0, where);
    s.psi = number_field(e, "psi", 1.0, where);
    if (e.contains("latent")) {
      const std::string space = field<std::string>(e["latent"], "space", "w", where + ".latent");
      if (space != "w" && space != "w+")
        throw ConfigError(where + ".latent.space: expected w or w+, got '" + space + "'");
      s.latent = Latent{space == "w+", tensor_from_json(e["latent"], where + ".latent")};
    }
    r.sources.push_back(std::move(s));
  }
  r.blend = parse_blend_mode(field<std::string>(j, "blend", "lerp", R));
  const size_t nsrc = r.sources.size();
  if (j.contains("w")) r.w_weights = weights_from_json(j["w"], nsrc, R + ".w");
  if (j.contains("t")) r.t_weights = weights_from_json(j["t"], nsrc, R + ".t");
  if (j.contains("layers")) {
    if (!j["layers"].is_array()) throw ConfigError("recipe.layers: expected a list");
    for (size_t k = 0; k < j["layers"].size(); ++k) {
      const std::string where = R + ".layers[" + std::to_string(k) + "]";
      const json& e = j["layers"][k];
      check_keys(e, {"layers", "w", "t"}, where);
      LayerBlend l;
      l.layers = field<std::string>(e, "layers", "", where);
      if (e.contains("w")) l.w = weights_from_json(e["w"], nsrc, where + ".w");
      if (e.contains("t")) l.t = weights_from_json(e["t"], nsrc, where + ".t");
      r.layers.push_back(std::move(l));
    }
  }
  if (j.contains("directions")) {
    if (!j["directions"].is_array()) throw ConfigError("recipe.directions: expected a list");
    for (size_t k = 0; k < j["directions"].size(); ++k) {
      const std::string where = R + ".directions[" + std::to_string(k) + "]";
      const json& e = j["directions"][k];
      check_keys(e, {"from", "to", "from_source", "to_source", "strength", "layers"}, where);
      Direction d;
      d.from = field<std::string>(e, "from", "", where);
      d.to = field<std::string>(e, "to", "", where);
      d.from_source = int_field(e, "from_source", -1, where, -1, static_cast<int64_t>(kMaxRecipeSources));
      d.to_source = int_field(e, "to_source", -1, where, -1, static_cast<int64_t>(kMaxRecipeSources));
      d.strength = number_field(e, "strength", 1.0, where);
      d.layers = field<std::string>(e, "layers", "all", where);
      r.directions.push_back(std::move(d));
    }
  }
  r.upsample = field<bool>(j, "upsample", false, R);
  if (j.contains("upsample_seed")) r.upsample_seed = uint_field(j, "upsample_seed", 0, R);
  r.noise = field<std::string>(j, "noise", "const", R);
  r.mean_w_samples = int_field(j, "mean_w_samples", 4096, R, 1, kMaxMeanWSamples);
  // Pad one-hot shorthands to the number of sources.
  const size_t n = r.sources.size();
  auto pad = [&](std::vector<double>& w) {
    if (!w.empty() && w.size() < n) w = padded(w, n);
  };
  pad(r.w_weights);
  pad(r.t_weights);
  for (auto& l : r.layers) {
    pad(l.w);
    pad(l.t);
  }
  r.validate();
  return r;
}

namespace {

// Parses recipe JSON text with T::from_json; errors name `source`.
template <class T>
T parse_recipe_text(const std::string& text, const std::string& source) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    throw ConfigError("recipe '" + source + "' is not valid JSON: " + e.what());
  }
  try {
    return T::from_json(j);
  } catch (const ConfigError& e) {
    throw ConfigError("recipe '" + source + "': " + e.what());
  }
}

}  // namespace

Recipe Recipe::parse(const std::string& text, const std::string& source) {
  return parse_recipe_text<Recipe>(text, source);
}

json RecipeGrid::to_json() const {
  if (cells.size() == 1) return cells[0].to_json();
  json a = json::array();
  for (const auto& c : cells) a.push_back(c.to_json());
  return {{"format", kRecipeFormat}, {"version", kRecipeFormatVersion}, {"grid", {{"columns", columns}, {"cells", a}}}};
}

RecipeGrid RecipeGrid::from_json(const json& j) {
  RecipeGrid g;
  if (j.is_object() && j.contains("grid")) {
    check_keys(j, {"format", "version", "grid"}, "recipe");
    check_keys(j["grid"], {"columns", "cells"}, "recipe.grid");
    g.columns = int_field(j["grid"], "columns", 1, "recipe.grid", 1, static_cast<int64_t>(kMaxGridCells));
    if (!j["grid"].contains("cells") || !j["grid"]["cells"].is_array() || j["grid"]["cells"].empty())
      throw ConfigError("recipe.grid.cells: expected a non-empty list of recipes");
    if (j["grid"]["cells"].size() > kMaxGridCells)
      throw ConfigError("recipe.grid.cells: " + std::to_string(j["grid"]["cells"].size()) +
                        " cells, over the limit of " + std::to_string(kMaxGridCells));
    for (size_t i = 0; i < j["grid"]["cells"].size(); ++i) {
      try {
        g.cells.push_back(Recipe::from_json(j["grid"]["cells"][i]));
      } catch (const ConfigError& e) {
        throw ConfigError("recipe.grid.cells[" + std::to_string(i) + "]: " + e.what());
      }
    }
  } else {
    g.cells.push_back(Recipe::from_json(j));
  }
  g.validate();
  return g;
}

void RecipeGrid::validate() const {
  if (cells.size() > kMaxGridCells)
    throw ConfigError("grid: " + std::to_string(cells.size()) + " cells, over the limit of " +
                      std::to_string(kMaxGridCells));
  std::set<std::string> prompts;
  for (const auto& c : cells) {
    for (const auto& s : c.sources) prompts.insert(s.prompt);
    for (const auto& d : c.directions)
      if (d.from_source < 0) {
        prompts.insert(d.from);
        prompts.insert(d.to);
      }
  }
  if (prompts.size() > kMaxGridPrompts)
    throw ConfigError("grid: " + std::to_string(prompts.size()) + " different prompts, over the limit of " +
                      std::to_string(kMaxGridPrompts) + " (each costs a text encoding and a mean w)");
}

RecipeGrid RecipeGrid::parse(const std::string& text, const std::string& source) {
  return parse_recipe_text<RecipeGrid>(text, source);
}

}  // namespace gg

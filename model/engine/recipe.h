// Recipes: a JSON document that fully describes an image the engine renders
// (model id and hash, sources = prompt + seed + truncation or an inverted
// latent, the blend of sources per layer for w and t_local, latent
// directions, upsampling). Rendering a recipe twice with the same build,
// device and thread count gives identical pixels. PNGs written by the studio
// and by `gigagan` carry their recipe (image_io.h, kRecipeChunkKey).
//
// {"format": "gigagan-recipe", "version": 1,
//  "model": {"name": "emoji", "hash": "0123456789abcdef"},
//  "sources": [{"prompt": "cat face, noto style", "seed": 7, "psi": 0.7},
//              {"prompt": "dog face", "seed": 3, "psi": 0.7,
//               "latent": {"space": "w+", "shape": [10, 256], "float32_base64": "..."}}],
//  "blend": "lerp",            // how weighted sources combine: lerp | slerp
//  "w": [1, 0], "t": [1, 0],   // weights of the sources for every layer (w and t_local)
//  "layers": [{"layers": "coarse", "w": [0, 1]}],  // per-layer overrides, in order
//  "directions": [{"from": "noto style", "to": "twemoji style", "strength": 1.0, "layers": "all"}],
//  "upsample": false, "upsample_seed": 7, "noise": "const", "mean_w_samples": 4096}
// Ref: the studio's "drop an image back in" workflow; StyleGAN's style mixing
// and truncation trick (Karras et al. 2019, 2020).
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "blend.h"
#include "json_config.h"

namespace gg {

constexpr const char* kRecipeFormat = "gigagan-recipe";
constexpr int kRecipeFormatVersion = 1;

// Limits on what a recipe may ask for (a recipe arrives in files and PNGs a
// user is handed; a few bytes must not hang the program or exhaust memory).
// Errors name the file, the field and the limit.
constexpr size_t kMaxRecipeSources = 64;
constexpr size_t kMaxRecipeLayerBlends = 256;
constexpr size_t kMaxRecipeDirections = 64;
constexpr size_t kMaxGridCells = 1024;     // cells of one grid (one render; as generate --count)
constexpr size_t kMaxGridPrompts = 256;    // distinct prompts of one grid (each costs an encode + a mean w)
constexpr size_t kMaxPromptBytes = 16384;  // the tokenizer keeps 76 tokens anyway
constexpr int kMaxMeanWSamples = 65536;
constexpr double kMaxPsi = 10.0;           // |psi|
constexpr double kMaxStrength = 100.0;     // |direction strength|
constexpr double kMaxLatentValue = 1000.0;  // |any entry of an inverted latent|
constexpr int64_t kMaxLatentElements = 1 << 22;

// A prompt must be valid UTF-8 (the recipe is JSON, the tokenizer reads
// UTF-8) and at most kMaxPromptBytes; throws PromptError naming `where`.
void check_prompt_text(const std::string& prompt, const std::string& where);

// A w found by inversion: [w_dim] (space "w") or [num_ws, w_dim] ("w+"), float32 CPU.
struct Latent {
  bool plus = false;
  torch::Tensor w;
};

struct Source {
  std::string prompt;  // text conditioning (t_local, t_global) and the mean w for truncation
  uint64_t seed = 0;   // z = standard normal from a CPU generator seeded with `seed`
  double psi = 1.0;    // truncation: w = mean_w + psi (w - mean_w)
  std::optional<Latent> latent;  // replaces the seed's w (psi is then ignored)
};

// Sources' weights for the layers named by `layers` (LayerTable::parse).
// An empty w or t keeps what earlier entries set.
struct LayerBlend {
  std::string layers;
  std::vector<double> w, t;
};

// A latent direction added to w: mean_w(to) - mean_w(from) for two prompts, or
// w(to_source) - w(from_source) for two sources of the recipe, times strength.
struct Direction {
  std::string from, to;
  int from_source = -1, to_source = -1;
  double strength = 1.0;
  std::string layers = "all";
};

struct Recipe {
  std::string model_name, model_hash;  // stamped by Engine::stamp; checked by Engine::render
  std::vector<Source> sources;
  BlendMode blend = BlendMode::Lerp;
  std::vector<double> w_weights, t_weights;  // every layer; empty = source 0 alone
  std::vector<LayerBlend> layers;
  std::vector<Direction> directions;
  bool upsample = false;
  std::optional<uint64_t> upsample_seed;  // the upsampler's z and input noise; default sources[0].seed
  std::string noise = "const";            // "const" | "none" ("random" would not reproduce)
  int mean_w_samples = 4096;              // z samples behind each prompt's mean w

  // Checks what does not need the model: at least one source, non-empty
  // prompts in valid UTF-8, weights per source, indices in range, noise mode,
  // and the limits above (counts, psi, strength, latent values). Throws
  // ConfigError / PromptError naming the field.
  void validate() const;
  json to_json() const;
  // Throws ConfigError naming the field; accepts what to_json writes.
  static Recipe from_json(const json& j);
  static Recipe parse(const std::string& text, const std::string& source);  // JSON text
  std::string dump() const { return to_json().dump(); }
};

// Several recipes rendered together (a grid of cells, row-major). A grid PNG
// carries {"format": "gigagan-recipe", "version": 1, "grid": {"columns": C, "cells": [...]}}.
struct RecipeGrid {
  int columns = 1;
  std::vector<Recipe> cells;
  json to_json() const;
  // Reads a single recipe (one cell) or a grid document; checks the grid's
  // limits (kMaxGridCells, kMaxGridPrompts).
  static RecipeGrid from_json(const json& j);
  void validate() const;
  static RecipeGrid parse(const std::string& text, const std::string& source);
};

// float32 tensor <-> {"shape": [...], "float32_base64": "..."} (exact round trip).
json tensor_to_json(const torch::Tensor& t);
torch::Tensor tensor_from_json(const json& j, const std::string& where);

}  // namespace gg

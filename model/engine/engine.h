// The latent-editing engine: everything the studio's panels do, without Qt.
// Owns one loaded model package and renders recipes (recipe.h): generation
// with truncation around a per-prompt mean w, per-layer style swapping of w
// and t_local, prompt interpolation (lerp/slerp, barycentric), latent
// directions and upsampling. Inversion is in inversion.h.
//
// Caching: each prompt is encoded once (tokenizer, frozen CLIP, the
// generator's and the upsampler's text layers) and its mean w is found once
// (mean of M(z, t_global) over `mean_w_samples` seeded draws of z); each
// source's w (prompt + seed) is mapped once. Moving a slider (weights, psi,
// layer choice, direction strength) therefore re-runs only the blend and the
// synthesis network, never a text encoder.
//
// Determinism: z comes from a CPU generator seeded with the source's seed,
// the mean w from a fixed seed, noise is the network's constant buffer, so a
// recipe renders to the same pixels every time on the same build, device
// and thread count. A grid renders as one batch (render_batch): re-rendering
// the grid reproduces it exactly; a cell rendered alone may differ from its
// grid rendering in the last bit of a float (another batch size).
//
// Threads: an Engine is NOT thread-safe. The studio drives it from one
// worker thread (ui/'s worker object); the CLI from main(). Cached tensors
// are computed outside InferenceMode so that inversion can differentiate
// through them; rendering itself runs under c10::InferenceMode.
// Ref: Kang et al. 2023 (GigaGAN) Sec. 4.5, controllable synthesis (style mixing,
// prompt interpolation).
#pragma once
#include <torch/torch.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "checkpoint.h"
#include "layer_sets.h"
#include "package.h"
#include "prompt_cache.h"
#include "recipe.h"

namespace gg {

// One prompt's conditioning, computed once.
struct PromptEncoding {
  std::string prompt;
  bool truncated = false;  // longer than the context; the tail was dropped
  TextEncoding g;          // generator: t_local [1, C-1, D], t_global [1, D]
  TextEncoding u;          // upsampler's own text layers (undefined without upsampler)
};

// The per-layer inputs of the synthesis network and the upsampler for a batch.
struct Conditioning {
  torch::Tensor ws;        // [N, num_ws, w_dim] (an expanded view when every layer shares one w)
  torch::Tensor t_locals;  // [N, num_ws, C-1, text_dim]
  torch::Tensor up_w;      // [N, upsampler w_dim]      (defined when upsampling)
  torch::Tensor up_t;      // [N, C-1, upsampler text_dim]
  std::vector<uint64_t> up_seeds;  // input-noise seed per row
};

struct Rendered {
  torch::Tensor image;      // [N, 3, R, R] in [-1, 1] (the generator's top level)
  torch::Tensor upsampled;  // [N, 3, R_up, R_up] or undefined
};

struct EngineOptions {
  size_t prompt_cache_size = 512;
  size_t w_cache_size = 8192;
  // Called with a readable line, e.g. when a prompt is truncated.
  std::function<void(const std::string&)> on_warning;
};

class Engine {
 public:
  explicit Engine(ModelPackage package, EngineOptions options = {});
  // load_package(dir, device) + Engine.
  static std::unique_ptr<Engine> open(const std::string& dir, const torch::Device& device = torch::kCPU,
                                      EngineOptions options = {});

  const ModelPackage& package() const { return pkg_; }
  Generator& generator() { return pkg_.generator; }
  torch::Device device() const { return device_; }
  const LayerTable& layers() const { return layers_; }
  const std::string& model_name() const { return pkg_.name; }
  // The package hash, with a suffix naming the tuned weights after PTI.
  const std::string& model_hash() const { return hash_; }

  // Sets the recipe's model name and hash to this engine's.
  void stamp(Recipe& recipe) const;

  // Cached encodings. Throws PromptError for an empty prompt.
  std::shared_ptr<const PromptEncoding> encode(const std::string& prompt);
  // The prompt's mean w: [1, w_dim] (generator) or the upsampler's [1, w_dim_u].
  torch::Tensor mean_w(const std::string& prompt, int samples, bool upsampler = false);
  // A source's w before any blending: [1, w_dim] for a seed or a W latent,
  // [1, num_ws, w_dim] for a W+ latent (truncation applied).
  torch::Tensor source_w(const Source& source, int mean_w_samples);
  // The upsampler's w for a source: [1, w_dim_u] (truncated around its mean).
  torch::Tensor source_up_w(const Source& source, int mean_w_samples);

  // Per-layer inputs for recipes (validated against the model: layer names,
  // weights per source). upsample: also the upsampler's inputs.
  Conditioning conditioning(const std::vector<Recipe>& cells, bool upsample);

  // Renders one recipe at batch 1, or several as one batch. Checks that each
  // recipe was made with this model (its hash), unless allow_other_model.
  Rendered render(const Recipe& recipe, bool allow_other_model = false);
  Rendered render_batch(const std::vector<Recipe>& cells, bool allow_other_model = false);
  // Runs the synthesis network (and the upsampler when c.up_w is defined).
  Rendered synthesize(const Conditioning& c);
  // The upsampler on any image [N, 3, r_in, r_in] in [-1, 1] with one
  // source's text and seed per row. Throws ConfigError without an upsampler.
  torch::Tensor upsample(const torch::Tensor& images, const std::vector<Source>& sources, int mean_w_samples = 4096);

  // Pivotal tuning (inversion.h) changes the generator's synthesis weights:
  // the engine then reports a hash naming the tuned weights. restore_weights
  // returns to the package's weights.
  // begin_weight_edit keeps a copy of the package's synthesis weights (once);
  // weights_changed recomputes the hash from the current weights.
  void begin_weight_edit();
  void weights_changed();
  void restore_weights();
  bool weights_edited() const { return static_cast<bool>(original_synthesis_); }

  // Cache statistics (tests check that sliders never re-encode text).
  size_t text_encodings_computed() const { return text_encodings_; }
  size_t source_ws_computed() const { return source_ws_; }

 private:
  void check_model(const Recipe& r, bool allow_other_model) const;
  void set_noise(const std::string& noise);
  torch::Tensor cached_source_w(const char* network, const Source& s, const std::function<torch::Tensor()>& map);

  ModelPackage pkg_;
  EngineOptions options_;
  torch::Device device_;
  LayerTable layers_;
  std::string hash_;
  LruCache<PromptEncoding> prompts_;
  LruCache<torch::Tensor> mean_ws_;
  LruCache<torch::Tensor> source_ws_cache_;
  std::unique_ptr<TensorMap> original_synthesis_;  // kept while PTI weights are in use
  size_t text_encodings_ = 0, source_ws_ = 0;
};

// Standard normal z [1, dim] from a CPU generator seeded with `seed`, on `device`.
torch::Tensor seeded_z(uint64_t seed, int64_t dim, const torch::Device& device);

}  // namespace gg

// Model packages: a folder holding everything the
// engine needs to turn a prompt into an image.
//   <pkg>/package.json   {"format": "gigagan-package", "version": 1, "name", "description",
//                         "tokenizer": "tokenizer", "clip": "clip.safetensors",
//                         "generator": "generator.safetensors",
//                         "upsampler": "upsampler.safetensors"        (optional),
//                         "evaluator": "evaluator_clip.safetensors"   (optional),
//                         "discriminator": "discriminator.safetensors" (optional, training only),
//                         "sample_prompts": [...]                     (optional),
//                         "styles": ["noto", "twemoji", ...]          (optional)}
//   <pkg>/tokenizer/     vocab.json + merges.txt (Hugging Face CLIP format)
//   <pkg>/*.safetensors  one network each (save_network kinds "clip", "generator", "upsampler")
// Paths in package.json are relative to <pkg>. The tokenizer's context length
// and padding id come from the CLIP text config (max_position_embeddings,
// pad_token_id). Text conditioning: ids -> clip->text_features -> G->encode_text.
// Each network file carries the config that builds it; a package is written atomically.
#pragma once
#include <torch/torch.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bpe_trainer.h"
#include "checkpoint.h"
#include "clip.h"
#include "generator.h"
#include "tokenizer.h"
#include "upsampler.h"

namespace gg {

constexpr const char* kPackageFormat = "gigagan-package";
constexpr int kPackageFormatVersion = 1;

struct ModelPackage {
  std::string name = "model";
  std::string description;
  std::vector<std::string> sample_prompts;
  // The style words of the training captions ("<label>, <style> style"), in
  // the order the studio offers them (prompt_style.h); empty when unknown.
  std::vector<std::string> styles;

  // Tokenizer. save_package writes `vocabulary` when it is set, otherwise it
  // copies vocab.json and merges.txt from `tokenizer_folder`. load_package sets
  // `tokenizer_folder` to <pkg>/<tokenizer> and builds `tokenizer` with the
  // CLIP context length and padding id.
  std::string tokenizer_folder;
  std::optional<BpeVocabulary> vocabulary;
  std::shared_ptr<const Tokenizer> tokenizer;

  // Networks; each carries its own config (module->config). The generator is
  // G_ema. upsampler and evaluator are optional (null holders).
  ClipModel clip{nullptr};
  Generator generator{nullptr};
  Upsampler upsampler{nullptr};
  ClipModel evaluator{nullptr};  // metrics only; uses the same tokenizer

  // Training only, optional: the discriminator that trained the generator (a
  // checkpoint of kind "discriminator": tensors "D.*" and, with the
  // vision-aided D, "VA.*"; config {"model": the training ModelConfig}), so
  // `gigagan train --init PKG` fine-tunes against a trained D, as StyleGAN's
  // snapshots keep D beside G. The engine never reads it, so load_package
  // only records its path, and it is not part of the hash. save_package
  // writes `discriminator` when set, else copies `discriminator_file` when set.
  std::optional<Checkpoint> discriminator;
  std::string discriminator_file;

  // Set by load_package: the folder and a content hash (16 hex digits,
  // FNV-1a 64 over package.json, the tokenizer files and every network file's
  // safetensors header, which carries the config and a CRC-32 per tensor), so
  // two packages with the same hash hold the same weights.
  std::string folder;
  std::string hash;
};

struct SavePackageOptions {
  // Floating-point storage on disk: kFloat32, kFloat16 or kBFloat16 (loading
  // always returns float32 networks).
  torch::ScalarType storage = torch::kFloat32;
};

// Reads <dir>/package.json, the tokenizer and every network onto `device`,
// each network in eval mode and with requires_grad off. Throws CheckpointError
// naming the file when one is missing, unreadable, of the wrong kind, or does
// not fit the others (e.g. a generator built for another CLIP width).
ModelPackage load_package(const std::string& dir, const torch::Device& device = torch::kCPU);

// Writes a complete package into `dir` (created if needed). The package is
// first written to a temporary sibling folder, then swapped in with one
// rename, so a reader sees either the previous package or the new one, never
// a mix. Needs pkg.clip, pkg.generator and a tokenizer source; throws
// CheckpointError naming what is missing or cannot be written.
void save_package(const std::string& dir, const ModelPackage& pkg, const SavePackageOptions& options = {});

// How check_package_fit names a package's parts in its messages: the files
// they were read from (load_package), or how a command was given them.
struct PackagePartNames {
  std::string tokenizer = "the tokenizer";
  std::string clip = "the encoder CLIP";
  std::string generator = "the generator";
  std::string upsampler = "the upsampler";
  std::string evaluator = "the evaluator CLIP";
};

// Checks that the parts of a package fit one another, for load_package and
// for `gigagan package`, which assembles one from parts: the tokenizer against
// the encoder CLIP (bos, eos and padding ids, context length, vocabulary
// size), the generator and the upsampler against the CLIP's text features
// (width, context length), the upsampler against the generator's resolution,
// and the evaluator CLIP against the tokenizer (context length, vocabulary,
// eos id). Needs clip, generator and tokenizer; throws CheckpointError naming
// the part that does not fit and what it does not fit.
void check_package_fit(const ModelPackage& pkg, const PackagePartNames& names = {});

// Makes a package built in memory (e.g. by a trainer or a test) usable like a
// loaded one: builds `tokenizer` from `vocabulary` when it is missing (CLIP
// context length and padding), puts every network in eval mode with
// requires_grad off, and sets `hash` (when empty) to "mem-" + a CRC-32 of all
// weights. Throws CheckpointError when no tokenizer can be made.
void prepare_package(ModelPackage& pkg);

// The content hash load_package computes (for an existing package folder).
std::string package_hash(const std::string& dir);
// The package's discriminator file (ModelPackage::discriminator_file) from
// package.json alone, without loading any network; "" when it has none.
// Throws CheckpointError like load_package for a missing or broken manifest
// or a listed file that does not exist.
std::string package_discriminator_file(const std::string& dir);

}  // namespace gg

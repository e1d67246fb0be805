// A tiny model package for the engine tests: a BPE trained on a few captions,
// randomly initialised networks of the `tiny` preset (16 px generator,
// 16 -> 64 px upsampler, 2-layer CLIP), written with save_package.
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

#include "bpe_trainer.h"
#include "model_config.h"
#include "package.h"
#include "test_support.h"

namespace gg::test {

inline std::vector<std::string> tiny_captions() {
  return {"cat face, noto style",     "dog face, noto style",    "cat face, twemoji style",
          "red heart, twemoji style", "waving hand, noto style", "smiling face with sunglasses",
          "blue heart",               "grinning cat face",       "dog, animal, pet, twemoji style"};
}

// The networks of a tiny package in memory (seeded, so every call gives the same weights).
inline ModelPackage tiny_package(bool with_upsampler = true, bool with_evaluator = false, uint64_t seed = 0) {
  ModelConfig config = ModelConfig::load(config_path("tiny"));
  BpeTrainerConfig bpe;
  bpe.vocab_size = 600;
  bpe.min_frequency = 1;
  ModelPackage pkg;
  pkg.vocabulary = train_bpe(tiny_captions(), bpe);
  const int vocab = static_cast<int>(pkg.vocabulary->size());
  config.clip.text_config.vocab_size = vocab;
  config.clip.text_config.bos_token_id = vocab - 2;
  config.clip.text_config.eos_token_id = vocab - 1;
  config.clip.text_config.pad_token_id = vocab - 1;
  torch::manual_seed(seed);
  pkg.name = "tiny-test";
  pkg.description = "random tiny networks for tests";
  pkg.sample_prompts = {"cat face, noto style", "red heart, twemoji style"};
  pkg.styles = {"noto", "twemoji"};
  pkg.clip = ClipModel(config.clip);
  pkg.generator = Generator(config.generator);
  // Random init leaves noise_strength at 0 and weights small; that is fine for
  // tests of the engine's bookkeeping (outputs still depend on w and t).
  if (with_upsampler) pkg.upsampler = Upsampler(config.upsampler);
  if (with_evaluator) pkg.evaluator = ClipModel(config.clip);
  return pkg;
}

inline void write_tiny_package(const std::string& dir, bool with_upsampler = true, bool with_evaluator = false,
                               uint64_t seed = 0) {
  save_package(dir, tiny_package(with_upsampler, with_evaluator, seed));
}

}  // namespace gg::test

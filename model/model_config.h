// A model preset: every network of one GigaGAN model, as one JSON document
// (resources/configs/{tiny,emoji64,paper}.json).
#pragma once
#include <string>

#include "clip_config.h"
#include "discriminator_config.h"
#include "generator_config.h"
#include "json_config.h"
#include "upsampler_config.h"

namespace gg {

struct ModelConfig {
  std::string name = "custom";
  ClipConfig clip;  // the frozen encoder (E_txt, E_img)
  GeneratorConfig generator;
  DiscriminatorConfig discriminator;
  VisionAidedConfig vision_aided;
  UpsamplerConfig upsampler;
  DiscriminatorConfig upsampler_discriminator;
  // Validates every part and the fields that must agree between parts.
  void validate() const;
  // Reads and validates a preset; errors name the file and the field.
  static ModelConfig load(const std::string& path);
};
// Parses a JSON file; ConfigError names the file when it cannot be read or parsed.
json read_json_file(const std::string& path);

GG_CONFIG_JSON(ModelConfig, name, clip, generator, discriminator, vision_aided, upsampler,
               upsampler_discriminator)

}  // namespace gg

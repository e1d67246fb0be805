#include "model_config.h"

#include <fstream>
#include <sstream>

#include "model_info.h"

namespace gg {

void ModelConfig::validate() const {
  auto part = [](const char* name, auto&& fn) {
    try {
      fn();
    } catch (const ConfigError& e) {
      throw ConfigError(std::string(name) + ": " + e.what());
    }
  };
  part("clip", [&] { clip.validate(); });
  part("generator", [&] { generator.validate(); });
  part("discriminator", [&] { discriminator.validate(); });
  part("vision_aided", [&] { vision_aided.validate(); });
  part("upsampler", [&] { upsampler.validate(); });
  part("upsampler_discriminator", [&] { upsampler_discriminator.validate(); });

  const int clip_width = clip.text_config.hidden_size;
  const int clip_context = clip.text_config.max_position_embeddings;
  auto agree = [](bool ok, const std::string& what) {
    if (!ok) throw ConfigError(what);
  };
  auto same = [&](int a, int b, const std::string& fa, const std::string& fb) {
    agree(a == b, fa + " (" + std::to_string(a) + ") must equal " + fb + " (" +
                      std::to_string(b) + ")");
  };
  same(generator.text_input_dim, clip_width, "generator.text_input_dim", "clip.text_config.hidden_size");
  same(generator.context_length, clip_context, "generator.context_length",
       "clip.text_config.max_position_embeddings");
  same(discriminator.text_input_dim, clip_width, "discriminator.text_input_dim",
       "clip.text_config.hidden_size");
  same(discriminator.context_length, clip_context, "discriminator.context_length",
       "clip.text_config.max_position_embeddings");
  same(discriminator.resolution, generator.resolution, "discriminator.resolution", "generator.resolution");
  same(discriminator.levels, generator.num_levels(), "discriminator.levels",
       "the generator's pyramid levels");
  if (vision_aided.enabled) {
    same(vision_aided.text_input_dim, clip_width, "vision_aided.text_input_dim",
         "clip.text_config.hidden_size");
    if (vision_aided.backbone == "clip")
      for (int l : vision_aided.feature_layers)
        agree(l >= 0 && l <= clip.vision_config.num_hidden_layers,
              "vision_aided.feature_layers: layer " + std::to_string(l) + " is outside 0.." +
                  std::to_string(clip.vision_config.num_hidden_layers) + " (the CLIP vision layers)");
  }
  same(upsampler.text_input_dim, clip_width, "upsampler.text_input_dim", "clip.text_config.hidden_size");
  same(upsampler.context_length, clip_context, "upsampler.context_length",
       "clip.text_config.max_position_embeddings");
  same(upsampler_discriminator.resolution, upsampler.output_resolution,
       "upsampler_discriminator.resolution", "upsampler.output_resolution");
  same(upsampler_discriminator.text_input_dim, clip_width, "upsampler_discriminator.text_input_dim",
       "clip.text_config.hidden_size");
  same(upsampler_discriminator.context_length, clip_context,
       "upsampler_discriminator.context_length", "clip.text_config.max_position_embeddings");

  // Every field can be within its own limit while the whole asks for
  // terabytes (16384 channels in each of 256 blocks): count the parameters on
  // the meta device, which allocates nothing, before anything is built.
  int64_t total = 0;
  for (const auto& n : count_network_parameters(*this))
    if (n.depth == 0) total += n.parameters;
  if (total > kMaxConfigParameters) {
    std::ostringstream msg;
    msg << "the networks of this config would hold " << total << " parameters ("
        << static_cast<double>(total) * 4 / (1 << 30) << " GiB in float32), over the limit of this build ("
        << kMaxConfigParameters << ")";
    throw ConfigError(msg.str());
  }
}

json read_json_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError("cannot open config file '" + path + "'");
  try {
    return json::parse(in);
  } catch (const json::parse_error& e) {
    throw ConfigError("config file '" + path + "' is not valid JSON: " + e.what());
  }
}

ModelConfig ModelConfig::load(const std::string& path) {
  json j = read_json_file(path);
  try {
    ModelConfig c = j.get<ModelConfig>();
    c.validate();
    return c;
  } catch (const ConfigError& e) {
    throw ConfigError("config file '" + path + "': " + e.what());
  }
}

}  // namespace gg

// Saving and loading single networks with the config that builds them.
// A file holds one network (kind "generator", "discriminator", ...): loading
// reads the config from the file, validates it, builds the network from it and
// loads the weights strictly.
#pragma once
#include <string>

#include "checkpoint.h"
#include "errors.h"

namespace gg {

template <class Config, class ModuleHolder>
void save_network(const std::string& path, const std::string& kind, const Config& config,
                  const ModuleHolder& module, torch::ScalarType storage = torch::kFloat32) {
  Checkpoint ck;
  ck.kind = kind;
  ck.config = config;
  ck.tensors = state_dict(*module);
  save_checkpoint(path, ck, storage);
}

// Reads `j` as a `kind` config of the file `path` and validates it; throws
// CheckpointError naming the file when it is invalid.
template <class Config>
Config config_from_json(const json& j, const std::string& path, const std::string& kind) {
  try {
    Config config = j.get<Config>();
    config.validate();
    return config;
  } catch (const ConfigError& e) {
    throw CheckpointError("'" + path + "' carries an invalid " + kind + " config: " + e.what());
  }
}

// Reads the config embedded in a checkpoint of `kind`; throws CheckpointError
// when the file holds another kind or an invalid config.
template <class Config>
Config checkpoint_config(const Checkpoint& ck, const std::string& path, const std::string& kind) {
  if (ck.kind != kind)
    throw CheckpointError("'" + path + "' holds a " + ck.kind + ", not a " + kind);
  return config_from_json<Config>(ck.config, path, kind);
}

// Builds ModuleHolder(config) from the file's own config and loads its weights
// strictly onto `device`.
template <class Config, class ModuleHolder>
ModuleHolder load_network(const std::string& path, const std::string& kind,
                          const torch::Device& device = torch::kCPU, Config* config_out = nullptr) {
  Checkpoint ck = load_checkpoint(path);
  Config config = checkpoint_config<Config>(ck, path, kind);
  ModuleHolder module{nullptr};
  try {
    module = ModuleHolder(config);
  } catch (const std::bad_alloc&) {
    throw CheckpointError("'" + path + "': not enough memory to build the " + kind + " its config describes");
  } catch (const c10::Error& e) {
    throw CheckpointError("'" + path + "': cannot build the " + kind + " its config describes: " +
                          e.what_without_backtrace());
  }
  load_state_dict_strict(*module, ck.tensors, path);
  module->to(device);
  if (config_out) *config_out = config;
  return module;
}

}  // namespace gg

// GigaGAN checkpoints: safetensors files whose metadata carries the format
// version, the kind of content, the config JSON that built the networks, and
// a CRC-32 per tensor (so a flipped bit is caught and named). Any safetensors
// tool can read them. Loading rebuilds the network from its own config, then
// loads strictly: a missing, extra or wrongly shaped tensor is an error that
// names it, as StyleGAN's persistence keeps a network's init_kwargs with it.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "json_config.h"
#include "layers.h"

namespace gg {

constexpr int kCheckpointFormatVersion = 1;
constexpr const char* kCheckpointFormat = "gigagan";

using TensorMap = std::map<std::string, torch::Tensor>;

// Parameters and buffers of `m` under `prefix`, detached (shares storage).
TensorMap state_dict(const torch::nn::Module& m, const std::string& prefix = "");

// Copies `tensors` into the parameters and buffers of `m` (dtype and device are
// converted). Every name must match exactly one tensor of the right shape;
// names in `ignore` are skipped on both sides. Throws CheckpointError naming
// the first missing, unexpected or wrongly shaped tensor and `source`.
void load_state_dict_strict(torch::nn::Module& m, const TensorMap& tensors, const std::string& source,
                            const std::set<std::string>& ignore = {});

// Entries of `tensors` whose names start with `prefix`, with the prefix removed.
TensorMap select_prefix(const TensorMap& tensors, const std::string& prefix);
// `tensors` with `prefix` prepended to every name, inserted into `into`.
void add_prefix(TensorMap& into, const TensorMap& tensors, const std::string& prefix);

struct Checkpoint {
  std::string kind;  // what it holds, e.g. "generator", "model", "training-state"
  json config;       // the config that builds the networks it holds
  TensorMap tensors;
  std::map<std::string, std::string> metadata;  // extra string metadata (no "gigagan." keys)
};

// storage: dtype for floating-point tensors on disk (kFloat32, kFloat16 or
// kBFloat16); integer tensors are stored as they are. Atomic write.
void save_checkpoint(const std::string& path, const Checkpoint& ck,
                     torch::ScalarType storage = torch::kFloat32);
// Verifies format, version and every tensor's CRC, and refuses a NaN or Inf
// in any floating-point tensor (naming it); floating-point tensors are
// returned as float32. Throws CheckpointError naming the file and the problem.
Checkpoint load_checkpoint(const std::string& path);

uint32_t crc32(const void* data, size_t size, uint32_t crc = 0);

}  // namespace gg

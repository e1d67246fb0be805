// Parameter counts of every network of a ModelConfig, built on the meta
// device (no weights are allocated, so the paper-size model costs nothing).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model_config.h"

namespace gg {

struct NetworkParameters {
  std::string name;        // e.g. "generator", "generator.mapping"
  int64_t parameters = 0;
  bool frozen = false;     // the frozen CLIP towers
  int depth = 0;           // 0 = network, 1 = its top-level parts
};

std::vector<NetworkParameters> count_network_parameters(const ModelConfig& config);

}  // namespace gg

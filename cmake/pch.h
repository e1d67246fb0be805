// Precompiled header: LibTorch and nlohmann-json dominate compile time
// (about 30 s per translation unit without it).
#pragma once
#include <torch/torch.h>
#include <nlohmann/json.hpp>
#include <map>
#include <memory>
#include <string>
#include <vector>

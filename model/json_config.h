// Serialization of plain config structs with nlohmann-json.
// GG_CONFIG_JSON(Type, field...) defines to_json/from_json where from_json:
//  - keeps the struct's default for a missing field,
//  - rejects an unknown field (a typo in a preset must not be silently ignored),
//  - reports a wrongly typed field by name.
// Each config struct also has `void validate() const` that throws ConfigError.
#pragma once
#include <nlohmann/json.hpp>

#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include "errors.h"

namespace gg {

using json = nlohmann::json;

namespace detail {
inline void config_check_object(const json& j, const char* type) {
  if (!j.is_object())
    throw ConfigError(std::string(type) + ": expected a JSON object, got " + j.type_name());
}
inline void config_check_unknown(const json& j, const json& known, const char* type) {
  for (auto it = j.begin(); it != j.end(); ++it)
    if (!known.contains(it.key()))
      throw ConfigError(std::string(type) + ": unknown field '" + it.key() + "'");
}

// Strict reads: an integer field takes only a JSON integer that fits (no
// wrap-around of 2^32 + 1 to 1, no float-to-int overflow), a number field only
// a finite number, a list at most kMaxListEntries entries.
constexpr size_t kMaxListEntries = 4096;
template <class T>
void config_get_to(const json& v, T& out) {
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    if (!v.is_number_integer()) throw ConfigError(std::string("expected an integer, got ") + v.dump());
    const auto max = static_cast<unsigned long long>(std::numeric_limits<T>::max());
    bool fits;
    if (v.is_number_unsigned()) {
      fits = v.get<unsigned long long>() <= max;
    } else {
      const long long x = v.get<long long>();
      fits = x < 0 ? std::is_signed_v<T> && x >= static_cast<long long>(std::numeric_limits<T>::min())
                   : static_cast<unsigned long long>(x) <= max;
    }
    if (!fits) throw ConfigError("integer " + v.dump() + " is out of range");
    out = v.get<T>();
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!v.is_number()) throw ConfigError(std::string("expected a number, got ") + v.dump());
    out = v.get<T>();
    if (!std::isfinite(out)) throw ConfigError("expected a finite number, got " + v.dump());
  } else if constexpr (std::is_same_v<T, std::vector<int>> || std::is_same_v<T, std::vector<double>>) {
    if (!v.is_array()) throw ConfigError(std::string("expected a list, got ") + v.type_name());
    if (v.size() > kMaxListEntries)
      throw ConfigError("list of " + std::to_string(v.size()) + " entries exceeds the limit of " +
                        std::to_string(kMaxListEntries));
    out.clear();
    for (size_t i = 0; i < v.size(); ++i) {
      typename T::value_type x{};
      try {
        config_get_to(v[i], x);
      } catch (const ConfigError& e) {
        throw ConfigError("entry " + std::to_string(i) + ": " + e.what());
      }
      out.push_back(x);
    }
  } else {
    v.get_to(out);
  }
}
}  // namespace detail

// Resolution helpers shared by the configs' validate() and the networks.
inline bool is_pow2(int v) { return v > 0 && (v & (v - 1)) == 0; }
inline int ilog2(int v) {  // floor(log2(v)) for v >= 1 (0 for v <= 1); never overflows
  int l = 0;
  for (unsigned u = v > 0 ? static_cast<unsigned>(v) : 1u; u > 1u; u >>= 1) ++l;
  return l;
}

// Limits on the sizes a config may ask for. A config is read from files a user
// may be handed (packages, checkpoints): a few bytes must not make the program
// loop, allocate terabytes or die in LibTorch with no file named. The limits
// sit well above the paper's sizes (resources/configs/paper.json).
constexpr int kMaxConfigResolution = 4096;   // any resolution in px
constexpr int kMaxConfigWidth = 16384;       // any channel count or feature width
constexpr int kMaxConfigLayers = 256;        // any layer, block or head count
constexpr int kMaxConfigContext = 4096;      // token context / positions
constexpr int kMaxConfigVocab = 1 << 20;     // tokenizer vocabulary
// All networks of a config together (the paper-size config with CLIP ViT-L is
// about 1.9 billion): checked in ModelConfig::validate.
constexpr long long kMaxConfigParameters = 4000000000LL;

// Throws ConfigError("<where>: must be in [lo, hi], got v") unless lo <= v <= hi.
inline void config_require_range(long long v, long long lo, long long hi, const std::string& where,
                                 const std::string& what = "") {
  if (v < lo || v > hi)
    throw ConfigError(where + ": " + (what.empty() ? std::string() : what + "; ") + "must be in [" +
                      std::to_string(lo) + ", " + std::to_string(hi) + "] (the limit of this build), got " +
                      std::to_string(v));
}

// Throws ConfigError("<where>.<field>: <what>") unless cond holds.
inline void config_require(bool cond, const std::string& where, const std::string& what) {
  if (!cond) throw ConfigError(where + ": " + what);
}

// An attention layer at `resolution` px splits `channels` into heads of
// `head_dim`: throws ConfigError on "<where>.attention_resolutions" otherwise.
inline void require_attention_width(const std::string& where, int resolution, int channels, int head_dim) {
  config_require(channels % head_dim == 0, where + ".attention_resolutions",
                 "the channels at " + std::to_string(resolution) + " px (" + std::to_string(channels) +
                     ") must be a multiple of attention_head_dim (" + std::to_string(head_dim) + ")");
}

}  // namespace gg

#define GG_CONFIG_TO_JSON_FIELD(f) j[#f] = c.f;
#define GG_CONFIG_FROM_JSON_FIELD(f)                                                   \
  if (j.contains(#f)) {                                                                \
    try {                                                                              \
      gg::detail::config_get_to(j.at(#f), c.f);                                        \
    } catch (const gg::ConfigError& e) {                                               \
      throw gg::ConfigError(std::string(type_name) + "." #f ": " + e.what());          \
    } catch (const nlohmann::json::exception& e) {                                    \
      throw gg::ConfigError(std::string(type_name) + "." #f ": " + e.what());          \
    }                                                                                  \
  }

#define GG_CONFIG_JSON(Type, ...)                                                      \
  inline void to_json(nlohmann::json& j, const Type& c) {                              \
    j = nlohmann::json::object();                                                      \
    NLOHMANN_JSON_EXPAND(NLOHMANN_JSON_PASTE(GG_CONFIG_TO_JSON_FIELD, __VA_ARGS__))    \
  }                                                                                    \
  inline void from_json(const nlohmann::json& j, Type& c) {                            \
    static constexpr const char* type_name = #Type;                                    \
    gg::detail::config_check_object(j, type_name);                                     \
    gg::detail::config_check_unknown(j, nlohmann::json(Type{}), type_name);            \
    NLOHMANN_JSON_EXPAND(NLOHMANN_JSON_PASTE(GG_CONFIG_FROM_JSON_FIELD, __VA_ARGS__))  \
  }

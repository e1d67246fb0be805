// Serialization of plain config structs with nlohmann-json.
// GG_CONFIG_JSON(Type, field...) defines to_json/from_json where from_json:
//  - keeps the struct's default for a missing field,
//  - rejects an unknown field (a typo in a preset must not be silently ignored),
//  - reports a wrongly typed field by name.
// Each config struct also has `void validate() const` that throws ConfigError.
#pragma once
#include <nlohmann/json.hpp>

#include <set>
#include <string>

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
}  // namespace detail

// Resolution helpers shared by the configs' validate() and the networks.
inline bool is_pow2(int v) { return v > 0 && (v & (v - 1)) == 0; }
inline int ilog2(int v) {  // floor(log2(v)) for v >= 1
  int l = 0;
  while ((1 << (l + 1)) <= v) ++l;
  return l;
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
      j.at(#f).get_to(c.f);                                                            \
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

// Layer sets for style swapping (layers.h).
#include "layer_sets.h"

#include <algorithm>
#include <cctype>
#include <sstream>

#include "errors.h"

namespace gg {

namespace {

std::string trim(const std::string& s) {
  size_t a = 0, b = s.size();
  while (a < b && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
  while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1]))) --b;
  return s.substr(a, b - a);
}

bool parse_index(const std::string& s, int& out) {
  if (s.empty() || s.size() > 6 || !std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
    return false;
  out = std::stoi(s);
  return true;
}

}  // namespace

std::string LayerTable::name(int index) const {
  if (index >= 0 && index < static_cast<int>(slots.size())) return slots[index].name;
  if (has_upsampler && index == upsampler_index()) return "upsampler";
  return "#" + std::to_string(index);
}

std::string LayerTable::describe() const {
  std::string s = "all, coarse (4-8 px), middle (16-32 px), fine (64 px+";
  s += has_upsampler ? " and the upsampler)" : ")";
  if (has_upsampler) s += ", upsampler";
  int last_res = -1;
  for (const auto& slot : slots)
    if (slot.resolution != last_res) {
      s += ", " + std::to_string(slot.resolution) + "px";
      last_res = slot.resolution;
    }
  for (const auto& slot : slots) s += ", " + slot.name;
  s += ", or indices 0-" + std::to_string(size() - 1) + " (ranges as 2-5)";
  return s;
}

std::vector<int> LayerTable::parse(const std::string& spec) const {
  std::vector<int> out;
  auto unknown = [&](const std::string& part, const std::string& why) {
    return ConfigError("unknown layer '" + part + "'" + why + "; layers of this model: " + describe());
  };
  std::stringstream ss(spec);
  std::string part;
  bool any = false;
  while (std::getline(ss, part, ',')) {
    part = trim(part);
    if (part.empty()) continue;
    any = true;
    std::string lower = part;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    std::vector<int> add;
    auto by_res = [&](int lo, int hi) {
      for (const auto& s : slots)
        if (s.resolution >= lo && s.resolution <= hi) add.push_back(s.index);
    };
    int a = 0, b = 0;
    const auto dash = lower.find('-');
    if (lower == "all") {
      for (int i = 0; i < size(); ++i) add.push_back(i);
    } else if (lower == "coarse") {
      by_res(4, 8);
    } else if (lower == "middle") {
      by_res(16, 32);
    } else if (lower == "fine") {
      by_res(64, 1 << 30);
      if (has_upsampler) add.push_back(upsampler_index());
    } else if (lower == "upsampler") {
      if (!has_upsampler) throw unknown(part, " (this model has no upsampler)");
      add.push_back(upsampler_index());
    } else if (parse_index(lower, a)) {
      if (a >= size()) throw unknown(part, " (index out of range)");
      add.push_back(a);
    } else if (dash != std::string::npos && parse_index(lower.substr(0, dash), a) &&
               parse_index(lower.substr(dash + 1), b)) {
      if (a > b || b >= size()) throw unknown(part, " (range out of order or out of range)");
      for (int i = a; i <= b; ++i) add.push_back(i);
    } else {
      for (const auto& s : slots)
        if (s.name == lower || std::to_string(s.resolution) + "px" == lower) add.push_back(s.index);
      if (add.empty()) throw unknown(part, "");
    }
    if (add.empty()) throw unknown(part, " (no layer of this model is in that range)");
    out.insert(out.end(), add.begin(), add.end());
  }
  if (!any) throw ConfigError("empty layer list; layers of this model: " + describe());
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace gg

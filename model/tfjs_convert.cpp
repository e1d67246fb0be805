#include "tfjs_convert.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>

#include "errors.h"
#include "layers.h"
#include "safetensors.h"

namespace gg {

namespace {

namespace fs = std::filesystem;

[[noreturn]] void fail(const std::string& source, const std::string& what) {
  throw CheckpointError("TF.js model '" + source + "': " + what);
}

bool host_is_little_endian() {
  const uint16_t one = 1;
  uint8_t b;
  std::memcpy(&b, &one, 1);
  return b == 1;
}

// Bytes per stored value of a TF.js dtype (0: unsupported).
int64_t stored_size(const std::string& dtype) {
  if (dtype == "float32" || dtype == "int32") return 4;
  if (dtype == "uint16" || dtype == "float16") return 2;
  if (dtype == "uint8" || dtype == "bool") return 1;
  return 0;
}

struct WeightSpec {
  std::string name, dtype, quant;  // quant: "" (raw), "uint8", "uint16", "float16"
  std::vector<int64_t> shape;
  int64_t numel = 1;
  int64_t bytes = 0;
  double min = 0, scale = 1;
};

WeightSpec parse_weight(const json& w, const std::string& source, size_t group, size_t index) {
  const std::string where = "weightsManifest[" + std::to_string(group) + "].weights[" + std::to_string(index) + "]";
  if (!w.is_object()) fail(source, where + " is not an object");
  WeightSpec s;
  if (!w.contains("name") || !w["name"].is_string() || w["name"].get<std::string>().empty())
    fail(source, where + " has no name");
  s.name = w["name"].get<std::string>();
  const std::string what = "weight '" + s.name + "'";
  if (!w.contains("shape") || !w["shape"].is_array()) fail(source, what + " has no shape");
  if (w["shape"].size() > 8) fail(source, what + " has rank " + std::to_string(w["shape"].size()) + " (at most 8)");
  for (const auto& d : w["shape"]) {
    if (!d.is_number_integer() || d.get<int64_t>() < 0)
      fail(source, what + " has a shape entry that is not a non-negative integer: " + w["shape"].dump());
    const int64_t v = d.get<int64_t>();
    // Bounded before multiplying, so the product cannot overflow.
    if (v > kTfjsMaxWeightBytes || (v > 0 && s.numel > kTfjsMaxWeightBytes / v))
      fail(source, what + " is too large: shape " + w["shape"].dump());
    s.shape.push_back(v);
    s.numel *= v;
  }
  if (!w.contains("dtype") || !w["dtype"].is_string()) fail(source, what + " has no dtype");
  s.dtype = w["dtype"].get<std::string>();
  if (s.dtype != "float32" && s.dtype != "int32" && s.dtype != "bool")
    fail(source, what + " has dtype '" + s.dtype + "'; supported: float32, int32, bool");
  std::string stored = s.dtype;
  if (w.contains("quantization") && !w["quantization"].is_null()) {
    const json& q = w["quantization"];
    if (!q.is_object() || !q.contains("dtype") || !q["dtype"].is_string())
      fail(source, what + " has a quantization without a dtype");
    s.quant = q["dtype"].get<std::string>();
    if (s.quant == "uint8" || s.quant == "uint16") {
      if (s.dtype == "bool") fail(source, what + ": bool weights cannot be quantized");
      if (!q.contains("min") || !q["min"].is_number() || !q.contains("scale") || !q["scale"].is_number())
        fail(source, what + " is quantized to " + s.quant + " without numeric min and scale");
      s.min = q["min"].get<double>();
      s.scale = q["scale"].get<double>();
      if (!std::isfinite(s.min) || !std::isfinite(s.scale)) fail(source, what + " has a non-finite min or scale");
    } else if (s.quant == "float16") {
      if (s.dtype != "float32") fail(source, what + " is quantized to float16 but has dtype " + s.dtype);
    } else {
      fail(source, what + " has quantization dtype '" + s.quant + "'; supported: uint8, uint16, float16");
    }
    stored = s.quant;
  }
  s.bytes = s.numel * stored_size(stored);
  return s;
}

// Shard `p` of a group, relative to model.json's folder; no absolute paths, no "..".
fs::path shard_path(const fs::path& dir, const json& p, const std::string& source) {
  if (!p.is_string() || p.get<std::string>().empty()) fail(source, "a weightsManifest path is not a file name");
  const fs::path rel(p.get<std::string>());
  if (rel.is_absolute() || rel.has_root_name()) fail(source, "weight shard path '" + rel.string() + "' is absolute");
  for (const auto& part : rel)
    if (part == "..") fail(source, "weight shard path '" + rel.string() + "' leaves the model's folder");
  return dir / rel;
}

// An empty tensor has no storage (data_ptr() is null), and memcpy from or to
// null is undefined even for 0 bytes (UBSan's nonnull-attribute check).
void copy_bytes(torch::Tensor& t, const char* data, int64_t bytes) {
  if (bytes > 0) std::memcpy(t.data_ptr(), data, static_cast<size_t>(bytes));
}

torch::Tensor decode(const WeightSpec& s, const char* data) {
  const int64_t n = s.numel;
  if (s.quant.empty()) {
    if (s.dtype == "bool") {
      auto t = torch::empty(s.shape, torch::kUInt8);
      copy_bytes(t, data, n);
      return t.ne(0);
    }
    auto t = torch::empty(s.shape, s.dtype == "float32" ? torch::kFloat32 : torch::kInt32);
    copy_bytes(t, data, s.bytes);
    return t;
  }
  if (s.quant == "float16") {
    auto t = torch::empty(s.shape, torch::kFloat16);
    copy_bytes(t, data, s.bytes);
    return t.to(torch::kFloat32);
  }
  // uint8 / uint16: value = q * scale + min, in double (JS numbers), then
  // stored as float32 (Float32Array) or rounded half up (Math.round) to int32.
  auto q = [&](int64_t i) -> double {
    if (s.quant == "uint8") return static_cast<uint8_t>(data[i]);
    uint16_t v;
    std::memcpy(&v, data + 2 * i, 2);
    return v;
  };
  if (s.dtype == "float32") {
    auto t = torch::empty(s.shape, torch::kFloat32);
    float* p = t.data_ptr<float>();
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<float>(q(i) * s.scale + s.min);
    return t;
  }
  auto t = torch::empty(s.shape, torch::kInt32);
  int32_t* p = t.data_ptr<int32_t>();
  for (int64_t i = 0; i < n; ++i) {
    const double v = std::floor(q(i) * s.scale + s.min + 0.5);
    p[i] = static_cast<int32_t>(std::clamp(v, -2147483648.0, 2147483647.0));
  }
  return t;
}

// Keras layer name -> class_name, over nested models.
void collect_layers(const json& layer_list, std::map<std::string, std::string>& out, int depth) {
  if (!layer_list.is_array() || depth > 16) return;
  for (const auto& l : layer_list) {
    if (!l.is_object() || !l.contains("class_name") || !l["class_name"].is_string()) continue;
    std::string name;
    if (l.contains("config") && l["config"].is_object() && l["config"].contains("name") && l["config"]["name"].is_string())
      name = l["config"]["name"].get<std::string>();
    else if (l.contains("name") && l["name"].is_string())
      name = l["name"].get<std::string>();
    if (!name.empty()) out[name] = l["class_name"].get<std::string>();
    if (l.contains("config")) {
      const json& c = l["config"];
      if (c.is_array()) collect_layers(c, out, depth + 1);  // Keras 2.0 Sequential
      else if (c.is_object() && c.contains("layers")) collect_layers(c["layers"], out, depth + 1);
    }
  }
}

std::map<std::string, std::string> keras_layers(const json& topology) {
  std::map<std::string, std::string> layers;
  if (!topology.is_object()) return layers;
  // Keras exports wrap the model in "model_config"; tfjs-layers saves it bare.
  const json& model = topology.contains("model_config") ? topology["model_config"] : topology;
  if (model.is_object() && model.contains("class_name")) collect_layers(json::array({model}), layers, 0);
  return layers;
}

// "block_1_expand/kernel" -> {"block_1_expand", "kernel"}; ":0" suffixes dropped from the leaf.
std::pair<std::string, std::string> split_weight_name(const std::string& name) {
  const auto slash = name.rfind('/');
  std::string layer_path = slash == std::string::npos ? "" : name.substr(0, slash);
  std::string leaf = slash == std::string::npos ? name : name.substr(slash + 1);
  const auto colon = leaf.find(':');
  if (colon != std::string::npos) leaf = leaf.substr(0, colon);
  const auto prev = layer_path.rfind('/');
  return {prev == std::string::npos ? layer_path : layer_path.substr(prev + 1), leaf};
}

}  // namespace

TfjsModel read_tfjs_model(const std::string& model_json) {
  if (!host_is_little_endian()) fail(model_json, "TF.js weights are little-endian; this host is not");
  TfjsModel m;
  m.source = model_json;
  std::error_code ec;
  const auto size = fs::file_size(model_json, ec);
  if (ec) fail(model_json, "cannot read it (" + ec.message() + ")");
  if (size > static_cast<uintmax_t>(kTfjsMaxModelJsonBytes))
    fail(model_json, "is " + std::to_string(size) + " bytes; a model.json larger than " +
                         std::to_string(kTfjsMaxModelJsonBytes >> 20) + " MiB is refused");
  json j;
  {
    std::ifstream in(model_json, std::ios::binary);
    if (!in) fail(model_json, "cannot open it");
    try {
      j = json::parse(in);
    } catch (const json::exception& e) {
      fail(model_json, std::string("is not valid JSON: ") + e.what());
    }
  }
  if (!j.is_object()) fail(model_json, "is not a JSON object");
  auto str = [&](const char* k) { return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : std::string(); };
  m.format = str("format");
  m.generated_by = str("generatedBy");
  m.converted_by = str("convertedBy");
  m.topology = j.value("modelTopology", json());
  if (!j.contains("weightsManifest") || !j["weightsManifest"].is_array())
    fail(model_json, "has no weightsManifest (is it a TF.js model.json?)");

  const fs::path dir = fs::path(model_json).has_parent_path() ? fs::path(model_json).parent_path() : fs::path(".");
  const json& manifest = j["weightsManifest"];
  int64_t total = 0;
  std::set<std::string> seen;
  for (size_t g = 0; g < manifest.size(); ++g) {
    const json& group = manifest[g];
    const std::string gname = "weight group " + std::to_string(g + 1);
    if (!group.is_object() || !group.contains("paths") || !group["paths"].is_array() || !group.contains("weights") ||
        !group["weights"].is_array())
      fail(model_json, "weightsManifest[" + std::to_string(g) + "] needs 'paths' and 'weights' arrays");
    std::vector<WeightSpec> specs;
    int64_t need = 0;
    for (size_t i = 0; i < group["weights"].size(); ++i) {
      specs.push_back(parse_weight(group["weights"][i], model_json, g, i));
      if (!seen.insert(specs.back().name).second) fail(model_json, "weight '" + specs.back().name + "' is listed twice");
      need += specs.back().bytes;
      if (need > kTfjsMaxWeightBytes || total + need > kTfjsMaxWeightBytes)
        fail(model_json, "its weights need more than " + std::to_string(kTfjsMaxWeightBytes >> 30) + " GiB");
    }
    // Sizes of the shards first: nothing is allocated unless they add up.
    std::vector<fs::path> shards;
    std::string listed;
    int64_t have = 0;
    for (const auto& p : group["paths"]) {
      shards.push_back(shard_path(dir, p, model_json));
      listed += (listed.empty() ? "" : ", ") + shards.back().string();
      const auto s = fs::file_size(shards.back(), ec);
      if (ec) fail(model_json, "cannot read weight shard '" + shards.back().string() + "' (" + ec.message() + ")");
      if (s > static_cast<uintmax_t>(kTfjsMaxWeightBytes)) fail(model_json, "weight shard '" + shards.back().string() + "' is too large");
      have += static_cast<int64_t>(s);
    }
    if (shards.empty() && need > 0) fail(model_json, gname + " lists no shard files");
    if (have != need)
      fail(model_json, "the shards of " + gname + " (" + listed + ") hold " + std::to_string(have) + " bytes, but its " +
                           std::to_string(specs.size()) + " weights need " + std::to_string(need) +
                           " (truncated or mismatched files?)");
    total += need;
    std::string data(static_cast<size_t>(need), '\0');
    int64_t at = 0;
    for (const auto& shard : shards) {
      const auto s = static_cast<int64_t>(fs::file_size(shard, ec));
      if (ec || at + s > need) fail(model_json, "weight shard '" + shard.string() + "' changed while being read");
      std::ifstream in(shard, std::ios::binary);
      if (!in || !in.read(data.data() + at, s)) fail(model_json, "cannot read weight shard '" + shard.string() + "'");
      at += s;
    }
    at = 0;
    for (const auto& s : specs) {
      m.tensors[s.name] = decode(s, data.data() + at);
      m.names.push_back(s.name);
      if (s.quant == "uint8" && s.dtype == "float32") {
        auto codes = torch::empty(s.shape, torch::kUInt8);
        copy_bytes(codes, data.data() + at, s.numel);
        m.uint8_codes[s.name] = {codes, s.min, s.scale};
      }
      at += s.bytes;
    }
  }

  const auto layers = keras_layers(m.topology);
  for (const auto& name : m.names) {
    auto it = layers.find(split_weight_name(name).first);
    if (it != layers.end()) m.keras_class[name] = it->second;
  }
  return m;
}

TensorMap tfjs_torch_layout(const TfjsModel& model) {
  static const std::set<std::string> conv = {"Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose",
                                             "Conv3DTranspose"};
  static const std::set<std::string> separable = {"SeparableConv1D", "SeparableConv2D"};
  static const std::set<std::string> depthwise = {"DepthwiseConv1D", "DepthwiseConv2D"};
  TensorMap out;
  for (const auto& entry : model.tensors) {
    // Named references, not structured bindings: lambdas below capture them
    // (capturing a structured binding is C++20; clang 14 refuses it in C++17).
    const std::string& name = entry.first;
    const torch::Tensor& t = entry.second;
    auto it = model.keras_class.find(name);
    const std::string cls = it == model.keras_class.end() ? "" : it->second;
    const std::string leaf = split_weight_name(name).second;
    const int64_t r = t.dim();
    auto need_rank = [&](bool ok, const char* expected) {
      if (!ok)
        fail(model.source, "weight '" + name + "' of " + cls + " layer has shape " + shape_str(t.sizes()) + ", expected " +
                               expected);
    };
    if ((conv.count(cls) && leaf == "kernel") || (separable.count(cls) && leaf == "pointwise_kernel")) {
      need_rank(r >= 3, "[k..., in, out]");
      std::vector<int64_t> perm = {r - 1, r - 2};
      for (int64_t i = 0; i < r - 2; ++i) perm.push_back(i);
      out[name] = t.permute(perm).contiguous();
    } else if ((depthwise.count(cls) || separable.count(cls)) && leaf == "depthwise_kernel") {
      need_rank(r >= 3, "[k..., in, multiplier]");
      std::vector<int64_t> perm = {r - 2, r - 1}, shape = {t.size(r - 2) * t.size(r - 1), 1};
      for (int64_t i = 0; i < r - 2; ++i) {
        perm.push_back(i);
        shape.push_back(t.size(i));
      }
      out[name] = t.permute(perm).reshape(shape).contiguous();
    } else if (cls == "Dense" && leaf == "kernel") {
      need_rank(r == 2, "[in, out]");
      out[name] = t.t().contiguous();
    } else {
      out[name] = t;
    }
  }
  return out;
}

TfjsConvertResult convert_tfjs(const std::string& model_json, const std::string& out, bool keep_layout,
                               bool quantized) {
  const TfjsModel m = read_tfjs_model(model_json);
  TfjsConvertResult r;
  TensorMap tensors = keep_layout ? m.tensors : tfjs_torch_layout(m);
  for (const auto& [name, t] : tensors) {
    ++r.tensors;
    r.values += t.numel();
    if (!keep_layout && !t.is_same(m.tensors.at(name))) ++r.transposed;
  }
  if (quantized && !m.uint8_codes.empty()) {
    // The codes go through the same layout change as the values (a permutation).
    TfjsModel codes = m;
    for (const auto& [name, q] : m.uint8_codes) codes.tensors[name] = q.codes;
    const TensorMap laid = keep_layout ? codes.tensors : tfjs_torch_layout(codes);
    for (const auto& [name, q] : m.uint8_codes) {
      tensors[name] = laid.at(name);
      tensors[name + kTfjsQuantizationSuffix] = torch::tensor({q.min, q.scale}, torch::kFloat64);
      ++r.quantized;
    }
  }
  std::map<std::string, std::string> meta = {
      {"tfjs.layout", keep_layout ? "tfjs" : "torch"},
      {"tfjs.source", fs::path(model_json).filename().string()},
      {"tfjs.format", m.format},
      {"tfjs.model_topology", m.topology.is_null() ? "" : m.topology.dump()},
      {"tfjs.generated_by", m.generated_by},
      {"tfjs.converted_by", m.converted_by},
  };
  write_safetensors(out, tensors, meta);
  return r;
}

TensorMap dequantize_tfjs(const TensorMap& stored, const std::string& source) {
  TensorMap out;
  const std::string suffix = kTfjsQuantizationSuffix;
  for (const auto& [name, t] : stored) {
    if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      const std::string of = name.substr(0, name.size() - suffix.size());
      if (!stored.count(of)) fail(source, "tensor '" + name + "' has no '" + of + "' to dequantize");
      continue;
    }
    auto q = stored.find(name + suffix);
    if (q == stored.end()) {
      if (t.scalar_type() == torch::kUInt8)
        fail(source, "tensor '" + name + "' is uint8 without '" + name + suffix + "' (min, scale)");
      out[name] = t;
      continue;
    }
    const torch::Tensor& ms = q->second;
    if (t.scalar_type() != torch::kUInt8 || ms.scalar_type() != torch::kFloat64 || ms.dim() != 1 || ms.size(0) != 2)
      fail(source, "tensor '" + name + "' must be uint8 codes with a float64 [min, scale] in '" + name + suffix + "'");
    const auto* mp = ms.data_ptr<double>();
    const double min = mp[0], scale = mp[1];
    if (!std::isfinite(min) || !std::isfinite(scale)) fail(source, "'" + name + suffix + "' is not finite");
    // As read_tfjs_model (TF.js decodeWeight): q * scale + min in double, then float32.
    auto codes = t.contiguous();
    auto v = torch::empty(codes.sizes(), torch::kFloat32);
    const uint8_t* c = codes.data_ptr<uint8_t>();
    float* p = v.data_ptr<float>();
    for (int64_t i = 0; i < codes.numel(); ++i) p[i] = static_cast<float>(c[i] * scale + min);
    out[name] = v;
  }
  return out;
}

ConvertedKeras read_converted_keras(const std::string& path) {
  SafeTensorsFile f = read_safetensors(path);
  auto meta = [&](const char* k) {
    auto it = f.metadata.find(k);
    return it == f.metadata.end() ? std::string() : it->second;
  };
  if (meta("tfjs.layout") != "torch")
    throw CheckpointError("'" + path + "' is not a TF.js model converted to PyTorch layout (metadata tfjs.layout is '" +
                          meta("tfjs.layout") + "'): convert its model.json with `gigagan convert-tfjs` (without "
                          "--keep-layout)");
  ConvertedKeras out;
  out.topology = meta("tfjs.model_topology");
  for (const auto& [name, t] : dequantize_tfjs(f.tensors, path)) {
    std::string key = name;
    for (auto& ch : key)
      if (ch == '/') ch = '.';
    if (key.find('.') == std::string::npos || key.find('.') != key.rfind('.'))
      throw CheckpointError("'" + path + "' has tensor '" + name + "', not named <keras layer>/<weight>");
    if (!t.is_floating_point()) throw CheckpointError("'" + path + "': tensor '" + name + "' is not floating point");
    out.state[key] = t.to(torch::kFloat32);
  }
  return out;
}

}  // namespace gg

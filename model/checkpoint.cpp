#include "checkpoint.h"

#include <array>
#include <cstdio>
#include <sstream>

#include "errors.h"
#include "safetensors.h"

namespace gg {

namespace {

const std::string kMetaFormat = "gigagan.format";
const std::string kMetaVersion = "gigagan.format_version";
const std::string kMetaKind = "gigagan.kind";
const std::string kMetaConfig = "gigagan.config";
const std::string kMetaCrc = "gigagan.crc32";

std::array<uint32_t, 256> make_crc_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    t[i] = c;
  }
  return t;
}

uint32_t tensor_crc(const torch::Tensor& t) {
  auto c = t.contiguous();
  return crc32(c.data_ptr(), static_cast<size_t>(c.numel()) * c.element_size());
}

std::string hex32(uint32_t v) {
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", v);
  return buf;
}

}  // namespace

uint32_t crc32(const void* data, size_t size, uint32_t crc) {
  static const auto table = make_crc_table();
  const auto* p = static_cast<const uint8_t*>(data);
  crc = ~crc;
  for (size_t i = 0; i < size; ++i) crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

TensorMap state_dict(const torch::nn::Module& m, const std::string& prefix) {
  TensorMap out;
  for (const auto& p : m.named_parameters(/*recurse=*/true)) out[prefix + p.key()] = p.value().detach();
  for (const auto& b : m.named_buffers(/*recurse=*/true)) out[prefix + b.key()] = b.value().detach();
  return out;
}

void load_state_dict_strict(torch::nn::Module& m, const TensorMap& tensors, const std::string& source,
                            const std::set<std::string>& ignore) {
  TensorMap targets;
  for (const auto& p : m.named_parameters(true)) targets[p.key()] = p.value();
  for (const auto& b : m.named_buffers(true)) targets[b.key()] = b.value();
  for (const auto& [name, t] : targets) {
    if (ignore.count(name)) continue;
    auto it = tensors.find(name);
    if (it == tensors.end())
      throw CheckpointError("'" + source + "' lacks tensor '" + name + "' that the model needs (shape " +
                            shape_str(t.sizes()) + "); was it saved from a different model or config?");
    if (it->second.sizes() != t.sizes())
      throw CheckpointError("'" + source + "': tensor '" + name + "' has shape " + shape_str(it->second.sizes()) +
                            " but the model expects " + shape_str(t.sizes()));
  }
  for (const auto& [name, t] : tensors) {
    if (ignore.count(name)) continue;
    if (!targets.count(name))
      throw CheckpointError("'" + source + "' has tensor '" + name +
                            "' that the model does not have; was it saved from a different model or config?");
  }
  torch::NoGradGuard no_grad;
  for (auto& [name, t] : targets) {
    if (ignore.count(name)) continue;
    t.copy_(tensors.at(name));
  }
}

TensorMap select_prefix(const TensorMap& tensors, const std::string& prefix) {
  TensorMap out;
  for (const auto& [name, t] : tensors)
    if (name.compare(0, prefix.size(), prefix) == 0) out[name.substr(prefix.size())] = t;
  return out;
}

void add_prefix(TensorMap& into, const TensorMap& tensors, const std::string& prefix) {
  for (const auto& [name, t] : tensors) into[prefix + name] = t;
}

void save_checkpoint(const std::string& path, const Checkpoint& ck, torch::ScalarType storage) {
  if (storage != torch::kFloat32 && storage != torch::kFloat16 && storage != torch::kBFloat16)
    throw CheckpointError("checkpoint storage dtype must be float32, float16 or bfloat16");
  TensorMap stored;
  json crcs = json::object();
  for (const auto& [name, t] : ck.tensors) {
    if (!t.defined()) throw CheckpointError("cannot save '" + path + "': tensor '" + name + "' is undefined");
    auto s = t.detach().to(torch::kCPU);
    if (s.is_floating_point()) s = s.to(storage);
    s = s.contiguous();
    crcs[name] = hex32(tensor_crc(s));
    stored[name] = s;
  }
  std::map<std::string, std::string> meta;
  for (const auto& [k, v] : ck.metadata) {
    if (k.rfind("gigagan.", 0) == 0) throw CheckpointError("metadata key '" + k + "' is reserved");
    meta[k] = v;
  }
  meta[kMetaFormat] = kCheckpointFormat;
  meta[kMetaVersion] = std::to_string(kCheckpointFormatVersion);
  meta[kMetaKind] = ck.kind;
  meta[kMetaConfig] = ck.config.dump();
  meta[kMetaCrc] = crcs.dump();
  write_safetensors(path, stored, meta);
}

Checkpoint load_checkpoint(const std::string& path) {
  SafeTensorsFile f = read_safetensors(path);
  auto meta = [&](const std::string& key) -> const std::string& {
    auto it = f.metadata.find(key);
    if (it == f.metadata.end())
      throw CheckpointError("'" + path + "' is a safetensors file but not a GigaGAN checkpoint (no '" + key +
                            "' metadata)");
    return it->second;
  };
  if (meta(kMetaFormat) != kCheckpointFormat)
    throw CheckpointError("'" + path + "' has format '" + meta(kMetaFormat) + "', expected '" + kCheckpointFormat + "'");
  int version = 0;
  try {
    version = std::stoi(meta(kMetaVersion));
  } catch (const std::exception&) {
    throw CheckpointError("'" + path + "' has a malformed format version '" + meta(kMetaVersion) + "'");
  }
  if (version < 1 || version > kCheckpointFormatVersion)
    throw CheckpointError("'" + path + "' has format version " + std::to_string(version) +
                          "; this build reads versions 1.." + std::to_string(kCheckpointFormatVersion) +
                          " (is it from a newer GigaGAN Studio?)");
  Checkpoint ck;
  ck.kind = meta(kMetaKind);
  json crcs;
  try {
    ck.config = json::parse(meta(kMetaConfig));
    crcs = json::parse(meta(kMetaCrc));
  } catch (const json::exception& e) {
    throw CheckpointError("'" + path + "' has corrupt metadata: " + e.what());
  }
  if (!crcs.is_object()) throw CheckpointError("'" + path + "' has corrupt checksum metadata");
  for (const auto& [name, t] : f.tensors) {
    if (!crcs.contains(name) || !crcs[name].is_string())
      throw CheckpointError("'" + path + "': tensor '" + name + "' has no checksum (the file was altered)");
    if (crcs[name].get<std::string>() != hex32(tensor_crc(t)))
      throw CheckpointError("'" + path + "': tensor '" + name +
                            "' fails its CRC-32 check; the file is corrupt (restore it or use another checkpoint)");
  }
  if (crcs.size() != f.tensors.size())
    for (auto it = crcs.begin(); it != crcs.end(); ++it)
      if (!f.tensors.count(it.key()))
        throw CheckpointError("'" + path + "' lacks tensor '" + it.key() + "' listed in its checksums (the file was altered)");
  for (auto& [name, t] : f.tensors) {
    ck.tensors[name] = t.is_floating_point() ? t.to(torch::kFloat32) : t;
    // A NaN or Inf weight (with a valid CRC: saved that way) would render a
    // black image with exit 0; refuse it here, naming it.
    if (t.is_floating_point() && t.numel() > 0 && !torch::isfinite(ck.tensors[name]).all().item<bool>()) {
      const auto bad = (~torch::isfinite(ck.tensors[name])).sum().item<int64_t>();
      throw CheckpointError("'" + path + "': tensor '" + name + "' holds " + std::to_string(bad) + " of " +
                            std::to_string(t.numel()) +
                            " non-finite values (NaN or Inf); the network it came from had diverged "
                            "(use an earlier checkpoint)");
    }
  }
  for (auto& [k, v] : f.metadata)
    if (k.rfind("gigagan.", 0) != 0) ck.metadata[k] = v;
  return ck;
}

}  // namespace gg

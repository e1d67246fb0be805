// Model packages: load_package / save_package (the format is in package.h).
// A package is written atomically (temporary folder, then rename); errors name the file.
#include "package.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "errors.h"
#include "model_io.h"
#include "prompt_style.h"
#include "safetensors.h"

namespace gg {

namespace fs = std::filesystem;

namespace {

// Bounds on the text files of a package, checked before reading: a manifest
// is a few kB, CLIP's own BPE files about 2 MB.
constexpr uintmax_t kMaxManifestBytes = uintmax_t(1) << 20;
constexpr uintmax_t kMaxTokenizerFileBytes = uintmax_t(64) << 20;

std::string read_text(const fs::path& p, const std::string& what, uintmax_t max_bytes) {
  std::error_code ec;
  const uintmax_t size = fs::file_size(p, ec);
  if (!ec && size > max_bytes)
    throw CheckpointError(what + " '" + p.string() + "' is " + std::to_string(size) + " bytes, more than the " +
                          std::to_string(max_bytes) + " it may have");
  std::ifstream in(p, std::ios::binary);
  if (!in) throw CheckpointError(what + " '" + p.string() + "' cannot be read");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// FNV-1a 64: a fast, stable content fingerprint (not a security hash).
struct Fnv1a64 {
  uint64_t h = 1469598103934665603ull;
  void add(const std::string& s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
    add_separator();
  }
  void add_separator() {
    h ^= 0xff;
    h *= 1099511628211ull;
  }
  std::string hex() const {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    return buf;
  }
};

// The 8-byte length and JSON header of a safetensors file: config, dtypes,
// shapes and (for gigagan checkpoints) a CRC-32 of every tensor.
std::string safetensors_header(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw CheckpointError("'" + p.string() + "' cannot be read");
  unsigned char len_bytes[8];
  if (!in.read(reinterpret_cast<char*>(len_bytes), 8))
    throw CheckpointError("'" + p.string() + "' is too short to be a safetensors file");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | len_bytes[i];
  if (n > (100u << 20)) throw CheckpointError("'" + p.string() + "' has an implausible header length");
  std::string header(static_cast<size_t>(n), '\0');
  if (!in.read(header.data(), static_cast<std::streamsize>(n)))
    throw CheckpointError("'" + p.string() + "' is truncated inside its header");
  return std::string(reinterpret_cast<char*>(len_bytes), 8) + header;
}

struct Manifest {
  json doc;
  fs::path dir;
  // Path of an entry; "" when the entry is absent and optional.
  fs::path file(const std::string& key, bool required) const {
    if (!doc.contains(key) || doc[key].is_null()) {
      if (required)
        throw CheckpointError("'" + (dir / "package.json").string() + "' has no \"" + key +
                              "\" entry (every package needs one)");
      return {};
    }
    if (!doc[key].is_string() || doc[key].get<std::string>().empty())
      throw CheckpointError("'" + (dir / "package.json").string() + "': \"" + key +
                            "\" must be a non-empty relative path");
    return dir / doc[key].get<std::string>();
  }
};

Manifest read_manifest(const fs::path& dir) {
  if (!fs::is_directory(dir))
    throw CheckpointError("model package '" + dir.string() +
                          "' is not a folder (expected a folder with package.json; see --model)");
  const fs::path mpath = dir / "package.json";
  if (!fs::is_regular_file(mpath))
    throw CheckpointError("'" + dir.string() + "' is not a model package: package.json is missing");
  Manifest m;
  m.dir = dir;
  try {
    m.doc = json::parse(read_text(mpath, "package file", kMaxManifestBytes));
  } catch (const json::exception& e) {
    throw CheckpointError("'" + mpath.string() + "' is not valid JSON: " + e.what());
  }
  if (!m.doc.is_object()) throw CheckpointError("'" + mpath.string() + "' must hold a JSON object");
  if (m.doc.value("format", std::string()) != kPackageFormat)
    throw CheckpointError("'" + mpath.string() + "': \"format\" must be \"" + kPackageFormat + "\"");
  if (!m.doc.contains("version") || !m.doc["version"].is_number_integer() ||
      m.doc["version"].get<int>() > kPackageFormatVersion || m.doc["version"].get<int>() < 1)
    throw CheckpointError("'" + mpath.string() + "': unsupported \"version\" (this build reads version " +
                          std::to_string(kPackageFormatVersion) + ")");
  return m;
}

void require_file(const fs::path& p, const std::string& what) {
  if (!fs::exists(p)) throw CheckpointError(what + " '" + p.string() + "' is missing");
  if (!fs::is_regular_file(p)) throw CheckpointError(what + " '" + p.string() + "' is not a file");
}

template <class Module>
void freeze(Module& m) {
  m->eval();
  for (auto& p : m->parameters()) p.set_requires_grad(false);
}

std::string hash_manifest(const Manifest& m) {
  Fnv1a64 h;
  h.add(read_text(m.dir / "package.json", "package file", kMaxManifestBytes));
  const fs::path tok = m.file("tokenizer", true);
  h.add(read_text(tok / "vocab.json", "tokenizer file", kMaxTokenizerFileBytes));
  h.add(read_text(tok / "merges.txt", "tokenizer file", kMaxTokenizerFileBytes));
  for (const char* key : {"clip", "generator", "upsampler", "evaluator"}) {
    const fs::path p = m.file(key, std::string(key) == "clip" || std::string(key) == "generator");
    if (p.empty()) continue;
    h.add(key);
    h.add(safetensors_header(p));
  }
  return h.hex();
}

std::string discriminator_path(const Manifest& m) {
  const fs::path p = m.file("discriminator", false);
  if (!p.empty()) require_file(p, "discriminator file");
  return p.string();
}

}  // namespace

std::string package_hash(const std::string& dir) { return hash_manifest(read_manifest(dir)); }
std::string package_discriminator_file(const std::string& dir) { return discriminator_path(read_manifest(dir)); }

ModelPackage load_package(const std::string& dir_str, const torch::Device& device) {
  const Manifest m = read_manifest(dir_str);
  const fs::path mpath = m.dir / "package.json";
  ModelPackage pkg;
  pkg.folder = m.dir.string();
  pkg.name = m.doc.value("name", m.dir.filename().string());
  pkg.description = m.doc.value("description", std::string());
  if (m.doc.contains("sample_prompts")) {
    const auto& sp = m.doc["sample_prompts"];
    if (!sp.is_array()) throw CheckpointError("'" + mpath.string() + "': \"sample_prompts\" must be a list");
    for (const auto& s : sp) {
      if (!s.is_string()) throw CheckpointError("'" + mpath.string() + "': \"sample_prompts\" must hold strings");
      pkg.sample_prompts.push_back(s.get<std::string>());
    }
  }
  if (m.doc.contains("styles")) {
    const auto& st = m.doc["styles"];
    if (!st.is_array()) throw CheckpointError("'" + mpath.string() + "': \"styles\" must be a list");
    if (st.size() > kMaxPackageStyles)
      throw CheckpointError("'" + mpath.string() + "': \"styles\" has " + std::to_string(st.size()) +
                            " entries, at most " + std::to_string(kMaxPackageStyles));
    for (const auto& s : st) {
      if (!s.is_string()) throw CheckpointError("'" + mpath.string() + "': \"styles\" must hold strings");
      pkg.styles.push_back(s.get<std::string>());
    }
    const std::string bad = check_style_words(pkg.styles);
    if (!bad.empty()) throw CheckpointError("'" + mpath.string() + "': \"styles\": " + bad);
  }

  const fs::path clip_path = m.file("clip", true), gen_path = m.file("generator", true);
  const fs::path up_path = m.file("upsampler", false), eval_path = m.file("evaluator", false);
  require_file(clip_path, "CLIP file");
  require_file(gen_path, "generator file");
  if (!up_path.empty()) require_file(up_path, "upsampler file");
  if (!eval_path.empty()) require_file(eval_path, "evaluator file");
  pkg.discriminator_file = discriminator_path(m);

  pkg.clip = load_network<ClipConfig, ClipModel>(clip_path.string(), "clip", device);
  freeze(pkg.clip);
  const auto& text = pkg.clip->config.text_config;

  // Tokenizer: context length and padding from the CLIP text config.
  const fs::path tok = m.file("tokenizer", true);
  pkg.tokenizer_folder = tok.string();
  if (!fs::is_directory(tok)) throw CheckpointError("tokenizer folder '" + tok.string() + "' is missing");
  require_file(tok / "vocab.json", "tokenizer file");
  require_file(tok / "merges.txt", "tokenizer file");
  TokenizerOptions topt;
  topt.context_length = text.max_position_embeddings;
  topt.pad_id = text.pad_token_id;
  try {
    pkg.tokenizer = std::make_shared<const Tokenizer>(Tokenizer::from_folder(tok.string(), topt));
  } catch (const ConfigError& e) {
    throw CheckpointError("tokenizer '" + tok.string() + "' cannot be read: " + e.what());
  }
  pkg.generator = load_network<GeneratorConfig, Generator>(gen_path.string(), "generator", device);
  freeze(pkg.generator);
  if (!up_path.empty()) {
    pkg.upsampler = load_network<UpsamplerConfig, Upsampler>(up_path.string(), "upsampler", device);
    freeze(pkg.upsampler);
  }
  if (!eval_path.empty()) {
    pkg.evaluator = load_network<ClipConfig, ClipModel>(eval_path.string(), "clip", device);
    freeze(pkg.evaluator);
  }
  auto quoted = [](const fs::path& p) { return "'" + p.string() + "'"; };
  check_package_fit(pkg, {quoted(tok), quoted(clip_path), quoted(gen_path), quoted(up_path), quoted(eval_path)});
  pkg.hash = hash_manifest(m);
  return pkg;
}

void check_package_fit(const ModelPackage& pkg, const PackagePartNames& n) {
  if (!pkg.clip || !pkg.generator || !pkg.tokenizer)
    throw CheckpointError("model package: needs an encoder CLIP, a generator and a tokenizer");
  const auto& text = pkg.clip->config.text_config;
  const auto& t = *pkg.tokenizer;
  if (t.eos_id() != text.eos_token_id || t.bos_id() != text.bos_token_id || t.pad_id() != text.pad_token_id ||
      t.context_length() != text.max_position_embeddings || t.vocab_size() > text.vocab_size)
    throw CheckpointError(n.tokenizer + " (" + std::to_string(t.vocab_size()) + " tokens, bos " +
                          std::to_string(t.bos_id()) + ", eos " + std::to_string(t.eos_id()) + ", pad " +
                          std::to_string(t.pad_id()) + ", context " + std::to_string(t.context_length()) +
                          ") does not match " + n.clip + " (vocab_size " + std::to_string(text.vocab_size) + ", bos " +
                          std::to_string(text.bos_token_id) + ", eos " + std::to_string(text.eos_token_id) + ", pad " +
                          std::to_string(text.pad_token_id) + ", context " +
                          std::to_string(text.max_position_embeddings) + ")");
  // Both the generator and the upsampler read the CLIP's text features.
  auto fits_text = [&](int64_t width, int64_t context, const std::string& part) {
    if (width != text.hidden_size || context != text.max_position_embeddings)
      throw CheckpointError(part + " reads text features of width " + std::to_string(width) + " and context " +
                            std::to_string(context) + ", but " + n.clip + " gives width " +
                            std::to_string(text.hidden_size) + " and context " +
                            std::to_string(text.max_position_embeddings));
  };
  const auto& g = pkg.generator->config;
  fits_text(g.text_input_dim, g.context_length, n.generator);
  if (pkg.upsampler) {
    const auto& u = pkg.upsampler->config;
    fits_text(u.text_input_dim, u.context_length, n.upsampler);
    if (u.input_resolution != g.resolution)
      throw CheckpointError(n.upsampler + " upsamples " + std::to_string(u.input_resolution) + " px images but " +
                            n.generator + " makes " + std::to_string(g.resolution) + " px ones");
  }
  if (pkg.evaluator) {
    const auto& et = pkg.evaluator->config.text_config;
    if (et.max_position_embeddings != t.context_length() || et.vocab_size < t.vocab_size() ||
        et.eos_token_id != t.eos_id())
      throw CheckpointError(n.evaluator + " (vocab_size " + std::to_string(et.vocab_size) + ", eos " +
                            std::to_string(et.eos_token_id) + ", context " +
                            std::to_string(et.max_position_embeddings) + ") cannot read the ids of " + n.tokenizer +
                            " (" + std::to_string(t.vocab_size()) + " tokens, eos " + std::to_string(t.eos_id()) +
                            ", context " + std::to_string(t.context_length()) + "): the evaluator shares the tokenizer");
  }
}

void prepare_package(ModelPackage& pkg) {
  if (!pkg.clip || !pkg.generator) throw CheckpointError("model package: needs a CLIP model and a generator");
  const auto& text = pkg.clip->config.text_config;
  if (!pkg.tokenizer) {
    TokenizerOptions topt;
    topt.context_length = text.max_position_embeddings;
    topt.pad_id = text.pad_token_id;
    try {
      if (pkg.vocabulary)
        pkg.tokenizer = std::make_shared<const Tokenizer>(pkg.vocabulary->token_to_id(), pkg.vocabulary->merges, topt);
      else if (!pkg.tokenizer_folder.empty())
        pkg.tokenizer = std::make_shared<const Tokenizer>(Tokenizer::from_folder(pkg.tokenizer_folder, topt));
      else
        throw CheckpointError("model package: no tokenizer (set vocabulary or tokenizer_folder)");
    } catch (const ConfigError& e) {
      throw CheckpointError(std::string("model package: the tokenizer cannot be built: ") + e.what());
    }
  }
  freeze(pkg.clip);
  freeze(pkg.generator);
  if (pkg.upsampler) freeze(pkg.upsampler);
  if (pkg.evaluator) freeze(pkg.evaluator);
  if (pkg.hash.empty()) {
    uint32_t crc = 0;
    auto add = [&](const torch::nn::Module& m) {
      for (const auto& [name, t] : state_dict(m)) {
        auto c = t.to(torch::kCPU, torch::kFloat32).contiguous();
        crc = crc32(name.data(), name.size(), crc);
        crc = crc32(c.data_ptr(), static_cast<size_t>(c.numel()) * 4, crc);
      }
    };
    add(*pkg.clip);
    add(*pkg.generator);
    if (pkg.upsampler) add(*pkg.upsampler);
    char buf[16];
    std::snprintf(buf, sizeof buf, "%08x", crc);
    pkg.hash = std::string("mem-") + buf;
  }
}

namespace {

void rename_exchange_or_replace(const fs::path& tmp, const fs::path& dir) {
  if (!fs::exists(dir)) {
    fs::rename(tmp, dir);
    return;
  }
#ifdef SYS_renameat2
  // One atomic swap (Linux >= 3.15): readers see the old or the new package.
  constexpr unsigned kRenameExchange = 1u << 1;
  if (syscall(SYS_renameat2, AT_FDCWD, tmp.c_str(), AT_FDCWD, dir.c_str(), kRenameExchange) == 0) {
    fs::remove_all(tmp);  // now holds the previous package
    return;
  }
#endif
  // Fallback: two renames (a reader may find no package for an instant, never a mix).
  fs::path old = dir;
  old += ".old-" + std::to_string(::getpid());
  fs::remove_all(old);
  fs::rename(dir, old);
  fs::rename(tmp, dir);
  fs::remove_all(old);
}

}  // namespace

void save_package(const std::string& dir_str, const ModelPackage& pkg, const SavePackageOptions& options) {
  const fs::path dir = fs::absolute(fs::path(dir_str)).lexically_normal();
  if (!pkg.clip) throw CheckpointError("save_package('" + dir.string() + "'): no CLIP model given");
  if (!pkg.generator) throw CheckpointError("save_package('" + dir.string() + "'): no generator given");
  if (!pkg.vocabulary && pkg.tokenizer_folder.empty())
    throw CheckpointError("save_package('" + dir.string() +
                          "'): no tokenizer given (set vocabulary or tokenizer_folder)");
  if (const std::string bad = check_style_words(pkg.styles); !bad.empty())
    throw CheckpointError("save_package('" + dir.string() + "'): styles: " + bad);
  if (fs::exists(dir)) {
    if (!fs::is_directory(dir))
      throw CheckpointError("cannot write the model package '" + dir.string() + "': it exists and is not a folder");
    if (!fs::is_empty(dir) && !fs::exists(dir / "package.json"))
      throw CheckpointError("refusing to replace '" + dir.string() +
                            "': it is a non-empty folder without package.json (not a model package)");
  }
  static std::atomic<int> counter{0};
  fs::path tmp = dir;
  tmp += ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  try {
    fs::remove_all(tmp);
    fs::create_directories(tmp);
    // Tokenizer.
    const fs::path tok = tmp / "tokenizer";
    if (pkg.vocabulary) {
      save_bpe_vocabulary(*pkg.vocabulary, tok.string());
    } else {
      fs::create_directories(tok);
      for (const char* f : {"vocab.json", "merges.txt"}) {
        const fs::path src = fs::path(pkg.tokenizer_folder) / f;
        require_file(src, "tokenizer file");
        write_file_atomic((tok / f).string(), read_text(src, "tokenizer file", kMaxTokenizerFileBytes));
      }
    }
    json doc = {{"format", kPackageFormat},
                {"version", kPackageFormatVersion},
                {"name", pkg.name},
                {"description", pkg.description},
                {"tokenizer", "tokenizer"},
                {"clip", "clip.safetensors"},
                {"generator", "generator.safetensors"}};
    save_network((tmp / "clip.safetensors").string(), "clip", pkg.clip->config, pkg.clip, options.storage);
    save_network((tmp / "generator.safetensors").string(), "generator", pkg.generator->config, pkg.generator,
                 options.storage);
    if (pkg.upsampler) {
      save_network((tmp / "upsampler.safetensors").string(), "upsampler", pkg.upsampler->config, pkg.upsampler,
                   options.storage);
      doc["upsampler"] = "upsampler.safetensors";
    }
    if (pkg.evaluator) {
      save_network((tmp / "evaluator_clip.safetensors").string(), "clip", pkg.evaluator->config, pkg.evaluator,
                   options.storage);
      doc["evaluator"] = "evaluator_clip.safetensors";
    }
    if (pkg.discriminator || !pkg.discriminator_file.empty()) {
      const Checkpoint d = pkg.discriminator ? *pkg.discriminator : load_checkpoint(pkg.discriminator_file);
      if (d.kind != "discriminator")
        throw CheckpointError("save_package('" + dir.string() + "'): the discriminator " +
                              (pkg.discriminator ? std::string("given") : "'" + pkg.discriminator_file + "'") +
                              " is a " + d.kind + " checkpoint, not a discriminator");
      save_checkpoint((tmp / "discriminator.safetensors").string(), d, options.storage);
      doc["discriminator"] = "discriminator.safetensors";
    }
    if (!pkg.sample_prompts.empty()) doc["sample_prompts"] = pkg.sample_prompts;
    if (!pkg.styles.empty()) doc["styles"] = pkg.styles;
    write_file_atomic((tmp / "package.json").string(), doc.dump(2) + "\n");
    if (!dir.parent_path().empty()) fs::create_directories(dir.parent_path());
    rename_exchange_or_replace(tmp, dir);
  } catch (const fs::filesystem_error& e) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    throw CheckpointError("cannot write the model package '" + dir.string() + "': " + e.what());
  } catch (...) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    throw;
  }
}

}  // namespace gg

// The metrics network of `gigagan eval` and `gigagan diagnose`: the frozen
// MobileNetV2 (model/mobilenet_v2.h) shipped in
// resources/models/mobilenet_v2/, or the file given with --metrics-net. It
// only measures images; no loss ever sees it.
#pragma once
#include <cstdlib>
#include <filesystem>
#include <string>

#include "cli.h"
#include "clip.h"
#include "tokenizer.h"
#include "mobilenet_v2.h"

namespace gg::cli {

// A CLIP used as a measuring instrument (the evaluator, or the encoder in
// `diagnose`): images and captions to unit-norm embeddings, in batches, on the CPU.
struct ClipEncoder {
  ClipModel clip{nullptr};
  std::shared_ptr<const Tokenizer> tokenizer;
  torch::Device device = torch::kCPU;
  torch::Tensor images(const torch::Tensor& x) {  // [N, 3, H, W] in [-1, 1] -> unit-norm [N, P]
    std::vector<torch::Tensor> out;
    for (int64_t a = 0; a < x.size(0); a += 64) out.push_back(clip->encode_image(x.slice(0, a, a + 64).to(device)).cpu());
    return torch::cat(out);
  }
  torch::Tensor texts(const std::vector<std::string>& t) {
    std::vector<torch::Tensor> out;
    for (size_t a = 0; a < t.size(); a += 256) {
      std::vector<std::string> part(t.begin() + a, t.begin() + std::min(t.size(), a + 256));
      out.push_back(clip->encode_text(tokenizer->encode_batch(part).ids.to(device)).cpu());
    }
    return torch::cat(out);
  }
};


inline constexpr const char* kMetricsNetFile = "models/mobilenet_v2/mobilenet_v2_nsfwjs.safetensors";

inline Option metrics_net_option() {
  return {"metrics-net", "FILE",
          "MobileNetV2 .safetensors for the image-feature metrics (default: the shipped " + std::string(kMetricsNetFile) +
              ")",
          ""};
}

inline Option feature_cache_option() {
  return {"feature-cache", "DIR",
          "where MobileNetV2 features of real images are kept between runs, keyed by the network and every image "
          "file's path, size and time ('none': not kept; default: $XDG_CACHE_HOME/gigagan/features, else "
          "~/.cache/gigagan/features)",
          ""};
}

// --feature-cache DIR, or the default; empty for 'none' (or without a home folder).
inline std::filesystem::path feature_cache_dir(const Args& args) {
  namespace fs = std::filesystem;
  const std::string d = args.get("feature-cache");
  if (d == "none") return {};
  if (!d.empty()) return d;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return fs::path(x) / "gigagan/features";
  if (const char* h = std::getenv("HOME"); h && *h) return fs::path(h) / ".cache/gigagan/features";
  return {};
}

// Loads --metrics-net FILE, or the shipped file found in resource_dirs();
// `path` receives the file used. Throws ConfigError saying what is missing.
inline MobileNetV2 load_metrics_net(const Args& args, torch::Device device, std::string& path) {
  namespace fs = std::filesystem;
  path = args.get("metrics-net");
  if (path.empty()) {
    path = find_resource(kMetricsNetFile);
    if (path.empty())
      throw ConfigError(std::string("no metrics network found: ") + kMetricsNetFile +
                        " is in none of the resource folders ($GIGAGAN_RESOURCES, the installed share/gigagan/resources, "
                        "the source tree's resources/); pass --metrics-net FILE (a MobileNetV2 made by `gigagan "
                        "convert-tfjs`, see resources/models/mobilenet_v2/README.md)");
  } else if (!fs::is_regular_file(path)) {
    throw ConfigError("--metrics-net '" + path +
                      "': no such file (a MobileNetV2 .safetensors made by `gigagan convert-tfjs`, see "
                      "resources/models/mobilenet_v2/README.md)");
  }
  return load_mobilenet_v2(path, device);
}

}  // namespace gg::cli

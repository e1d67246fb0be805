#include "evaluate.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>

#include "dataset.h"
#include "errors.h"
#include "json_config.h"
#include "safetensors.h"

namespace gg {

namespace {

torch::Tensor sqrtm_psd(const torch::Tensor& c) {
  auto [vals, vecs] = torch::linalg_eigh(c);
  return torch::matmul(vecs * vals.clamp_min(0).sqrt().unsqueeze(0), vecs.t());
}

}  // namespace

double frechet_distance(const torch::Tensor& a_in, const torch::Tensor& b_in) {
  if (a_in.dim() != 2 || b_in.dim() != 2 || a_in.size(1) != b_in.size(1) || a_in.size(0) < 2 || b_in.size(0) < 2)
    throw ShapeError("frechet_distance: expected [N, D] and [M, D] with N, M >= 2");
  auto a = a_in.to(torch::kCPU, torch::kDouble), b = b_in.to(torch::kCPU, torch::kDouble);
  auto mu_a = a.mean(0), mu_b = b.mean(0);
  auto ca = torch::cov(a.t()), cb = torch::cov(b.t());
  auto sa = sqrtm_psd(ca);
  auto m = torch::matmul(torch::matmul(sa, cb), sa);
  m = 0.5 * (m + m.t());
  auto tr_sqrt = torch::linalg_eigvalsh(m).clamp_min(0).sqrt().sum();
  // >= 0 in exact arithmetic; rounding can leave -1e-17 for identical sets.
  return std::max(0.0, ((mu_a - mu_b).pow(2).sum() + ca.trace() + cb.trace() - 2 * tr_sqrt).item<double>());
}

double clip_score(const torch::Tensor& image, const torch::Tensor& text) {
  return (100.0 * (image * text).sum(1).clamp_min(0)).mean().item<double>();
}

double r_precision(const torch::Tensor& image, const std::vector<std::string>& captions,
                   const std::vector<std::string>& pool_in,
                   const std::function<torch::Tensor(const std::vector<std::string>&)>& encode, int candidates,
                   uint64_t seed) {
  std::vector<std::string> pool(pool_in);
  std::sort(pool.begin(), pool.end());
  pool.erase(std::unique(pool.begin(), pool.end()), pool.end());
  std::map<std::string, int64_t> index;
  std::vector<std::string> texts = pool;
  for (const auto& c : captions)
    if (!std::binary_search(pool.begin(), pool.end(), c)) texts.push_back(c);
  for (size_t k = 0; k < texts.size(); ++k) index[texts[k]] = static_cast<int64_t>(k);
  torch::Tensor emb = encode(texts).to(torch::kCPU, torch::kFloat);  // [T, P]
  auto sims = torch::matmul(image.to(torch::kCPU, torch::kFloat), emb.t());  // [N, T]
  auto acc = sims.accessor<float, 2>();
  int64_t hits = 0;
  uint64_t state = seed;
  for (int64_t i = 0; i < image.size(0); ++i) {
    const int64_t own = index.at(captions[static_cast<size_t>(i)]);
    std::set<int64_t> chosen;
    const int64_t want = std::min<int64_t>(candidates - 1, static_cast<int64_t>(pool.size()) - 1);
    while (static_cast<int64_t>(chosen.size()) < want) {
      const int64_t k = static_cast<int64_t>((state = splitmix64(state)) % pool.size());
      if (pool[static_cast<size_t>(k)] != captions[static_cast<size_t>(i)]) chosen.insert(index.at(pool[static_cast<size_t>(k)]));
    }
    bool first = true;
    for (int64_t k : chosen)
      if (acc[i][k] >= acc[i][own]) first = false;
    hits += first;
  }
  return static_cast<double>(hits) / static_cast<double>(std::max<int64_t>(image.size(0), 1));
}

std::string other_style_caption(const std::string& caption) {
  const std::string s = caption_style(caption);
  if (s != "noto" && s != "twemoji") return "";
  return with_style(caption, s == "noto" ? "twemoji" : "noto");
}

StyleProbe style_accuracy(const torch::Tensor& image, const std::vector<std::string>& captions,
                          const std::function<torch::Tensor(const std::vector<std::string>&)>& encode) {
  std::vector<std::string> own, other;
  std::vector<int64_t> rows;
  for (size_t i = 0; i < captions.size(); ++i) {
    std::string o = other_style_caption(captions[i]);
    if (o.empty()) continue;
    own.push_back(captions[i]);
    other.push_back(std::move(o));
    rows.push_back(static_cast<int64_t>(i));
  }
  StyleProbe p;
  p.count = static_cast<int64_t>(rows.size());
  if (rows.empty()) return p;
  auto e = image.index_select(0, torch::tensor(rows, torch::kLong).to(image.device()));
  auto so = (e * encode(own)).sum(1), sx = (e * encode(other)).sum(1);
  p.rate = (so > sx).to(torch::kDouble).mean().item<double>();
  return p;
}

torch::Tensor mobilenet_features(MobileNetV2& net, const torch::Tensor& images, torch::Device device, int64_t batch) {
  // images: [N, 3, H, W] in [-1, 1] -> [N, 1280]
  if (images.dim() != 4 || images.size(1) != 3)
    throw ShapeError("mobilenet_features: expected images [N, 3, H, W], got " + std::to_string(images.dim()) + "-D");
  if (images.size(0) == 0) return torch::zeros({0, MobileNetV2Impl::kFeatures});
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> out;
  for (int64_t a = 0; a < images.size(0); a += std::max<int64_t>(batch, 1))
    out.push_back(net->features(mobilenet_preprocess(images.slice(0, a, a + std::max<int64_t>(batch, 1)).to(device)))
                      .to(torch::kCPU, torch::kFloat));
  return torch::cat(out);
}

namespace {

// Absolute path, size and modification time of a file; "" when it cannot be stat'ed.
std::string file_stamp(const std::filesystem::path& f) {
  std::error_code e1, e2, e3;
  const auto size = std::filesystem::file_size(f, e1);
  const auto time = std::filesystem::last_write_time(f, e2);
  const auto abs = std::filesystem::absolute(f, e3);
  if (e1 || e2 || e3) return "";
  return abs.string() + "|" + std::to_string(size) + "|" + std::to_string(time.time_since_epoch().count());
}

// 64-bit FNV-1a.
uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  return h;
}

}  // namespace

FeatureCache::FeatureCache(std::filesystem::path dir) : dir_(std::move(dir)) {}

torch::Tensor FeatureCache::get(const std::string& network, int resolution, const std::vector<std::string>& files,
                                const std::function<torch::Tensor()>& compute) {
  namespace fs = std::filesystem;
  if (dir_.empty() || files.empty()) return compute();
  const std::string network_stamp = file_stamp(network);
  if (network_stamp.empty()) return compute();
  std::string key = "gigagan feature cache v1\n" + std::to_string(resolution) + "\n" + network_stamp + "\n";
  for (const auto& f : files) {
    const std::string stamp = file_stamp(f);
    if (stamp.empty()) return compute();  // a file that cannot be stat'ed: no key
    key += stamp + "\n";
  }
  char name[40];
  std::snprintf(name, sizeof name, "features-%016llx.safetensors", static_cast<unsigned long long>(fnv1a(key)));
  const fs::path path = dir_ / name;
  const std::string digest = std::to_string(fnv1a(key + "check"));  // a second hash, against collisions
  std::error_code ec;
  if (fs::exists(path, ec)) {
    try {
      SafeTensorsFile f = read_safetensors(path.string());
      auto it = f.tensors.find("features");
      if (it != f.tensors.end() && f.metadata["key"] == digest && it->second.dim() == 2 &&
          it->second.size(0) == static_cast<int64_t>(files.size())) {
        ++hits;
        return it->second.to(torch::kFloat);
      }
    } catch (const Error&) {
      // a corrupt or foreign file: recompute and overwrite
    }
  }
  ++misses;
  torch::Tensor features = compute();
  if (features.dim() != 2 || features.size(0) != static_cast<int64_t>(files.size()))
    throw ShapeError("FeatureCache: compute() returned a tensor that does not have one row per file");
  try {
    fs::create_directories(dir_);
    write_safetensors(path.string(), {{"features", features.to(torch::kCPU, torch::kFloat).contiguous()}},
                      {{"key", digest}, {"files", std::to_string(files.size())}, {"resolution", std::to_string(resolution)}});
  } catch (const std::exception&) {
    // an unwritable cache folder only costs time
  }
  return features;
}

namespace {

// Squared L2 distances [N, M] between rows of a [N, D] and b [M, D] (float64),
// |a|^2 + |b|^2 - 2 a.b clamped at 0.
torch::Tensor squared_distances(const torch::Tensor& a, const torch::Tensor& b) {
  auto d = a.pow(2).sum(1, true) + b.pow(2).sum(1).unsqueeze(0) - 2 * torch::matmul(a, b.t());
  return d.clamp_min(0);
}

// Squared distance of every row of x to its k-th nearest neighbour among the
// other rows (the row itself is the 0-th: the (k+1)-th smallest of its row).
torch::Tensor knn_radii2(const torch::Tensor& x, int k) {
  std::vector<torch::Tensor> out;
  for (int64_t a = 0; a < x.size(0); a += 1024) {
    auto d = squared_distances(x.slice(0, a, a + 1024), x);
    out.push_back(std::get<0>(d.kthvalue(k + 1, 1)));
  }
  return torch::cat(out);
}

// Rows of q inside the union of balls (x_j, sqrt(r2_j)): the share of q's
// rows inside at least one ball, and which balls hold at least one row [N].
std::pair<double, torch::Tensor> manifold_membership(const torch::Tensor& q, const torch::Tensor& x,
                                                     const torch::Tensor& r2) {
  int64_t inside = 0;
  auto held = torch::zeros({x.size(0)}, torch::kBool);
  for (int64_t a = 0; a < q.size(0); a += 1024) {
    auto in = squared_distances(q.slice(0, a, a + 1024), x) <= r2.unsqueeze(0);  // [rows, N]
    inside += in.any(1).sum().item<int64_t>();
    held = held.logical_or(in.any(0));
  }
  return {static_cast<double>(inside) / static_cast<double>(q.size(0)), held};
}

}  // namespace

PrecisionRecall precision_recall(const torch::Tensor& real_in, const torch::Tensor& gen_in, int k) {
  if (real_in.dim() != 2 || gen_in.dim() != 2 || real_in.size(1) != gen_in.size(1))
    throw ShapeError("precision_recall: expected [N, D] and [M, D]");
  if (k < 1 || real_in.size(0) <= k || gen_in.size(0) <= k)
    throw ShapeError("precision_recall: each set needs more than k = " + std::to_string(k) + " points (got " +
                     std::to_string(real_in.size(0)) + " and " + std::to_string(gen_in.size(0)) + ")");
  const auto real = real_in.to(torch::kCPU, torch::kDouble), gen = gen_in.to(torch::kCPU, torch::kDouble);
  PrecisionRecall pr;
  const auto [precision, real_balls_held] = manifold_membership(gen, real, knn_radii2(real, k));
  pr.precision = precision;
  pr.coverage = real_balls_held.to(torch::kDouble).mean().item<double>();
  pr.recall = manifold_membership(real, gen, knn_radii2(gen, k)).first;
  return pr;
}

torch::Tensor LinearProbe::predict(const torch::Tensor& x) const {
  if (x.dim() != 2 || x.size(1) != weight.size(1))
    throw ShapeError("LinearProbe: expected features [N, " + std::to_string(weight.size(1)) + "]");
  auto z = (x.to(torch::kCPU, torch::kDouble) - mean) / scale;
  return (torch::matmul(z, weight.t()) + bias).argmax(1);
}

double LinearProbe::accuracy(const torch::Tensor& x, const torch::Tensor& labels) const {
  if (x.size(0) == 0) return 0;
  return (predict(x) == labels.to(torch::kCPU, torch::kLong)).to(torch::kDouble).mean().item<double>();
}

LinearProbe train_linear_probe(const torch::Tensor& features, const torch::Tensor& labels, int64_t classes,
                               const LinearProbeOptions& options) {
  if (features.dim() != 2 || labels.dim() != 1 || labels.size(0) != features.size(0) || features.size(0) < 1)
    throw ShapeError("train_linear_probe: expected features [N, D] and labels [N] with N >= 1");
  if (classes < 1) throw ShapeError("train_linear_probe: needs at least one class");
  if (!(options.l2 >= 0) || options.max_iterations < 1)
    throw ConfigError("train_linear_probe: l2 must be >= 0 and max_iterations >= 1");
  // Autograd, also when called under c10::InferenceMode (as `gigagan eval` runs).
  c10::InferenceMode no_inference(false);
  torch::AutoGradMode grad(true);
  const auto y = labels.to(torch::kCPU, torch::kLong).clone();
  if (y.min().item<int64_t>() < 0 || y.max().item<int64_t>() >= classes)
    throw ShapeError("train_linear_probe: labels must be in [0, " + std::to_string(classes) + ")");
  const auto f = features.to(torch::kCPU, torch::kDouble).clone();
  LinearProbe p;
  p.classes = classes;
  p.mean = f.mean(0);
  const auto sd = (f - p.mean).pow(2).mean(0).sqrt();
  p.scale = torch::where(sd > 1e-6, sd, torch::ones_like(sd));
  const auto x = (f - p.mean) / p.scale;
  auto w = torch::zeros({classes, f.size(1)}, torch::kDouble).requires_grad_(true);
  auto b = torch::zeros({classes}, torch::kDouble).requires_grad_(true);
  torch::optim::LBFGS opt({w, b}, torch::optim::LBFGSOptions(1)
                                      .max_iter(options.max_iterations)
                                      .max_eval(options.max_iterations * 5 / 4)
                                      .history_size(20)
                                      .tolerance_grad(1e-7)
                                      .tolerance_change(1e-12)
                                      .line_search_fn("strong_wolfe"));
  auto closure = [&] {
    opt.zero_grad();
    auto loss = torch::nn::functional::cross_entropy(torch::matmul(x, w.t()) + b, y) + 0.5 * options.l2 * w.pow(2).sum();
    loss.backward();
    return loss;
  };
  opt.step(closure);
  p.weight = w.detach().clone();
  p.bias = b.detach().clone();
  if (!torch::isfinite(p.weight).all().item<bool>() || !torch::isfinite(p.bias).all().item<bool>())
    throw ConfigError("train_linear_probe: the weights are not finite (non-finite features?)");
  return p;
}

std::vector<ScaleError> scale_errors(const torch::Tensor& generated, const torch::Tensor& real) {
  TORCH_CHECK(real.dim() == 4 && real.size(0) >= 2 && real.size(1) == 3 && real.size(2) == real.size(3),
              "scale_errors: real images must be [N >= 2, 3, H, H], got ", real.sizes());
  TORCH_CHECK(generated.sizes() == real.sizes(), "scale_errors: ", generated.sizes(), " generated images against ",
              real.sizes(), " real");
  const int64_t res = real.size(2);
  TORCH_CHECK(res >= 4 && res % 4 == 0 && ((res / 4) & (res / 4 - 1)) == 0,
              "scale_errors: the image size must be 4 x a power of two, got ", res);
  namespace F = torch::nn::functional;
  const auto g = generated.to(torch::kFloat64).clamp(-1, 1), r = real.to(torch::kFloat64).clamp(-1, 1);
  const auto next = torch::roll(r, -1, 0);  // row i: real image i + 1, another emoji
  std::vector<ScaleError> out;
  for (int64_t size = 4; size <= res; size *= 2) {
    auto box = [&](const torch::Tensor& x) { return F::avg_pool2d(x, F::AvgPool2dFuncOptions(res / size)); };
    const auto rs = box(r);
    out.push_back({static_cast<int>(size), (box(g) - rs).abs().mean().item<double>() / 2,
                   (box(next) - rs).abs().mean().item<double>() / 2});
  }
  return out;
}

namespace {

// Resampling weights [out, in] of one axis (rows sum to 1).
torch::Tensor lanczos_weights(int64_t in, int64_t out, int a) {
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  const double stretch = std::max(1.0, scale);  // widen the kernel when shrinking (anti-aliasing)
  const double support = a * stretch;
  auto sinc = [](double x) { return x == 0 ? 1.0 : std::sin(M_PI * x) / (M_PI * x); };
  auto w = torch::zeros({out, in}, torch::kFloat64);
  auto acc = w.accessor<double, 2>();
  for (int64_t x = 0; x < out; ++x) {
    const double centre = (static_cast<double>(x) + 0.5) * scale - 0.5;
    double sum = 0;
    // Taps beyond the border are left out.
    const auto lo = std::max<int64_t>(0, static_cast<int64_t>(std::floor(centre - support))),
               hi = std::min<int64_t>(in - 1, static_cast<int64_t>(std::ceil(centre + support)));
    for (int64_t j = lo; j <= hi; ++j) {
      const double t = (static_cast<double>(j) - centre) / stretch;
      if (std::abs(t) >= a) continue;
      acc[x][j] = sinc(t) * sinc(t / a);
      sum += acc[x][j];
    }
    for (int64_t j = 0; j < in; ++j) acc[x][j] /= sum;
  }
  return w;
}

}  // namespace

torch::Tensor lanczos_resize(const torch::Tensor& images, int64_t size, int a) {
  TORCH_CHECK(images.dim() == 4 && images.size(2) >= 1 && images.size(3) >= 1,
              "lanczos_resize: images must be [N, C, H, W], got ", images.sizes());
  TORCH_CHECK(size >= 1 && size <= 16384, "lanczos_resize: size must be in [1, 16384], got ", size);
  TORCH_CHECK(a >= 1 && a <= 8, "lanczos_resize: a must be in [1, 8], got ", a);
  const auto x = images.to(torch::kFloat64);
  const auto wh = lanczos_weights(images.size(2), size, a).to(x.device());
  const auto ww = lanczos_weights(images.size(3), size, a).to(x.device());
  // [size, H] x [N, C, H, W] x [W, size]
  return torch::matmul(torch::matmul(wh, x), ww.t()).to(images.scalar_type());
}

double psnr(const torch::Tensor& images, const torch::Tensor& reference) {
  TORCH_CHECK(images.dim() == 4 && images.sizes() == reference.sizes(), "psnr: ", images.sizes(), " images against ",
              reference.sizes(), " reference");
  const double mse = (images.to(torch::kFloat64).clamp(-1, 1) - reference.to(torch::kFloat64).clamp(-1, 1))
                         .pow(2)
                         .mean()
                         .item<double>();
  return 10.0 * std::log10(4.0 / std::max(mse, 1e-20));
}

double majority_rate(const std::vector<int64_t>& labels) {
  if (labels.empty()) return 0;
  std::map<int64_t, int64_t> count;
  int64_t best = 0;
  for (int64_t l : labels) best = std::max(best, ++count[l]);
  return static_cast<double>(best) / static_cast<double>(labels.size());
}

std::map<std::string, std::map<std::string, std::string>> manifest_fields(const std::filesystem::path& data,
                                                                          const std::vector<std::string>& fields) {
  namespace fs = std::filesystem;
  std::map<std::string, std::map<std::string, std::string>> out;
  fs::path manifest;
  std::error_code ec;
  if (fs::is_directory(data, ec)) {
    if (fs::exists(data / "manifest.jsonl", ec)) manifest = data / "manifest.jsonl";
  } else if (data.extension() == ".jsonl") {
    manifest = data;
  }
  if (manifest.empty()) return out;
  std::ifstream in(manifest);
  if (!in) throw DatasetError("cannot read '" + manifest.string() + "'");
  const fs::path base = manifest.parent_path();
  for (std::string line; std::getline(in, line);) {
    json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object() || !j.contains("image") || !j["image"].is_string()) continue;  // Dataset reports these
    const std::string image = (base / j["image"].get<std::string>()).string();
    for (const auto& field : fields)
      if (j.contains(field) && !j[field].is_null())
        out[field][image] = j[field].is_string() ? j[field].get<std::string>() : j[field].dump();
  }
  return out;
}

}  // namespace gg

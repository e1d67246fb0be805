#include "evaluate.h"

#include <algorithm>
#include <map>
#include <set>

#include "dataset.h"
#include "errors.h"

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

}  // namespace gg

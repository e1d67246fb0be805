// Drag-based point editing (drag.h; DragGAN: Pan et al., SIGGRAPH 2023).
#include "drag.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "errors.h"

namespace gg {

namespace {

namespace F = torch::nn::functional;

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string point_str(DragPoint p) { return "(" + fmt(p.x) + ", " + fmt(p.y) + ")"; }

double distance(DragPoint a, DragPoint b) { return std::hypot(a.x - b.x, a.y - b.y); }

// Features resized to the image's resolution (DragGAN resizes bilinearly too).
torch::Tensor to_resolution(const torch::Tensor& f, int resolution) {
  if (f.size(2) == resolution && f.size(3) == resolution) return f;
  return F::interpolate(f, F::InterpolateFuncOptions()
                               .size(std::vector<int64_t>{resolution, resolution})
                               .mode(torch::kBilinear)
                               .align_corners(false));
}

// The feature slot: the option, or the last slot of the level at half the
// resolution (the last slot below the top level for other sizes).
int feature_slot(const LayerTable& layers, const std::string& spec, int resolution) {
  const int num_ws = static_cast<int>(layers.slots.size());
  if (spec.empty()) {
    int slot = num_ws - 1;
    for (int i = 0; i < num_ws; ++i)
      if (layers.slots[i].resolution <= resolution / 2) slot = i;
    return slot;
  }
  const auto idx = layers.parse(spec);
  if (idx.size() != 1 || idx[0] >= num_ws)
    throw ConfigError("drag: the feature layer must be one synthesis slot (e.g. " + layers.slots.back().name +
                      "), got '" + spec + "'");
  return idx[0];
}

}  // namespace

namespace drag_detail {

torch::Tensor slot_features(Generator& G, const torch::Tensor& ws, const torch::Tensor& t_locals, int slot) {
  auto& S = *G->synthesis;
  TORCH_CHECK(slot >= 0 && slot < S.num_ws(), "slot_features: slot ", slot, " out of range");
  auto x = S.const_input.unsqueeze(0).expand({ws.size(0), -1, -1, -1});
  for (int s = 0; s <= slot; ++s) x = S.blocks[s]->forward(x, ws.select(1, s), t_locals.select(1, s), S.noise_mode);
  return x;
}

torch::Tensor sample(const torch::Tensor& f, const torch::Tensor& xy) {
  // f: [1, C, H, W], xy: [P, 2] pixels -> [P, C]
  const int64_t h = f.size(2), w = f.size(3);
  auto scale = torch::tensor({2.0 / std::max<int64_t>(w - 1, 1), 2.0 / std::max<int64_t>(h - 1, 1)}, xy.options());
  auto grid = (xy * scale - 1).view({1, 1, -1, 2});
  auto out = F::grid_sample(f, grid.to(f.dtype()), F::GridSampleFuncOptions()
                                                       .mode(torch::kBilinear)
                                                       .padding_mode(torch::kBorder)
                                                       .align_corners(true));
  return out.squeeze(2).squeeze(0).t();  // [1, C, 1, P] -> [P, C]
}

DragPoint track(const torch::Tensor& f, const torch::Tensor& ref, DragPoint p, int r2) {
  const int64_t h = f.size(2), w = f.size(3);
  const int64_t cx = std::clamp<int64_t>(std::lround(p.x), 0, w - 1);
  const int64_t cy = std::clamp<int64_t>(std::lround(p.y), 0, h - 1);
  const int64_t x0 = std::max<int64_t>(cx - r2, 0), x1 = std::min<int64_t>(cx + r2, w - 1);
  const int64_t y0 = std::max<int64_t>(cy - r2, 0), y1 = std::min<int64_t>(cy + r2, h - 1);
  auto patch = f[0].slice(1, y0, y1 + 1).slice(2, x0, x1 + 1);  // [C, h, w]
  auto d = (patch - ref.view({-1, 1, 1})).pow(2).sum(0);        // [h, w]
  const int64_t i = d.flatten().argmin().item<int64_t>();
  const int64_t ww = x1 - x0 + 1;
  return DragPoint{static_cast<double>(x0 + i % ww), static_cast<double>(y0 + i / ww)};
}

torch::Tensor motion_loss(const torch::Tensor& f, DragPoint p, DragPoint t, double r1) {
  const double len = distance(p, t);
  const double dx = len > 0 ? (t.x - p.x) / len : 0, dy = len > 0 ? (t.y - p.y) / len : 0;
  const int64_t h = f.size(2), w = f.size(3);
  const int r = static_cast<int>(std::floor(r1));
  std::vector<float> q;
  for (int oy = -r; oy <= r; ++oy)
    for (int ox = -r; ox <= r; ++ox) {
      if (ox * ox + oy * oy > r1 * r1) continue;
      const double x = p.x + ox, y = p.y + oy;
      if (x < 0 || y < 0 || x > w - 1 || y > h - 1) continue;
      q.push_back(static_cast<float>(x));
      q.push_back(static_cast<float>(y));
    }
  if (q.empty()) return f.sum() * 0;
  auto qs = torch::from_blob(q.data(), {static_cast<int64_t>(q.size() / 2), 2}, torch::kFloat32).to(f.device());
  auto shift = torch::tensor({static_cast<float>(dx), static_cast<float>(dy)}, qs.options());
  return (sample(f, qs + shift) - sample(f, qs).detach()).abs().mean();
}

}  // namespace drag_detail

Recipe with_w_plus(const Recipe& start, const torch::Tensor& ws, const LayerTable& layers) {
  const int num_ws = static_cast<int>(layers.slots.size());
  TORCH_CHECK(ws.dim() == 2 && ws.size(0) == num_ws, "with_w_plus: expected [", num_ws, ", w_dim], got ",
              ws.sizes());
  Recipe r = start;
  const Latent latent{true, ws.detach().to(torch::kCPU, torch::kFloat32).contiguous()};
  // The synthesis slots' directions are inside `ws`; the upsampler's are not.
  std::vector<Direction> kept;
  for (auto d : r.directions) {
    const auto idx = layers.parse(d.layers);
    if (layers.has_upsampler && std::count(idx.begin(), idx.end(), layers.upsampler_index())) {
      d.layers = "upsampler";
      kept.push_back(d);
    }
  }
  r.directions = kept;
  if (r.sources.size() == 1) {
    // Same prompt, seed and psi: the text and the upsampler's w stay as they were.
    r.sources[0].latent = latent;
    return r;
  }
  // Several sources blend the text (and the upsampler's w) per layer: keep
  // those blends and give every synthesis slot's w to one more source.
  Source s = r.sources[0];
  s.latent = latent;
  r.sources.push_back(s);
  std::vector<double> one(r.sources.size(), 0.0);
  one.back() = 1.0;
  r.layers.push_back(LayerBlend{num_ws == 1 ? "0" : "0-" + std::to_string(num_ws - 1), one, {}});
  return r;
}

DragResult drag(Engine& engine, const Recipe& start, const DragOptions& o) {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  auto& G = engine.generator();
  const int R = G->config.resolution;
  const LayerTable& L = engine.layers();

  // Options.
  if (o.points.empty()) throw ConfigError("drag: no points (give at least one handle and its target)");
  for (size_t i = 0; i < o.points.size(); ++i) {
    for (const auto& [what, p] : {std::pair<const char*, DragPoint>{"handle", o.points[i].handle},
                                  std::pair<const char*, DragPoint>{"target", o.points[i].target}})
      if (!std::isfinite(p.x) || !std::isfinite(p.y) || p.x < 0 || p.y < 0 || p.x > R - 1 || p.y > R - 1)
        throw ConfigError("drag: point " + std::to_string(i + 1) + ": the " + what + " " + point_str(p) +
                          " is outside the " + std::to_string(R) + " x " + std::to_string(R) +
                          " image (x and y from 0 to " + std::to_string(R - 1) + ")");
  }
  if (o.steps < 0) throw ConfigError("drag: steps must be >= 0, got " + std::to_string(o.steps));
  if (!(o.lr > 0)) throw ConfigError("drag: the learning rate must be > 0, got " + fmt(o.lr));
  if (!(o.mask_weight >= 0)) throw ConfigError("drag: the mask weight must be >= 0, got " + fmt(o.mask_weight));
  if (!(o.r1 >= 0) || !(o.r2 >= 0) || !(o.done_distance >= 0))
    throw ConfigError("drag: r1, r2 and the done distance must be >= 0");
  const double r1 = o.r1 > 0 ? o.r1 : std::max(2.0, R / 32.0);
  const int r2 = o.r2 > 0 ? static_cast<int>(std::lround(o.r2)) : std::max(3, R / 16);
  const int fslot = feature_slot(L, o.feature_layer, R);
  std::vector<int64_t> opt;
  if (o.layers.empty()) {
    for (int s = 0; s <= fslot; ++s) opt.push_back(s);
  } else {
    for (int s : L.parse(o.layers)) {
      if (s > fslot)
        throw ConfigError("drag: layer " + L.name(s) + " comes after the feature layer " + L.name(fslot) +
                          " and gets no gradient; optimise layers up to it or choose a later feature layer");
      opt.push_back(s);
    }
  }
  torch::Tensor keep;  // [1, 1, R, R]: 1 where the image must stay
  if (o.mask.defined()) {
    if (o.mask.dim() != 2 || o.mask.size(0) != R || o.mask.size(1) != R)
      throw ShapeError("drag: the mask must be [" + std::to_string(R) + ", " + std::to_string(R) +
                       "] (the generator's resolution), got " + c10::str(o.mask.sizes()));
    keep = (o.mask.to(engine.device(), torch::kFloat32) <= 0.5).to(torch::kFloat32).view({1, 1, R, R});
  }

  // The starting latent and text (render checks the model and sets the noise mode).
  Recipe check = start;
  check.upsample = false;
  engine.render(check);
  const Conditioning c = engine.conditioning({start}, false);
  const auto ws0 = c.ws.contiguous().clone();
  const auto t_locals = c.t_locals;
  auto features = [&](const torch::Tensor& ws) {
    return to_resolution(drag_detail::slot_features(G, ws, t_locals, fslot), R);
  };
  torch::Tensor f0;
  {
    torch::NoGradGuard no_grad;
    f0 = features(ws0);
  }
  std::vector<DragPoint> handles, targets;
  std::vector<float> xy;
  for (const auto& p : o.points) {
    handles.push_back(p.handle);
    targets.push_back(p.target);
    xy.push_back(static_cast<float>(p.handle.x));
    xy.push_back(static_cast<float>(p.handle.y));
  }
  const auto refs =
      drag_detail::sample(f0, torch::from_blob(xy.data(), {static_cast<int64_t>(handles.size()), 2}, torch::kFloat32)
                                  .to(engine.device()))
          .detach();

  const auto idx = torch::tensor(opt, torch::kLong).to(engine.device());
  auto free = ws0.index_select(1, idx).clone().set_requires_grad(true);
  torch::optim::Adam adam({free}, torch::optim::AdamOptions(o.lr));
  DragResult res;
  torch::Tensor ws_now;
  for (int k = 0;; ++k) {
    const auto ws = ws0.index_copy(1, idx, free);
    const auto f = features(ws);
    if (k > 0) {
      torch::NoGradGuard no_grad;
      const auto fd = f.detach();
      for (size_t i = 0; i < handles.size(); ++i) handles[i] = drag_detail::track(fd, refs[i], handles[i], r2);
    }
    ws_now = ws.detach();
    res.reached = true;
    for (size_t i = 0; i < handles.size(); ++i)
      res.reached = res.reached && distance(handles[i], targets[i]) <= o.done_distance;
    const bool last = res.reached || k >= o.steps;
    torch::Tensor loss;
    if (!last) {
      loss = torch::zeros({}, f.options());
      for (size_t i = 0; i < handles.size(); ++i)
        if (distance(handles[i], targets[i]) > o.done_distance)
          loss = loss + drag_detail::motion_loss(f, handles[i], targets[i], r1);
      if (keep.defined() && o.mask_weight > 0) loss = loss + o.mask_weight * ((f - f0).abs() * keep).mean();
    }
    const double lv = loss.defined() ? loss.item<double>() : 0.0;
    if (!std::isfinite(lv) || !torch::isfinite(ws_now).all().item<bool>())
      throw ConfigError("drag: the optimisation diverged (the loss or the latent is not finite) at step " +
                        std::to_string(k) + "; lower the learning rate (now " + fmt(o.lr) + ")");
    if (o.progress && !o.progress({k, o.steps, lv, handles, ws_now})) {
      res.stopped = true;
      break;
    }
    if (last) break;
    adam.zero_grad();
    loss.backward();
    adam.step();
    res.steps = k + 1;
  }

  res.recipe = with_w_plus(start, ws_now[0], L);
  engine.stamp(res.recipe);
  res.source = res.recipe.sources.back();
  const auto rendered = engine.render(res.recipe);
  res.image = rendered.image[0];
  if (rendered.upsampled.defined()) res.upsampled = rendered.upsampled[0];
  res.handles = handles;
  res.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return res;
}

}  // namespace gg

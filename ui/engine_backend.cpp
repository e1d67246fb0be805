// The worker's backend on the real engine: RenderRequest <-> gg::Recipe,
// tensors -> QImage, inversion and path export. Runs on the worker thread only.
#include "engine_backend.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QJsonDocument>

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <map>

#include "drag.h"
#include "engine.h"
#include "errors.h"
#include "image_io.h"
#include "inversion.h"
#include "runtime.h"
#include "video.h"

namespace gg::ui {

namespace {

// Pixels exactly as the engine writes PNGs (to_bgr8), as an RGB QImage.
QImage toQImage(const torch::Tensor& image) {
  // image: [3, H, W] in [-1, 1]
  const cv::Mat bgr = to_bgr8(image);
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  return QImage(rgb.data, rgb.cols, rgb.rows, int(rgb.step), QImage::Format_RGB888).copy();
}

// images: [N, 3, R, R] -> one grid, ceil(sqrt(N)) columns, no gaps.
QImage gridImage(const torch::Tensor& images, int columns) {
  const int n = int(images.size(0));
  if (n == 1) return toQImage(images[0]);
  const int rows = (n + columns - 1) / columns;
  const int r = int(images.size(2));
  QImage grid(columns * r, rows * r, QImage::Format_RGB888);
  grid.fill(QColor(28, 29, 32));
  for (int i = 0; i < n; ++i) {
    const QImage cell = toQImage(images[i]);
    for (int y = 0; y < r; ++y)
      std::memcpy(grid.scanLine((i / columns) * r + y) + (i % columns) * r * 3, cell.constScanLine(y), size_t(r) * 3);
  }
  return grid;
}

QJsonObject toQJson(const json& j) { return QJsonDocument::fromJson(QByteArray::fromStdString(j.dump())).object(); }
json fromQJson(const QJsonObject& o) { return json::parse(QJsonDocument(o).toJson(QJsonDocument::Compact).toStdString()); }

// A grid's default width: a row per prompt when there are several, else square.
int gridColumns(int n, int rows) {
  return rows > 1 ? std::max(1, n / rows) : int(std::ceil(std::sqrt(double(std::max(1, n)))));
}

class EngineBackend : public Backend {
 public:
  ModelInfo load(const QString& package_dir, const QString& device) override {
    // The new engine replaces the old one only once it loaded completely: a
    // broken package leaves the previous model in place.
    auto engine = Engine::open(package_dir.toStdString(), parse_device(device.toStdString()));
    engine_ = std::move(engine);
    latents_.clear();
    const ModelPackage& pkg = engine_->package();
    ModelInfo info;
    info.name = QString::fromStdString(pkg.name);
    info.description = QString::fromStdString(pkg.description);
    info.folder = QDir(package_dir).absolutePath();
    info.hash = QString::fromStdString(engine_->model_hash());
    info.device = QString::fromStdString(engine_->device().str());
    info.resolution = pkg.generator->config.resolution;
    info.upsampled_resolution = pkg.upsampler ? pkg.upsampler->config.output_resolution : 0;
    const LayerTable& layers = engine_->layers();
    for (int i = 0; i < layers.size(); ++i) {
      info.layers << QString::fromStdString(layers.name(i));
      info.layer_resolutions << (i < int(layers.slots.size()) ? layers.slots[size_t(i)].resolution
                                                              : info.upsampled_resolution);
    }
    for (const std::string& p : pkg.sample_prompts) info.sample_prompts << QString::fromStdString(p);
    for (const std::string& s : pkg.styles) info.styles << QString::fromStdString(s);
    return info;
  }

  bool loaded() const override { return engine_ != nullptr; }

  RenderResult render(const RenderRequest& r) override {
    Engine& e = engine();
    RenderResult out;
    std::vector<Recipe> cells = recipes(r);
    for (Recipe& c : cells) e.stamp(c);
    const Rendered rendered = cells.size() == 1 ? e.render(cells[0]) : e.render_batch(cells);
    const torch::Tensor images = rendered.upsampled.defined() ? rendered.upsampled : rendered.image;
    const int rows = r.kind == RenderRequest::Kind::Generate ? 1 + int(r.more_prompts.size()) : 1;
    const int columns = r.columns > 0 ? r.columns : gridColumns(int(cells.size()), rows);
    out.image = gridImage(images, columns);
    if (cells.size() == 1) {
      out.recipe = toQJson(cells[0].to_json());
    } else {
      RecipeGrid grid;
      grid.columns = columns;
      grid.cells = cells;
      out.recipe = toQJson(grid.to_json());
    }
    return out;
  }

  InvertResult invert(const QString& path, const QString& prompt, int steps, bool plus, bool pti,
                      const Progress& progress) override {
    Engine& e = engine();
    const torch::Tensor target = read_image(path.toStdString(), e.package().generator->config.resolution);
    InversionOptions o;
    o.prompt = prompt.toStdString();
    o.w_plus = plus;
    o.steps = steps;
    o.pti_steps = pti ? std::max(50, steps / 3) : 0;
    const int total = o.steps + o.pti_steps;
    o.progress = [&](const InversionProgress& p) {
      const int step = p.phase == "pti" ? o.steps + p.step : p.step;
      return progress(step, total, p.loss);
    };
    const InversionResult res = gg::invert(e, target, o);
    InvertResult out;
    out.latent = QStringLiteral("inv%1").arg(++latent_counter_);
    latents_[out.latent] = *res.source.latent;
    out.target = toQImage(target);
    out.reconstruction = toQImage(res.reconstruction);
    out.prompt = prompt;
    out.error = res.mse;
    out.psnr = res.psnr;
    out.mean_error = res.mean_w_mse;
    out.seconds = res.seconds_latent + res.seconds_pti;
    return out;
  }

  void exportPath(const RenderRequest& r, int frames, const QString& path, const Progress& progress) override {
    Engine& e = engine();
    const int n = int(r.sources.size());
    if (r.kind != RenderRequest::Kind::Interpolate || n < 2)
      throw ConfigError("export: set up an interpolation between at least two prompts in the Interpolate panel");
    std::vector<cv::Mat> out;
    std::vector<std::string> texts;
    frames = std::max(2, frames);
    for (int f = 0; f < frames; ++f) {
      // The path visits the sources in order: 1 -> 2 (-> 3 -> 4).
      const double u = double(f) / (frames - 1) * (n - 1);
      const int seg = std::min(n - 2, int(std::floor(u)));
      const double t = u - seg;
      RenderRequest fr = r;
      fr.weights = QVector<double>(n, 0.0);
      fr.weights[seg] = 1.0 - t;
      fr.weights[seg + 1] += t;
      Recipe recipe = recipes(fr).front();
      e.stamp(recipe);
      const Rendered img = e.render(recipe);
      out.push_back(to_bgr8((img.upsampled.defined() ? img.upsampled : img.image)[0]));
      texts.push_back(recipe.dump());
      if (!progress(f + 1, frames, 0.0)) return;
    }
    const int scale = std::max(1, 256 / std::max(1, out.front().cols));
    write_video(path.toStdString(), out, 24.0, scale, texts);
  }

  DragOutcome drag(const DragRequest& d, const DragProgress& frame) override {
    Engine& e = engine();
    const RenderRequest& s = d.start;
    if (s.kind == RenderRequest::Kind::Generate && (s.count > 1 || !s.more_prompts.isEmpty()))
      throw ConfigError("drag edits one image, not a grid: set the Prompt panel's count to 1 and generate");
    if (d.handles.isEmpty() || d.handles.size() != d.targets.size())
      throw ConfigError("drag: click a handle point on the image, then its target");
    // The image as a Prompt-panel source whose W+ latent is the start's per-slot
    // w, so that what is dragged is what the result's request renders.
    std::vector<Recipe> cells = recipes(s);
    Recipe start = cells.front();
    e.stamp(start);
    const Source first = s.kind == RenderRequest::Kind::Generate ? s.source
                         : s.kind == RenderRequest::Kind::Mix    ? s.a
                                                                 : s.sources.value(0);
    RenderRequest flat;
    flat.kind = RenderRequest::Kind::Generate;
    flat.psi = first.psi.value_or(s.psi);
    flat.upsample = s.upsample;
    flat.upsample_seed = s.upsample_seed;
    flat.noise = s.noise;
    flat.mean_w_samples = s.mean_w_samples;
    flat.source = Source{first.prompt, first.seed, addLatent(Latent{true, e.conditioning({start}, false).ws[0].contiguous().cpu()})};
    start = recipes(flat).front();
    e.stamp(start);

    const int res = e.package().generator->config.resolution;
    DragOptions o;
    for (int i = 0; i < d.handles.size(); ++i)
      o.points.push_back({{d.handles[i].x(), d.handles[i].y()}, {d.targets[i].x(), d.targets[i].y()}});
    o.steps = d.steps;
    if (!d.mask.isNull()) {
      const QImage m = d.mask.convertToFormat(QImage::Format_Grayscale8).scaled(res, res, Qt::IgnoreAspectRatio,
                                                                                 Qt::SmoothTransformation);
      o.mask = torch::zeros({res, res});
      auto a = o.mask.accessor<float, 2>();
      for (int y = 0; y < res; ++y)
        for (int x = 0; x < res; ++x) a[y][x] = m.constScanLine(y)[x] > 127 ? 1.0f : 0.0f;
    }
    Conditioning live = e.conditioning({start}, start.upsample);
    QElapsedTimer shown;
    o.progress = [&](const gg::DragProgress& p) {
      DragFrame f;
      f.step = p.step;
      f.steps = p.steps;
      for (const DragPoint& h : p.handles) f.handles.append(QPointF(h.x, h.y));
      if (!shown.isValid() || shown.elapsed() >= 60) {
        live.ws = p.ws;
        const Rendered r = e.synthesize(live);
        f.image = toQImage((r.upsampled.defined() ? r.upsampled : r.image)[0]);
        shown.start();
      }
      return frame(f);
    };
    const DragResult r = gg::drag(e, start, o);
    DragOutcome out;
    out.result.request = flat;
    out.result.request.source.latent = addLatent(*r.source.latent);
    out.result.image = toQImage(r.upsampled.defined() ? r.upsampled : r.image);
    out.result.recipe = toQJson(r.recipe.to_json());
    for (const DragPoint& h : r.handles) out.handles.append(QPointF(h.x, h.y));
    out.steps = r.steps;
    out.reached = r.reached;
    out.stopped = r.stopped;
    out.seconds = r.seconds;
    return out;
  }

  // The request that reproduces a recipe: everything it holds goes into a
  // field the panels keep (sources with their psi and latents, grids with
  // their rows and columns, fractional mixes, directions, the upsampler and
  // its seed, the noise mode, the mean-w samples).
  RenderRequest requestFromRecipe(const QJsonObject& recipe) override {
    const RecipeGrid grid = RecipeGrid::from_json(fromQJson(recipe));
    if (grid.cells.empty()) throw ConfigError("recipe: it holds no image");
    const Recipe& c = grid.cells.front();
    if (c.sources.empty()) throw ConfigError("recipe: it has no sources");
    RenderRequest r;
    r.psi = c.sources.front().psi;
    r.upsample = c.upsample;
    if (c.upsample_seed) r.upsample_seed = quint64(*c.upsample_seed);
    r.noise = QString::fromStdString(c.noise);
    r.mean_w_samples = c.mean_w_samples;
    r.slerp = c.blend == BlendMode::Slerp;
    // Sources keep a psi of their own where it differs from the first's.
    const auto source = [&](const ::gg::Source& s) {
      Source out = fromSource(s);
      if (s.psi != r.psi) out.psi = s.psi;
      return out;
    };
    if (grid.cells.size() > 1 || c.sources.size() == 1) {
      r.kind = RenderRequest::Kind::Generate;
      r.source = fromSource(c.sources.front());
      gridShape(grid, r);
      for (const Direction& d : c.directions)
        if (d.from_source < 0 && !d.from.empty()) {
          r.direction_from = QString::fromStdString(d.from);
          r.direction_to = QString::fromStdString(d.to);
          r.direction_strength = d.strength;
          r.direction_layers = QString::fromStdString(d.layers);
          break;
        }
      return r;
    }
    if (!c.layers.empty() && c.sources.size() == 2) {
      r.kind = RenderRequest::Kind::Mix;
      r.a = source(c.sources[0]);
      r.b = source(c.sources[1]);
      // Each layer's weights of A and B after the base and the overrides in
      // order; B's share of w and of the text per layer.
      const LayerTable& table = engine().layers();
      const int n = table.size();
      std::vector<std::vector<double>> w(size_t(n), c.w_weights.empty() ? std::vector<double>{1, 0} : c.w_weights);
      std::vector<std::vector<double>> t(size_t(n), c.t_weights.empty() ? std::vector<double>{1, 0} : c.t_weights);
      for (const LayerBlend& lb : c.layers)
        for (int i : table.parse(lb.layers)) {
          if (!lb.w.empty()) w[size_t(i)] = lb.w;
          if (!lb.t.empty()) t[size_t(i)] = lb.t;
        }
      const auto share = [](const std::vector<double>& ab) {
        const double sum = ab.size() == 2 ? ab[0] + ab[1] : 0.0;
        return sum > 0 ? ab[1] / sum : 0.0;
      };
      r.layer_sources = QVector<int>(n, 0);
      r.mix_w = r.mix_t = QVector<double>(n, 0.0);
      r.swap_w = r.swap_text = false;
      for (int i = 0; i < n; ++i) {
        r.mix_w[i] = share(w[size_t(i)]);
        r.mix_t[i] = share(t[size_t(i)]);
        r.swap_w |= r.mix_w[i] > 0;
        r.swap_text |= r.mix_t[i] > 0;
        r.layer_sources[i] = r.mix_w[i] > 0 || r.mix_t[i] > 0 ? 1 : 0;
      }
      return r;
    }
    r.kind = RenderRequest::Kind::Interpolate;
    for (const ::gg::Source& s : c.sources) r.sources.append(source(s));
    const bool has_w = !c.w_weights.empty(), has_t = !c.t_weights.empty();
    const std::vector<double>& w = has_w ? c.w_weights : c.t_weights;
    r.weights = QVector<double>(w.begin(), w.end());
    r.space = has_w && has_t && c.w_weights == c.t_weights ? RenderRequest::Space::Both
              : (has_w && (!has_t || c.t_weights.front() == 1.0)) ? RenderRequest::Space::W
                                                                   : RenderRequest::Space::Text;
    if (r.space == RenderRequest::Space::Text) r.weights = QVector<double>(c.t_weights.begin(), c.t_weights.end());
    return r;
  }

 private:
  Engine& engine() {
    if (!engine_) throw ConfigError("no model is loaded: open a model package first (File > Open Model)");
    return *engine_;
  }

  ::gg::Source toSource(const Source& s, double psi) const {
    ::gg::Source out;
    out.prompt = s.prompt.toStdString();
    out.seed = s.seed;
    out.psi = psi;
    if (!s.latent.isEmpty()) {
      const auto it = latents_.find(s.latent);
      if (it == latents_.end())
        throw ConfigError("the inverted latent '" + s.latent.toStdString() +
                          "' belongs to another model; invert the image again");
      out.latent = it->second;
    }
    return out;
  }

  QString addLatent(const Latent& latent) {
    const QString id = QStringLiteral("inv%1").arg(++latent_counter_);
    latents_[id] = latent;
    return id;
  }

  Source fromSource(const ::gg::Source& s) {
    Source out{QString::fromStdString(s.prompt), s.seed, {}};
    if (s.latent) {
      out.latent = QStringLiteral("inv%1").arg(++latent_counter_);
      latents_[out.latent] = *s.latent;
    }
    return out;
  }

  // A grid's rows (one prompt each) and columns: rows of `count` images
  // from consecutive seeds, the studio's and `gigagan generate`'s grids.
  // Another layout keeps its number of images and the first cell's seed.
  static void gridShape(const RecipeGrid& grid, RenderRequest& r) {
    const auto& cells = grid.cells;
    const int n = int(cells.size());
    QStringList prompts;
    for (const Recipe& c : cells) {
      const QString p = QString::fromStdString(c.sources.front().prompt);
      if (prompts.isEmpty() || prompts.last() != p) prompts << p;
    }
    const int rows = int(prompts.size());
    bool regular = n % rows == 0;
    const int count = regular ? n / rows : n;
    for (int i = 0; regular && i < n; ++i) {
      const ::gg::Source& s = cells[size_t(i)].sources.front();
      regular = QString::fromStdString(s.prompt) == prompts[i / count] && s.seed == r.source.seed + quint64(i % count);
    }
    r.count = regular ? count : n;
    if (regular) r.more_prompts = prompts.mid(1);
    r.columns = grid.columns == (regular ? gridColumns(rows * count, rows) : gridColumns(n, 1)) ? 0 : grid.columns;
  }

  // One recipe per grid cell.
  std::vector<Recipe> recipes(const RenderRequest& r) const {
    std::vector<Recipe> out;
    Recipe base;
    base.upsample = r.upsample;
    base.noise = r.noise.toStdString();
    base.mean_w_samples = r.mean_w_samples;
    if (r.upsample_seed) base.upsample_seed = uint64_t(*r.upsample_seed);
    const auto source = [&](const Source& s) { return toSource(s, s.psi.value_or(r.psi)); };
    switch (r.kind) {
      case RenderRequest::Kind::Generate: {
        const QStringList prompts = QStringList{r.source.prompt} + r.more_prompts;
        for (int row = 0; row < prompts.size(); ++row)
          for (int i = 0; i < std::max(1, r.count); ++i) {
            Recipe c = base;
            Source s = r.source;
            s.prompt = prompts[row];
            s.seed += quint64(i);
            if (i > 0 || row > 0) s.latent.clear();  // the grid's other cells explore seeds around it
            c.sources.push_back(source(s));
            // The upsampler's seed follows the cells, as the seeds do.
            if (r.upsample_seed) c.upsample_seed = uint64_t(*r.upsample_seed + quint64(i));
            if (r.hasDirection()) {
              Direction d;
              d.from = r.direction_from.trimmed().toStdString();
              d.to = r.direction_to.trimmed().toStdString();
              d.strength = r.direction_strength;
              d.layers = r.direction_layers.isEmpty() ? std::string("all") : r.direction_layers.toStdString();
              c.directions.push_back(d);
            }
            out.push_back(c);
          }
        return out;
      }
      case RenderRequest::Kind::Mix: {
        base.sources = {source(r.a), source(r.b)};
        base.w_weights = {1.0, 0.0};
        base.t_weights = {1.0, 0.0};
        base.blend = r.slerp ? BlendMode::Slerp : BlendMode::Lerp;
        // B's share per layer; the layers that share the same (w, t) go in one
        // entry, in the order of their first layer.
        const int n = int(std::max(r.layer_sources.size(), std::max(r.mix_w.size(), r.mix_t.size())));
        std::vector<std::pair<double, double>> shares;
        std::vector<std::string> specs;
        for (int i = 0; i < n; ++i) {
          const bool from_b = r.layer_sources.value(i) == 1;
          const double w = r.mix_w.isEmpty() ? (from_b && r.swap_w ? 1.0 : 0.0) : r.mix_w.value(i);
          const double t = r.mix_t.isEmpty() ? (from_b && r.swap_text ? 1.0 : 0.0) : r.mix_t.value(i);
          if (w <= 0 && t <= 0) continue;
          const auto at = std::find(shares.begin(), shares.end(), std::make_pair(w, t));
          if (at == shares.end()) {
            shares.emplace_back(w, t);
            specs.push_back(std::to_string(i));
          } else {
            specs[size_t(at - shares.begin())] += "," + std::to_string(i);
          }
        }
        for (size_t k = 0; k < shares.size(); ++k) {
          LayerBlend lb;
          lb.layers = specs[k];
          if (shares[k].first > 0) lb.w = {1.0 - shares[k].first, shares[k].first};
          if (shares[k].second > 0) lb.t = {1.0 - shares[k].second, shares[k].second};
          base.layers.push_back(lb);
        }
        out.push_back(base);
        return out;
      }
      case RenderRequest::Kind::Interpolate: {
        for (const Source& s : r.sources) base.sources.push_back(source(s));
        std::vector<double> w(r.weights.begin(), r.weights.end());
        w.resize(base.sources.size(), 0.0);
        std::vector<double> first(base.sources.size(), 0.0);
        first[0] = 1.0;
        base.blend = r.slerp ? BlendMode::Slerp : BlendMode::Lerp;
        base.w_weights = r.space == RenderRequest::Space::Text ? first : w;
        base.t_weights = r.space == RenderRequest::Space::W ? first : w;
        out.push_back(base);
        return out;
      }
    }
    return out;
  }

  std::unique_ptr<Engine> engine_;
  std::map<QString, Latent> latents_;
  int latent_counter_ = 0;
};

}  // namespace

DragOutcome Backend::drag(const DragRequest&, const DragProgress&) {
  throw ConfigError("this engine backend cannot drag points");
}

std::unique_ptr<Backend> makeEngineBackend() { return std::make_unique<EngineBackend>(); }

}  // namespace gg::ui

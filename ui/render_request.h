// What the panels ask the engine worker for, in Qt value types (copied across
// threads through queued signals). The worker turns a request into an engine
// recipe; the result carries that recipe back for saving and history.
#pragma once
#include <QImage>
#include <QJsonObject>
#include <QMetaType>
#include <QPointF>
#include <QString>
#include <QStringList>
#include <QVector>
#include <optional>

namespace gg::ui {

// One source of an edit: a prompt and a seed, or an inverted latent.
struct Source {
  Source(QString prompt_ = {}, quint64 seed_ = 0, QString latent_ = {}, std::optional<double> psi_ = {})
      : prompt(std::move(prompt_)), seed(seed_), latent(std::move(latent_)), psi(psi_) {}
  QString prompt;
  quint64 seed = 0;
  QString latent;  // non-empty: a latent from the Invert panel (its id), used instead of the seed's w
  // This source's own truncation (from a restored recipe whose sources differ
  // in psi); unset: the request's psi.
  std::optional<double> psi;
  bool operator==(const Source& o) const {
    return prompt == o.prompt && seed == o.seed && latent == o.latent && psi == o.psi;
  }
};

struct RenderRequest {
  enum class Kind { Generate, Mix, Interpolate };
  enum class Space { Text, W, Both };
  Kind kind = Kind::Generate;
  quint64 id = 0;  // set by the host; increases with every request

  // Generate: `count` images (a grid) from seeds seed, seed+1, ...; further
  // rows of the grid for `more_prompts` (the same seeds, one row a prompt, as
  // `gigagan generate --prompt A --prompt B`).
  Source source;
  int count = 1;
  QStringList more_prompts;
  int columns = 0;  // of the grid; 0: `count` with further rows, else ceil(sqrt(images))

  // Every kind (the Prompt panel holds them for all): truncation, the
  // upsampler, its seed (z and input noise; unset: each image's own seed,
  // consecutive over a grid), the generator's per-layer noise ("const" |
  // "none") and the z samples behind each prompt's mean w.
  double psi = 1.0;
  bool upsample = false;
  std::optional<quint64> upsample_seed;
  QString noise = QStringLiteral("const");
  int mean_w_samples = 4096;
  // Generate: a latent direction added to every layer's w, strength x
  // (mean w of direction_to - mean w of direction_from); off when a prompt is
  // empty or the strength is 0.
  QString direction_from, direction_to;
  double direction_strength = 0.0;
  QString direction_layers = QStringLiteral("all");  // the layers it acts on
  bool hasDirection() const {
    return !direction_from.trimmed().isEmpty() && !direction_to.trimmed().isEmpty() && direction_strength != 0.0;
  }

  // Mix: per-slot source (0 = A, 1 = B) for w and for the text, separately switchable.
  Source a, b;
  QVector<int> layer_sources;
  bool swap_w = true;
  bool swap_text = true;
  // Mix: B's share (0..1) of each layer's w and text; empty: 1 on the layers
  // from B (as swap_w / swap_text say), 0 elsewhere. Fractions blend A and B
  // (lerp, or slerp when `slerp`).
  QVector<double> mix_w, mix_t;

  // Interpolate: 2 to 4 sources with barycentric weights (summing to 1).
  QVector<Source> sources;
  QVector<double> weights;
  Space space = Space::Both;
  bool slerp = false;  // Interpolate and fractional mixes

  // A click (a preset, a toggle), not a step of a slider drag: its edit never
  // merges into the previous one (undo step, history entry).
  bool discrete = false;

  QString describe() const;  // one line for the status bar / history tooltips
};

// A rendered image with the recipe that reproduces it.
struct RenderResult {
  quint64 id = 0;
  RenderRequest request;
  QImage image;          // RGB888; a grid for count > 1
  QJsonObject recipe;    // the engine's recipe document
  double ms = 0.0;       // time in the engine
};

struct ModelInfo {
  QString name;
  QString description;
  QString folder;
  QString hash;
  QString device;
  int resolution = 0;          // generator output (px)
  int upsampled_resolution = 0;  // 0: no upsampler
  QStringList layers;          // W+ slot names, lowest resolution first ("4px.b0", ...)
  QVector<int> layer_resolutions;
  QStringList sample_prompts;
  QStringList styles;  // the style words of the training captions (package.json "styles")
};

// Inversion progress and result.
struct InvertResult {
  QString latent;        // id to use in Source::latent
  QString prompt;        // the text conditioning the latent was found under
  QImage target;         // the image inverted (at the model's resolution)
  QImage reconstruction;
  double error = 0.0;       // mean squared error of the reconstruction (pixels in [-1, 1])
  double psnr = 0.0;        // dB, pixels on the [0, 1] scale
  double mean_error = 0.0;  // the same for the prompt's mean w (where the search started)
  double seconds = 0.0;
};

// A drag edit (DragGAN point editing): handle -> target pairs in pixels of
// the generator's image (x right, y down, 0 = the centre of the first pixel).
struct DragRequest {
  RenderRequest start;               // the image being edited (one image, not a grid)
  QVector<QPointF> handles, targets;
  QImage mask;                       // white where the image may move (any size, scaled); null: everywhere
  int steps = 200;
};

// A live frame of a drag, or its end.
struct DragFrame {
  int step = 0, steps = 0;
  QImage image;                      // null for steps that were not rendered
  QVector<QPointF> handles;          // tracked positions (generator pixels)
};

struct DragOutcome {
  RenderResult result;               // a Generate request whose source holds the W+ latent
  QVector<QPointF> handles;          // where the handles ended (generator pixels)
  int steps = 0;
  bool reached = false;              // every handle within 1 px of its target
  bool stopped = false;              // Stop was pressed
  double seconds = 0.0;
};

}  // namespace gg::ui

Q_DECLARE_METATYPE(gg::ui::RenderRequest)
Q_DECLARE_METATYPE(gg::ui::RenderResult)
Q_DECLARE_METATYPE(gg::ui::ModelInfo)
Q_DECLARE_METATYPE(gg::ui::InvertResult)
Q_DECLARE_METATYPE(gg::ui::DragRequest)
Q_DECLARE_METATYPE(gg::ui::DragFrame)
Q_DECLARE_METATYPE(gg::ui::DragOutcome)

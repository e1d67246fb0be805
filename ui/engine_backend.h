// What the engine worker needs from the engine, as one small interface: load
// a package, render a request, invert an image, export an interpolation path.
// The implementation (engine_backend.cpp) drives gg::Engine (model/engine/);
// every call runs on the worker's thread and may throw gg::Error.
#pragma once
#include <QString>
#include <functional>
#include <memory>

#include "render_request.h"

namespace gg::ui {

class Backend {
 public:
  virtual ~Backend() = default;
  // step, total, a value to show (e.g. the current loss); returns false to cancel.
  using Progress = std::function<bool(int step, int total, double value)>;

  virtual ModelInfo load(const QString& package_dir, const QString& device) = 0;
  virtual bool loaded() const = 0;
  virtual RenderResult render(const RenderRequest& request) = 0;
  // Projects the image at `path` into W (or W+ when `plus`) under `prompt`'s
  // text conditioning, optionally with pivotal tuning; the latent is kept by
  // the backend under the returned id.
  virtual InvertResult invert(const QString& path, const QString& prompt, int steps, bool plus, bool pti,
                              const Progress& progress) = 0;
  // Writes `frames` frames along the request's interpolation (weights from
  // sources[0] to the last source) as PNG frames (a folder), a GIF or an MP4,
  // chosen by the path's extension.
  virtual void exportPath(const RenderRequest& request, int frames, const QString& path,
                          const Progress& progress) = 0;
  // Parses the recipe stored in a PNG written by the studio or `gigagan`;
  // returns the request that reproduces it (throws when there is none).
  virtual RenderRequest requestFromRecipe(const QJsonObject& recipe) = 0;
  // Drags the handles of the request's image to their targets (DragGAN).
  // `frame` is called after every step (with an image every few tens of ms);
  // it returns false to stop, which still gives a usable result.
  using DragProgress = std::function<bool(const DragFrame& frame)>;
  virtual DragOutcome drag(const DragRequest& request, const DragProgress& frame);
};

// The backend on the real engine (model/engine).
std::unique_ptr<Backend> makeEngineBackend();

}  // namespace gg::ui

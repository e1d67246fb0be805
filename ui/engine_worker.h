// The engine on its own thread. EngineWorker owns the backend (so the GUI
// thread never touches a tensor), reports through signals, cancels long jobs
// on an atomic flag (a queued cancel slot would never run while the worker is
// busy), and COALESCES renders: a request waits in a one-slot mailbox, a newer
// one replaces it, so a slider drag never queues a backlog and the worker
// always renders the latest request.
// Ref: Qt's Mandelbrot example (renderthread)
// and the worker-object snippet in QThread's documentation.
#pragma once
#include <QMap>
#include <QMutex>
#include <QObject>
#include <QThread>
#include <atomic>
#include <functional>
#include <memory>
#include <optional>

#include "engine_backend.h"
#include "runtime.h"

namespace gg::ui {

// What the engine reports, declared once: the worker emits these on its
// thread; EngineHost re-emits each on the GUI thread (connected signal to
// signal through the meta-object, see EngineHost's constructor).
class EngineEvents : public QObject {
  Q_OBJECT
 public:
  using QObject::QObject;

 Q_SIGNALS:
  void modelLoaded(const gg::ui::ModelInfo& info);
  void rendered(const gg::ui::RenderResult& result);
  void dropped(quint64 id);
  // operation: "load", "render", "invert", "export", "recipe", "drag"; the
  // message says what went wrong and what to do. The worker keeps its
  // previous state.
  void failed(const QString& operation, const QString& message, quint64 id);
  void progress(const QString& operation, int step, int total, double value);
  void inverted(const gg::ui::InvertResult& result);
  void exported(const QString& path);
  void cancelled(const QString& operation);
  void recipeRestored(const gg::ui::RenderRequest& request);
  // A drag's live frames (only those with an image) and its result (also
  // after Stop: the latent reached so far).
  void dragFrame(const gg::ui::DragFrame& frame);
  void dragged(const gg::ui::DragOutcome& outcome);
  // A small side render (e.g. Style Mix's source A or B alone), by its tag;
  // the image is null when it could not be rendered (an empty prompt).
  void thumbnailRendered(const QString& tag, const gg::ui::RenderResult& result);
};

class EngineWorker : public EngineEvents {
  Q_OBJECT
 public:
  explicit EngineWorker(std::unique_ptr<Backend> backend);
  ~EngineWorker() override;

  // Thread-safe, from any thread: replaces any request still waiting (which
  // is reported through dropped()) and wakes the worker.
  void submit(const RenderRequest& request);
  // Thread-safe: a side render under `tag`, after any waiting request; a
  // newer one with the same tag replaces it.
  void submitThumbnail(const QString& tag, const RenderRequest& request);
  // Thread-safe: asks the running long job (invert, export) to stop.
  void cancel() { cancel_.store(true); }
  int renderedCount() const { return rendered_count_.load(); }
  int droppedCount() const { return dropped_count_.load(); }

 public Q_SLOTS:
  void loadModel(const QString& package_dir, const QString& device);
  void invert(const QString& path, const QString& prompt, int steps, bool plus, bool pti);
  void exportPath(const gg::ui::RenderRequest& request, int frames, const QString& path);
  void restoreRecipe(const QJsonObject& recipe);
  void drag(const gg::ui::DragRequest& request);

 Q_SIGNALS:
  // After every load / invert / export / recipe / drag job, whatever its outcome.
  void jobDone(const QString& operation);

 private:
  void processPending();
  Backend::Progress progressFor(const QString& operation);
  // Runs a long job that Cancel can stop: `job` gets the progress callback
  // and returns what reports its success; a cancelled job reports cancelled(),
  // a failed one failed(); then jobDone().
  void runCancellable(const QString& operation,
                      const std::function<std::function<void()>(const Backend::Progress&)>& job);

  std::unique_ptr<Backend> backend_;
  QMutex mutex_;
  std::optional<RenderRequest> pending_;
  QMap<QString, RenderRequest> thumbnails_;  // waiting side renders by tag
  bool scheduled_ = false;
  std::atomic<bool> cancel_{false};
  std::atomic<int> rendered_count_{0};
  // Freed pages are kept for the next frame; handed back once a minute, and
  // whenever more than 1 GiB are kept.
  gg::MemoryReleaseTimer release_memory_{60, int64_t{1} << 30};
  std::atomic<int> dropped_count_{0};
};

// GUI-side owner of the worker and its thread. Assigns request ids; the
// worker's EngineEvents arrive here, on the GUI thread.
class EngineHost : public EngineEvents {
  Q_OBJECT
 public:
  // nullptr: the real engine.
  explicit EngineHost(std::unique_ptr<Backend> backend = nullptr, QObject* parent = nullptr);
  ~EngineHost() override;

  quint64 request(RenderRequest request);  // returns the id given to it
  // A side render: answered by thumbnailRendered(tag, ...), never by
  // rendered() (it is not an edit).
  void thumbnail(const QString& tag, const RenderRequest& request) { worker_->submitThumbnail(tag, request); }
  quint64 latestId() const { return next_id_ - 1; }
  void loadModel(const QString& package_dir, const QString& device = QStringLiteral("cpu"));
  void invert(const QString& path, const QString& prompt, int steps, bool plus, bool pti);
  void exportPath(const RenderRequest& request, int frames, const QString& path);
  void restoreRecipe(const QJsonObject& recipe);
  void drag(const DragRequest& request);
  void cancel() { worker_->cancel(); }
  EngineWorker* worker() const { return worker_; }
  bool busy() const { return busy_ > 0; }

 Q_SIGNALS:
  void busyChanged(bool busy);

 private:
  void jobStarted();
  void jobEnded();
  QThread thread_;
  EngineWorker* worker_;
  quint64 next_id_ = 1;
  int busy_ = 0;
};

}  // namespace gg::ui

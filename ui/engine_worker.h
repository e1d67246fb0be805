// The engine on its own thread. EngineWorker owns the backend (so the GUI
// thread never touches a tensor), reports through signals, cancels long jobs
// on an atomic flag (a queued cancel slot would never run while the worker is
// busy), and COALESCES renders: a request waits in a one-slot mailbox, a newer
// one replaces it, so a slider drag never queues a backlog and the worker
// always renders the latest request.
// Ref: STYLE.md "Threads and the UI"; Qt's Mandelbrot example (renderthread)
// and the worker-object snippet in QThread's documentation.
#pragma once
#include <QMutex>
#include <QObject>
#include <QThread>
#include <atomic>
#include <memory>
#include <optional>

#include "engine_backend.h"
#include "runtime.h"

namespace gg::ui {

class EngineWorker : public QObject {
  Q_OBJECT
 public:
  explicit EngineWorker(std::unique_ptr<Backend> backend);
  ~EngineWorker() override;

  // Thread-safe, from any thread: replaces any request still waiting (which
  // is reported through dropped()) and wakes the worker.
  void submit(const RenderRequest& request);
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
  void modelLoaded(const gg::ui::ModelInfo& info);
  void rendered(const gg::ui::RenderResult& result);
  void dropped(quint64 id);
  // operation: "load", "render", "invert", "export", "recipe"; the message
  // says what went wrong and what to do. The worker keeps its previous state.
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
  // After every load / invert / export / recipe / drag job, whatever its outcome.
  void jobDone(const QString& operation);

 private:
  void processPending();
  Backend::Progress progressFor(const QString& operation);

  std::unique_ptr<Backend> backend_;
  QMutex mutex_;
  std::optional<RenderRequest> pending_;
  bool scheduled_ = false;
  std::atomic<bool> cancel_{false};
  std::atomic<int> rendered_count_{0};
  // Freed pages are kept for the next frame; handed back once a minute at most.
  gg::MemoryReleaseTimer release_memory_{60};
  std::atomic<int> dropped_count_{0};
};

// GUI-side owner of the worker and its thread. Assigns request ids; signals
// arrive on the GUI thread.
class EngineHost : public QObject {
  Q_OBJECT
 public:
  // nullptr: the real engine.
  explicit EngineHost(std::unique_ptr<Backend> backend = nullptr, QObject* parent = nullptr);
  ~EngineHost() override;

  quint64 request(RenderRequest request);  // returns the id given to it
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
  void modelLoaded(const gg::ui::ModelInfo& info);
  void rendered(const gg::ui::RenderResult& result);
  void dropped(quint64 id);
  void failed(const QString& operation, const QString& message, quint64 id);
  void progress(const QString& operation, int step, int total, double value);
  void inverted(const gg::ui::InvertResult& result);
  void exported(const QString& path);
  void cancelled(const QString& operation);
  void recipeRestored(const gg::ui::RenderRequest& request);
  void dragFrame(const gg::ui::DragFrame& frame);
  void dragged(const gg::ui::DragOutcome& outcome);
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

#include "engine_worker.h"

#include <QElapsedTimer>
#include <QMetaMethod>
#include <QMutexLocker>

#include <exception>

namespace gg::ui {

namespace {
void registerTypes() {
  static const bool once = [] {
    qRegisterMetaType<RenderRequest>();
    qRegisterMetaType<RenderResult>();
    qRegisterMetaType<ModelInfo>();
    qRegisterMetaType<InvertResult>();
    qRegisterMetaType<DragRequest>();
    qRegisterMetaType<DragFrame>();
    qRegisterMetaType<DragOutcome>();
    return true;
  }();
  (void)once;
}
}  // namespace

EngineWorker::EngineWorker(std::unique_ptr<Backend> backend) : backend_(std::move(backend)) { registerTypes(); }

EngineWorker::~EngineWorker() = default;

void EngineWorker::submit(const RenderRequest& request) {
  std::optional<quint64> stale;
  bool wake = false;
  {
    QMutexLocker lock(&mutex_);
    if (pending_) stale = pending_->id;
    pending_ = request;
    if (!scheduled_) {
      scheduled_ = true;
      wake = true;
    }
  }
  if (stale) {
    dropped_count_.fetch_add(1);
    Q_EMIT dropped(*stale);
  }
  if (wake) QMetaObject::invokeMethod(this, &EngineWorker::processPending, Qt::QueuedConnection);
}

void EngineWorker::submitThumbnail(const QString& tag, const RenderRequest& request) {
  bool wake = false;
  {
    QMutexLocker lock(&mutex_);
    thumbnails_.insert(tag, request);
    if (!scheduled_) {
      scheduled_ = true;
      wake = true;
    }
  }
  if (wake) QMetaObject::invokeMethod(this, &EngineWorker::processPending, Qt::QueuedConnection);
}

// Runs on the worker thread: renders the newest waiting request, then looks
// again (a request that arrived meanwhile replaced any older one); side
// renders (thumbnails) go after it.
void EngineWorker::processPending() {
  for (;;) {
    RenderRequest r;
    QString thumbnail;
    {
      QMutexLocker lock(&mutex_);
      if (pending_) {
        r = *pending_;
        pending_.reset();
      } else if (!thumbnails_.isEmpty()) {
        thumbnail = thumbnails_.firstKey();
        r = thumbnails_.take(thumbnail);
      } else {
        scheduled_ = false;
        return;
      }
    }
    try {
      QElapsedTimer t;
      t.start();
      RenderResult res = backend_->render(r);
      res.id = r.id;
      res.request = r;
      res.ms = double(t.nsecsElapsed()) * 1e-6;
      if (!thumbnail.isEmpty()) {
        Q_EMIT thumbnailRendered(thumbnail, res);
      } else {
        rendered_count_.fetch_add(1);
        Q_EMIT rendered(res);
      }
    } catch (const std::exception& e) {
      if (!thumbnail.isEmpty()) {
        RenderResult none;
        none.request = r;
        Q_EMIT thumbnailRendered(thumbnail, none);
      } else {
        Q_EMIT failed(QStringLiteral("render"), QString::fromUtf8(e.what()), r.id);
      }
    }
    release_memory_.poll();
  }
}

Backend::Progress EngineWorker::progressFor(const QString& operation) {
  cancel_.store(false);
  return [this, operation](int step, int total, double value) {
    Q_EMIT progress(operation, step, total, value);
    return !cancel_.load();
  };
}

void EngineWorker::loadModel(const QString& package_dir, const QString& device) {
  try {
    const ModelInfo info = backend_->load(package_dir, device);
    Q_EMIT modelLoaded(info);
  } catch (const std::exception& e) {
    Q_EMIT failed(QStringLiteral("load"), QString::fromUtf8(e.what()), 0);
  }
  Q_EMIT jobDone(QStringLiteral("load"));
}

void EngineWorker::runCancellable(const QString& operation,
                                  const std::function<std::function<void()>(const Backend::Progress&)>& job) {
  try {
    const std::function<void()> report = job(progressFor(operation));
    if (cancel_.load())
      Q_EMIT cancelled(operation);
    else
      report();
  } catch (const std::exception& e) {
    if (cancel_.load())
      Q_EMIT cancelled(operation);
    else
      Q_EMIT failed(operation, QString::fromUtf8(e.what()), 0);
  }
  Q_EMIT jobDone(operation);
}

void EngineWorker::invert(const QString& path, const QString& prompt, int steps, bool plus, bool pti) {
  runCancellable(QStringLiteral("invert"), [&](const Backend::Progress& progress) -> std::function<void()> {
    const InvertResult res = backend_->invert(path, prompt, steps, plus, pti, progress);
    return [this, res] { Q_EMIT inverted(res); };
  });
}

void EngineWorker::exportPath(const RenderRequest& request, int frames, const QString& path) {
  runCancellable(QStringLiteral("export"), [&](const Backend::Progress& progress) -> std::function<void()> {
    backend_->exportPath(request, frames, path, progress);
    return [this, path] { Q_EMIT exported(path); };
  });
}

void EngineWorker::restoreRecipe(const QJsonObject& recipe) {
  try {
    Q_EMIT recipeRestored(backend_->requestFromRecipe(recipe));
  } catch (const std::exception& e) {
    Q_EMIT failed(QStringLiteral("recipe"), QString::fromUtf8(e.what()), 0);
  }
  Q_EMIT jobDone(QStringLiteral("recipe"));
}

void EngineWorker::drag(const DragRequest& request) {
  cancel_.store(false);
  try {
    const DragOutcome out = backend_->drag(request, [this](const DragFrame& f) {
      if (!f.image.isNull()) Q_EMIT dragFrame(f);
      return !cancel_.load();
    });
    Q_EMIT dragged(out);
  } catch (const std::exception& e) {
    Q_EMIT failed(QStringLiteral("drag"), QString::fromUtf8(e.what()), 0);
  }
  Q_EMIT jobDone(QStringLiteral("drag"));
}

// ---- EngineHost

EngineHost::EngineHost(std::unique_ptr<Backend> backend, QObject* parent)
    : EngineEvents(parent), worker_(new EngineWorker(backend ? std::move(backend) : makeEngineBackend())) {
  thread_.setObjectName(QStringLiteral("gigagan-engine"));
  worker_->moveToThread(&thread_);
  connect(&thread_, &QThread::finished, worker_, &QObject::deleteLater);
  // Every EngineEvents signal of the worker re-emitted by the host (queued:
  // the worker lives on its thread).
  const QMetaObject& events = EngineEvents::staticMetaObject;
  for (int i = events.methodOffset(); i < events.methodCount(); ++i) {
    const QMetaMethod signal = events.method(i);
    if (signal.methodType() == QMetaMethod::Signal) connect(worker_, signal, this, signal);
  }
  connect(worker_, &EngineWorker::jobDone, this, &EngineHost::jobEnded);
  thread_.start();
}

EngineHost::~EngineHost() {
  worker_->cancel();
  thread_.quit();
  thread_.wait();
}

quint64 EngineHost::request(RenderRequest r) {
  r.id = next_id_++;
  worker_->submit(r);
  return r.id;
}

void EngineHost::jobStarted() {
  if (busy_++ == 0) Q_EMIT busyChanged(true);
}
void EngineHost::jobEnded() {
  if (busy_ > 0 && --busy_ == 0) Q_EMIT busyChanged(false);
}

void EngineHost::loadModel(const QString& package_dir, const QString& device) {
  jobStarted();
  QMetaObject::invokeMethod(worker_, "loadModel", Qt::QueuedConnection, Q_ARG(QString, package_dir),
                            Q_ARG(QString, device));
}

void EngineHost::invert(const QString& path, const QString& prompt, int steps, bool plus, bool pti) {
  jobStarted();
  QMetaObject::invokeMethod(worker_, "invert", Qt::QueuedConnection, Q_ARG(QString, path), Q_ARG(QString, prompt),
                            Q_ARG(int, steps),
                            Q_ARG(bool, plus), Q_ARG(bool, pti));
}

void EngineHost::exportPath(const RenderRequest& request, int frames, const QString& path) {
  jobStarted();
  QMetaObject::invokeMethod(worker_, "exportPath", Qt::QueuedConnection, Q_ARG(gg::ui::RenderRequest, request),
                            Q_ARG(int, frames), Q_ARG(QString, path));
}

void EngineHost::drag(const DragRequest& request) {
  jobStarted();
  QMetaObject::invokeMethod(worker_, "drag", Qt::QueuedConnection, Q_ARG(gg::ui::DragRequest, request));
}

void EngineHost::restoreRecipe(const QJsonObject& recipe) {
  jobStarted();
  QMetaObject::invokeMethod(worker_, "restoreRecipe", Qt::QueuedConnection, Q_ARG(QJsonObject, recipe));
}

}  // namespace gg::ui

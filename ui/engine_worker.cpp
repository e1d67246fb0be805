#include "engine_worker.h"

#include <QElapsedTimer>
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

// Runs on the worker thread: renders the newest waiting request, then looks
// again (a request that arrived meanwhile replaced any older one).
void EngineWorker::processPending() {
  for (;;) {
    RenderRequest r;
    {
      QMutexLocker lock(&mutex_);
      if (!pending_) {
        scheduled_ = false;
        return;
      }
      r = *pending_;
      pending_.reset();
    }
    try {
      QElapsedTimer t;
      t.start();
      RenderResult res = backend_->render(r);
      res.id = r.id;
      res.request = r;
      res.ms = double(t.nsecsElapsed()) * 1e-6;
      rendered_count_.fetch_add(1);
      Q_EMIT rendered(res);
    } catch (const std::exception& e) {
      Q_EMIT failed(QStringLiteral("render"), QString::fromUtf8(e.what()), r.id);
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

void EngineWorker::invert(const QString& path, const QString& prompt, int steps, bool plus, bool pti) {
  try {
    auto cb = progressFor(QStringLiteral("invert"));
    InvertResult res = backend_->invert(path, prompt, steps, plus, pti, cb);
    if (cancel_.load())
      Q_EMIT cancelled(QStringLiteral("invert"));
    else
      Q_EMIT inverted(res);
  } catch (const std::exception& e) {
    if (cancel_.load())
      Q_EMIT cancelled(QStringLiteral("invert"));
    else
      Q_EMIT failed(QStringLiteral("invert"), QString::fromUtf8(e.what()), 0);
  }
  Q_EMIT jobDone(QStringLiteral("invert"));
}

void EngineWorker::exportPath(const RenderRequest& request, int frames, const QString& path) {
  try {
    auto cb = progressFor(QStringLiteral("export"));
    backend_->exportPath(request, frames, path, cb);
    if (cancel_.load())
      Q_EMIT cancelled(QStringLiteral("export"));
    else
      Q_EMIT exported(path);
  } catch (const std::exception& e) {
    if (cancel_.load())
      Q_EMIT cancelled(QStringLiteral("export"));
    else
      Q_EMIT failed(QStringLiteral("export"), QString::fromUtf8(e.what()), 0);
  }
  Q_EMIT jobDone(QStringLiteral("export"));
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
    : QObject(parent), worker_(new EngineWorker(backend ? std::move(backend) : makeEngineBackend())) {
  thread_.setObjectName(QStringLiteral("gigagan-engine"));
  worker_->moveToThread(&thread_);
  connect(&thread_, &QThread::finished, worker_, &QObject::deleteLater);
  connect(worker_, &EngineWorker::modelLoaded, this, &EngineHost::modelLoaded);
  connect(worker_, &EngineWorker::rendered, this, &EngineHost::rendered);
  connect(worker_, &EngineWorker::dropped, this, &EngineHost::dropped);
  connect(worker_, &EngineWorker::failed, this, &EngineHost::failed);
  connect(worker_, &EngineWorker::progress, this, &EngineHost::progress);
  connect(worker_, &EngineWorker::inverted, this, &EngineHost::inverted);
  connect(worker_, &EngineWorker::exported, this, &EngineHost::exported);
  connect(worker_, &EngineWorker::cancelled, this, &EngineHost::cancelled);
  connect(worker_, &EngineWorker::recipeRestored, this, &EngineHost::recipeRestored);
  connect(worker_, &EngineWorker::dragFrame, this, &EngineHost::dragFrame);
  connect(worker_, &EngineWorker::dragged, this, &EngineHost::dragged);
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

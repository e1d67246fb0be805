#include "train_process.h"

#include <QCoreApplication>
#include <QDateTime>
#include <QDir>
#include <QFileInfo>
#include <QRegularExpression>
#include <QStandardPaths>

#include <unistd.h>

namespace gg::ui {

namespace {
// The wrapper's own last line, carrying the trainer's exit code through the pipe.
const char* kExitMarker = "gigagan-studio: trainer exited with code ";
}  // namespace

QStringList TrainSettings::arguments() const {
  QStringList a{"train", "--data", data, "--config", config, "--out", out};
  if (images > 0) a << "--images" << QString::number(images);
  if (batch > 0) a << "--batch" << QString::number(batch);
  if (!init.isEmpty()) a << "--init" << init;
  if (!clip.isEmpty()) a << "--clip" << clip;
  if (checkpoint_every > 0) a << "--checkpoint-every" << QString::number(checkpoint_every);
  if (!augment.isEmpty()) a << "--augment" << augment.join(',');
  if (lr > 0) a << "--lr" << QString::number(lr, 'g', 6);
  if (!vision_backbone.isEmpty()) a << "--vision-backbone" << vision_backbone;
  if (resume) a << "--resume";
  a << extra << "--progress" << "json";
  return a;
}

TrainProcess::TrainProcess(QObject* parent) : QObject(parent), cli_(defaultCli()) {}

TrainProcess::~TrainProcess() {
  if (process_ && !detached_ && process_->state() != QProcess::NotRunning) {
    // Not detached: the run ends with the studio ("stop" saves a checkpoint).
    send("stop");
    process_->waitForFinished(30000);
  }
  if (detached_ && process_) {
    // Leave the pipeline running: disown the QProcess so that its destructor
    // cannot kill it (the OS reclaims the pipes when the studio exits).
    process_->setParent(nullptr);
    process_ = nullptr;
  }
}

QString TrainProcess::defaultCli() {
  const QString env = qEnvironmentVariable("GIGAGAN_CLI");
  if (!env.isEmpty()) return env;
  const QString sibling = QCoreApplication::applicationDirPath() + "/gigagan";
  if (QFileInfo(sibling).isExecutable()) return sibling;
  const QString onPath = QStandardPaths::findExecutable("gigagan");
  return onPath.isEmpty() ? QStringLiteral("gigagan") : onPath;
}

qint64 TrainProcess::pid() const { return process_ ? process_->processId() : 0; }

bool TrainProcess::start(const TrainSettings& settings, QString* error) {
  if (running()) {
    if (error) *error = tr("A training run is already going on; stop it first.");
    return false;
  }
  const QString cli = QFileInfo(cli_).isAbsolute() ? cli_ : QStandardPaths::findExecutable(cli_);
  if (cli.isEmpty() || !QFileInfo(cli).isExecutable()) {
    if (error)
      *error = tr("The trainer '%1' was not found. Build it (ninja gigagan) or set GIGAGAN_CLI.").arg(cli_);
    return false;
  }
  if (log_path_.isEmpty()) {
    const QString dir = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation) + "/logs";
    QDir().mkpath(dir);
    log_path_ = dir + "/train-" + QDateTime::currentDateTime().toString("yyyyMMdd-HHmmss") + ".log";
  } else {
    QDir().mkpath(QFileInfo(log_path_).absolutePath());
  }
  if (process_) process_->deleteLater();
  process_ = new QProcess(this);
  process_->setProcessChannelMode(QProcess::MergedChannels);
  // Own session: a Ctrl+C in the studio's terminal or the terminal closing
  // does not reach the trainer.
  process_->setChildProcessModifier([] { ::setsid(); });
  connect(process_, &QProcess::readyRead, this, &TrainProcess::onReadyRead);
  connect(process_, &QProcess::finished, this, &TrainProcess::onFinished);
  connect(process_, &QProcess::errorOccurred, this, [this](QProcess::ProcessError err) {
    if (err == QProcess::FailedToStart) {
      last_error_ = tr("could not start /bin/sh: %1").arg(process_->errorString());
      onFinished();
    }
  });
  buffer_ = LineBuffer();
  exit_code_ = -1;
  saw_done_ = false;
  done_reason_.clear();
  last_error_.clear();
  last_line_.clear();
  // sh -c '{ trainer 2>&1; echo marker $?; } | tee -p -a LOG' LOG trainer args...
  const QString script = QStringLiteral("{ \"$@\" 2>&1; echo \"%1$?\"; } | tee -p -a \"$0\"").arg(kExitMarker);
  QStringList args{"-c", script, log_path_, cli};
  args << settings.arguments();
  process_->start("/bin/sh", args);
  setState(State::Running);
  Q_EMIT logLine(tr("$ %1 %2").arg(cli, settings.arguments().join(' ')));
  return true;
}

void TrainProcess::send(const char* word) {
  if (!process_ || process_->state() == QProcess::NotRunning) return;
  process_->write(QByteArray(word) + '\n');
}

void TrainProcess::pause() {
  if (state_ == State::Running) send("pause");
}
void TrainProcess::resume() {
  if (state_ == State::Paused) send("resume");
}
void TrainProcess::stop() {
  if (state_ == State::Running || state_ == State::Paused) {
    send("stop");
    setState(State::Stopping);
  }
}

void TrainProcess::detach() { detached_ = true; }

void TrainProcess::setState(State s) {
  if (s == state_) return;
  state_ = s;
  Q_EMIT stateChanged(s);
}

void TrainProcess::onReadyRead() {
  for (const QByteArray& line : buffer_.append(process_->readAll())) handleLine(line);
}

void TrainProcess::handleLine(const QByteArray& line) {
  if (line.startsWith(kExitMarker)) {
    exit_code_ = line.mid(int(qstrlen(kExitMarker))).trimmed().toInt();
    return;
  }
  if (line.trimmed().isEmpty()) return;
  QString err;
  const std::optional<TrainEvent> e = parseTrainEvent(line, &err);
  if (!e) {
    last_line_ = QString::fromUtf8(line).trimmed();
    Q_EMIT logLine(last_line_);
    return;
  }
  switch (e->type) {
    case TrainEvent::Type::Paused: setState(State::Paused); break;
    case TrainEvent::Type::Resumed: setState(State::Running); break;
    case TrainEvent::Type::Done:
      saw_done_ = true;
      done_reason_ = e->reason;
      break;
    case TrainEvent::Type::Error: last_error_ = e->message; break;
    default: break;
  }
  Q_EMIT event(*e);
}

void TrainProcess::onFinished() {
  if (state_ == State::Idle) return;
  if (process_) {
    for (const QByteArray& line : buffer_.append(process_->readAll())) handleLine(line);
    const QByteArray rest = buffer_.takeRest();
    if (!rest.isEmpty()) handleLine(rest);
  }
  const bool ok = saw_done_ && exit_code_ == 0;
  QString summary;
  if (ok) {
    summary = done_reason_ == "stopped" ? tr("Training stopped; the last checkpoint is saved.")
                                        : tr("Training finished.");
  } else if (!last_error_.isEmpty()) {
    summary = tr("Training failed: %1").arg(last_error_);
  } else if (exit_code_ > 0 && exit_code_ < 128 && !last_line_.isEmpty()) {
    summary = tr("Training failed: %1").arg(last_line_);
  } else if (exit_code_ > 128) {
    summary = tr("The trainer died (signal %1). Its log: %2").arg(exit_code_ - 128).arg(log_path_);
  } else {
    summary = tr("The trainer exited with code %1 before finishing. Its log: %2").arg(exit_code_).arg(log_path_);
  }
  setState(State::Idle);
  Q_EMIT finished(ok, summary);
}

}  // namespace gg::ui

// A `gigagan train ... --progress json` child process followed by the Train
// tab (protocol: train_protocol.h). The trainer runs in its own session, its output (stdout
// and stderr) goes through `tee -p` into a log file as well, so that "keep
// running in the background" survives the studio closing: tee keeps writing
// the file after the studio's end of the pipe is gone. Control words go to the
// trainer's stdin. A crash of the trainer cannot take the studio down.
#pragma once
#include <QObject>
#include <QProcess>
#include <QStringList>

#include "train_protocol.h"

namespace gg::ui {

struct TrainSettings {
  QString data;       // --data DIR
  QString config = "emoji64";  // --config tiny|emoji64|PATH
  QString out;        // --out RUN
  qint64 images = 0;  // --images N (0: the trainer's default)
  int batch = 0;      // --batch B (0: default)
  QString init;       // --init PACKAGE_OR_CHECKPOINT ("" = from scratch)
  QString clip;       // --clip: a model package, a train-clip run, a CLIP file, or "random"
  qint64 checkpoint_every = 0;  // --checkpoint-every N images (0: the trainer's default)
  QStringList augment;  // --augment color,translation,cutout (empty: default)
  double lr = 0.0;    // --lr F (0: default)
  QString vision_backbone;  // --vision-backbone clip|inception_v3 ("": the config's)
  bool resume = false;
  QStringList extra;  // further arguments, passed as is
  // "train --data ... --progress json"
  QStringList arguments() const;
};

class TrainProcess : public QObject {
  Q_OBJECT
 public:
  enum class State { Idle, Running, Paused, Stopping };
  Q_ENUM(State)

  explicit TrainProcess(QObject* parent = nullptr);
  ~TrainProcess() override;

  // The `gigagan` executable: $GIGAGAN_CLI, else next to this program, else on PATH.
  static QString defaultCli();
  void setCli(const QString& path) { cli_ = path; }
  QString cli() const { return cli_; }
  // Where the copy of the trainer's output goes (default: <AppData>/logs/train-<time>.log).
  void setLogPath(const QString& path) { log_path_ = path; }
  QString logPath() const { return log_path_; }

  // Starts the trainer; false (with `error`) when one runs already or the
  // executable is missing.
  bool start(const TrainSettings& settings, QString* error = nullptr);
  void pause();
  void resume();
  void stop();  // "stop": the trainer saves a checkpoint, then exits 0
  // Lets the run go on after the studio exits: the process is no longer
  // killed when this object is destroyed.
  void detach();

  State state() const { return state_; }
  bool running() const { return state_ != State::Idle; }
  // Exit code of the trainer itself (not of the pipeline); -1 until it ended.
  int exitCode() const { return exit_code_; }
  qint64 pid() const;

 Q_SIGNALS:
  void event(const gg::ui::TrainEvent& e);
  void logLine(const QString& line);  // a non-protocol line (stderr text, messages)
  void stateChanged(gg::ui::TrainProcess::State state);
  // The run ended. `ok`: it finished or was stopped cleanly ("done" seen and
  // exit code 0); `summary` says how, for the status bar.
  void finished(bool ok, const QString& summary);

 private:
  void onReadyRead();
  void onFinished();
  void handleLine(const QByteArray& line);
  void setState(State s);
  void send(const char* word);

  QString cli_;
  QString log_path_;
  QProcess* process_ = nullptr;
  LineBuffer buffer_;
  State state_ = State::Idle;
  int exit_code_ = -1;
  bool saw_done_ = false;
  QString done_reason_;
  QString last_error_;
  QString last_line_;  // the last non-protocol line (a trainer that fails early prints its error as text)
  bool detached_ = false;
};

}  // namespace gg::ui

// The progress protocol: lines of `gigagan train --progress json`, one JSON
// object per line on stdout, parsed into typed events for the Train tab.
// The writer's side is training/run.h.
#pragma once
#include <QByteArray>
#include <QJsonObject>
#include <QList>
#include <QMap>
#include <QMetaType>
#include <QString>
#include <optional>

namespace gg::ui {

struct TrainEvent {
  enum class Type { Start, Step, Sample, Checkpoint, Paused, Resumed, Warning, Error, Done, Unknown };
  Type type = Type::Unknown;
  QString name;  // the "event" field as written
  // start
  QString run_dir, mode, config;
  qint64 images_target = 0;
  bool resumed = false;
  // step / sample / checkpoint / done
  qint64 images = 0;
  qint64 step = 0;
  double images_per_s = 0.0;
  double eta_s = 0.0;
  double lr = 0.0;
  QMap<QString, double> losses;
  QString path;        // sample grid or checkpoint file
  QString package;     // checkpoint: its model-package folder
  QString reason;      // done: "finished" | "stopped"
  QString checkpoint;  // done: the last checkpoint
  QString message;     // warning / error
  QJsonObject raw;
};

// One line -> an event. Returns nullopt, with `error` set, for a line that is
// not a JSON object with a string "event" (the tab shows such lines as log
// text); an object with an unknown event name parses as Type::Unknown.
std::optional<TrainEvent> parseTrainEvent(const QByteArray& line, QString* error = nullptr);

// Splits a byte stream into complete lines (a partial last line is kept until
// its newline arrives); "\r\n" and "\n" both end a line.
class LineBuffer {
 public:
  QList<QByteArray> append(const QByteArray& bytes);
  QByteArray takeRest();  // the unterminated tail, e.g. when the process ends

 private:
  QByteArray pending_;
};

// "3 min 20 s", "1 h 05 min", "12 s" (for ETA labels).
QString formatDuration(double seconds);

}  // namespace gg::ui

Q_DECLARE_METATYPE(gg::ui::TrainEvent)

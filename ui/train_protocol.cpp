#include "train_protocol.h"

#include <QJsonDocument>
#include <QJsonParseError>
#include <cmath>

namespace gg::ui {

namespace {
TrainEvent::Type typeOf(const QString& name) {
  static const QMap<QString, TrainEvent::Type> types = {
      {"start", TrainEvent::Type::Start},       {"step", TrainEvent::Type::Step},
      {"sample", TrainEvent::Type::Sample},     {"checkpoint", TrainEvent::Type::Checkpoint},
      {"paused", TrainEvent::Type::Paused},     {"resumed", TrainEvent::Type::Resumed},
      {"warning", TrainEvent::Type::Warning},   {"error", TrainEvent::Type::Error},
      {"done", TrainEvent::Type::Done}};
  return types.value(name, TrainEvent::Type::Unknown);
}
}  // namespace

std::optional<TrainEvent> parseTrainEvent(const QByteArray& line, QString* error) {
  const QByteArray text = line.trimmed();
  QJsonParseError perr;
  const QJsonDocument doc = QJsonDocument::fromJson(text, &perr);
  if (perr.error != QJsonParseError::NoError || !doc.isObject()) {
    if (error) *error = perr.error != QJsonParseError::NoError ? perr.errorString() : QStringLiteral("not a JSON object");
    return std::nullopt;
  }
  const QJsonObject o = doc.object();
  if (!o.value("event").isString()) {
    if (error) *error = QStringLiteral("no \"event\" field");
    return std::nullopt;
  }
  TrainEvent e;
  e.raw = o;
  e.name = o.value("event").toString();
  e.type = typeOf(e.name);
  e.run_dir = o.value("run_dir").toString();
  e.mode = o.value("mode").toString();
  e.config = o.value("config").toString();
  e.images_target = qint64(o.value("images_target").toDouble());
  e.resumed = o.value("resumed").toBool();
  e.images = qint64(o.value("images").toDouble());
  e.step = qint64(o.value("step").toDouble());
  e.images_per_s = o.value("images_per_s").toDouble();
  e.eta_s = o.value("eta_s").toDouble();
  e.lr = o.value("lr").toDouble();
  const QJsonObject losses = o.value("losses").toObject();
  for (auto it = losses.begin(); it != losses.end(); ++it)
    if (it.value().isDouble()) e.losses.insert(it.key(), it.value().toDouble());
  e.path = o.value("path").toString();
  e.package = o.value("package").toString();
  e.reason = o.value("reason").toString();
  e.checkpoint = o.value("checkpoint").toString();
  e.message = o.value("message").toString();
  return e;
}

QList<QByteArray> LineBuffer::append(const QByteArray& bytes) {
  pending_.append(bytes);
  QList<QByteArray> lines;
  qsizetype start = 0;
  for (;;) {
    const qsizetype nl = pending_.indexOf('\n', start);
    if (nl < 0) break;
    QByteArray line = pending_.mid(start, nl - start);
    if (line.endsWith('\r')) line.chop(1);
    lines.append(line);
    start = nl + 1;
  }
  pending_.remove(0, start);
  return lines;
}

QByteArray LineBuffer::takeRest() {
  QByteArray rest = pending_;
  pending_.clear();
  if (rest.endsWith('\r')) rest.chop(1);
  return rest;
}

QString formatDuration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return QStringLiteral("–");
  const qint64 s = qint64(std::llround(seconds));
  if (s < 60) return QStringLiteral("%1 s").arg(s);
  if (s < 3600) return QStringLiteral("%1 min %2 s").arg(s / 60).arg(s % 60, 2, 10, QLatin1Char('0'));
  return QStringLiteral("%1 h %2 min").arg(s / 3600).arg((s % 3600) / 60, 2, 10, QLatin1Char('0'));
}

}  // namespace gg::ui

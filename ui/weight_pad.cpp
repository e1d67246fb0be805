#include "weight_pad.h"

#include <QMouseEvent>
#include <QPainter>
#include <QPainterPath>

#include <algorithm>

namespace gg::ui {

WeightPad::WeightPad(QWidget* parent) : QWidget(parent) {
  setMinimumSize(160, 140);
  setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
  setCursor(Qt::CrossCursor);
}

void WeightPad::setCorners(int n) {
  n_ = std::clamp(n, 3, 4);
  update();
}

void WeightPad::setPosition(QPointF p) {
  pos_ = QPointF(std::clamp(p.x(), 0.0, 1.0), std::clamp(p.y(), 0.0, 1.0));
  update();
}

QVector<double> WeightPad::weightsAt(int corners, QPointF p) {
  const double x = std::clamp(p.x(), 0.0, 1.0), y = std::clamp(p.y(), 0.0, 1.0);
  if (corners == 4) return {(1 - x) * (1 - y), x * (1 - y), (1 - x) * y, x * y};
  // Triangle: top centre (0.5, 0), bottom left (0, 1), bottom right (1, 1).
  // Barycentric coordinates, negatives clamped and renormalised.
  const double l0 = 1.0 - y;
  const double l2 = x - 0.5 * (1.0 - y);
  const double l1 = 1.0 - l0 - l2;
  QVector<double> w{std::max(0.0, l0), std::max(0.0, l1), std::max(0.0, l2)};
  const double s = w[0] + w[1] + w[2];
  for (double& v : w) v /= s > 0 ? s : 1.0;
  return w;
}

QRectF WeightPad::area() const { return QRectF(rect()).adjusted(18, 14, -18, -14); }

void WeightPad::paintEvent(QPaintEvent*) {
  QPainter p(this);
  p.setRenderHint(QPainter::Antialiasing);
  const QRectF a = area();
  p.fillRect(rect(), palette().base());
  QPainterPath shape;
  QVector<QPointF> corners;
  if (n_ == 4) {
    corners = {a.topLeft(), a.topRight(), a.bottomLeft(), a.bottomRight()};
    shape.addRect(a);
  } else {
    corners = {QPointF(a.center().x(), a.top()), a.bottomLeft(), a.bottomRight()};
    shape.moveTo(corners[0]);
    shape.lineTo(corners[1]);
    shape.lineTo(corners[2]);
    shape.closeSubpath();
  }
  p.fillPath(shape, QColor(45, 47, 54));
  p.setPen(QPen(QColor(120, 122, 130), 1));
  p.drawPath(shape);
  const QVector<double> w = weights();
  for (int i = 0; i < corners.size(); ++i) {
    p.setBrush(QColor(90, 150, 230, 60 + int(195 * w.value(i))));
    p.setPen(Qt::NoPen);
    p.drawEllipse(corners[i], 7, 7);
    p.setPen(palette().color(QPalette::Text));
    p.drawText(corners[i] + QPointF(i % 2 == 0 && !(n_ == 3 && i == 2) ? -14 : 9, -6), QString::number(i + 1));
  }
  const QPointF dot(a.left() + pos_.x() * a.width(), a.top() + pos_.y() * a.height());
  p.setBrush(QColor(255, 210, 80));
  p.setPen(QPen(Qt::black, 1));
  p.drawEllipse(dot, 6, 6);
}

void WeightPad::moveTo(QPointF wp) {
  const QRectF a = area();
  setPosition(QPointF((wp.x() - a.left()) / a.width(), (wp.y() - a.top()) / a.height()));
  Q_EMIT moved(pos_);
}

void WeightPad::mousePressEvent(QMouseEvent* e) { moveTo(e->position()); }
void WeightPad::mouseMoveEvent(QMouseEvent* e) {
  if (e->buttons() & Qt::LeftButton) moveTo(e->position());
}

}  // namespace gg::ui

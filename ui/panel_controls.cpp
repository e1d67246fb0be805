#include "panel_controls.h"

#include <QDoubleSpinBox>
#include <QHBoxLayout>
#include <QPainter>
#include <QRandomGenerator>
#include <QSignalBlocker>
#include <QSlider>
#include <QSpinBox>
#include <QToolButton>

#include <algorithm>
#include <cmath>

namespace gg::ui {

namespace {
// A die showing five, painted.
QIcon diceIcon() {
  QPixmap pm(36, 36);
  pm.fill(Qt::transparent);
  QPainter p(&pm);
  p.setRenderHint(QPainter::Antialiasing);
  p.setPen(QPen(QColor(200, 202, 210), 2.5));
  p.setBrush(QColor(70, 72, 80));
  p.drawRoundedRect(QRectF(3, 3, 30, 30), 7, 7);
  p.setPen(Qt::NoPen);
  p.setBrush(QColor(235, 236, 240));
  for (const QPointF& c : {QPointF(11, 11), QPointF(25, 11), QPointF(18, 18), QPointF(11, 25), QPointF(25, 25)})
    p.drawEllipse(c, 2.8, 2.8);
  return QIcon(pm);
}
}  // namespace

QToolButton* diceButton(QWidget* parent) {
  auto* b = new QToolButton(parent);
  b->setIcon(diceIcon());
  b->setIconSize(QSize(18, 18));
  b->setToolTip(QObject::tr("Random seed"));
  b->setAutoRaise(true);
  return b;
}

QSpinBox* makeSeedSpin(QWidget* parent) {
  auto* s = new QSpinBox(parent);
  s->setRange(0, kMaxSeed);
  s->setPrefix(QObject::tr("seed "));
  s->setKeyboardTracking(false);  // a typed seed renders once, on Enter
  s->setMinimumWidth(110);
  s->setMaximumWidth(130);
  return s;
}

int randomSeed() { return int(QRandomGenerator::global()->bounded(100000)); }

double SliderSpin::value() const { return exact->value_or(spin->value()); }

void SliderSpin::set(double value) const {
  const QSignalBlocker b1(slider), b2(spin);
  spin->setValue(value);
  slider->setValue(int(std::lround(value * 100)));
  if (spin->value() == value)
    exact->reset();
  else
    *exact = value;
}

SliderSpin makeSliderSpin(QWidget* parent, double min, double max, double step, const QString& tip,
                          const std::function<void()>& moved) {
  SliderSpin s;
  s.row = new QWidget(parent);
  auto* l = new QHBoxLayout(s.row);
  l->setContentsMargins(0, 0, 0, 0);
  s.slider = new QSlider(Qt::Horizontal, parent);
  s.slider->setRange(int(std::lround(min * 100)), int(std::lround(max * 100)));
  s.spin = new QDoubleSpinBox(parent);
  s.spin->setRange(min, max);
  s.spin->setSingleStep(step);
  s.spin->setDecimals(2);
  // A typed value renders once, on Enter or when the field loses focus (not
  // at every keystroke: each would be a history entry).
  s.spin->setKeyboardTracking(false);
  s.spin->setToolTip(tip);
  s.slider->setToolTip(tip);
  l->addWidget(s.slider, 1);
  l->addWidget(s.spin);
  QSlider* slider = s.slider;
  QDoubleSpinBox* spin = s.spin;
  const auto exact = s.exact;
  QObject::connect(slider, &QSlider::valueChanged, spin, [spin, moved, exact](int v) {
    const QSignalBlocker b(spin);
    spin->setValue(v / 100.0);
    exact->reset();
    moved();
  });
  QObject::connect(spin, &QDoubleSpinBox::valueChanged, slider, [slider, moved, exact](double v) {
    const QSignalBlocker b(slider);
    slider->setValue(int(std::lround(v * 100)));
    exact->reset();
    moved();
  });
  return s;
}

QWidget* hboxRow(QWidget* parent, const QList<QPair<QWidget*, int>>& widgets) {
  auto* w = new QWidget(parent);
  auto* l = new QHBoxLayout(w);
  l->setContentsMargins(0, 0, 0, 0);
  for (const auto& [widget, stretch] : widgets) l->addWidget(widget, stretch);
  return w;
}

QPixmap crispPixmap(const QImage& image, QSize box) {
  if (image.isNull() || box.isEmpty()) return {};
  const int k = std::min(box.width() / std::max(1, image.width()), box.height() / std::max(1, image.height()));
  if (k >= 1) return QPixmap::fromImage(image.scaled(image.size() * k, Qt::KeepAspectRatio, Qt::FastTransformation));
  return QPixmap::fromImage(image.scaled(box, Qt::KeepAspectRatio, Qt::SmoothTransformation));
}

}  // namespace gg::ui

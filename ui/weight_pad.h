// The Interpolate panel's 2-D pad: a point in a square (4 prompts) or a
// triangle (3) gives each prompt its weight.
#pragma once
#include <QPointF>
#include <QVector>
#include <QWidget>

namespace gg::ui {

// Weights of 3 or 4 prompts from a point in a square (4: bilinear over the
// corners) or a triangle (3: barycentric, clamped to the triangle).
class WeightPad : public QWidget {
  Q_OBJECT
 public:
  explicit WeightPad(QWidget* parent = nullptr);
  void setCorners(int n);  // 3 or 4
  int corners() const { return n_; }
  QPointF position() const { return pos_; }
  void setPosition(QPointF p);  // no signal
  QVector<double> weights() const { return weightsAt(n_, pos_); }
  static QVector<double> weightsAt(int corners, QPointF p);  // p in [0,1]^2
  QSize sizeHint() const override { return {200, 170}; }
 Q_SIGNALS:
  void moved(QPointF position);

 protected:
  void paintEvent(QPaintEvent*) override;
  void mousePressEvent(QMouseEvent* e) override;
  void mouseMoveEvent(QMouseEvent* e) override;

 private:
  QRectF area() const;
  void moveTo(QPointF widget_pos);
  int n_ = 4;
  QPointF pos_{0.5, 0.5};
};

}  // namespace gg::ui

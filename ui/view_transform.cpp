#include "view_transform.h"

#include <algorithm>
#include <cmath>

namespace gg::ui {

void ViewTransform::fit() {
  // A margin around the image keeps it clear of the canvas's edges.
  const int margin = std::min(kFitMargin, std::min(viewport_.width(), viewport_.height()) / 8);
  const double zx = double(viewport_.width() - 2 * margin) / std::max(1, image_.width());
  const int inset = std::min(bottom_inset_, viewport_.height() / 4);
  const double zy = double(viewport_.height() - 2 * margin - inset) / std::max(1, image_.height());
  double z = std::min(zx, zy);
  if (z >= 1.0) {
    z = std::floor(z);  // integer zoom: pixel-exact
  } else {
    z = std::pow(2.0, std::floor(std::log2(z)));  // 1/2, 1/4, ...: still a clean ratio
  }
  zoom_ = std::clamp(z, kMinZoom, kMaxZoom);
  offset_ = QPointF((viewport_.width() - image_.width() * zoom_) / 2.0,
                    (viewport_.height() - inset - image_.height() * zoom_) / 2.0);
  clampOffset();
}

void ViewTransform::zoomAt(QPointF anchor, double factor) {
  const QPointF img = widgetToImage(anchor);
  zoom_ = std::clamp(zoom_ * factor, kMinZoom, kMaxZoom);
  offset_ = anchor - img * zoom_;
  clampOffset();
}

void ViewTransform::stepZoom(QPointF anchor, int steps) {
  double z = zoom_;
  for (int i = 0; i < std::abs(steps); ++i) {
    if (steps > 0) {
      z = z >= 1.0 ? std::floor(z + 1e-9) + 1.0 : std::pow(2.0, std::floor(std::log2(z) + 1e-9) + 1.0);
    } else {
      z = z > 1.0 + 1e-9 ? std::ceil(z - 1e-9) - 1.0 : std::pow(2.0, std::ceil(std::log2(z) - 1e-9) - 1.0);
    }
  }
  zoomAt(anchor, std::clamp(z, kMinZoom, kMaxZoom) / zoom_);
}

void ViewTransform::setZoom(double zoom) {
  zoomAt(QPointF(viewport_.width() / 2.0, viewport_.height() / 2.0), zoom / zoom_);
}

void ViewTransform::panBy(QPointF delta) {
  offset_ += delta;
  clampOffset();
}

QRectF ViewTransform::imageRect() const {
  return QRectF(std::round(offset_.x()), std::round(offset_.y()), image_.width() * zoom_,
                image_.height() * zoom_);
}

QPointF ViewTransform::widgetToImage(QPointF p) const {
  const QRectF r = imageRect();
  return QPointF((p.x() - r.x()) / zoom_, (p.y() - r.y()) / zoom_);
}

QPointF ViewTransform::imageToWidget(QPointF p) const {
  const QRectF r = imageRect();
  return QPointF(r.x() + p.x() * zoom_, r.y() + p.y() * zoom_);
}

// Keeps at least a quarter of the image (or 32 px) inside the view, so the
// image can never be panned out of reach.
void ViewTransform::clampOffset() {
  const double w = image_.width() * zoom_, h = image_.height() * zoom_;
  const double mx = std::min(w, std::max(32.0, w / 4)), my = std::min(h, std::max(32.0, h / 4));
  const auto clamp = [](double v, double lo, double hi) { return std::max(lo, std::min(v, std::max(lo, hi))); };
  offset_.setX(clamp(offset_.x(), mx - w, viewport_.width() - mx));
  offset_.setY(clamp(offset_.y(), my - h, viewport_.height() - my));
}

}  // namespace gg::ui

// Zoom and pan of the canvas: maps image pixels to widget pixels. Pure math,
// no GL, so it is tested on its own. At integer zoom (and integer offsets)
// every image pixel covers an exact square of screen pixels.
#pragma once
#include <QPointF>
#include <QRectF>
#include <QSize>

namespace gg::ui {

class ViewTransform {
 public:
  // Zoom limits (screen pixels per image pixel).
  static constexpr double kMinZoom = 0.125;
  static constexpr double kMaxZoom = 64.0;
  // Pixels kept free around the image by fit() (less in a small view).
  static constexpr int kFitMargin = 24;

  void setViewport(QSize viewport) { viewport_ = viewport; }
  void setImageSize(QSize image) { image_ = image; }
  // Extra room fit() leaves below the image (e.g. for the canvas's layer strip).
  void setBottomInset(int px) { bottom_inset_ = px; }
  QSize viewport() const { return viewport_; }
  QSize imageSize() const { return image_; }

  // The largest integer zoom that fits the image (at least 1 when the image
  // fits at all; a fraction for images larger than the view), centred.
  void fit();
  // Zooms by `factor` keeping the image point under `anchor` (widget pixels) fixed.
  void zoomAt(QPointF anchor, double factor);
  // Steps to the next integer zoom up/down (1/2, 1/4... below 1), anchored.
  void stepZoom(QPointF anchor, int steps);
  // Sets an exact zoom, centred on the view centre.
  void setZoom(double zoom);
  void panBy(QPointF delta_widget);

  double zoom() const { return zoom_; }
  QPointF offset() const { return offset_; }
  // The image rectangle in widget pixels (offsets rounded, so integer zoom is pixel-exact).
  QRectF imageRect() const;
  QPointF widgetToImage(QPointF p) const;
  QPointF imageToWidget(QPointF p) const;

 private:
  void clampOffset();
  QSize viewport_{1, 1};
  QSize image_{1, 1};
  double zoom_ = 1.0;
  QPointF offset_;  // widget position of the image's top-left corner
  int bottom_inset_ = 0;
};

}  // namespace gg::ui

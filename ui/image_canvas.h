// The studio's canvas: a QOpenGLWidget showing the current image (zoom, pan,
// nearest filtering, pixel-exact at integer zoom, no checkerboard) with a Dear
// ImGui overlay drawn inside the widget: a 2-D latent pad between four seeds
// (as NVIDIA's StyleGAN3 visualizer), a strip of the generator's layers
// coloured by the source that drives each (click toggles), and a performance
// readout. The canvas only displays and reports gestures; it never renders.
//
// The GL surface is a child QOpenGLWidget filling the canvas; its mouse and
// wheel events propagate to the canvas (QWidget's default handlers ignore
// them). Where the platform has no OpenGL (Qt's offscreen platform in tests,
// a remote X without GLX) the canvas paints the image itself with QPainter,
// without the overlay, instead of failing.
#pragma once
#include <QElapsedTimer>
#include <QImage>
#include <QWidget>
#include <QPointF>
#include <QStringList>
#include <QVector>
#include <deque>
#include <memory>

#include "view_transform.h"

namespace gg::ui {

class ImGuiLayer;

class GlSurface;

class ImageCanvas : public QWidget {
  Q_OBJECT
 public:
  explicit ImageCanvas(QWidget* parent = nullptr);
  ~ImageCanvas() override;

  // Shows `image`; the view is refitted when the size changes.
  void setImage(const QImage& image);
  const QImage& image() const { return image_; }
  // A line under the image when there is none yet (e.g. "Open a model...").
  void setPlaceholder(const QString& text);

  // Latent pad: four seeds at the corners (top-left, top-right, bottom-left,
  // bottom-right); position in [0,1]^2.
  void setLatentPad(quint64 base_seed, QPointF position);
  quint64 latentSeed() const { return latent_seed_; }
  QPointF latentPosition() const { return latent_pos_; }
  // Bilinear weights of the four corner seeds for a pad position, in corner order.
  static QVector<double> latentWeights(QPointF position);

  // Layer strip: one entry per generator slot ("8px.b1"); source 0 = A, 1 = B.
  void setLayers(const QStringList& names, const QVector<int>& sources);
  QVector<int> layerSources() const { return layer_sources_; }
  // Whether the image shown is a style mix: only then are the chips coloured
  // by source (A / B); otherwise one source drives every layer and they are grey.
  void setLayerMixShown(bool on);
  bool layerMixShown() const { return layer_mix_shown_; }

  // Performance readout: render time of the last frame and the device.
  void setPerf(double render_ms, const QString& device);
  void setOverlayVisible(bool on);
  bool overlayVisible() const { return overlay_visible_; }
  // True once the OpenGL3 backend of the overlay is running.
  bool overlayReady() const;
  // False where the platform has no OpenGL (the QPainter fallback is used).
  bool hasGl() const { return gl_ != nullptr; }
  // Whether this process can create an OpenGL context (cached; GIGAGAN_NO_GL=1 says no).
  static bool openGlAvailable();
  // Schedules a repaint of whichever surface shows the image.
  void refresh();

  // Drag tool (DragGAN point editing). With DragPoints a left click places a
  // handle, the next one its target (an arrow joins them), a right click
  // removes the last point; with DragMask the left button paints the region
  // allowed to move and the right button erases. The middle button pans in
  // both. Points are fractions of the shown image ([0,1]^2), so they stay put
  // when the image is upsampled or the view zooms.
  enum class Tool { View, DragPoints, DragMask };
  void setTool(Tool tool);
  Tool tool() const { return tool_; }
  void setDragPoints(const QVector<QPointF>& handles, const QVector<QPointF>& targets);  // no signal
  QVector<QPointF> dragHandles() const { return handles_; }
  QVector<QPointF> dragTargets() const { return targets_; }
  // Grayscale8, white = may move; null until something is painted.
  QImage dragMask() const { return mask_; }
  void setMaskResolution(int px);  // the mask's size (the generator's); clears it
  void setDragMask(const QImage& mask);  // scaled to that size; no signal
  void clearDragPoints();
  void clearDragMask();

  ViewTransform& view() { return view_; }
  // Frames shown per second over the last second.
  double shownFps() const;

 public Q_SLOTS:
  void fitView();
  void zoomActual();  // 100 %
  void zoomIn();
  void zoomOut();

 Q_SIGNALS:
  void latentPadChanged(quint64 base_seed, QPointF position);
  // Toggle request for layer `index` (the owner decides and calls setLayers).
  void layerToggled(int index);
  void zoomChanged(double zoom);
  void dragPointsChanged();
  void dragMaskChanged();

 protected:
  friend class GlSurface;
  void initializeGL();
  void paintGL();
  void paintEvent(QPaintEvent* e) override;  // the QPainter fallback
  void resizeEvent(QResizeEvent* e) override;
  void mousePressEvent(QMouseEvent* e) override;
  void mouseMoveEvent(QMouseEvent* e) override;
  void mouseReleaseEvent(QMouseEvent* e) override;
  void mouseDoubleClickEvent(QMouseEvent* e) override;
  void wheelEvent(QWheelEvent* e) override;
  void keyPressEvent(QKeyEvent* e) override;
  void keyReleaseEvent(QKeyEvent* e) override;
  void leaveEvent(QEvent* e) override;
  void focusOutEvent(QFocusEvent* e) override;

 private:
  void paintImage(QPainter& p);
  void paintDragOverlay(QPainter& p);
  void paintMask(QPointF widget_pos, bool erase);
  QPointF toFraction(QPointF widget_pos) const;
  void drawOverlay();
  void cleanupGL();
  void scheduleFrame();

  GlSurface* gl_ = nullptr;
  QImage image_;
  QString placeholder_;
  ViewTransform view_;
  bool fitted_ = false;
  bool user_view_ = false;  // zoomed or panned by the user: resizing keeps that view
  std::unique_ptr<ImGuiLayer> imgui_;
  bool overlay_visible_ = true;
  bool panning_ = false;
  QPointF last_mouse_;

  quint64 latent_seed_ = 0;
  QPointF latent_pos_{0.0, 0.0};
  QStringList layer_names_;
  QVector<int> layer_sources_;
  bool layer_mix_shown_ = false;
  double render_ms_ = 0.0;
  QString device_;
  std::deque<qint64> frame_times_;  // ms timestamps of shown frames
  QElapsedTimer clock_;
  int extra_frames_ = 0;  // ImGui needs a frame or two after input settles

  Tool tool_ = Tool::View;
  QVector<QPointF> handles_, targets_;
  QImage mask_;
  int mask_res_ = 64;
  bool painting_ = false, erasing_ = false;
};

}  // namespace gg::ui

#include "image_canvas.h"

#include <QKeyEvent>
#include <QMouseEvent>
#include <QOpenGLContext>
#include <QOpenGLWidget>
#include <QPainter>
#include <QTimer>
#include <QWheelEvent>

#include <imgui.h>

#include <algorithm>
#include <cmath>

#include "imgui_layer.h"

namespace gg::ui {

namespace {
const QColor kBackground(28, 29, 32);
// Source colours, shared with the Style Mix panel's legend.
const ImVec4 kSourceColour[2] = {ImVec4(0.26f, 0.52f, 0.90f, 1.0f), ImVec4(0.93f, 0.55f, 0.18f, 1.0f)};
// Chips of an image that is not a style mix (one source drives every layer).
const ImVec4 kNeutralChip(0.55f, 0.56f, 0.60f, 1.0f);

QString shortLayerLabel(const QString& name) {
  // "8px.b1" -> "8px·1", "upsampler" -> "up"; anything else as is.
  QString s = name;
  s.replace(QLatin1String("px.b"), QString::fromUtf8("px\u00b7"));
  if (s == QLatin1String("upsampler")) s = QStringLiteral("up");
  return s;
}
}  // namespace

// The GL child: forwards GL calls to the canvas and lets input through.
class GlSurface : public QOpenGLWidget {
 public:
  explicit GlSurface(ImageCanvas* canvas) : QOpenGLWidget(canvas), canvas_(canvas) {
    setMouseTracking(true);
    setFocusPolicy(Qt::NoFocus);
  }

 protected:
  void initializeGL() override { canvas_->initializeGL(); }
  void paintGL() override { canvas_->paintGL(); }

 private:
  ImageCanvas* canvas_;
};

bool ImageCanvas::openGlAvailable() {
  static const bool available = [] {
    if (qEnvironmentVariableIntValue("GIGAGAN_NO_GL") == 1) return false;
    QOpenGLContext probe;
    return probe.create();
  }();
  return available;
}

ImageCanvas::ImageCanvas(QWidget* parent) : QWidget(parent), imgui_(std::make_unique<ImGuiLayer>()) {
  setMouseTracking(true);
  setFocusPolicy(Qt::StrongFocus);
  setMinimumSize(320, 240);
  setAttribute(Qt::WA_OpaquePaintEvent);
  clock_.start();
  if (openGlAvailable()) {
    gl_ = new GlSurface(this);
    gl_->setGeometry(rect());
  }
}

ImageCanvas::~ImageCanvas() {
  // Free the overlay's GL objects now, while imgui_ still exists; then the GL
  // child goes before our members (its context's aboutToBeDestroyed must not
  // call back into a half-destroyed canvas).
  if (gl_) {
    if (gl_->context()) disconnect(gl_->context(), nullptr, this, nullptr);
    cleanupGL();
    delete gl_;
    gl_ = nullptr;
  }
}

void ImageCanvas::refresh() {
  if (gl_)
    gl_->update();
  else
    update();
}

void ImageCanvas::cleanupGL() {
  if (!gl_ || !imgui_ || !imgui_->ready() || !gl_->context()) return;
  gl_->makeCurrent();
  imgui_->shutdownGL();
  gl_->doneCurrent();
}

void ImageCanvas::resizeEvent(QResizeEvent* e) {
  if (gl_) gl_->setGeometry(rect());
  view_.setViewport(size());
  if (!image_.isNull() && (!fitted_ || !user_view_)) {
    // Until the user zooms or pans, the image keeps fitting the canvas (e.g.
    // when a dock is widened or narrowed).
    const double zoom = view_.zoom();
    view_.fit();
    fitted_ = true;
    if (view_.zoom() != zoom) Q_EMIT zoomChanged(view_.zoom());
  } else {
    view_.panBy(QPointF());  // re-clamp
  }
  QWidget::resizeEvent(e);
}

void ImageCanvas::paintEvent(QPaintEvent*) {
  if (gl_) return;  // the GL child covers the canvas
  QPainter p(this);
  paintImage(p);
  // No overlay without GL: a one-line perf readout instead.
  if (!device_.isEmpty()) {
    p.setPen(QColor(170, 172, 180));
    p.drawText(rect().adjusted(8, 6, -8, -6), Qt::AlignTop | Qt::AlignRight,
               tr("%1 ms/frame · %2 fps · %3").arg(render_ms_, 0, 'f', 1).arg(shownFps()).arg(device_));
  }
}

bool ImageCanvas::overlayReady() const { return imgui_ && imgui_->ready(); }

void ImageCanvas::initializeGL() {
  connect(gl_->context(), &QOpenGLContext::aboutToBeDestroyed, this, &ImageCanvas::cleanupGL,
          Qt::UniqueConnection);
  const QSurfaceFormat f = gl_->context()->format();
  if (!imgui_->initializeGL(f.majorVersion(), gl_->context()->isOpenGLES()))
    qWarning("ImageCanvas: OpenGL %d.%d cannot run the ImGui overlay (needs 3.0); showing the image only",
             f.majorVersion(), f.minorVersion());
}

void ImageCanvas::setImage(const QImage& image) {
  const bool size_changed = image.size() != image_.size();
  image_ = image;
  view_.setViewport(size());
  view_.setImageSize(image_.size());
  if (size_changed || !fitted_) {
    view_.fit();
    fitted_ = true;
    user_view_ = false;
    Q_EMIT zoomChanged(view_.zoom());
  }
  frame_times_.push_back(clock_.elapsed());
  while (!frame_times_.empty() && frame_times_.front() < clock_.elapsed() - 1000) frame_times_.pop_front();
  refresh();
}

void ImageCanvas::setPlaceholder(const QString& text) {
  placeholder_ = text;
  refresh();
}

double ImageCanvas::shownFps() const {
  const qint64 now = clock_.elapsed();
  int n = 0;
  for (qint64 t : frame_times_) n += (t >= now - 1000);
  return n;
}

void ImageCanvas::setLatentPad(quint64 base_seed, QPointF position) {
  latent_seed_ = base_seed;
  latent_pos_ = QPointF(std::clamp(position.x(), 0.0, 1.0), std::clamp(position.y(), 0.0, 1.0));
  refresh();
}

QVector<double> ImageCanvas::latentWeights(QPointF p) {
  const double x = std::clamp(p.x(), 0.0, 1.0), y = std::clamp(p.y(), 0.0, 1.0);
  return {(1 - x) * (1 - y), x * (1 - y), (1 - x) * y, x * y};
}

void ImageCanvas::setLayerMixShown(bool on) {
  layer_mix_shown_ = on;
  refresh();
}

void ImageCanvas::setLayers(const QStringList& names, const QVector<int>& sources) {
  if (names.isEmpty() != layer_names_.isEmpty()) fitted_ = false;  // the strip takes room below the image
  view_.setBottomInset(names.isEmpty() || !gl_ ? 0 : 44);
  layer_names_ = names;
  layer_sources_ = sources;
  layer_sources_.resize(names.size());
  refresh();
}

void ImageCanvas::setPerf(double render_ms, const QString& device) {
  render_ms_ = render_ms;
  device_ = device;
}

void ImageCanvas::setOverlayVisible(bool on) {
  overlay_visible_ = on;
  refresh();
}

void ImageCanvas::fitView() {
  view_.setViewport(size());
  view_.fit();
  user_view_ = false;
  Q_EMIT zoomChanged(view_.zoom());
  refresh();
}
void ImageCanvas::zoomActual() {
  user_view_ = true;
  view_.setZoom(1.0);
  Q_EMIT zoomChanged(view_.zoom());
  refresh();
}
void ImageCanvas::zoomIn() {
  user_view_ = true;
  view_.stepZoom(QPointF(width() / 2.0, height() / 2.0), 1);
  Q_EMIT zoomChanged(view_.zoom());
  refresh();
}
void ImageCanvas::zoomOut() {
  user_view_ = true;
  view_.stepZoom(QPointF(width() / 2.0, height() / 2.0), -1);
  Q_EMIT zoomChanged(view_.zoom());
  refresh();
}

void ImageCanvas::paintImage(QPainter& p) {
  p.fillRect(rect(), kBackground);
  if (!image_.isNull()) {
    // Nearest filtering: with SmoothPixmapTransform off the GL paint engine
    // samples the texture with GL_NEAREST (the raster engine likewise);
    // integer zoom + rounded offsets make every image pixel an exact square.
    p.setRenderHint(QPainter::SmoothPixmapTransform, false);
    p.drawImage(view_.imageRect(), image_);
    if (tool_ != Tool::View) paintDragOverlay(p);
  } else if (!placeholder_.isEmpty()) {
    p.setPen(QColor(150, 152, 160));
    QFont f = font();
    f.setPointSizeF(f.pointSizeF() * 1.15);
    p.setFont(f);
    p.drawText(rect().adjusted(24, 24, -24, -24), Qt::AlignCenter | Qt::TextWordWrap, placeholder_);
  }
}

void ImageCanvas::setTool(Tool tool) {
  tool_ = tool;
  painting_ = false;
  setCursor(tool == Tool::View ? Qt::ArrowCursor : Qt::CrossCursor);
  refresh();
}

void ImageCanvas::setDragPoints(const QVector<QPointF>& handles, const QVector<QPointF>& targets) {
  handles_ = handles;
  targets_ = targets;
  refresh();
}

void ImageCanvas::clearDragPoints() {
  handles_.clear();
  targets_.clear();
  Q_EMIT dragPointsChanged();
  refresh();
}

void ImageCanvas::setMaskResolution(int px) {
  mask_res_ = std::max(1, px);
  mask_ = QImage();
  refresh();
}

void ImageCanvas::setDragMask(const QImage& mask) {
  mask_ = mask.isNull() ? QImage()
                        : mask.convertToFormat(QImage::Format_Grayscale8)
                              .scaled(mask_res_, mask_res_, Qt::IgnoreAspectRatio, Qt::FastTransformation);
  refresh();
}

void ImageCanvas::clearDragMask() {
  mask_ = QImage();
  Q_EMIT dragMaskChanged();
  refresh();
}

QPointF ImageCanvas::toFraction(QPointF widget_pos) const {
  const QPointF ip = view_.widgetToImage(widget_pos);
  const QSize s = view_.imageSize();
  return {ip.x() / std::max(1, s.width()), ip.y() / std::max(1, s.height())};
}

void ImageCanvas::paintMask(QPointF widget_pos, bool erase) {
  if (mask_.isNull()) {
    mask_ = QImage(mask_res_, mask_res_, QImage::Format_Grayscale8);
    mask_.fill(Qt::black);
  }
  const QPointF f = toFraction(widget_pos);
  QPainter p(&mask_);
  p.setRenderHint(QPainter::Antialiasing, false);
  p.setPen(Qt::NoPen);
  p.setBrush(erase ? Qt::black : Qt::white);
  const double r = std::max(1.0, mask_res_ / 12.0);
  p.drawEllipse(QPointF(f.x() * mask_res_, f.y() * mask_res_), r, r);
}

void ImageCanvas::paintDragOverlay(QPainter& p) {
  const QRectF r = view_.imageRect();
  if (!mask_.isNull()) {
    // The region that stays is dimmed; the one allowed to move keeps its colours.
    QImage shade(mask_.size(), QImage::Format_ARGB32_Premultiplied);
    for (int y = 0; y < mask_.height(); ++y) {
      const uchar* m = mask_.constScanLine(y);
      auto* out = reinterpret_cast<QRgb*>(shade.scanLine(y));
      for (int x = 0; x < mask_.width(); ++x) out[x] = m[x] > 127 ? qRgba(0, 0, 0, 0) : qRgba(0, 0, 0, 130);
    }
    p.drawImage(r, shade);
  }
  p.save();
  p.setRenderHint(QPainter::Antialiasing, true);
  auto at = [&](QPointF f) { return QPointF(r.left() + f.x() * r.width(), r.top() + f.y() * r.height()); };
  for (int i = 0; i < targets_.size() && i < handles_.size(); ++i) {
    const QPointF a = at(handles_[i]), b = at(targets_[i]);
    p.setPen(QPen(QColor(255, 255, 255, 230), 2));
    p.drawLine(a, b);
    const QPointF d = b - a;
    const double len = std::hypot(d.x(), d.y());
    if (len > 1) {
      const QPointF u = d / len, n(-u.y(), u.x());
      QPolygonF head;
      head << b << b - 10 * u + 5 * n << b - 10 * u - 5 * n;
      p.setBrush(QColor(255, 255, 255, 230));
      p.drawPolygon(head);
    }
  }
  p.setPen(QPen(Qt::white, 1.5));
  for (const QPointF& t : targets_) {
    p.setBrush(QColor(60, 130, 240));
    p.drawEllipse(at(t), 5, 5);
  }
  for (const QPointF& h : handles_) {
    p.setBrush(QColor(230, 60, 60));
    p.drawEllipse(at(h), 5, 5);
  }
  p.restore();
}

void ImageCanvas::paintGL() {
  {
    QPainter p(gl_);
    paintImage(p);
  }
  if (overlay_visible_ && imgui_->ready()) {
    // The GL surface's own size: the framebuffer the overlay is drawn into.
    imgui_->frame(gl_->size(), gl_->devicePixelRatioF(), [this] { drawOverlay(); });
    if (imgui_->animating()) extra_frames_ = 2;
    if (extra_frames_ > 0) {
      --extra_frames_;
      scheduleFrame();
    }
  }
}

void ImageCanvas::scheduleFrame() {
  QTimer::singleShot(16, this, &ImageCanvas::refresh);
}

void ImageCanvas::drawOverlay() {
  const ImGuiWindowFlags panel = ImGuiWindowFlags_AlwaysAutoResize | ImGuiWindowFlags_NoSavedSettings |
                                 ImGuiWindowFlags_NoFocusOnAppearing;
  // Latent pad: StyleGAN3 visualizer's latent widget, four seeds at the corners.
  ImGui::SetNextWindowPos(ImVec2(10, 10), ImGuiCond_FirstUseEver);
  if (ImGui::Begin("Latent", nullptr, panel)) {
    int seed = int(latent_seed_ & 0x7fffffff);
    ImGui::SetNextItemWidth(150);
    if (ImGui::InputInt("##seed", &seed, 1, 4)) {
      latent_seed_ = quint64(std::max(0, seed));
      Q_EMIT latentPadChanged(latent_seed_, latent_pos_);
    }
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("Seed of the top-left corner; the others are +1, +2, +3");
    const ImVec2 size(150, 110);
    const ImVec2 p0 = ImGui::GetCursorScreenPos();
    ImGui::InvisibleButton("pad", size);
    if (ImGui::IsItemActive()) {
      const ImVec2 m = ImGui::GetIO().MousePos;
      const QPointF pos(std::clamp((m.x - p0.x) / size.x, 0.0f, 1.0f), std::clamp((m.y - p0.y) / size.y, 0.0f, 1.0f));
      if (pos != latent_pos_) {
        latent_pos_ = pos;
        Q_EMIT latentPadChanged(latent_seed_, latent_pos_);
      }
    }
    ImDrawList* dl = ImGui::GetWindowDrawList();
    const ImVec2 p1(p0.x + size.x, p0.y + size.y);
    dl->AddRectFilled(p0, p1, IM_COL32(40, 42, 48, 255), 3.0f);
    for (int i = 1; i < 4; ++i) {
      const float fx = p0.x + size.x * i / 4.0f, fy = p0.y + size.y * i / 4.0f;
      dl->AddLine(ImVec2(fx, p0.y), ImVec2(fx, p1.y), IM_COL32(70, 72, 80, 255));
      dl->AddLine(ImVec2(p0.x, fy), ImVec2(p1.x, fy), IM_COL32(70, 72, 80, 255));
    }
    dl->AddRect(p0, p1, IM_COL32(110, 112, 120, 255), 3.0f);
    const QVector<double> wts = latentWeights(latent_pos_);
    const ImVec2 corners[4] = {p0, ImVec2(p1.x, p0.y), ImVec2(p0.x, p1.y), p1};
    for (int c = 0; c < 4; ++c) {
      const std::string label = std::to_string(latent_seed_ + c);
      const ImVec2 ts = ImGui::CalcTextSize(label.c_str());
      const ImVec2 at(c % 2 ? corners[c].x - ts.x - 3 : corners[c].x + 3, c / 2 ? corners[c].y - ts.y - 2 : corners[c].y + 2);
      const int a = 110 + int(145 * wts[c]);
      dl->AddText(at, IM_COL32(220, 220, 230, a), label.c_str());
    }
    const ImVec2 dot(p0.x + float(latent_pos_.x()) * size.x, p0.y + float(latent_pos_.y()) * size.y);
    dl->AddCircleFilled(dot, 5.0f, IM_COL32(255, 210, 80, 255));
    dl->AddCircle(dot, 6.5f, IM_COL32(20, 20, 20, 255));
  }
  ImGui::End();

  // Perf readout, top right.
  const ImVec2 display = ImGui::GetIO().DisplaySize;
  ImGui::SetNextWindowPos(ImVec2(display.x - 10, 10), ImGuiCond_Always, ImVec2(1.0f, 0.0f));
  if (ImGui::Begin("Performance", nullptr, panel | ImGuiWindowFlags_NoTitleBar | ImGuiWindowFlags_NoMove |
                                                ImGuiWindowFlags_NoInputs)) {
    ImGui::Text("%6.1f ms/frame", render_ms_);
    ImGui::Text("%6.0f fps", shownFps());
    ImGui::TextDisabled("%s", device_.isEmpty() ? "no model" : device_.toUtf8().constData());
    if (!image_.isNull())
      ImGui::TextDisabled("%dx%d  %s%%", image_.width(), image_.height(),
                          QString::number(view_.zoom() * 100, 'g', 4).toUtf8().constData());
  }
  ImGui::End();

  // Layer strip, bottom centre: one button per W+ slot, coloured by source.
  if (!layer_names_.isEmpty()) {
    ImGui::SetNextWindowPos(ImVec2(display.x / 2, display.y - 10), ImGuiCond_Always, ImVec2(0.5f, 1.0f));
    if (ImGui::Begin("Layers", nullptr, panel | ImGuiWindowFlags_NoTitleBar | ImGuiWindowFlags_NoMove)) {
      ImGui::TextDisabled("layers");
      ImGui::SameLine();
      for (int i = 0; i < layer_names_.size(); ++i) {
        const int src = std::clamp(layer_sources_.value(i), 0, 1);
        const ImVec4 colour = layer_mix_shown_ ? kSourceColour[src] : kNeutralChip;
        ImGui::PushID(i);
        ImGui::PushStyleColor(ImGuiCol_Button, colour);
        ImVec4 hover = colour;
        hover.x = std::min(1.0f, hover.x + 0.1f), hover.y = std::min(1.0f, hover.y + 0.1f),
        hover.z = std::min(1.0f, hover.z + 0.1f);
        ImGui::PushStyleColor(ImGuiCol_ButtonHovered, hover);
        ImGui::PushStyleColor(ImGuiCol_Text, ImVec4(0.05f, 0.05f, 0.07f, 1.0f));
        const std::string label = shortLayerLabel(layer_names_[i]).toStdString();
        if (ImGui::Button(label.c_str(), ImVec2(0, 22))) Q_EMIT layerToggled(i);
        ImGui::PopStyleColor(3);
        if (ImGui::IsItemHovered()) {
          if (layer_mix_shown_)
            ImGui::SetTooltip("%s: driven by %s (click to toggle)", layer_names_[i].toUtf8().constData(),
                              src ? "B" : "A");
          else
            ImGui::SetTooltip("%s: click to take this layer from source B in Style Mix",
                              layer_names_[i].toUtf8().constData());
        }
        ImGui::PopID();
        ImGui::SameLine();
      }
      if (layer_mix_shown_) {
        ImGui::TextColored(kSourceColour[0], "A");
        ImGui::SameLine();
        ImGui::TextColored(kSourceColour[1], "B");
      } else {
        ImGui::NewLine();
      }
    }
    ImGui::End();
  }
}

void ImageCanvas::mousePressEvent(QMouseEvent* e) {
  const bool imgui = overlay_visible_ && imgui_->ready() && imgui_->mousePress(e);
  refresh();
  if (imgui) return;
  if (tool_ != Tool::View && e->button() != Qt::MiddleButton) {
    const QPointF f = toFraction(e->position());
    if (image_.isNull() || f.x() < 0 || f.y() < 0 || f.x() > 1 || f.y() > 1) return;
    if (tool_ == Tool::DragPoints) {
      if (e->button() == Qt::LeftButton) {
        if (handles_.size() == targets_.size())
          handles_.append(f);
        else
          targets_.append(f);
      } else if (e->button() == Qt::RightButton) {
        if (handles_.size() > targets_.size())
          handles_.removeLast();
        else if (!targets_.isEmpty())
          targets_.removeLast();
      }
      Q_EMIT dragPointsChanged();
    } else {
      painting_ = true;
      erasing_ = e->button() == Qt::RightButton;
      paintMask(e->position(), erasing_);
    }
    refresh();
    return;
  }
  if (e->button() == Qt::LeftButton || e->button() == Qt::MiddleButton) {
    panning_ = true;
    last_mouse_ = e->position();
    setCursor(Qt::ClosedHandCursor);
  }
}

void ImageCanvas::mouseMoveEvent(QMouseEvent* e) {
  if (overlay_visible_ && imgui_->ready()) {
    imgui_->mouseMove(e);
    refresh();
  }
  if (painting_) {
    paintMask(e->position(), erasing_);
    refresh();
  }
  if (panning_) {
    if (e->position() != last_mouse_) user_view_ = true;
    view_.panBy(e->position() - last_mouse_);
    last_mouse_ = e->position();
    refresh();
  }
}

void ImageCanvas::mouseReleaseEvent(QMouseEvent* e) {
  if (overlay_visible_ && imgui_->ready()) imgui_->mouseRelease(e);
  if (painting_) {
    painting_ = false;
    Q_EMIT dragMaskChanged();
  }
  if (panning_ && (e->button() == Qt::LeftButton || e->button() == Qt::MiddleButton)) {
    panning_ = false;
    unsetCursor();
  }
  refresh();
}

void ImageCanvas::mouseDoubleClickEvent(QMouseEvent* e) {
  if (overlay_visible_ && imgui_->ready() && imgui_->mousePress(e)) return;
  fitView();
}

void ImageCanvas::wheelEvent(QWheelEvent* e) {
  const bool imgui = overlay_visible_ && imgui_->ready() && imgui_->wheel(e);
  refresh();
  if (imgui || image_.isNull()) return;
  const int steps = e->angleDelta().y() / 120;
  if (steps != 0) {
    user_view_ = true;
    view_.stepZoom(e->position(), steps);
    Q_EMIT zoomChanged(view_.zoom());
  }
  e->accept();
}

void ImageCanvas::keyPressEvent(QKeyEvent* e) {
  if (overlay_visible_ && imgui_->ready() && imgui_->keyPress(e)) {
    refresh();
    return;
  }
  switch (e->key()) {
    case Qt::Key_0:
    case Qt::Key_F: fitView(); return;
    case Qt::Key_1: zoomActual(); return;
    case Qt::Key_Plus:
    case Qt::Key_Equal: zoomIn(); return;
    case Qt::Key_Minus: zoomOut(); return;
    default: QWidget::keyPressEvent(e);
  }
}

void ImageCanvas::keyReleaseEvent(QKeyEvent* e) {
  if (overlay_visible_ && imgui_->ready() && imgui_->keyRelease(e)) {
    refresh();
    return;
  }
  QWidget::keyReleaseEvent(e);
}

void ImageCanvas::leaveEvent(QEvent* e) {
  imgui_->mouseLeave();
  refresh();
  QWidget::leaveEvent(e);
}

void ImageCanvas::focusOutEvent(QFocusEvent* e) {
  imgui_->focusOut();
  QWidget::focusOutEvent(e);
}

}  // namespace gg::ui

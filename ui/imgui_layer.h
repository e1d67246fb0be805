// Dear ImGui inside a Qt OpenGL widget: one ImGui context per widget, drawn by
// ImGui's OpenGL3 backend into the widget's framebuffer, with Qt's mouse,
// wheel, key and text events forwarded to ImGuiIO (the 1.86 KeysDown/KeyMap
// API). Ref: imgui examples/example_glfw_opengl3 (the frame loop) and
// backends/imgui_impl_glfw.cpp (what a platform backend feeds ImGuiIO).
#pragma once
#include <QElapsedTimer>
#include <QSize>
#include <functional>

class QWidget;
class QMouseEvent;
class QWheelEvent;
class QKeyEvent;
struct ImGuiContext;

namespace gg::ui {

class ImGuiLayer {
 public:
  ImGuiLayer();
  ~ImGuiLayer();
  ImGuiLayer(const ImGuiLayer&) = delete;
  ImGuiLayer& operator=(const ImGuiLayer&) = delete;

  // With the widget's GL context current. Returns false (and stays disabled)
  // when the context cannot run the OpenGL3 backend (GL < 3.0 or GLES < 3.0).
  bool initializeGL(int gl_major, bool gles);
  void shutdownGL();  // with the context current
  bool ready() const { return gl_ready_; }

  // Starts a frame (makes this layer's ImGui context current). `logical` is
  // the widget size, `dpr` its device pixel ratio. Works without GL too
  // (render() then only ends the frame), so input handling is testable.
  void newFrame(QSize logical, double dpr);
  // Ends the frame and draws it into the bound framebuffer.
  void render();
  // One displayed frame: `draw` makes the ImGui calls. ImGui sizes an
  // auto-resizing window from the content of the frame before (and hides a
  // new one for its first frame), so a frame drawn right after the content
  // changed would show it clipped, or not at all, until the next input: such
  // a frame is laid out again (up to `max_passes` times, without drawing)
  // before it is rendered. Input reaches the first pass only.
  void frame(QSize logical, double dpr, const std::function<void()>& draw, int max_passes = 3);
  // After a frame: every window is shown and sized for what it holds now.
  bool settled() const;

  // Forwarders: return true when ImGui wants the event (it is over an ImGui
  // window or an ImGui text field has focus), so the widget must not use it.
  bool mouseMove(QMouseEvent* e);
  bool mousePress(QMouseEvent* e);
  bool mouseRelease(QMouseEvent* e);
  bool wheel(QWheelEvent* e);
  bool keyPress(QKeyEvent* e);
  bool keyRelease(QKeyEvent* e);
  void mouseLeave();
  void focusOut();  // releases held keys and buttons

  bool wantsMouse() const;
  bool wantsKeyboard() const;
  // True while ImGui needs further frames without new input (an active drag,
  // a blinking text cursor): the widget keeps repainting while it holds.
  bool animating() const;
  ImGuiContext* context() const { return ctx_; }

 private:
  void makeCurrent() const;
  bool keyEvent(QKeyEvent* e, bool down);
  ImGuiContext* ctx_ = nullptr;
  bool gl_ready_ = false;
  // ImGui 1.86 samples io.MouseDown once per frame: a press released before
  // any frame saw it (a quick click) would be lost. Such a release waits
  // until one frame has seen the button down.
  bool press_seen_[5] = {};
  bool release_pending_[5] = {};
  QElapsedTimer clock_;
  qint64 last_ns_ = 0;
};

// Maps a Qt key to the 1.86 KeysDown[] index this layer uses (Qt's own key
// code folded into 0..511), or -1 for keys ImGui ignores. Exposed for tests.
int imguiKeyIndex(int qt_key);

}  // namespace gg::ui

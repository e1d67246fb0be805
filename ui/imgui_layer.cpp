#include "imgui_layer.h"

#include <QGuiApplication>
#include <QKeyEvent>
#include <QMouseEvent>
#include <QWheelEvent>
#include <QClipboard>

#include <imgui.h>
#include <imgui_internal.h>
#include <backends/imgui_impl_opengl3.h>

#include <algorithm>

namespace gg::ui {

namespace {

// KeysDown[] has 512 entries. Printable keys keep their Latin-1 code; Qt's
// special keys (0x01000000 + n) go to 256 + n.
constexpr int kSpecialBase = 256;

const char* clipboardGet(void*) {
  static QByteArray text;
  text = QGuiApplication::clipboard()->text().toUtf8();
  return text.constData();
}
void clipboardSet(void*, const char* text) {
  QGuiApplication::clipboard()->setText(QString::fromUtf8(text));
}

int mouseButtonIndex(Qt::MouseButton b) {
  switch (b) {
    case Qt::LeftButton: return 0;
    case Qt::RightButton: return 1;
    case Qt::MiddleButton: return 2;
    case Qt::BackButton: return 3;
    case Qt::ForwardButton: return 4;
    default: return -1;
  }
}

}  // namespace

int imguiKeyIndex(int qt_key) {
  if (qt_key >= 0x20 && qt_key < 0x100) return qt_key;
  if (qt_key >= Qt::Key_Escape && qt_key < Qt::Key_Escape + (512 - kSpecialBase))
    return kSpecialBase + (qt_key - Qt::Key_Escape);
  return -1;
}

ImGuiLayer::ImGuiLayer() {
  ImGuiContext* previous = ImGui::GetCurrentContext();
  ctx_ = ImGui::CreateContext();
  ImGui::SetCurrentContext(ctx_);
  ImGuiIO& io = ImGui::GetIO();
  io.IniFilename = nullptr;  // the studio keeps its own settings (QSettings)
  io.LogFilename = nullptr;
  io.BackendPlatformName = "gigagan_qt";
  io.SetClipboardTextFn = clipboardSet;
  io.GetClipboardTextFn = clipboardGet;
  io.KeyMap[ImGuiKey_Tab] = imguiKeyIndex(Qt::Key_Tab);
  io.KeyMap[ImGuiKey_LeftArrow] = imguiKeyIndex(Qt::Key_Left);
  io.KeyMap[ImGuiKey_RightArrow] = imguiKeyIndex(Qt::Key_Right);
  io.KeyMap[ImGuiKey_UpArrow] = imguiKeyIndex(Qt::Key_Up);
  io.KeyMap[ImGuiKey_DownArrow] = imguiKeyIndex(Qt::Key_Down);
  io.KeyMap[ImGuiKey_PageUp] = imguiKeyIndex(Qt::Key_PageUp);
  io.KeyMap[ImGuiKey_PageDown] = imguiKeyIndex(Qt::Key_PageDown);
  io.KeyMap[ImGuiKey_Home] = imguiKeyIndex(Qt::Key_Home);
  io.KeyMap[ImGuiKey_End] = imguiKeyIndex(Qt::Key_End);
  io.KeyMap[ImGuiKey_Insert] = imguiKeyIndex(Qt::Key_Insert);
  io.KeyMap[ImGuiKey_Delete] = imguiKeyIndex(Qt::Key_Delete);
  io.KeyMap[ImGuiKey_Backspace] = imguiKeyIndex(Qt::Key_Backspace);
  io.KeyMap[ImGuiKey_Space] = imguiKeyIndex(Qt::Key_Space);
  io.KeyMap[ImGuiKey_Enter] = imguiKeyIndex(Qt::Key_Return);
  io.KeyMap[ImGuiKey_Escape] = imguiKeyIndex(Qt::Key_Escape);
  io.KeyMap[ImGuiKey_KeyPadEnter] = imguiKeyIndex(Qt::Key_Enter);
  io.KeyMap[ImGuiKey_A] = imguiKeyIndex(Qt::Key_A);
  io.KeyMap[ImGuiKey_C] = imguiKeyIndex(Qt::Key_C);
  io.KeyMap[ImGuiKey_V] = imguiKeyIndex(Qt::Key_V);
  io.KeyMap[ImGuiKey_X] = imguiKeyIndex(Qt::Key_X);
  io.KeyMap[ImGuiKey_Y] = imguiKeyIndex(Qt::Key_Y);
  io.KeyMap[ImGuiKey_Z] = imguiKeyIndex(Qt::Key_Z);

  ImGui::StyleColorsDark();
  ImGuiStyle& style = ImGui::GetStyle();
  style.WindowRounding = 6.0f;
  style.FrameRounding = 3.0f;
  style.GrabRounding = 3.0f;
  style.WindowBorderSize = 0.0f;
  style.Colors[ImGuiCol_WindowBg].w = 0.82f;
  clock_.start();
  ImGui::SetCurrentContext(previous ? previous : ctx_);
}

ImGuiLayer::~ImGuiLayer() {
  // The GL objects must already be gone (shutdownGL with the context current);
  // a widget destroyed without a context leaks them with the context itself.
  ImGui::DestroyContext(ctx_);
}

void ImGuiLayer::makeCurrent() const { ImGui::SetCurrentContext(ctx_); }

bool ImGuiLayer::initializeGL(int gl_major, bool gles) {
  makeCurrent();
  if (gl_ready_) return true;
  if (gl_major < 3) return false;
  gl_ready_ = ImGui_ImplOpenGL3_Init(gles ? "#version 300 es" : "#version 130");
  return gl_ready_;
}

void ImGuiLayer::shutdownGL() {
  if (!gl_ready_) return;
  makeCurrent();
  ImGui_ImplOpenGL3_Shutdown();
  gl_ready_ = false;
}

void ImGuiLayer::newFrame(QSize logical, double dpr) {
  makeCurrent();
  ImGuiIO& io = ImGui::GetIO();
  io.DisplaySize = ImVec2(float(logical.width()), float(logical.height()));
  io.DisplayFramebufferScale = ImVec2(float(dpr), float(dpr));
  const qint64 now = clock_.nsecsElapsed();
  io.DeltaTime = std::max(1e-4f, float(now - last_ns_) * 1e-9f);
  last_ns_ = now;
  const Qt::KeyboardModifiers mods = QGuiApplication::keyboardModifiers();
  io.KeyCtrl = mods & Qt::ControlModifier;
  io.KeyShift = mods & Qt::ShiftModifier;
  io.KeyAlt = mods & Qt::AltModifier;
  io.KeySuper = mods & Qt::MetaModifier;
  if (gl_ready_) {
    ImGui_ImplOpenGL3_NewFrame();
  } else if (!io.Fonts->IsBuilt()) {
    // No renderer (tests, a context without GL 3): build the font atlas on
    // the CPU so frames still run and input can be checked.
    unsigned char* pixels = nullptr;
    int w = 0, h = 0;
    io.Fonts->GetTexDataAsAlpha8(&pixels, &w, &h);
  }
  for (int b = 0; b < 5; ++b)
    if (release_pending_[b] && press_seen_[b]) {
      io.MouseDown[b] = false;
      release_pending_[b] = false;
    }
  ImGui::NewFrame();
  for (int b = 0; b < 5; ++b) press_seen_[b] = io.MouseDown[b];
}

void ImGuiLayer::render() {
  makeCurrent();
  ImGui::Render();
  if (gl_ready_) ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
  // Wheel deltas are consumed by the frame that saw them.
  ImGuiIO& io = ImGui::GetIO();
  io.MouseWheel = io.MouseWheelH = 0.0f;
}

void ImGuiLayer::frame(QSize logical, double dpr, const std::function<void()>& draw, int max_passes) {
  for (int pass = 1;; ++pass) {
    newFrame(logical, dpr);
    draw();
    if (pass >= max_passes) break;
    makeCurrent();
    ImGui::EndFrame();
    if (settled()) break;
    // Laid out again, as the next frame: input of this one (a wheel step,
    // typed text) was consumed by it and does not count twice.
    ImGuiIO& io = ImGui::GetIO();
    io.MouseWheel = io.MouseWheelH = 0.0f;
  }
  render();
}

bool ImGuiLayer::settled() const {
  makeCurrent();
  const ImGuiContext& g = *ctx_;
  for (ImGuiWindow* w : g.Windows) {
    if (!w->Active || (w->Flags & ImGuiWindowFlags_ChildWindow)) continue;
    // A window that appeared this frame is hidden while ImGui measures it.
    if (w->Hidden && (w->HiddenFramesCannotSkipItems > 0 || w->HiddenFramesCanSkipItems > 0)) return false;
    // An auto-resizing window sized from the previous frame's content.
    if ((w->Flags & ImGuiWindowFlags_AlwaysAutoResize) && !w->Collapsed) {
      const ImVec2 fit = ImGui::CalcWindowNextAutoFitSize(w);
      if (fit.x != w->SizeFull.x || fit.y != w->SizeFull.y) return false;
    }
  }
  return true;
}

bool ImGuiLayer::mouseMove(QMouseEvent* e) {
  makeCurrent();
  ImGui::GetIO().MousePos = ImVec2(float(e->position().x()), float(e->position().y()));
  return wantsMouse();
}

bool ImGuiLayer::mousePress(QMouseEvent* e) {
  makeCurrent();
  ImGuiIO& io = ImGui::GetIO();
  io.MousePos = ImVec2(float(e->position().x()), float(e->position().y()));
  const int b = mouseButtonIndex(e->button());
  if (b >= 0) {
    io.MouseDown[b] = true;
    press_seen_[b] = release_pending_[b] = false;
  }
  return wantsMouse();
}

bool ImGuiLayer::mouseRelease(QMouseEvent* e) {
  makeCurrent();
  ImGuiIO& io = ImGui::GetIO();
  io.MousePos = ImVec2(float(e->position().x()), float(e->position().y()));
  const int b = mouseButtonIndex(e->button());
  if (b >= 0) {
    if (press_seen_[b] || !io.MouseDown[b])
      io.MouseDown[b] = false;
    else
      release_pending_[b] = true;  // the next frame sees the press, the one after the release
  }
  return wantsMouse();
}

bool ImGuiLayer::wheel(QWheelEvent* e) {
  makeCurrent();
  ImGuiIO& io = ImGui::GetIO();
  io.MousePos = ImVec2(float(e->position().x()), float(e->position().y()));
  // Qt: 120 units per notch (angleDelta); ImGui: 1.0 per notch.
  io.MouseWheel += float(e->angleDelta().y()) / 120.0f;
  io.MouseWheelH += float(e->angleDelta().x()) / 120.0f;
  return wantsMouse();
}

bool ImGuiLayer::keyEvent(QKeyEvent* e, bool down) {
  makeCurrent();
  ImGuiIO& io = ImGui::GetIO();
  const int k = imguiKeyIndex(e->key());
  if (k >= 0) io.KeysDown[k] = down;
  io.KeyCtrl = e->modifiers() & Qt::ControlModifier;
  io.KeyShift = e->modifiers() & Qt::ShiftModifier;
  io.KeyAlt = e->modifiers() & Qt::AltModifier;
  io.KeySuper = e->modifiers() & Qt::MetaModifier;
  if (down && !e->text().isEmpty() && !(e->modifiers() & Qt::ControlModifier)) {
    const QString text = e->text();
    for (QChar c : text)
      if (c.isPrint()) io.AddInputCharacterUTF16(c.unicode());
  }
  return wantsKeyboard();
}

bool ImGuiLayer::keyPress(QKeyEvent* e) { return keyEvent(e, true); }
bool ImGuiLayer::keyRelease(QKeyEvent* e) { return keyEvent(e, false); }

void ImGuiLayer::mouseLeave() {
  makeCurrent();
  ImGuiIO& io = ImGui::GetIO();
  io.MousePos = ImVec2(-FLT_MAX, -FLT_MAX);
}

void ImGuiLayer::focusOut() {
  makeCurrent();
  ImGuiIO& io = ImGui::GetIO();
  std::fill(std::begin(io.KeysDown), std::end(io.KeysDown), false);
  std::fill(std::begin(io.MouseDown), std::end(io.MouseDown), false);
  std::fill(std::begin(release_pending_), std::end(release_pending_), false);
  io.KeyCtrl = io.KeyShift = io.KeyAlt = io.KeySuper = false;
}

bool ImGuiLayer::wantsMouse() const {
  makeCurrent();
  return ImGui::GetIO().WantCaptureMouse;
}

bool ImGuiLayer::wantsKeyboard() const {
  makeCurrent();
  return ImGui::GetIO().WantCaptureKeyboard || ImGui::GetIO().WantTextInput;
}

bool ImGuiLayer::animating() const {
  makeCurrent();
  const ImGuiIO& io = ImGui::GetIO();
  for (bool down : io.MouseDown)
    if (down) return true;
  return io.WantTextInput || ImGui::IsAnyItemActive();
}

}  // namespace gg::ui

// Qt -> Dear ImGui input forwarding: mouse clicks reach ImGui buttons, wheel
// and keys reach ImGuiIO, typed text reaches an InputText, and the layer says
// when ImGui wants an event (so the canvas does not also pan or zoom). The
// canvas's overlay (auto-resizing windows) is whole in the first frame drawn.
#include <QtTest/QtTest>

#include <QKeyEvent>
#include <QMouseEvent>
#include <QWheelEvent>

#include <imgui.h>
#include <imgui_internal.h>

#include "imgui_layer.h"

using gg::ui::ImGuiLayer;

namespace {
struct Frame {
  bool clicked = false;
  QByteArray text;
};

// One frame with a window at (10, 10) holding a button and a text field.
Frame frame(ImGuiLayer& layer, char* buffer, size_t size) {
  Frame f;
  layer.newFrame(QSize(400, 300), 1.0);
  ImGui::SetNextWindowPos(ImVec2(10, 10));
  ImGui::SetNextWindowSize(ImVec2(200, 120));
  ImGui::Begin("test", nullptr, ImGuiWindowFlags_NoTitleBar | ImGuiWindowFlags_NoMove);
  ImGui::SetCursorScreenPos(ImVec2(20, 20));
  f.clicked = ImGui::Button("press", ImVec2(80, 30));
  ImGui::SetCursorScreenPos(ImVec2(20, 70));
  ImGui::SetNextItemWidth(150);
  ImGui::InputText("##text", buffer, size);
  ImGui::End();
  layer.render();
  f.text = QByteArray(buffer);
  return f;
}

QMouseEvent mouse(QEvent::Type type, QPointF pos, Qt::MouseButton button, Qt::MouseButtons buttons) {
  return QMouseEvent(type, pos, pos, button, buttons, Qt::NoModifier);
}
}  // namespace

class TestImGuiLayer : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void keyIndices() {
    QCOMPARE(gg::ui::imguiKeyIndex(Qt::Key_A), int('A'));
    QVERIFY(gg::ui::imguiKeyIndex(Qt::Key_Backspace) >= 256);
    QVERIFY(gg::ui::imguiKeyIndex(Qt::Key_Backspace) < 512);
    QVERIFY(gg::ui::imguiKeyIndex(Qt::Key_Return) != gg::ui::imguiKeyIndex(Qt::Key_Enter));
    QCOMPARE(gg::ui::imguiKeyIndex(0x7fffffff), -1);
  }

  void clickReachesButton() {
    ImGuiLayer layer;
    char buf[64] = "";
    frame(layer, buf, sizeof buf);
    QMouseEvent move = mouse(QEvent::MouseMove, QPointF(50, 35), Qt::NoButton, Qt::NoButton);
    layer.mouseMove(&move);
    frame(layer, buf, sizeof buf);
    QVERIFY2(layer.wantsMouse(), "the pointer is over an ImGui window");
    QMouseEvent press = mouse(QEvent::MouseButtonPress, QPointF(50, 35), Qt::LeftButton, Qt::LeftButton);
    QVERIFY(layer.mousePress(&press));
    QVERIFY(!frame(layer, buf, sizeof buf).clicked);
    QMouseEvent release = mouse(QEvent::MouseButtonRelease, QPointF(50, 35), Qt::LeftButton, Qt::NoButton);
    layer.mouseRelease(&release);
    QVERIFY2(frame(layer, buf, sizeof buf).clicked, "press + release over the button is a click");
  }

  // A quick click: press and release arrive before any frame (ImGui 1.86
  // samples the button once per frame); the click is not lost.
  void quickClickBetweenFramesReachesButton() {
    ImGuiLayer layer;
    char buf[64] = "";
    frame(layer, buf, sizeof buf);
    QMouseEvent move = mouse(QEvent::MouseMove, QPointF(50, 35), Qt::NoButton, Qt::NoButton);
    layer.mouseMove(&move);
    frame(layer, buf, sizeof buf);
    QMouseEvent press = mouse(QEvent::MouseButtonPress, QPointF(50, 35), Qt::LeftButton, Qt::LeftButton);
    QMouseEvent release = mouse(QEvent::MouseButtonRelease, QPointF(50, 35), Qt::LeftButton, Qt::NoButton);
    layer.mousePress(&press);
    layer.mouseRelease(&release);
    QVERIFY2(layer.animating(), "the canvas must draw the frames that deliver the click");
    const bool first = frame(layer, buf, sizeof buf).clicked;
    const bool second = frame(layer, buf, sizeof buf).clicked;
    QVERIFY(!first);
    QVERIFY2(second, "the click arrives one frame later");
    QVERIFY(!frame(layer, buf, sizeof buf).clicked);
    QVERIFY(!layer.animating());
  }

  void pointerOutsideIsNotCaptured() {
    ImGuiLayer layer;
    char buf[64] = "";
    frame(layer, buf, sizeof buf);
    QMouseEvent move = mouse(QEvent::MouseMove, QPointF(350, 250), Qt::NoButton, Qt::NoButton);
    layer.mouseMove(&move);
    frame(layer, buf, sizeof buf);
    QVERIFY(!layer.wantsMouse());
    QWheelEvent wheel(QPointF(350, 250), QPointF(350, 250), QPoint(), QPoint(0, 240), Qt::NoButton, Qt::NoModifier,
                      Qt::NoScrollPhase, false);
    QVERIFY2(!layer.wheel(&wheel), "the canvas zooms: ImGui does not want this wheel");
    layer.newFrame(QSize(400, 300), 1.0);
    QCOMPARE(ImGui::GetIO().MouseWheel, 2.0f);
    layer.render();
  }

  void typingReachesTextField() {
    ImGuiLayer layer;
    char buf[64] = "";
    frame(layer, buf, sizeof buf);
    // Click into the text field.
    QMouseEvent move = mouse(QEvent::MouseMove, QPointF(60, 78), Qt::NoButton, Qt::NoButton);
    layer.mouseMove(&move);
    frame(layer, buf, sizeof buf);
    QMouseEvent press = mouse(QEvent::MouseButtonPress, QPointF(60, 78), Qt::LeftButton, Qt::LeftButton);
    layer.mousePress(&press);
    frame(layer, buf, sizeof buf);
    QMouseEvent release = mouse(QEvent::MouseButtonRelease, QPointF(60, 78), Qt::LeftButton, Qt::NoButton);
    layer.mouseRelease(&release);
    frame(layer, buf, sizeof buf);
    QVERIFY(layer.wantsKeyboard());
    for (const char* s : {"c", "a", "t"}) {
      QKeyEvent key(QEvent::KeyPress, Qt::Key_A + (s[0] - 'a'), Qt::NoModifier, QString::fromLatin1(s));
      QVERIFY(layer.keyPress(&key));
      frame(layer, buf, sizeof buf);
      QKeyEvent up(QEvent::KeyRelease, Qt::Key_A + (s[0] - 'a'), Qt::NoModifier, QString::fromLatin1(s));
      layer.keyRelease(&up);
    }
    QCOMPARE(frame(layer, buf, sizeof buf).text, QByteArray("cat"));
    // Backspace is a key, not text.
    QKeyEvent bs(QEvent::KeyPress, Qt::Key_Backspace, Qt::NoModifier);
    layer.keyPress(&bs);
    frame(layer, buf, sizeof buf);
    QKeyEvent bs_up(QEvent::KeyRelease, Qt::Key_Backspace, Qt::NoModifier);
    layer.keyRelease(&bs_up);
    QCOMPARE(frame(layer, buf, sizeof buf).text, QByteArray("ca"));
  }

  void contextsAreSeparate() {
    ImGuiLayer a, b;
    QVERIFY(a.context() != b.context());
    char buf[8] = "";
    QMouseEvent move = mouse(QEvent::MouseMove, QPointF(50, 35), Qt::NoButton, Qt::NoButton);
    frame(a, buf, sizeof buf);  // the first frame creates the window
    frame(b, buf, sizeof buf);
    a.mouseMove(&move);
    frame(a, buf, sizeof buf);
    frame(b, buf, sizeof buf);
    QVERIFY(a.wantsMouse());
    QVERIFY2(!b.wantsMouse(), "input to one canvas must not reach another");
  }

  // The canvas's HUD: auto-resizing windows, one anchored at the top right.
  // ImGui hides a new window for its first frame and sizes such a window from
  // the content of the frame before; the canvas draws only on demand, so its
  // first frame showed the overlay clipped or not at all, and so did the
  // first frame after the content grew (a line added). frame() lays such a
  // frame out again before drawing it.
  void firstFrameShowsTheOverlayWhole() {
    int lines = 2;
    const auto draw = [&] {
      ImGui::SetNextWindowPos(ImVec2(390, 10), ImGuiCond_Always, ImVec2(1.0f, 0.0f));
      ImGui::Begin("hud", nullptr,
                   ImGuiWindowFlags_AlwaysAutoResize | ImGuiWindowFlags_NoTitleBar | ImGuiWindowFlags_NoSavedSettings);
      for (int i = 0; i < lines; ++i) ImGui::Text("%d: a readout line of the overlay", i);
      ImGui::End();
    };
    const auto whole = [](ImGuiLayer& layer) {
      ImGui::SetCurrentContext(layer.context());
      ImGuiWindow* w = ImGui::FindWindowByName("hud");
      if (!w || w->Hidden || ImGui::GetDrawData()->TotalVtxCount == 0) return false;
      const ImVec2 fit = ImGui::CalcWindowNextAutoFitSize(w);
      return w->Size.x == fit.x && w->Size.y == fit.y && w->Pos.x + w->Size.x <= 390.5f && w->Pos.x >= 0;
    };
    {
      // A single ImGui frame, as the canvas drew it: nothing shown yet.
      ImGuiLayer plain;
      plain.newFrame(QSize(400, 300), 1.0);
      draw();
      plain.render();
      QVERIFY(!plain.settled());
      QVERIFY(!whole(plain));
    }
    ImGuiLayer layer;
    layer.frame(QSize(400, 300), 1.0, draw);
    QVERIFY(layer.settled());
    QVERIFY2(whole(layer), "the first frame shows the overlay, sized for its content");
    const float two_lines = ImGui::FindWindowByName("hud")->Size.y;
    lines = 4;  // e.g. the image size line appears once an image is shown
    layer.frame(QSize(400, 300), 1.0, draw);
    QVERIFY2(whole(layer), "the frame after the content grew shows all of it");
    QVERIFY(ImGui::FindWindowByName("hud")->Size.y > two_lines + ImGui::GetTextLineHeight());
    // Nothing new: settled after one pass.
    layer.frame(QSize(400, 300), 1.0, draw);
    QVERIFY(layer.settled());
  }
};

QTEST_MAIN(TestImGuiLayer)
#include "test_imgui_layer.moc"

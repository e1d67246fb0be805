// The studio's Drag tool (DragGAN point editing) on the real engine (tiny
// package), offscreen: clicks on the canvas place handle / target pairs only
// while the Drag tab is shown, the mask is painted with the mouse, Start
// updates the canvas live and ends in an undoable edit whose latent the
// Prompt panel uses, Stop leaves a usable image.
#include <QtTest/QtTest>

#include <QCheckBox>
#include <QDockWidget>
#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QUndoStack>

#include "drag_panel.h"
#include "image_canvas.h"
#include "prompt_panel.h"
#include "source_editor.h"
#include "studio_fixture.h"
#include "style_mix_panel.h"

using namespace gg::ui;

class TestDragTool : public QObject, public gg::test::StudioFixture {
  Q_OBJECT

  // The canvas widget position of the centre of generator pixel (x, y).
  QPoint at(double x, double y) {
    ImageCanvas* c = w_->canvas();
    const double s = double(c->image().width()) / w_->model().resolution;
    return c->view().imageToWidget(QPointF((x + 0.5) * s, (y + 0.5) * s)).toPoint();
  }
  void generate(quint64 seed) {
    w_->showPanel("Prompt");
    PromptPanel* p = w_->promptPanel();
    p->setPrompt("cat face, noto style");
    p->setSeed(seed);
    p->setPsi(1.0);
    p->generate();
    QVERIFY(!waitCommit().image.isNull());
  }

 private Q_SLOTS:
  void initTestCase() { openStudio(false, true); }

  void pointsOnlyWhileTheDragTabIsShown() {
    generate(3);
    ImageCanvas* c = w_->canvas();
    c->clearDragPoints();
    QCOMPARE(c->tool(), ImageCanvas::Tool::View);
    QTest::mouseClick(c, Qt::LeftButton, {}, at(5, 8));
    QVERIFY(c->dragHandles().isEmpty());  // the view tool pans instead
    w_->showPanel("Drag");
    QTRY_COMPARE(c->tool(), ImageCanvas::Tool::DragPoints);
    DragPanel* d = w_->dragPanel();
    QVERIFY(!d->startButton()->isEnabled());
    QTest::mouseClick(c, Qt::LeftButton, {}, at(5, 8));
    QCOMPARE(c->dragHandles().size(), 1);
    QVERIFY(!d->startButton()->isEnabled());  // a handle without its target
    QTest::mouseClick(c, Qt::LeftButton, {}, at(10, 8));
    QCOMPARE(c->dragTargets().size(), 1);
    QVERIFY(d->startButton()->isEnabled());
    // A right click removes the last point; clicking again puts it back.
    QTest::mouseClick(c, Qt::RightButton, {}, at(10, 8));
    QCOMPARE(c->dragTargets().size(), 0);
    QVERIFY(!d->startButton()->isEnabled());
    QTest::mouseClick(c, Qt::LeftButton, {}, at(10, 8));
    QCOMPARE(c->dragTargets().size(), 1);
    // Fractions of the image: the handle is at the centre of pixel (5, 8) of 16.
    QVERIFY(std::abs(c->dragHandles()[0].x() - 5.5 / 16) < 1.0 / 64);
    QVERIFY(std::abs(c->dragHandles()[0].y() - 8.5 / 16) < 1.0 / 64);
    w_->showPanel("Prompt");
    QTRY_COMPARE(c->tool(), ImageCanvas::Tool::View);
  }

  void maskIsPaintedWithTheMouse() {
    w_->showPanel("Drag");
    ImageCanvas* c = w_->canvas();
    QTRY_COMPARE(c->tool(), ImageCanvas::Tool::DragPoints);
    auto* mask = w_->dragPanel()->findChild<QCheckBox*>();
    QVERIFY(mask);
    mask->setChecked(true);
    QCOMPARE(c->tool(), ImageCanvas::Tool::DragMask);
    const int points = int(c->dragHandles().size());
    QTest::mousePress(c, Qt::LeftButton, {}, at(3, 3));
    QTest::mouseMove(c, at(6, 3));
    QTest::mouseRelease(c, Qt::LeftButton, {}, at(6, 3));
    QCOMPARE(c->dragHandles().size(), points);  // painting places no points
    const QImage m = c->dragMask();
    QCOMPARE(m.size(), QSize(16, 16));
    QCOMPARE(qGray(m.pixel(3, 3)), 255);
    QCOMPARE(qGray(m.pixel(5, 3)), 255);
    QCOMPARE(qGray(m.pixel(14, 14)), 0);
    // The right button erases.
    QTest::mouseClick(c, Qt::RightButton, {}, at(3, 3));
    QCOMPARE(qGray(c->dragMask().pixel(3, 3)), 0);
    mask->setChecked(false);
    QCOMPARE(c->tool(), ImageCanvas::Tool::DragPoints);
    c->clearDragMask();
    QVERIFY(c->dragMask().isNull());
  }

  void dragUpdatesLiveAndUndoes() {
    generate(3);
    const QImage before = w_->canvas()->image();
    w_->showPanel("Drag");
    ImageCanvas* c = w_->canvas();
    QTRY_COMPARE(c->tool(), ImageCanvas::Tool::DragPoints);
    c->clearDragPoints();
    QTest::mouseClick(c, Qt::LeftButton, {}, at(4, 4));
    QTest::mouseClick(c, Qt::LeftButton, {}, at(11, 10));
    DragPanel* d = w_->dragPanel();
    d->setSteps(40);
    QSignalSpy frames(w_->engine(), &EngineHost::dragFrame);
    QSignalSpy done(w_->engine(), &EngineHost::dragged);
    QSignalSpy committed(w_.get(), &MainWindow::stateCommitted);
    QTest::mouseClick(d->startButton(), Qt::LeftButton);
    QVERIFY(d->running());
    QVERIFY(d->stopButton()->isEnabled());
    QVERIFY(done.wait(120000));
    QVERIFY(!d->running());
    QVERIFY(frames.size() >= 1);
    QCOMPARE(frames.first().first().value<DragFrame>().step, 0);
    const DragOutcome out = done.first().first().value<DragOutcome>();
    QVERIFY(!out.stopped);
    QVERIFY(out.steps > 0);
    QCOMPARE(c->image(), out.result.image);
    QVERIFY(out.result.image != before);
    QCOMPARE(committed.size(), 1);
    // The result is the Prompt panel's source now: re-rendering it gives the same pixels.
    QVERIFY(!out.result.request.source.latent.isEmpty());
    QCOMPARE(w_->promptPanel()->request().source.latent, out.result.request.source.latent);
    QCOMPARE(w_->styleMixPanel()->sourceA()->source().latent, out.result.request.source.latent);
    w_->showPanel("Prompt");
    w_->promptPanel()->generate();
    QCOMPARE(waitCommit().image, out.result.image);
    // Undo returns to the image before the drag.
    w_->undoStack()->undo();
    w_->undoStack()->undo();
    QCOMPARE(c->image(), before);
    w_->undoStack()->redo();
    QCOMPARE(c->image(), out.result.image);
  }

  void stopLeavesAUsableImage() {
    generate(5);
    w_->showPanel("Drag");
    ImageCanvas* c = w_->canvas();
    QTRY_COMPARE(c->tool(), ImageCanvas::Tool::DragPoints);
    c->clearDragPoints();
    QTest::mouseClick(c, Qt::LeftButton, {}, at(2, 2));
    QTest::mouseClick(c, Qt::LeftButton, {}, at(13, 13));
    DragPanel* d = w_->dragPanel();
    d->setSteps(2000);
    QSignalSpy done(w_->engine(), &EngineHost::dragged);
    QSignalSpy frames(w_->engine(), &EngineHost::dragFrame);
    QTest::mouseClick(d->startButton(), Qt::LeftButton);
    QVERIFY(frames.wait(60000));
    QTest::mouseClick(d->stopButton(), Qt::LeftButton);
    QVERIFY(done.wait(60000));
    const DragOutcome out = done.first().first().value<DragOutcome>();
    QVERIFY(out.stopped);
    QVERIFY(out.steps < 2000);
    QVERIFY(!out.result.image.isNull());
    QCOMPARE(c->image(), out.result.image);
    QVERIFY(d->startButton()->isEnabled());
  }

  void cleanupTestCase() { w_.reset(); }
};

QTEST_MAIN(TestDragTool)
#include "test_drag_tool.moc"

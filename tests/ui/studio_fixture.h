// What the studio's window-level tests share (test_panels, test_drag_tool):
// a tiny package in a temporary folder, a main window that opened it (its
// first image shown), and waiting for the next committed edit.
#pragma once
#include <QtTest/QtTest>

#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>

#include <memory>

#include "engine_worker.h"
#include "main_window.h"
#include "tiny_package.h"

namespace gg::test {

class StudioFixture {
 protected:
  QTemporaryDir dir_;
  std::unique_ptr<gg::ui::MainWindow> w_;

  // Writes the tiny package (16 px; with a 16 -> 64 px upsampler when
  // `upsampler`), opens it in a new main window (shown at 1200x800 when
  // `show`) and waits until the first sample prompt is on the canvas.
  // Fails the current test (QVERIFY) when it does not load.
  void openStudio(bool upsampler, bool show) {
    QStandardPaths::setTestModeEnabled(true);
    qRegisterMetaType<gg::ui::EditState>();
    write_tiny_package(dir_.filePath("tiny").toStdString(), upsampler);
    w_ = std::make_unique<gg::ui::MainWindow>();
    if (show) {
      w_->resize(1200, 800);
      w_->show();
      QVERIFY(QTest::qWaitForWindowExposed(w_.get()));
    }
    QSignalSpy loaded(w_->engine(), &gg::ui::EngineHost::modelLoaded);
    QSignalSpy committed(w_.get(), &gg::ui::MainWindow::stateCommitted);
    w_->openModel(dir_.filePath("tiny"));
    QVERIFY(loaded.wait(60000));
    QVERIFY(w_->modelLoaded());
    // Loading generates the first sample prompt so the canvas is never empty.
    QVERIFY(committed.wait(60000));
  }

  // Waits until the main window committed an edit (the latest request rendered).
  gg::ui::EditState waitCommit(int timeout_ms = 60000) {
    QSignalSpy spy(w_.get(), &gg::ui::MainWindow::stateCommitted);
    if (!spy.wait(timeout_ms)) return {};
    return spy.last().first().value<gg::ui::EditState>();
  }
};

}  // namespace gg::test

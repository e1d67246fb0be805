// A scripted tour of the studio that saves one PNG per panel (for the README
// and for looking at the UI): gigagan-studio --screenshots DIR [--tour-data
// DATASET] PACKAGE. It drives the panels the way a person would (typing a
// prompt, pressing Generate, dragging to a mix preset, moving the
// interpolation pad, inverting an image, training a tiny model) and waits
// for each real result before grabbing the window.
#pragma once
#include <QString>

namespace gg::ui {

class MainWindow;

// Runs the tour on a shown window whose model is loading or loaded; returns
// 0 when every screenshot was written. `data` is a captioned dataset folder
// for the Train panel's run ("" skips training in the tour).
int runScreenshotTour(MainWindow& window, const QString& out_dir, const QString& data);

}  // namespace gg::ui

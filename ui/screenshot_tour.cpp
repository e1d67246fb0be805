#include "screenshot_tour.h"

#include <QApplication>
#include <QDir>
#include <QSpinBox>
#include <QToolButton>
#include <QDockWidget>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QFileInfo>
#include <QImage>
#include <QStandardPaths>
#include <QTextStream>
#include <QTimer>

#include <cstring>

#include "engine_worker.h"
#include "image_canvas.h"
#include "main_window.h"
#include "drag_panel.h"
#include "interpolate_panel.h"
#include "invert_panel.h"
#include "prompt_panel.h"
#include "source_editor.h"
#include "style_mix_panel.h"
#include "train_panel.h"
#include "weight_pad.h"

namespace gg::ui {

namespace {

void settle(int ms) {
  QElapsedTimer t;
  t.start();
  while (t.elapsed() < ms) QApplication::processEvents(QEventLoop::AllEvents, 20);
}

template <class Signal>
bool waitSignal(const typename QtPrivate::FunctionPointer<Signal>::Object* sender, Signal signal, int timeout_ms) {
  QEventLoop loop;
  bool fired = false;
  auto c = QObject::connect(sender, signal, &loop, [&] {
    fired = true;
    loop.quit();
  });
  QTimer::singleShot(timeout_ms, &loop, &QEventLoop::quit);
  loop.exec();
  QObject::disconnect(c);
  return fired;
}

bool grab(MainWindow& w, const QString& path, QTextStream& log) {
  settle(400);  // let the GL canvas and the ImGui overlay draw a few frames
  w.canvas()->refresh();
  settle(200);
  const QImage shot = w.grab().toImage();
  const bool ok = shot.save(path);
  log << (ok ? "wrote " : "FAILED ") << path << " (" << shot.width() << "x" << shot.height() << ")\n";
  log.flush();
  return ok;
}

}  // namespace

int runScreenshotTour(MainWindow& w, const QString& out_dir, const QString& data) {
  QTextStream log(stdout);
  QDir().mkpath(out_dir);
  int failures = 0;
  if (!w.modelLoaded() && !waitSignal(w.engine(), &EngineHost::modelLoaded, 120000)) {
    log << "screenshots: the model did not load: " << w.lastStatus() << "\n";
    return 1;
  }
  settle(500);

  // Prompt: a 2 x 2 grid of a sample prompt.
  w.showPanel("Prompt");
  PromptPanel* prompt = w.promptPanel();
  const QStringList samples = w.model().sample_prompts;
  prompt->setPrompt(samples.value(0, "cat face, noto style"));
  prompt->setSeed(7);
  prompt->setPsi(0.7);
  prompt->generate();
  waitSignal(&w, &MainWindow::stateCommitted, 60000);
  if (!grab(w, out_dir + "/prompt.png", log)) ++failures;

  // Upsample: the same images through the GAN upsampler, when the package has one.
  if (w.model().upsampled_resolution > 0) {
    prompt->setUpsample(true);
    prompt->generate();
    waitSignal(&w, &MainWindow::stateCommitted, 120000);
    if (!grab(w, out_dir + "/upsample.png", log)) ++failures;
    prompt->setUpsample(false);
  }

  // Styles: one prompt in every style the package lists, a row each.
  if (w.model().styles.size() > 1) {
    prompt->setPrompt(QStringLiteral("cat face"));
    prompt->countSpin()->setValue(4);
    prompt->everyStyleButton()->click();
    prompt->setSeed(0);
    prompt->generate();
    waitSignal(&w, &MainWindow::stateCommitted, 60000);
    if (!grab(w, out_dir + "/styles.png", log)) ++failures;
    prompt->countSpin()->setValue(1);
  }

  // Style Mix: layout from A, the fine layers from B.
  w.showPanel("Style Mix");
  StyleMixPanel* mix = w.styleMixPanel();
  mix->sourceA()->setSource(Source{samples.value(0, "cat face, noto style"), 7, {}});
  mix->sourceB()->setSource(Source{samples.value(1, samples.value(0)), 3, {}});
  mix->applyPreset("middle");
  waitSignal(&w, &MainWindow::stateCommitted, 60000);
  if (!grab(w, out_dir + "/style-mix.png", log)) ++failures;

  // Interpolate: three prompts on the pad.
  w.showPanel("Interpolate");
  InterpolatePanel* interp = w.interpolatePanel();
  interp->setSourceCount(3);
  for (int i = 0; i < 3; ++i)
    interp->editor(i)->setSource(Source{samples.value(i % std::max<int>(1, int(samples.size())), "cat face"), quint64(i + 1), {}});
  interp->pad()->setPosition(QPointF(0.42, 0.58));
  Q_EMIT interp->pad()->moved(QPointF(0.42, 0.58));
  waitSignal(&w, &MainWindow::stateCommitted, 60000);
  if (!grab(w, out_dir + "/interpolate.png", log)) ++failures;

  // Invert: the current image back into W+.
  w.showPanel("Invert");
  const QString target = QDir(QStandardPaths::writableLocation(QStandardPaths::TempLocation)).filePath("gigagan-tour-target.png");
  w.promptPanel()->setPrompt(samples.value(0, "cat face, noto style"));
  w.promptPanel()->setSeed(11);
  w.promptPanel()->generate();
  waitSignal(&w, &MainWindow::stateCommitted, 60000);
  w.current().image.save(target);
  w.showPanel("Invert");
  InvertPanel* inv = w.invertPanel();
  inv->setImagePath(target);
  inv->setPrompt(samples.value(0, "cat face, noto style"));
  inv->run();
  waitSignal(w.engine(), &EngineHost::inverted, 300000);
  if (!grab(w, out_dir + "/invert.png", log)) ++failures;

  // Drag: one image, two handles pulled apart, then the result with its arrows.
  w.showPanel("Prompt");
  RenderRequest one = w.promptPanel()->request();
  one.count = 1;
  one.upsample = false;
  one.source = Source{samples.value(0, "cat face, noto style"), 7, {}};
  w.promptPanel()->setRequest(one);
  w.promptPanel()->generate();
  waitSignal(&w, &MainWindow::stateCommitted, 60000);
  w.showPanel("Drag");
  settle(200);
  w.canvas()->setDragPoints({QPointF(0.3, 0.4), QPointF(0.7, 0.4)}, {QPointF(0.2, 0.3), QPointF(0.8, 0.3)});
  Q_EMIT w.canvas()->dragPointsChanged();
  QImage movable(64, 64, QImage::Format_Grayscale8);  // the top 60 % may move, the rest is dimmed and held
  movable.fill(Qt::black);
  for (int y = 0; y < 38; ++y) std::memset(movable.scanLine(y), 255, 64);
  w.canvas()->setDragMask(movable);
  Q_EMIT w.canvas()->dragMaskChanged();
  if (!grab(w, out_dir + "/drag-points.png", log)) ++failures;
  w.dragPanel()->setSteps(120);
  w.startDrag();
  waitSignal(w.engine(), &EngineHost::dragged, 120000);
  if (!grab(w, out_dir + "/drag.png", log)) ++failures;

  // Train: a short tiny run on `data`, followed live.
  w.showPanel("Train");
  if (!data.isEmpty()) {
    TrainPanel* train = w.trainPanel();
    TrainSettings s = train->settings();
    s.data = data;
    s.config = "tiny";
    s.out = QDir(QStandardPaths::writableLocation(QStandardPaths::TempLocation)).filePath("gigagan-tour-run");
    QDir(s.out).removeRecursively();
    s.images = 384;
    s.batch = 8;
    s.checkpoint_every = 128;
    s.clip = "random";
    s.extra = {"--tick", "16"};
    train->setSettings(s);
    train->startRun();
    waitSignal(train, &TrainPanel::runFinished, 600000);
  }
  if (!grab(w, out_dir + "/train.png", log)) ++failures;

  // The canvas alone, zoomed, with its overlay.
  w.showPanel("Prompt");
  w.promptPanel()->generate();
  waitSignal(&w, &MainWindow::stateCommitted, 60000);
  settle(300);
  const QImage canvas = w.canvas()->grab().toImage();
  const bool ok = canvas.save(out_dir + "/canvas.png");
  log << (ok ? "wrote " : "FAILED ") << out_dir << "/canvas.png\n";
  if (!ok) ++failures;

  // Help ▸ Keys, Mouse and Panels.
  w.showHelp();
  settle(300);
  if (auto* help = w.findChild<QWidget*>("help")) {
    const bool saved = help->grab().toImage().save(out_dir + "/help.png");
    log << (saved ? "wrote " : "FAILED ") << out_dir << "/help.png\n";
    if (!saved) ++failures;
    help->close();
  }
  return failures == 0 ? 0 : 1;
}

}  // namespace gg::ui

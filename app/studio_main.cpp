// GigaGAN Studio: the Qt desktop app (ui/). Usage: gigagan-studio [PACKAGE]
// [--device cpu|cuda] [--threads N]. Opens PACKAGE, else the last model used,
// else the shipped default model.
#include <QApplication>
#include <QCommandLineParser>
#include <QFileInfo>
#include <QPalette>
#include <QSettings>
#include <QStyleFactory>
#include <QThread>
#include <QTimer>

#include <algorithm>

#include <exception>
#include <iostream>

#include "main_window.h"
#include "screenshot_tour.h"
#include "runtime.h"
#include "studio_icon.h"

namespace {
// A dark Fusion palette: images read best on a dark surround.
void applyDarkTheme(QApplication& app) {
  app.setStyle(QStyleFactory::create("Fusion"));
  QPalette p;
  const QColor window(45, 46, 50), base(32, 33, 36), text(225, 226, 230), disabled(120, 121, 126);
  p.setColor(QPalette::Window, window);
  p.setColor(QPalette::WindowText, text);
  p.setColor(QPalette::Base, base);
  p.setColor(QPalette::AlternateBase, window);
  p.setColor(QPalette::ToolTipBase, QColor(60, 62, 68));
  p.setColor(QPalette::ToolTipText, text);
  p.setColor(QPalette::Text, text);
  p.setColor(QPalette::Button, QColor(55, 56, 61));
  p.setColor(QPalette::ButtonText, text);
  p.setColor(QPalette::BrightText, Qt::white);
  p.setColor(QPalette::Highlight, QColor(76, 130, 220));
  p.setColor(QPalette::HighlightedText, Qt::white);
  p.setColor(QPalette::Link, QColor(110, 160, 240));
  p.setColor(QPalette::PlaceholderText, disabled);
  p.setColor(QPalette::Disabled, QPalette::Text, disabled);
  p.setColor(QPalette::Disabled, QPalette::ButtonText, disabled);
  p.setColor(QPalette::Disabled, QPalette::WindowText, disabled);
  app.setPalette(p);
}
}  // namespace

int main(int argc, char** argv) {
  QApplication::setAttribute(Qt::AA_ShareOpenGLContexts);
  QApplication app(argc, argv);
  QApplication::setOrganizationName("gigagan");
  QApplication::setApplicationName("studio");
  QApplication::setApplicationDisplayName("GigaGAN Studio");
  QApplication::setApplicationVersion(GIGAGAN_VERSION);
  QApplication::setDesktopFileName("gigagan-studio");
  QApplication::setWindowIcon(gg::ui::studioIcon());

  QCommandLineParser cli;
  cli.setApplicationDescription("GigaGAN Studio: prompt, mix, interpolate, invert and train a text-to-image GAN.");
  cli.addHelpOption();
  cli.addVersionOption();
  cli.addPositionalArgument("package", "A model package folder (with package.json) to open.", "[PACKAGE]");
  QCommandLineOption device({"d", "device"}, "Device for the engine: cpu, cuda, cuda:N or auto.", "DEVICE");
  QCommandLineOption threads("threads", "LibTorch threads (default: all cores but one, at least 1).", "N");
  QCommandLineOption light("light", "Use the platform's own style and colours instead of the dark theme.");
  QCommandLineOption screenshots("screenshots", "Run the scripted tour, save one PNG per panel into DIR, quit.", "DIR");
  QCommandLineOption tour_data("tour-data", "Dataset folder the tour's Train step trains on (tiny preset).", "DATASET");
  cli.addOptions({device, threads, light, screenshots, tour_data});
  cli.process(app);

  // The engine leaves one core to the GUI thread (and to a training run):
  // with every core busy, OpenMP's spinning workers stall each other
  // (README, "The studio").
  int engine_threads = cli.isSet(threads) ? cli.value(threads).toInt() : 0;
  if (engine_threads <= 0 && qEnvironmentVariableIsEmpty("GIGAGAN_THREADS"))
    engine_threads = std::max(1, QThread::idealThreadCount() - 1);
  try {
    gg::init_runtime(engine_threads);
  } catch (const std::exception& e) {
    std::cerr << "gigagan-studio: " << e.what() << "\n";
    return 1;
  }
  if (!cli.isSet(light)) applyDarkTheme(app);
  if (cli.isSet(device)) QSettings().setValue("engine/device", cli.value(device));

  gg::ui::MainWindow window;
  if (cli.isSet(screenshots)) window.resize(1440, 900);
  window.show();
  QString package = cli.positionalArguments().value(0);
  if (package.isEmpty()) package = QSettings().value("model/last").toString();
  if (package.isEmpty() || !QFileInfo::exists(package + "/package.json")) package = gg::ui::MainWindow::defaultModelPath();
  if (!package.isEmpty()) QTimer::singleShot(0, &window, [&window, package] { window.openModel(package); });
  if (cli.isSet(screenshots)) {
    const QString dir = cli.value(screenshots), data = cli.value(tour_data);
    QTimer::singleShot(200, &window, [&window, dir, data] {
      const int code = gg::ui::runScreenshotTour(window, dir, data);
      QApplication::exit(code);
    });
  }
  return app.exec();
}

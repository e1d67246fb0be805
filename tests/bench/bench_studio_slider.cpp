// Studio slider speed: a simulated drag of the Interpolate slider through the
// real worker (EngineHost: its thread, coalescing, QImage conversion), as the
// studio's GUI thread sees it. Prints the frames per second that reach the
// GUI and the engine's ms per frame. Not a test: it prints numbers.
// Usage: bench_studio_slider [PACKAGE] [--seconds S] [--hz H]
//   PACKAGE  a model package; default: random emoji64 networks (same speed as
//            the trained model: the cost is the architecture, not the weights)
#include <QCommandLineParser>
#include <QCoreApplication>
#include <QElapsedTimer>
#include <QTemporaryDir>
#include <QTimer>

#include <algorithm>
#include <cstdio>
#include <vector>

#include "bpe_trainer.h"
#include "engine_worker.h"
#include "model_config.h"
#include "package.h"
#include "runtime.h"

namespace {
QString randomEmoji64Package(const QString& dir) {
  gg::ModelConfig config = gg::ModelConfig::load(std::string(GIGAGAN_SOURCE_DIR) + "/resources/configs/emoji64.json");
  gg::BpeTrainerConfig bpe;
  bpe.vocab_size = 600;
  bpe.min_frequency = 1;
  gg::ModelPackage pkg;
  pkg.vocabulary = gg::train_bpe({"cat face, noto style", "red heart, twemoji style", "grinning face, noto style",
                                  "dog face, animal, pet, twemoji style", "waving hand"},
                                 bpe);
  const int vocab = static_cast<int>(pkg.vocabulary->size());
  config.clip.text_config.vocab_size = vocab;
  config.clip.text_config.bos_token_id = vocab - 2;
  config.clip.text_config.eos_token_id = vocab - 1;
  config.clip.text_config.pad_token_id = vocab - 1;
  torch::manual_seed(0);
  pkg.name = "emoji64-random";
  pkg.clip = gg::ClipModel(config.clip);
  pkg.generator = gg::Generator(config.generator);
  gg::save_package(dir.toStdString(), pkg);
  return dir;
}
}  // namespace

int main(int argc, char** argv) {
  QCoreApplication app(argc, argv);
  QCommandLineParser cli;
  cli.addPositionalArgument("package", "model package (default: random emoji64 networks)");
  QCommandLineOption seconds("seconds", "drag duration", "S", "5");
  QCommandLineOption hz("hz", "slider events per second (a mouse reports 60-125)", "H", "120");
  cli.addOptions({seconds, hz});
  cli.addHelpOption();
  cli.process(app);
  gg::init_runtime();

  QTemporaryDir tmp;
  const QString package = cli.positionalArguments().value(0, QString());
  const QString dir = package.isEmpty() ? randomEmoji64Package(tmp.filePath("emoji64")) : package;
  gg::ui::EngineHost host;
  gg::ui::ModelInfo info;
  QObject::connect(&host, &gg::ui::EngineHost::modelLoaded, &app, [&](const gg::ui::ModelInfo& i) {
    info = i;
    app.quit();
  });
  QObject::connect(&host, &gg::ui::EngineHost::failed, &app, [&](const QString& op, const QString& msg, quint64) {
    std::fprintf(stderr, "%s failed: %s\n", qPrintable(op), qPrintable(msg));
    QCoreApplication::exit(1);
  });
  host.loadModel(dir);
  if (app.exec() != 0) return 1;

  gg::ui::RenderRequest r;
  r.kind = gg::ui::RenderRequest::Kind::Interpolate;
  r.sources = {{"cat face, noto style", 1, {}}, {"red heart, twemoji style", 2, {}}};
  r.psi = 0.7;
  r.weights = {1.0, 0.0};
  // Warm the caches (text encodings, mean w) as the first frame of a drag does.
  const auto renderOnce = [&host](const gg::ui::RenderRequest& req) {
    QEventLoop wait;
    double ms = 0;
    auto c = QObject::connect(&host, &gg::ui::EngineHost::rendered, &wait, [&](const gg::ui::RenderResult& res) {
      ms = res.ms;
      wait.quit();
    });
    host.request(req);
    wait.exec();
    QObject::disconnect(c);
    return ms;
  };
  std::printf("first frame (encodes both prompts, their mean w and both w): %.1f ms\n", renderOnce(r));
  // One request at a time (no coalescing): the cost of a frame.
  std::vector<double> single;
  for (int i = 0; i < 20; ++i) {
    r.weights = {1.0 - i / 19.0, i / 19.0};
    single.push_back(renderOnce(r));
  }
  std::sort(single.begin(), single.end());
  std::printf("one interpolation frame at a time: median %.2f ms\n", single[single.size() / 2]);

  const double duration = cli.value(seconds).toDouble();
  const int period_ms = std::max(1, int(1000.0 / cli.value(hz).toDouble()));
  int events = 0, frames = 0;
  std::vector<double> ms;
  QElapsedTimer clock;
  QObject::connect(&host, &gg::ui::EngineHost::rendered, &app, [&](const gg::ui::RenderResult& res) {
    ++frames;
    ms.push_back(res.ms);
  });
  QTimer slider;
  QObject::connect(&slider, &QTimer::timeout, &app, [&] {
    const double t = std::fmod(clock.elapsed() / 2000.0, 1.0);  // one sweep every 2 s
    r.weights = {1.0 - t, t};
    host.request(r);
    ++events;
    if (clock.elapsed() >= duration * 1000) app.quit();
  });
  clock.start();
  slider.start(period_ms);
  app.exec();
  slider.stop();
  const double secs = clock.elapsed() / 1000.0;
  std::sort(ms.begin(), ms.end());
  std::printf("model %s (%d px) on %s, %s\n", qPrintable(info.name), info.resolution, qPrintable(info.device),
              gg::runtime_summary().c_str());
  std::printf("slider events %d (%.0f/s), frames shown %d = %.1f fps, dropped %d stale requests\n", events,
              events / secs, frames, frames / secs, host.worker()->droppedCount());
  if (!ms.empty())
    std::printf("engine ms/frame: median %.2f, p90 %.2f (render + QImage, worker thread)\n", ms[ms.size() / 2],
                ms[ms.size() * 9 / 10]);
  return 0;
}

// The engine worker on its thread, on the real engine with a tiny package:
// results arrive as signals; renders are coalesced (only the latest waiting
// request is rendered, stale ones are dropped); an error keeps the model and
// the next request works; long jobs cancel on the atomic flag.
#include <QtTest/QtTest>

#include <QImage>
#include <QPainter>
#include <QSignalSpy>
#include <QTemporaryDir>

#include "engine_worker.h"
#include "tiny_package.h"

using namespace gg::ui;

namespace {
RenderRequest generate(const QString& prompt, quint64 seed, int count = 1, bool upsample = false) {
  RenderRequest r;
  r.kind = RenderRequest::Kind::Generate;
  r.source = Source{prompt, seed, {}};
  r.count = count;
  r.psi = 0.7;
  r.upsample = upsample;
  return r;
}

// Waits for the rendered result with `id` (or a failure for it).
std::optional<RenderResult> waitFor(EngineHost& host, quint64 id, int timeout_ms = 60000) {
  std::optional<RenderResult> out;
  bool failed = false;
  QEventLoop loop;
  auto c1 = QObject::connect(&host, &EngineHost::rendered, &loop, [&](const RenderResult& r) {
    if (r.id == id) {
      out = r;
      loop.quit();
    }
  });
  auto c2 = QObject::connect(&host, &EngineHost::failed, &loop, [&](const QString&, const QString&, quint64 fid) {
    if (fid == id) {
      failed = true;
      loop.quit();
    }
  });
  QTimer::singleShot(timeout_ms, &loop, &QEventLoop::quit);
  loop.exec();
  QObject::disconnect(c1);
  QObject::disconnect(c2);
  return out;
}
}  // namespace

class TestEngineWorker : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;
  QString pkg_;
  std::unique_ptr<EngineHost> host_;

 private Q_SLOTS:
  void initTestCase() {
    QVERIFY(dir_.isValid());
    pkg_ = dir_.filePath("tiny");
    gg::test::write_tiny_package(pkg_.toStdString());
    host_ = std::make_unique<EngineHost>();
    QSignalSpy loaded(host_.get(), &EngineHost::modelLoaded);
    host_->loadModel(pkg_);
    QVERIFY(loaded.wait(60000));
    const ModelInfo info = loaded.first().first().value<ModelInfo>();
    QCOMPARE(info.name, QString("tiny-test"));
    QCOMPARE(info.resolution, 16);
    QCOMPARE(info.upsampled_resolution, 64);
    QVERIFY(info.layers.size() >= 3);
    QCOMPARE(info.layers.last(), QString("upsampler"));
    QCOMPARE(info.layers.size(), info.layer_resolutions.size());
    QCOMPARE(info.sample_prompts.size(), 2);
  }

  void rendersOnTheWorkerThread() {
    QSignalSpy spy(host_.get(), &EngineHost::rendered);
    const quint64 id = host_->request(generate("cat face, noto style", 3));
    const auto r = waitFor(*host_, id);
    QVERIFY(r);
    QCOMPARE(r->image.size(), QSize(16, 16));
    QVERIFY(!r->recipe.isEmpty());
    QCOMPARE(r->recipe.value("format").toString(), QString("gigagan-recipe"));
    QVERIFY(r->ms > 0);
    // Same request, same pixels; another seed, other pixels.
    const auto again = waitFor(*host_, host_->request(generate("cat face, noto style", 3)));
    QVERIFY(again);
    QCOMPARE(again->image, r->image);
    const auto other = waitFor(*host_, host_->request(generate("cat face, noto style", 4)));
    QVERIFY(other);
    QVERIFY(other->image != r->image);
  }

  void gridsAndUpsampling() {
    const auto grid = waitFor(*host_, host_->request(generate("red heart, twemoji style", 1, 4)));
    QVERIFY(grid);
    QCOMPARE(grid->image.size(), QSize(32, 32));  // 2 x 2 cells of 16 px
    QVERIFY(grid->recipe.contains("grid"));
    const auto six = waitFor(*host_, host_->request(generate("red heart, twemoji style", 1, 6)));
    QVERIFY(six);
    QCOMPARE(six->image.size(), QSize(48, 32));  // 3 columns, 2 rows
    const auto up = waitFor(*host_, host_->request(generate("red heart, twemoji style", 1, 1, true)));
    QVERIFY(up);
    QCOMPARE(up->image.size(), QSize(64, 64));
  }

  void coalescingDropsStaleRequests() {
    EngineWorker* w = host_->worker();
    const int rendered_before = w->renderedCount();
    const int dropped_before = w->droppedCount();
    QSignalSpy dropped(host_.get(), &EngineHost::dropped);
    // A slow request first (an upsampled grid) keeps the worker busy while a
    // slider-like burst arrives.
    host_->request(generate("dog face, noto style", 10, 16, true));
    constexpr int kBurst = 40;
    quint64 last = 0;
    for (int i = 0; i < kBurst; ++i) last = host_->request(generate("dog face, noto style", quint64(100 + i)));
    const auto r = waitFor(*host_, last);
    QVERIFY2(r, "the latest request must be rendered");
    QCOMPARE(r->request.source.seed, quint64(100 + kBurst - 1));
    const int rendered = w->renderedCount() - rendered_before;
    const int drops = w->droppedCount() - dropped_before;
    QCOMPARE(rendered + drops, kBurst + 1);
    QVERIFY2(rendered <= 3, qPrintable(QString("rendered %1 of %2 requests: a backlog was queued").arg(rendered).arg(kBurst + 1)));
    QCOMPARE(dropped.size(), drops);
    // The dropped ones are stale: never the latest.
    for (const QList<QVariant>& args : dropped) QVERIFY(args.first().toULongLong() != last);
  }

  void errorsKeepTheModel() {
    const auto before = waitFor(*host_, host_->request(generate("cat face, noto style", 3)));
    QVERIFY(before);
    QSignalSpy failed(host_.get(), &EngineHost::failed);
    const quint64 bad = host_->request(generate("   ", 3));
    QVERIFY(!waitFor(*host_, bad));
    QCOMPARE(failed.size(), 1);
    QCOMPARE(failed.first().at(0).toString(), QString("render"));
    QVERIFY2(failed.first().at(1).toString().contains("prompt", Qt::CaseInsensitive),
             qPrintable(failed.first().at(1).toString()));
    // A broken package does not replace the loaded one.
    QSignalSpy loaded(host_.get(), &EngineHost::modelLoaded);
    host_->loadModel(dir_.filePath("missing"));
    QTRY_COMPARE_WITH_TIMEOUT(failed.size(), 2, 30000);
    QCOMPARE(failed.last().at(0).toString(), QString("load"));
    QVERIFY(failed.last().at(1).toString().contains("missing"));
    QCOMPARE(loaded.size(), 0);
    const auto after = waitFor(*host_, host_->request(generate("cat face, noto style", 3)));
    QVERIFY(after);
    QCOMPARE(after->image, before->image);
  }

  void unknownLatentIsAnError() {
    RenderRequest r = generate("cat face, noto style", 1);
    r.source.latent = "inv999";
    QSignalSpy failed(host_.get(), &EngineHost::failed);
    QVERIFY(!waitFor(*host_, host_->request(r)));
    QCOMPARE(failed.size(), 1);
    QVERIFY(failed.first().at(1).toString().contains("inv999"));
  }

  void inversionRunsAndCancels() {
    // A target made by the generator itself.
    const auto target = waitFor(*host_, host_->request(generate("cat face, noto style", 5)));
    QVERIFY(target);
    const QString path = dir_.filePath("target.png");
    QVERIFY(target->image.save(path));
    QSignalSpy inverted(host_.get(), &EngineHost::inverted);
    QSignalSpy progress(host_.get(), &EngineHost::progress);
    host_->invert(path, "cat face, noto style", 30, false, false);
    QVERIFY(inverted.wait(120000));
    const InvertResult res = inverted.first().first().value<InvertResult>();
    QVERIFY(!res.latent.isEmpty());
    QCOMPARE(res.reconstruction.size(), QSize(16, 16));
    QVERIFY(res.error <= res.mean_error);
    QVERIFY(progress.size() >= 10);
    // The latent is a source the other edits accept.
    RenderRequest edit = generate("cat face, noto style", 0);
    edit.source.latent = res.latent;
    const auto e = waitFor(*host_, host_->request(edit));
    QVERIFY(e);
    QCOMPARE(e->image, res.reconstruction);

    // Cancel: the flag is read inside the job (a queued slot could not run).
    QSignalSpy cancelled(host_.get(), &EngineHost::cancelled);
    QObject::connect(host_.get(), &EngineHost::progress, host_.get(),
                     [this](const QString&, int step, int, double) { if (step == 3) host_->cancel(); });
    host_->invert(path, "cat face, noto style", 5000, true, false);
    QVERIFY(cancelled.wait(120000));
    QCOMPARE(cancelled.first().first().toString(), QString("invert"));
    QCOMPARE(inverted.size(), 1);
    QVERIFY2(progress.last().at(1).toInt() < 100, "cancelling must stop the job early");
    QObject::disconnect(host_.get(), &EngineHost::progress, host_.get(), nullptr);
  }

  void recipesRoundTrip() {
    RenderRequest mix;
    mix.kind = RenderRequest::Kind::Mix;
    mix.a = Source{"cat face, noto style", 1, {}};
    mix.b = Source{"red heart, twemoji style", 2, {}};
    mix.layer_sources = {0, 1, 1, 0};
    mix.psi = 0.7;
    const auto r = waitFor(*host_, host_->request(mix));
    QVERIFY(r);
    QSignalSpy restored(host_.get(), &EngineHost::recipeRestored);
    host_->restoreRecipe(r->recipe);
    QVERIFY(restored.wait(30000));
    const RenderRequest back = restored.first().first().value<RenderRequest>();
    QCOMPARE(int(back.kind), int(RenderRequest::Kind::Mix));
    QCOMPARE(back.layer_sources.mid(0, 4), mix.layer_sources);
    const auto again = waitFor(*host_, host_->request(back));
    QVERIFY(again);
    QCOMPARE(again->image, r->image);
  }

  void exportsThePath() {
    RenderRequest r;
    r.kind = RenderRequest::Kind::Interpolate;
    r.sources = {Source{"cat face, noto style", 1, {}}, Source{"red heart, twemoji style", 2, {}}};
    r.weights = {1.0, 0.0};
    r.psi = 0.7;
    QSignalSpy exported(host_.get(), &EngineHost::exported);
    const QString gif = dir_.filePath("path.gif");
    host_->exportPath(r, 6, gif);
    QVERIFY(exported.wait(60000));
    QFile f(gif);
    QVERIFY(f.open(QIODevice::ReadOnly));
    QCOMPARE(f.read(6), QByteArray("GIF89a"));
    const QString frames = dir_.filePath("frames");
    host_->exportPath(r, 5, frames);
    QVERIFY(exported.wait(60000));
    QCOMPARE(QDir(frames).entryList({"*.png"}, QDir::Files).size(), 5);
    // The first frame is the pure first prompt; it carries its recipe.
    const auto first = waitFor(*host_, host_->request(r));
    QVERIFY(first);
    const QString f0 = frames + "/" + QDir(frames).entryList({"*.png"}, QDir::Files, QDir::Name).first();
    QCOMPARE(QImage(f0).convertToFormat(QImage::Format_RGB888).scaled(16, 16), first->image);
    // Exporting needs an interpolation.
    QSignalSpy failed(host_.get(), &EngineHost::failed);
    host_->exportPath(generate("cat face, noto style", 1), 4, dir_.filePath("x.gif"));
    QVERIFY(failed.wait(30000));
    QCOMPARE(failed.first().at(0).toString(), QString("export"));
    QVERIFY(failed.first().at(1).toString().contains("Interpolate"));
  }

  // Side renders (Style Mix's thumbnails) are not edits: they come back by
  // tag, never through rendered(), take no request id, wait behind a render,
  // and a newer one with the same tag replaces a waiting one.
  void thumbnailsAreSideRenders() {
    QSignalSpy rendered(host_.get(), &EngineHost::rendered);
    QSignalSpy thumbs(host_.get(), &EngineHost::thumbnailRendered);
    const quint64 latest = host_->latestId();
    const quint64 id = host_->request(generate("cat face, noto style", 3));
    host_->thumbnail("a", generate("cat face, noto style", 8));
    host_->thumbnail("a", generate("cat face, noto style", 9));
    host_->thumbnail("b", generate("", 9));  // cannot be rendered: a null image, no failure
    QVERIFY(waitFor(*host_, id).has_value());
    QTRY_VERIFY_WITH_TIMEOUT(thumbs.size() >= 2, 60000);
    QTest::qWait(200);
    QCOMPARE(host_->latestId(), latest + 1);
    QCOMPARE(rendered.size(), 1);
    QMap<QString, RenderResult> by_tag;
    for (const QList<QVariant>& t : thumbs) by_tag[t.at(0).toString()] = t.at(1).value<RenderResult>();
    QVERIFY(by_tag.contains("a") && by_tag.contains("b"));
    QCOMPARE(by_tag["a"].request.source.seed, quint64(9));  // the newer one of "a"
    const auto plain = waitFor(*host_, host_->request(generate("cat face, noto style", 9)));
    QVERIFY(plain);
    QCOMPARE(by_tag["a"].image, plain->image);
    QVERIFY(by_tag["b"].image.isNull());
  }

  void cleanupTestCase() { host_.reset(); }
};

QTEST_MAIN(TestEngineWorker)
#include "test_engine_worker.moc"

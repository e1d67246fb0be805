// Each panel of the studio drives the real engine (tiny package) through the
// main window: Prompt, Style Mix, Interpolate (live slider without a
// backlog), the canvas's latent pad and layer strip, Invert, undo/redo and
// history, saving a PNG with its recipe and restoring it, and errors that
// keep the model and the image.
#include <QtTest/QtTest>

#include <QAction>
#include <QComboBox>
#include <QDockWidget>
#include <QLineEdit>
#include <QListWidget>
#include <QSignalSpy>
#include <QSlider>
#include <QSpinBox>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QUndoStack>

#include "engine_worker.h"
#include "image_canvas.h"
#include "main_window.h"
#include "panels.h"
#include "tiny_package.h"

using namespace gg::ui;

class TestPanels : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;
  std::unique_ptr<MainWindow> w_;

  // Waits until the main window committed an edit (the latest request rendered).
  EditState waitCommit(int timeout_ms = 60000) {
    QSignalSpy spy(w_.get(), &MainWindow::stateCommitted);
    if (!spy.wait(timeout_ms)) return {};
    return spy.last().first().value<EditState>();
  }
  QImage generateDirect(const QString& prompt, quint64 seed, double psi) {
    PromptPanel* p = w_->promptPanel();
    p->setPrompt(prompt);
    p->setSeed(seed);
    p->setPsi(psi);
    p->generate();
    return waitCommit().image;
  }

 private Q_SLOTS:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    qRegisterMetaType<EditState>();
    gg::test::write_tiny_package(dir_.filePath("tiny").toStdString());
    w_ = std::make_unique<MainWindow>();
    QSignalSpy loaded(w_->engine(), &EngineHost::modelLoaded);
    QSignalSpy committed(w_.get(), &MainWindow::stateCommitted);
    w_->openModel(dir_.filePath("tiny"));
    QVERIFY(loaded.wait(60000));
    QVERIFY(w_->modelLoaded());
    // Loading generates the first sample prompt so the canvas is never empty.
    QVERIFY(committed.wait(60000));
    QVERIFY(!w_->canvas()->image().isNull());
    QCOMPARE(w_->styleMixPanel()->layerNames().size(), 4);
  }

  void promptPanelGenerates() {
    PromptPanel* p = w_->promptPanel();
    QSignalSpy rendered(w_->engine(), &EngineHost::rendered);
    p->setPrompt("cat face, noto style");
    p->setSeed(7);
    p->generate();
    const EditState s = waitCommit();
    QVERIFY(s.valid());
    QCOMPARE(rendered.size(), 1);
    QCOMPARE(s.image.size(), QSize(16, 16));
    QCOMPARE(w_->canvas()->image(), s.image);
    QCOMPARE(s.request.source.seed, quint64(7));
    QCOMPARE(p->promptHistory().first(), QString("cat face, noto style"));
    // A grid of 4.
    p->findChildren<QSpinBox*>().last()->setValue(4);  // the grid count is the last spin box
    p->generate();
    QCOMPARE(waitCommit().image.size(), QSize(32, 32));
    p->findChildren<QSpinBox*>().last()->setValue(1);
    // The psi slider re-renders live after a generation.
    QSignalSpy more(w_->engine(), &EngineHost::rendered);
    p->setPsi(0.7);
    p->findChild<QSlider*>()->setValue(30);
    QVERIFY(more.wait(30000));
    QCOMPARE(more.last().first().value<RenderResult>().request.psi, 0.3);
  }

  // The tiny package has a 16 -> 64 px upsampler: the checkbox runs it and the
  // canvas shows its output.
  void upsampleShowsTheUpsampledImage() {
    PromptPanel* p = w_->promptPanel();
    p->setPrompt("cat face, noto style");
    p->setSeed(3);
    p->setUpsample(true);
    p->generate();
    const EditState s = waitCommit();
    QVERIFY(s.request.upsample);
    QCOMPARE(s.image.size(), QSize(64, 64));
    QCOMPARE(w_->canvas()->image().size(), QSize(64, 64));
    p->setUpsample(false);
    p->generate();
    QCOMPARE(waitCommit().image.size(), QSize(16, 16));
  }

  void ctrlEnterGenerates() {
    w_->show();
    QVERIFY(QTest::qWaitForWindowExposed(w_.get()));
    w_->promptPanel()->promptBox()->setFocus();
    QSignalSpy rendered(w_->engine(), &EngineHost::rendered);
    QTest::keyClick(w_->promptPanel()->promptBox(), Qt::Key_Return, Qt::ControlModifier);
    QVERIFY(rendered.wait(30000));
  }

  void styleMixMatchesSourcesAndTogglesLayers() {
    const QImage plain_a = generateDirect("cat face, noto style", 11, 0.7);
    StyleMixPanel* mix = w_->styleMixPanel();
    mix->sourceA()->setSource(Source{"cat face, noto style", 11, {}});
    mix->sourceB()->setSource(Source{"red heart, twemoji style", 12, {}});
    mix->applyPreset("none");
    const EditState none = waitCommit();
    QCOMPARE(int(none.request.kind), int(RenderRequest::Kind::Mix));
    QVERIFY2(none.image == plain_a, "every layer from A must equal plain A");
    // The canvas strip toggles a layer: the image changes, the strip follows.
    QSignalSpy strip(w_->canvas(), &ImageCanvas::layerToggled);
    Q_EMIT w_->canvas()->layerToggled(1);
    const EditState one = waitCommit();
    QCOMPARE(one.request.layer_sources.value(1), 1);
    QCOMPARE(w_->canvas()->layerSources().value(1), 1);
    QVERIFY(one.image != plain_a);
    // Coarse preset: 4-8 px layers from B.
    mix->applyPreset("coarse");
    const EditState coarse = waitCommit();
    QCOMPARE(coarse.request.layer_sources.mid(0, 3), (QVector<int>{1, 1, 0}));
  }

  void interpolateEndsAndLiveSlider() {
    const QImage a = generateDirect("cat face, noto style", 3, 0.7);
    const QImage b = generateDirect("red heart, twemoji style", 4, 0.7);
    InterpolatePanel* ip = w_->interpolatePanel();
    ip->setSourceCount(2);
    ip->editor(0)->setSource(Source{"cat face, noto style", 3, {}});
    ip->editor(1)->setSource(Source{"red heart, twemoji style", 4, {}});
    ip->setT(0.5);
    const EditState mid = waitCommit();
    QVERIFY(mid.image != a && mid.image != b);
    // A drag: many slider values in a burst; the worker renders few of them
    // and ends on the last one, which equals the pure second prompt.
    EngineWorker* worker = w_->engine()->worker();
    const int before = worker->renderedCount();
    QSignalSpy committed(w_.get(), &MainWindow::stateCommitted);
    for (int v = 500; v <= 1000; v += 10) ip->slider()->setValue(v);
    QVERIFY(committed.wait(60000));
    const EditState end = committed.last().first().value<EditState>();
    QCOMPARE(end.request.weights.value(1), 1.0);
    QVERIFY2(end.image == b, "the slider's end must equal the pure second prompt");
    const int renders = worker->renderedCount() - before;
    QVERIFY2(renders <= 10, qPrintable(QString("%1 renders for 50 slider steps: a backlog was queued").arg(renders)));
    ip->setT(0.0);
    QVERIFY2(waitCommit().image == a, "the slider's start must equal the pure first prompt");
    // Three prompts: the 2-D pad.
    ip->setSourceCount(3);
    QVERIFY(ip->pad()->isVisibleTo(ip));
    QVERIFY(!ip->slider()->isVisibleTo(ip));
    const EditState three = waitCommit();
    QCOMPARE(three.request.sources.size(), 3);
    double sum = 0;
    for (double x : three.request.weights) sum += x;
    QVERIFY(std::abs(sum - 1.0) < 1e-9);
  }

  void latentPadBlendsFourSeeds() {
    w_->promptPanel()->setPrompt("cat face, noto style");
    w_->canvas()->setLatentPad(20, QPointF(0, 0));
    Q_EMIT w_->canvas()->latentPadChanged(20, QPointF(0, 0));
    const EditState corner = waitCommit();
    QCOMPARE(corner.request.sources.size(), 4);
    QCOMPARE(corner.request.sources[0].seed, quint64(20));
    QCOMPARE(corner.request.sources[3].seed, quint64(23));
    QCOMPARE(corner.request.weights, (QVector<double>{1, 0, 0, 0}));
    Q_EMIT w_->canvas()->latentPadChanged(20, QPointF(0.5, 0.5));
    const EditState centre = waitCommit();
    QCOMPARE(centre.request.weights, (QVector<double>{0.25, 0.25, 0.25, 0.25}));
    QVERIFY(centre.image != corner.image);
  }

  void invertPanelInvertsAndEdits() {
    const QImage target = generateDirect("cat face, noto style", 9, 0.7);
    const QString path = dir_.filePath("target.png");
    QVERIFY(target.save(path));
    InvertPanel* inv = w_->invertPanel();
    QVERIFY(inv->setImagePath(path));
    inv->setPrompt("cat face, noto style");
    inv->findChild<QSpinBox*>()->setValue(20);
    QSignalSpy inverted(w_->engine(), &EngineHost::inverted);
    inv->run();
    QVERIFY(inverted.wait(120000));
    QVERIFY(!inv->latent().isEmpty());
    // "Edit the result": the prompt panel renders the latent.
    Q_EMIT inv->useLatent(inv->latent());
    const EditState edit = waitCommit();
    QCOMPARE(edit.request.source.latent, inv->latent());
    QCOMPARE(edit.image, inverted.first().first().value<InvertResult>().reconstruction);
    // A file that is not an image is refused with a message.
    const QString junk = dir_.filePath("junk.png");
    QFile f(junk);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("not a png");
    f.close();
    QSignalSpy msg(inv, &InvertPanel::statusMessage);
    QVERIFY(!inv->setImagePath(junk));
    QCOMPARE(msg.size(), 1);
    QCOMPARE(inv->imagePath(), path);
    w_->promptPanel()->setLatent(QString());
  }

  void undoRedoAndHistory() {
    const QImage one = generateDirect("cat face, noto style", 1, 0.7);
    const QImage two = generateDirect("cat face, noto style", 2, 0.7);
    QVERIFY(one != two);
    const int history = w_->historyList()->count();
    QVERIFY(history >= 2);
    w_->undoStack()->undo();
    QCOMPARE(w_->canvas()->image(), one);
    QCOMPARE(w_->promptPanel()->request().source.seed, quint64(1));
    w_->undoStack()->redo();
    QCOMPARE(w_->canvas()->image(), two);
    QCOMPARE(w_->promptPanel()->request().source.seed, quint64(2));
    // Clicking a history item restores it (and is itself undoable).
    QListWidget* h = w_->historyList();
    QListWidgetItem* item = h->item(h->count() - 2);
    Q_EMIT h->itemClicked(item);
    QCOMPARE(w_->canvas()->image(), one);
    w_->undoStack()->undo();
    QCOMPARE(w_->canvas()->image(), two);
  }

  void savedPngRestoresItsRecipe() {
    const QImage img = generateDirect("red heart, twemoji style", 5, 0.6);
    const QString path = dir_.filePath("saved.png");
    QString error;
    QVERIFY2(w_->saveImage(path, &error), qPrintable(error));
    QCOMPARE(QImage(path).convertToFormat(QImage::Format_RGB888), img);
    const QJsonObject recipe = MainWindow::readRecipe(path);
    QVERIFY(!recipe.isEmpty());
    // Move away, then restore from the file's recipe.
    generateDirect("cat face, noto style", 6, 1.0);
    w_->engine()->restoreRecipe(recipe);
    const EditState back = waitCommit();
    QCOMPARE(back.image, img);
    QCOMPARE(w_->promptPanel()->request().source.prompt, QString("red heart, twemoji style"));
    QCOMPARE(w_->promptPanel()->request().psi, 0.6);
    QVERIFY(MainWindow::readRecipe(dir_.filePath("target.png")).isEmpty());  // a plain PNG has none
  }

  void errorsKeepModelAndImage() {
    const QImage img = generateDirect("cat face, noto style", 8, 0.7);
    const int undo = w_->undoStack()->count();
    QSignalSpy failed(w_->engine(), &EngineHost::failed);
    w_->promptPanel()->setPrompt("  ");
    w_->promptPanel()->generate();
    QVERIFY(failed.wait(30000));
    QVERIFY2(w_->lastStatus().contains("prompt", Qt::CaseInsensitive), qPrintable(w_->lastStatus()));
    QCOMPARE(w_->canvas()->image(), img);
    QCOMPARE(w_->undoStack()->count(), undo);
    QVERIFY(w_->modelLoaded());
    // A folder that is not a package, and a broken package: the model stays.
    w_->openModel(dir_.path());
    QVERIFY(w_->lastStatus().contains("package.json"));
    QDir().mkpath(dir_.filePath("broken"));
    QFile pj(dir_.filePath("broken/package.json"));
    QVERIFY(pj.open(QIODevice::WriteOnly));
    pj.write("{\"format\": \"gigagan-package\", \"version\": 1, \"generator\": \"nope.safetensors\"}");
    pj.close();
    w_->openModel(dir_.filePath("broken"));
    QVERIFY(failed.wait(30000));
    QCOMPARE(failed.last().at(0).toString(), QString("load"));
    QVERIFY(w_->modelLoaded());
    QCOMPARE(w_->model().name, QString("tiny-test"));
    QCOMPARE(w_->canvas()->image(), img);
    // ... and the next request works.
    QCOMPARE(generateDirect("cat face, noto style", 8, 0.7), img);
  }

  void saveWithoutImageSaysWhatToDo() {
    MainWindow fresh;
    QString error;
    QVERIFY(!fresh.saveImage(dir_.filePath("none.png"), &error));
    QVERIFY(error.contains("generate"));
  }

  void cleanupTestCase() { w_.reset(); }
};

QTEST_MAIN(TestPanels)
#include "test_panels.moc"

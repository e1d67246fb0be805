// Each panel of the studio drives the real engine (tiny package) through the
// main window: Prompt, Style Mix, Interpolate (live slider without a
// backlog), the canvas's latent pad and layer strip, Invert, undo/redo and
// history, saving a PNG with its recipe and restoring it, and errors that
// keep the model and the image.
#include <QtTest/QtTest>

#include <QAction>
#include <QApplication>
#include <QLayout>
#include <QCheckBox>
#include <QLabel>
#include <QMessageBox>
#include <QPushButton>
#include <QComboBox>
#include <QToolButton>
#include <QJsonArray>
#include <QJsonDocument>
#include <QMimeData>
#include <QDoubleSpinBox>
#include <QDropEvent>
#include <QDockWidget>
#include <QLineEdit>
#include <QListWidget>
#include <QSignalSpy>
#include <QSlider>
#include <QSpinBox>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QUndoStack>

#include "image_canvas.h"
#include "image_io.h"
#include "recipe.h"
#include "interpolate_panel.h"
#include "invert_panel.h"
#include "panel_controls.h"
#include "prompt_panel.h"
#include "source_editor.h"
#include "studio_fixture.h"
#include "style_mix_panel.h"
#include "train_panel.h"
#include "weight_pad.h"

using namespace gg::ui;

class TestPanels : public QObject, public gg::test::StudioFixture {
  Q_OBJECT

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
    openStudio(true, false);
    if (QTest::currentTestFailed()) return;
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
    p->countSpin()->setValue(4);
    p->generate();
    QCOMPARE(waitCommit().image.size(), QSize(32, 32));
    p->countSpin()->setValue(1);
    // The psi slider re-renders live after a generation.
    QSignalSpy more(w_->engine(), &EngineHost::rendered);
    p->setPsi(0.7);
    p->findChild<QSlider*>()->setValue(30);
    QVERIFY(more.wait(30000));
    QCOMPARE(more.last().first().value<RenderResult>().request.psi, 0.3);
  }

  // The Style box lists the package's styles and follows the prompt's style
  // clause; picking one sets the clause; "A row per style" makes a grid row
  // for each style, the same seeds in every row.
  void styleBoxSetsThePromptsStyle() {
    PromptPanel* p = w_->promptPanel();
    QComboBox* box = p->styleBox();
    QVERIFY(box->isEnabled());
    QCOMPARE(box->count(), 3);  // "no style word", noto, twemoji
    QCOMPARE(box->itemData(1).toString(), QString("noto"));
    QCOMPARE(box->itemData(2).toString(), QString("twemoji"));
    p->setPrompt("cat face, noto style");
    QCOMPARE(box->currentData().toString(), QString("noto"));
    p->setPrompt("cat face, cartoon style");
    QCOMPARE(box->currentIndex(), -1);  // a style the model does not list
    p->setPrompt("cat face");
    QCOMPARE(box->currentIndex(), 0);
    QTest::keyClick(box, Qt::Key_Down);  // as a user steps through the list: activated
    QCOMPARE(p->promptBox()->currentText(), QString("cat face, noto style"));
    box->setCurrentIndex(2);
    Q_EMIT box->activated(2);
    QCOMPARE(p->promptBox()->currentText(), QString("cat face, twemoji style"));
    Q_EMIT box->activated(0);
    QCOMPARE(p->promptBox()->currentText(), QString("cat face"));
    // A row per style.
    p->countSpin()->setValue(4);
    p->everyStyleButton()->click();
    QCOMPARE(p->promptBox()->currentText(), QString("cat face, noto style"));
    QVERIFY2(p->notes().contains("cat face, twemoji style"), qPrintable(p->notes()));
    p->setSeed(5);
    p->generate();
    const EditState s = waitCommit();
    QCOMPARE(s.request.more_prompts, QStringList{"cat face, twemoji style"});
    QCOMPARE(s.image.size(), QSize(64, 32));  // a row per style: 2 rows x 4 seeds of 16 px
    // Editing the prompt by hand drops the rows.
    p->promptBox()->lineEdit()->selectAll();
    QTest::keyClicks(p->promptBox()->lineEdit(), "red heart");
    QVERIFY(p->request().more_prompts.isEmpty());
    QCOMPARE(box->currentIndex(), 0);
    p->countSpin()->setValue(1);
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
    // The status line names the prompt once (it is shared by the four seeds).
    QCOMPARE(w_->lastStatus().count("cat face, noto style"), 1);
    QVERIFY2(w_->lastStatus().contains("seeds 20, 21, 22, 23"), qPrintable(w_->lastStatus()));
  }

  void layerChipsShowSourcesOnlyForAStyleMix() {
    generateDirect("cat face, noto style", 2, 0.7);
    QVERIFY(!w_->canvas()->layerMixShown());
    w_->showPanel("Style Mix");
    w_->styleMixPanel()->applyPreset("coarse");
    QVERIFY(waitCommit().request.kind == RenderRequest::Kind::Mix);
    QVERIFY(w_->canvas()->layerMixShown());
    w_->undoStack()->undo();
    QVERIFY(!w_->canvas()->layerMixShown());
    w_->undoStack()->redo();
    QVERIFY(w_->canvas()->layerMixShown());
    generateDirect("cat face, noto style", 3, 0.7);
    QVERIFY(!w_->canvas()->layerMixShown());
  }

  void longPromptsShowTheirStart() {
    const QString long_prompt = "man student, medium-light skin tone, graduate, noto style, with a very long tail";
    w_->styleMixPanel()->sourceB()->setSource(Source{long_prompt, 3, {}});
    QLineEdit* e = w_->styleMixPanel()->sourceB()->promptEdit();
    QCOMPARE(e->text(), long_prompt);
    QCOMPARE(e->cursorPosition(), 0);
    QCOMPARE(e->toolTip(), long_prompt);
    // The Prompt panel's field too, set or restored.
    PromptPanel* p = w_->promptPanel();
    p->setPrompt(long_prompt);
    QCOMPARE(p->promptBox()->lineEdit()->cursorPosition(), 0);
    RenderRequest r = p->request();
    r.source.prompt = long_prompt + ", restored";
    p->setRequest(r);
    QCOMPARE(p->promptBox()->lineEdit()->cursorPosition(), 0);
    // Typed by hand: the start shows again once the field loses the focus.
    w_->show();
    QVERIFY(QTest::qWaitForWindowExposed(w_.get()));
    w_->showPanel("Style Mix");
    QLineEdit* a = w_->styleMixPanel()->sourceA()->promptEdit();
    a->setFocus();
    QTRY_VERIFY(a->hasFocus());
    a->selectAll();
    QTest::keyClicks(a, long_prompt);
    QCOMPARE(a->cursorPosition(), int(long_prompt.size()));
    w_->styleMixPanel()->sourceB()->seedSpin()->setFocus();
    QTRY_COMPARE(a->cursorPosition(), 0);
    p->setPrompt("cat face, noto style");
  }

  void promptDirectionsAreLiveAndRestored() {
    const QImage plain = generateDirect("cat face, noto style", 6, 0.8);
    PromptPanel* p = w_->promptPanel();
    auto* slider = p->findChildren<QSlider*>().last();  // the strength slider (after psi)
    QCOMPARE(slider->maximum(), 300);
    p->setDirection("noto style", "twemoji style", 0.0);
    slider->setValue(150);  // live: renders without pressing Generate
    const EditState dir = waitCommit();
    QCOMPARE(dir.request.direction_strength, 1.5);
    QCOMPARE(dir.request.direction_to, QString("twemoji style"));
    QVERIFY(dir.image != plain);
    const QJsonArray dirs = dir.recipe.value("directions").toArray();
    QCOMPARE(dirs.size(), 1);
    QCOMPARE(dirs[0].toObject().value("strength").toDouble(), 1.5);
    QVERIFY2(w_->lastStatus().contains("twemoji style"), qPrintable(w_->lastStatus()));
    // A saved PNG brings its direction back, pixel for pixel.
    const QString path = dir_.filePath("direction.png");
    QVERIFY(w_->saveImage(path));
    slider->setValue(0);
    QCOMPARE(waitCommit().image, plain);
    w_->engine()->restoreRecipe(MainWindow::readRecipe(path));
    const EditState back = waitCommit();
    QCOMPARE(back.image, dir.image);
    QCOMPARE(p->request().direction_strength, 1.5);
    QCOMPARE(p->request().direction_from, QString("noto style"));
    p->setDirection(QString(), QString(), 0.0);
  }

  // Widening or narrowing a dock resizes the canvas: the image keeps fitting
  // until the user zooms or pans; then resizing keeps the user's view.
  void canvasRefitsWhenResized() {
    ImageCanvas c;
    c.resize(200, 200);
    c.show();
    QVERIFY(QTest::qWaitForWindowExposed(&c));
    QImage img(16, 16, QImage::Format_RGB888);
    img.fill(Qt::red);
    c.setImage(img);
    const double small = c.view().zoom();
    c.resize(600, 600);
    QTRY_VERIFY(c.view().zoom() > small);
    const double large = c.view().zoom();
    c.resize(300, 300);
    QTRY_VERIFY(c.view().zoom() < large);
    c.zoomIn();
    const double user = c.view().zoom();
    c.resize(700, 700);
    QTest::qWait(50);
    QCOMPARE(c.view().zoom(), user);
    c.fitView();
    c.resize(250, 250);
    QTRY_VERIFY(c.view().zoom() < user);
  }

  // A latent in use shows a line in the Prompt panel; its room is reserved, so
  // the rows below stay where they are.
  void promptRowsDoNotJump() {
    PromptPanel* p = w_->promptPanel();
    QPushButton* generate = nullptr;
    for (QPushButton* b : p->findChildren<QPushButton*>())
      if (b->text() == "Generate") generate = b;
    QVERIFY(generate);
    w_->showPanel("Prompt");
    p->setLatent(QString());
    p->layout()->activate();
    QApplication::processEvents();
    const int y = generate->mapTo(p, QPoint(0, 0)).y();
    p->setLatent("inv99");
    p->layout()->activate();
    QApplication::processEvents();
    QCOMPARE(generate->mapTo(p, QPoint(0, 0)).y(), y);
    p->setLatent(QString());
  }

  // The tiny preset cannot use the emoji CLIP (its text tower is wider than
  // the tiny generator's input): choosing it picks its own random CLIP and a
  // length that fits; going back restores what emoji64 had.
  void trainPresetsBringAFittingClip() {
    TrainPanel* t = w_->trainPanel();
    TrainSettings s = t->settings();
    s.config = "emoji64";
    s.clip = "/packages/emoji";
    s.images = 200000;
    t->setSettings(s);
    QComboBox* preset = nullptr;
    for (QComboBox* c : t->findChildren<QComboBox*>())
      if (c->findText("tiny") >= 0) preset = c;
    QVERIFY(preset);
    preset->setCurrentText("tiny");
    QCOMPARE(t->settings().clip, QString("random"));
    QCOMPARE(t->settings().images, qint64(8192));
    preset->setCurrentText("emoji64");
    QCOMPARE(t->settings().clip, QString("/packages/emoji"));
    QCOMPARE(t->settings().images, qint64(200000));
    // A CLIP chosen for tiny comes back with tiny.
    preset->setCurrentText("tiny");
    s = t->settings();
    s.clip = "/runs/tiny-clip";
    t->setSettings(s);
    preset->setCurrentText("emoji64");
    preset->setCurrentText("tiny");
    QCOMPARE(t->settings().clip, QString("/runs/tiny-clip"));
    preset->setCurrentText("emoji64");
  }

  void typedValuesRenderOnce() {
    generateDirect("cat face, noto style", 2, 0.7);
    const int history = w_->historyList()->count();
    auto* psi = w_->promptPanel()->findChild<QDoubleSpinBox*>();
    QVERIFY(psi);
    psi->setFocus();
    psi->selectAll();
    QSignalSpy committed(w_.get(), &MainWindow::stateCommitted);
    QTest::keyClicks(psi, "0.55");
    QTest::qWait(200);
    QCOMPARE(committed.size(), 0);  // nothing while typing
    QTest::keyClick(psi, Qt::Key_Return);
    QVERIFY(committed.wait(60000));
    QTest::qWait(300);
    QCOMPARE(committed.size(), 1);
    QCOMPARE(committed.first().first().value<EditState>().request.psi, 0.55);
    QCOMPARE(w_->historyList()->count(), history + 1);
    // The same for a typed seed.
    auto* seed = w_->promptPanel()->findChild<QSpinBox*>();
    QVERIFY(seed && seed->prefix().contains("seed"));
    seed->setFocus();
    seed->selectAll();
    QTest::keyClicks(seed, "123");
    QTest::keyClick(seed, Qt::Key_Return);
    QVERIFY(committed.wait(60000));
    QTest::qWait(300);
    QCOMPARE(committed.size(), 2);
    QCOMPARE(committed.last().first().value<EditState>().request.source.seed, quint64(123));
  }

  void invertPanelInvertsAndEdits() {
    const QImage target = generateDirect("cat face, noto style", 9, 0.7);
    const QString path = dir_.filePath("target.png");
    QVERIFY(target.save(path));
    InvertPanel* inv = w_->invertPanel();
    QVERIFY(inv->wPlus());  // the default, as `gigagan invert`
    QVERIFY(inv->setImagePath(path));
    inv->setPrompt("cat face, noto style");
    inv->findChild<QSpinBox*>()->setValue(20);
    QSignalSpy inverted(w_->engine(), &EngineHost::inverted);
    QSignalSpy shown(w_.get(), &MainWindow::stateCommitted);
    inv->run();
    QVERIFY(inverted.wait(120000));
    QVERIFY(!inv->latent().isEmpty());
    // The canvas shows the reconstruction, not only the panel's thumbnail.
    QVERIFY(shown.wait(60000));
    QCOMPARE(w_->canvas()->image(), inverted.first().first().value<InvertResult>().reconstruction);
    // The error has its units, as the CLI prints it.
    bool units = false;
    for (QLabel* l : inv->findChildren<QLabel*>()) units |= l->text().contains("MSE") && l->text().contains("dB");
    QVERIFY(units);
    // Meanwhile the Prompt panel moved on to another prompt, a grid and random seeds.
    generateDirect("red heart, twemoji style", 4, 0.7);
    RenderRequest grid = w_->promptPanel()->request();
    grid.count = 4;
    w_->promptPanel()->setRequest(grid);
    auto* random = w_->promptPanel()->findChild<QCheckBox*>();
    QVERIFY(random && random->text().contains("random"));
    random->setChecked(true);
    // "Edit the result": the canvas shows the reconstruction, under its own prompt.
    QPushButton* edit_button = nullptr;
    for (QPushButton* b : inv->findChildren<QPushButton*>())
      if (b->text() == "Edit the result") edit_button = b;
    QVERIFY(edit_button && edit_button->isEnabled());
    QSignalSpy committed(w_.get(), &MainWindow::stateCommitted);
    edit_button->click();
    QVERIFY(committed.wait(60000));
    const EditState edit = committed.last().first().value<EditState>();
    random->setChecked(false);
    QCOMPARE(edit.request.source.latent, inv->latent());
    QCOMPARE(edit.request.source.prompt, QString("cat face, noto style"));
    QCOMPARE(edit.image, inverted.first().first().value<InvertResult>().reconstruction);
    QCOMPARE(w_->canvas()->image(), edit.image);
    QCOMPARE(w_->promptPanel()->request().source.prompt, QString("cat face, noto style"));
    QCOMPARE(w_->styleMixPanel()->sourceA()->source().latent, inv->latent());
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

  void helpPageNamesKeysMouseAndPanels() {
    QAction* action = nullptr;
    for (QAction* a : w_->findChildren<QAction*>())
      if (a->text().contains("Keys, Mouse")) action = a;
    QVERIFY(action);
    QCOMPARE(action->shortcut(), QKeySequence(QKeySequence::HelpContents));
    action->trigger();
    auto* box = w_->findChild<QMessageBox*>("help");
    QVERIFY(box);
    QTRY_VERIFY(box->isVisible());
    for (const char* needle : {"Ctrl+Enter", "F2", "wheel", "Style Mix", "Invert", "Drag", "Train"})
      QVERIFY2(box->text().contains(needle), needle);
    box->close();
  }

  void presetClicksAddHistoryEntries() {
    w_->showPanel("Style Mix");
    StyleMixPanel* m = w_->styleMixPanel();
    m->applyPreset("coarse");
    waitCommit();
    const int n = w_->historyList()->count();
    QTest::qWait(900);
    m->applyPreset("middle");
    waitCommit();
    QCOMPARE(w_->historyList()->count(), n + 1);
    QTest::qWait(900);
    m->applyPreset("fine");
    waitCommit();
    QCOMPARE(w_->historyList()->count(), n + 2);
  }

  void styleMixStartsFromTheCurrentPrompt() {
    MainWindow fresh;
    fresh.show();
    QVERIFY(QTest::qWaitForWindowExposed(&fresh));
    QSignalSpy committed(&fresh, &MainWindow::stateCommitted);
    fresh.openModel(dir_.filePath("tiny"));
    QVERIFY(committed.wait(60000));
    fresh.promptPanel()->setPrompt("waving hand, noto style");
    fresh.promptPanel()->setSeed(42);
    fresh.promptPanel()->generate();
    QVERIFY(committed.wait(60000));
    fresh.showPanel("Style Mix");
    QTRY_COMPARE(fresh.styleMixPanel()->sourceA()->source().prompt, QString("waving hand, noto style"));
    QCOMPARE(fresh.styleMixPanel()->sourceA()->source().seed, quint64(42));
    QCOMPARE(fresh.styleMixPanel()->sourceB()->source().prompt, QString("waving hand, noto style"));
    QCOMPARE(fresh.styleMixPanel()->sourceB()->source().seed, quint64(43));
    // Once a mix was made, Style Mix keeps its own sources.
    fresh.styleMixPanel()->applyPreset("coarse");
    QVERIFY(committed.wait(60000));
    fresh.showPanel("Prompt");
    fresh.promptPanel()->setPrompt("blue heart");
    fresh.promptPanel()->generate();
    QVERIFY(committed.wait(60000));
    fresh.showPanel("Style Mix");
    QTest::qWait(100);
    QCOMPARE(fresh.styleMixPanel()->sourceA()->source().prompt, QString("waving hand, noto style"));
  }

  void saveWithoutImageSaysWhatToDo() {
    MainWindow fresh;
    QString error;
    QVERIFY(!fresh.saveImage(dir_.filePath("none.png"), &error));
    QVERIFY(error.contains("generate"));
  }

  // Quick preset clicks (well under the 800 ms that merge a slider drag into
  // one step): each is an undo step and a history entry of its own.
  void quickPresetClicksAreEditsOfTheirOwn() {
    w_->showPanel("Style Mix");
    StyleMixPanel* m = w_->styleMixPanel();
    m->applyPreset("fine");
    waitCommit();
    const int history = w_->historyList()->count(), undo = w_->undoStack()->count();
    m->applyPreset("coarse");
    QVERIFY(waitCommit().request.discrete);
    m->applyPreset("middle");
    waitCommit();
    QCOMPARE(w_->historyList()->count(), history + 2);
    QCOMPARE(w_->undoStack()->count(), undo + 2);
    // The amount slider is live (a fraction of B on the checked layers).
    m->findChildren<QSlider*>().last()->setValue(40);
    const EditState part = waitCommit();
    QVERIFY(!part.request.discrete);
    QCOMPARE(part.request.mix_w.value(2), 0.4);
    QCOMPARE(part.request.mix_w.value(0), 0.0);
    m->findChildren<QSlider*>().last()->setValue(100);
    waitCommit();
  }

  // Style Mix shows A and B alone beside their fields, rendered by the
  // engine, and follows when either changes.
  void styleMixShowsItsSourcesAlone() {
    const QImage a = generateDirect("cat face, noto style", 21, 0.7);
    const QImage b = generateDirect("red heart, twemoji style", 22, 0.7);
    w_->show();
    QVERIFY(QTest::qWaitForWindowExposed(w_.get()));
    w_->showPanel("Style Mix");
    StyleMixPanel* m = w_->styleMixPanel();
    QMap<QString, QImage> thumbs;
    auto c = connect(w_->engine(), &EngineHost::thumbnailRendered, this,
                     [&](const QString& tag, const RenderResult& r) { thumbs[tag] = r.image; });
    m->sourceA()->setSource(Source{"cat face, noto style", 21, {}});
    m->sourceB()->setSource(Source{"red heart, twemoji style", 22, {}});
    m->applyPreset("coarse");
    waitCommit();
    QTRY_VERIFY_WITH_TIMEOUT(thumbs.contains("mix-a") && thumbs.contains("mix-b"), 60000);
    QCOMPARE(thumbs["mix-a"], a);
    QCOMPARE(thumbs["mix-b"], b);
    QVERIFY(!m->thumbnail(0)->pixmap().isNull());
    QVERIFY(!m->thumbnail(1)->pixmap().isNull());
    QCOMPARE(m->thumbnail(0)->pixmap().toImage().convertToFormat(QImage::Format_RGB888),
             crispPixmap(a, QSize(64, 64)).toImage().convertToFormat(QImage::Format_RGB888));
    // B's seed from its spin box: B's thumbnail follows, A's is not rendered again.
    thumbs.clear();
    m->sourceB()->seedSpin()->setValue(23);
    waitCommit();
    QTRY_VERIFY_WITH_TIMEOUT(thumbs.contains("mix-b"), 60000);
    QTest::qWait(200);
    QVERIFY(!thumbs.contains("mix-a"));
    QCOMPARE(thumbs["mix-b"], generateDirect("red heart, twemoji style", 23, 0.7));
    disconnect(c);
  }

  // A PNG whose recipe holds every field, dropped on the window: the panels
  // take all of it (psi per source, a grid with its rows and columns, the
  // direction's layers, the upsampler and its seed, the noise, the mean-w
  // samples, fractional mixes, exact interpolation weights), so that
  // rendering from them gives the same recipe back, hence the same pixels.
  void droppedRecipeRestoresEveryField() {
    generateDirect("cat face, noto style", 5, 0.7);
    const QJsonObject stamp = w_->current().recipe;  // the model's name and hash
    const auto drop = [&](const QJsonObject& recipe) {
      const QString path = dir_.filePath("dropped.png");
      gg::write_png(path.toStdString(), cv::Mat(8, 8, CV_8UC3, cv::Scalar(40, 80, 120)),
                    {{MainWindow::recipeKey(), QJsonDocument(recipe).toJson(QJsonDocument::Compact).toStdString()}});
      QMimeData mime;
      mime.setUrls({QUrl::fromLocalFile(path)});
      QDropEvent event(QPointF(20, 20), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
      // Straight to the window's drop handler (QApplication routes drops only
      // while a drag is in progress).
      static_cast<QObject*>(w_.get())->event(&event);
      return waitCommit(120000);
    };
    const auto same = [](const QJsonObject& a, const QJsonObject& b) {
      const auto norm = [](const QJsonObject& o) {
        return gg::RecipeGrid::from_json(gg::json::parse(QJsonDocument(o).toJson().toStdString())).to_json().dump();
      };
      return norm(a) == norm(b);
    };
    const auto cell = [&](const QString& prompt, int seed, int upsample_seed) {
      QJsonObject c;
      c["model"] = stamp.value("model");
      c["sources"] = QJsonArray{QJsonObject{{"prompt", prompt}, {"seed", seed}, {"psi", 0.625}}};
      c["directions"] = QJsonArray{QJsonObject{
          {"from", "noto style"}, {"to", "twemoji style"}, {"strength", 0.75}, {"layers", "coarse"}}};
      c["upsample"] = true;
      c["upsample_seed"] = upsample_seed;
      c["noise"] = "none";
      c["mean_w_samples"] = 512;
      return c;
    };

    // A grid of two rows (two prompts) and four columns.
    const QJsonObject grid{{"format", "gigagan-recipe"}, {"version", 1},
                           {"grid", QJsonObject{{"columns", 4},
                                                {"cells", QJsonArray{cell("cat face, noto style", 5, 9),
                                                                     cell("cat face, noto style", 6, 10),
                                                                     cell("red heart, twemoji style", 5, 9),
                                                                     cell("red heart, twemoji style", 6, 10)}}}}};
    const EditState g = drop(grid);
    QVERIFY2(g.valid(), qPrintable(w_->lastStatus()));
    QCOMPARE(g.image.size(), QSize(4 * 64, 64));
    PromptPanel* p = w_->promptPanel();
    const RenderRequest pr = p->request();
    QCOMPARE(pr.source.prompt, QString("cat face, noto style"));
    QCOMPARE(pr.source.seed, quint64(5));
    QCOMPARE(pr.count, 2);
    QCOMPARE(pr.more_prompts, QStringList{"red heart, twemoji style"});
    QCOMPARE(pr.columns, 4);
    QCOMPARE(pr.psi, 0.625);
    QVERIFY(pr.upsample);
    QCOMPARE(pr.upsample_seed.value_or(0), quint64(9));
    QCOMPARE(pr.noise, QString("none"));
    QCOMPARE(pr.mean_w_samples, 512);
    QCOMPARE(pr.direction_strength, 0.75);
    QCOMPARE(pr.direction_layers, QString("coarse"));
    QCOMPARE(p->countSpin()->value(), 2);
    QCOMPARE(p->noiseBox()->currentData().toString(), QString("none"));
    QCOMPARE(p->upsampleSeedSpin()->value(), 9);
    QVERIFY2(p->notes().contains("red heart, twemoji style"), qPrintable(p->notes()));
    QVERIFY2(same(g.recipe, grid), "the panels render the dropped recipe");
    // Generate again from the panel: the same image.
    p->generate();
    QCOMPARE(waitCommit().image, g.image);

    // A style mix with fractions of B (different for w and text), a psi per
    // source and slerp.
    QJsonObject mix;
    mix["model"] = stamp.value("model");
    mix["sources"] = QJsonArray{QJsonObject{{"prompt", "cat face, noto style"}, {"seed", 3}, {"psi", 0.5}},
                                QJsonObject{{"prompt", "red heart, twemoji style"}, {"seed", 4}, {"psi", 0.875}}};
    mix["w"] = QJsonArray{1, 0};
    mix["t"] = QJsonArray{1, 0};
    mix["blend"] = "slerp";
    mix["layers"] = QJsonArray{QJsonObject{{"layers", "0,1"}, {"w", QJsonArray{0.25, 0.75}}, {"t", QJsonArray{0.5, 0.5}}},
                               QJsonObject{{"layers", "2"}, {"w", QJsonArray{0, 1}}}};
    const EditState m = drop(mix);
    QVERIFY2(m.valid(), qPrintable(w_->lastStatus()));
    QCOMPARE(int(m.request.kind), int(RenderRequest::Kind::Mix));
    StyleMixPanel* sm = w_->styleMixPanel();
    const RenderRequest mr = sm->request();
    QCOMPARE(mr.mix_w, (QVector<double>{0.75, 0.75, 1.0, 0.0}));
    QCOMPARE(mr.mix_t, (QVector<double>{0.5, 0.5, 0.0, 0.0}));
    QCOMPARE(mr.layer_sources, (QVector<int>{1, 1, 1, 0}));
    QVERIFY(sm->slerp());
    QCOMPARE(p->request().psi, 0.5);
    QVERIFY(!mr.a.psi.has_value());
    QCOMPARE(mr.b.psi.value_or(0), 0.875);
    QVERIFY(sm->sourceB()->psiLabel()->isVisibleTo(sm));
    QVERIFY(!p->request().upsample);
    QCOMPARE(p->noiseBox()->currentData().toString(), QString("const"));
    QVERIFY2(same(m.recipe, mix), "the panels render the dropped mix");

    // Three prompts with their own psi and weights the pad cannot hit exactly.
    QJsonObject interp;
    interp["model"] = stamp.value("model");
    interp["sources"] = QJsonArray{QJsonObject{{"prompt", "cat face, noto style"}, {"seed", 1}, {"psi", 0.5}},
                                   QJsonObject{{"prompt", "red heart, twemoji style"}, {"seed", 2}, {"psi", 0.75}},
                                   QJsonObject{{"prompt", "cat face, noto style"}, {"seed", 3}, {"psi", 0.5}}};
    interp["w"] = QJsonArray{0.5, 0.25, 0.25};
    interp["t"] = QJsonArray{0.5, 0.25, 0.25};
    const EditState i = drop(interp);
    QVERIFY2(i.valid(), qPrintable(w_->lastStatus()));
    QCOMPARE(int(i.request.kind), int(RenderRequest::Kind::Interpolate));
    InterpolatePanel* ip = w_->interpolatePanel();
    QCOMPARE(ip->sourceCount(), 3);
    QCOMPARE(ip->request().weights, (QVector<double>{0.5, 0.25, 0.25}));
    QCOMPARE(ip->editor(1)->source().psi.value_or(0), 0.75);
    QVERIFY(!ip->editor(0)->source().psi.has_value());
    QVERIFY2(same(i.recipe, interp), "the panels render the dropped interpolation");
    // Editing a source's seed gives it the Prompt panel's psi again.
    ip->editor(1)->seedSpin()->setValue(7);
    QVERIFY(!ip->editor(1)->source().psi.has_value());
    waitCommit();
    ip->setSourceCount(2);
    waitCommit();
  }

  // Style Mix follows the Prompt panel until a mix is made, also when its tab
  // is the one shown while the model loads (a restored window layout).
  void styleMixFollowsThePromptUntilAMix() {
    MainWindow fresh;
    fresh.show();
    QVERIFY(QTest::qWaitForWindowExposed(&fresh));
    fresh.showPanel("Style Mix");
    QSignalSpy committed(&fresh, &MainWindow::stateCommitted);
    fresh.openModel(dir_.filePath("tiny"));
    QVERIFY(committed.wait(60000));
    const Source first = fresh.promptPanel()->request().source;
    QCOMPARE(fresh.styleMixPanel()->sourceA()->source().prompt, first.prompt);
    QCOMPARE(fresh.styleMixPanel()->sourceA()->source().seed, first.seed);
    fresh.promptPanel()->setPrompt("waving hand, noto style");
    fresh.promptPanel()->setSeed(8);
    fresh.promptPanel()->generate();
    QVERIFY(committed.wait(60000));
    QCOMPARE(fresh.styleMixPanel()->sourceA()->source().prompt, QString("waving hand, noto style"));
    QCOMPARE(fresh.styleMixPanel()->sourceB()->source().seed, quint64(9));
  }

  void cleanupTestCase() { w_.reset(); }
};

QTEST_MAIN(TestPanels)
#include "test_panels.moc"

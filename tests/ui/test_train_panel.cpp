// The Train tab with the real trainer: `gigagan train --config tiny --progress
// json` runs to completion, the tab shows progress, loss curves, the sample
// grid and the checkpoint, and "Use in studio" loads the checkpoint's
// package; pause / resume / stop through the stdin words; a run that dies is
// reported; a detached run survives its TrainProcess; closing the window
// during a run asks (cancel, stop with a checkpoint, keep it running).
#include <QtTest/QtTest>

#include <QDir>
#include <QFile>
#include <QImage>
#include <QMessageBox>
#include <QRegularExpression>
#include <QSet>
#include <QSettings>
#include <QTimer>
#include <QAbstractButton>
#include <QApplication>
#include <QLabel>
#include <QPainter>
#include <QPushButton>
#include <QScrollArea>
#include <QScrollBar>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>

#include <csignal>
#include <functional>
#include <memory>
#include <sys/types.h>

#include "engine_worker.h"
#include "image_canvas.h"
#include "main_window.h"
#include "train_panel.h"

using namespace gg::ui;

namespace {
// 24 tiny captioned images (coloured discs and squares on white).
void writeDataset(const QString& dir) {
  QDir().mkpath(dir);
  QFile manifest(dir + "/manifest.jsonl");
  QVERIFY(manifest.open(QIODevice::WriteOnly));
  const char* colours[] = {"red", "blue", "green", "orange"};
  const QColor qcolours[] = {Qt::red, Qt::blue, Qt::darkGreen, QColor(255, 140, 0)};
  for (int i = 0; i < 24; ++i) {
    QImage img(32, 32, QImage::Format_RGB888);
    img.fill(Qt::white);
    QPainter p(&img);
    p.setRenderHint(QPainter::Antialiasing);
    p.setBrush(qcolours[i % 4]);
    p.setPen(Qt::NoPen);
    const bool disc = (i / 4) % 2 == 0;
    const QRectF r(6 + i % 3, 6 + i % 5, 18, 18);
    if (disc) p.drawEllipse(r); else p.drawRect(r);
    p.end();
    const QString name = QString("img%1.png").arg(i);
    QVERIFY(img.save(dir + "/" + name));
    manifest.write(QString("{\"image\": \"%1\", \"caption\": \"%2 %3\"}\n")
                       .arg(name, colours[i % 4], disc ? "disc" : "square")
                       .toUtf8());
  }
}

TrainSettings tinySettings(const QString& data, const QString& out, qint64 images) {
  TrainSettings s;
  s.data = data;
  s.config = "tiny";
  s.out = out;
  s.images = images;
  s.batch = 4;
  s.clip = "random";
  s.checkpoint_every = 16;
  s.augment = {"translation"};
  s.extra = {"--tick", "4", "--threads", "1"};
  return s;
}

// The `gigagan` process in session `sid` (the wrapper shell's session).
pid_t trainerIn(pid_t sid) {
  for (const QString& entry : QDir("/proc").entryList(QDir::Dirs)) {
    bool ok = false;
    const pid_t pid = entry.toInt(&ok);
    if (!ok) continue;
    QFile stat("/proc/" + entry + "/stat");
    if (!stat.open(QIODevice::ReadOnly)) continue;
    const QByteArray s = stat.readAll();
    const int close = s.lastIndexOf(')');
    const QByteArray comm = s.mid(s.indexOf('(') + 1, close - s.indexOf('(') - 1);
    const QList<QByteArray> f = s.mid(close + 2).split(' ');  // state ppid pgrp session ...
    if (comm == "gigagan" && f.size() > 3 && f[3].toInt() == sid) return pid;
  }
  return -1;
}

bool waitFor(const std::function<bool()>& done, int timeout_ms) {
  QElapsedTimer t;
  t.start();
  while (!done()) {
    if (t.elapsed() > timeout_ms) return false;
    QTest::qWait(50);
  }
  return true;
}

// A step event with these loss terms.
TrainEvent stepEvent(qint64 images, const QStringList& terms, double images_per_s) {
  TrainEvent e;
  e.type = TrainEvent::Type::Step;
  e.name = "step";
  e.images = images;
  e.step = images / 4;
  e.images_per_s = images_per_s;
  e.eta_s = 1000.0 / images_per_s;
  e.lr = 0.002;
  for (int i = 0; i < terms.size(); ++i) e.losses.insert(terms[i], 0.5 + 0.1 * i + 1.0 / double(images));
  return e;
}

void touch(const QString& path, const QByteArray& text = "x") {
  QDir().mkpath(QFileInfo(path).absolutePath());
  QFile f(path);
  QVERIFY(f.open(QIODevice::WriteOnly));
  f.write(text);
}

// Clicks, once the window's close dialog is up, the button that `pick`
// returns (polled: the dialog runs its own event loop inside close()).
void answerCloseDialog(const std::function<QAbstractButton*(QMessageBox*)>& pick) {
  auto tries = std::make_shared<int>(0);
  auto poll = std::make_shared<std::function<void()>>();
  *poll = [pick, tries, poll] {
    auto* box = qobject_cast<QMessageBox*>(QApplication::activeModalWidget());
    if (box && box->isVisible()) {
      QAbstractButton* b = pick(box);
      QVERIFY(b);
      b->click();
      *poll = nullptr;  // break the self-reference
      return;
    }
    if (++*tries < 600) QTimer::singleShot(50, *poll);
  };
  QTimer::singleShot(50, *poll);
}

QAbstractButton* buttonWithText(QMessageBox* box, const QString& prefix) {
  for (QAbstractButton* b : box->buttons())
    if (b->text().startsWith(prefix)) return b;
  return nullptr;
}
}  // namespace

class TestTrainPanel : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;
  QString data_;

 private Q_SLOTS:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    const QString cli = QStringLiteral(GIGAGAN_BINARY_DIR) + "/app/gigagan";
    if (!QFileInfo(cli).isExecutable()) QFAIL("build the gigagan executable first (ninja gigagan)");
    qputenv("GIGAGAN_CLI", cli.toUtf8());
    data_ = dir_.filePath("data");
    writeDataset(data_);
  }

  // A failed run's long message (paths without spaces) wraps inside the tab:
  // the tab keeps the dock's width, Start and the form's labels stay in view.
  void longErrorWrapsInsideThePanel() {
    QScrollArea area;  // as the dock holds the tab
    auto* t = new TrainPanel;
    area.setWidget(t);
    area.setWidgetResizable(true);
    area.resize(520, 700);
    area.show();
    QVERIFY(QTest::qWaitForWindowExposed(&area));
    const int width = t->width(), minimum = t->minimumSizeHint().width();
    const bool scrolls = area.horizontalScrollBar()->isVisible();
    QString message = "Training failed: cannot read '" + QString("/very/long/folder_name").repeated(30) +
                      "/manifest.jsonl': no usable image in the dataset folder";
    Q_EMIT t->process()->finished(false, message);
    QTRY_VERIFY(t->statusText().contains("no usable image"));
    QApplication::processEvents();
    QCOMPARE(t->width(), width);
    QCOMPARE(t->minimumSizeHint().width(), minimum);
    QCOMPARE(area.horizontalScrollBar()->isVisible(), scrolls);
    QLabel* label = nullptr;
    for (QLabel* l : t->findChildren<QLabel*>())
      if (l->text().contains("no usable image")) label = l;
    QVERIFY(label);
    QVERIFY(label->wordWrap());
    QVERIFY(label->geometry().right() <= t->width());
    QVERIFY2(label->height() >= 3 * label->fontMetrics().lineSpacing(), "the message wraps over several lines");
    for (QPushButton* b : t->findChildren<QPushButton*>())
      if (b->text() == "Start") QVERIFY(b->mapTo(t, QPoint(b->width(), 0)).x() <= t->width());
  }

  // Start without Resume never continues a run: a folder in use gives way to
  // a new one beside it; Resume keeps the folder.
  void startWithoutResumeStartsANewRun() {
    TrainPanel t;
    t.process()->setCli("/bin/true");  // no training: only the folder chosen matters here
    const QString run = dir_.filePath("again");
    touch(run + "/stats.jsonl");
    TrainSettings s = tinySettings(data_, run, 32);
    t.setSettings(s);
    QSignalSpy finished(t.process(), &TrainProcess::finished);
    t.startRun();
    QCOMPARE(t.settings().out, run + "-2");
    QVERIFY(t.statusText().contains("again-2"));
    QVERIFY(finished.wait(30000));
    touch(run + "-2/stats.jsonl");
    t.startRun();
    QCOMPARE(t.settings().out, run + "-3");  // not "again-2-2"
    QVERIFY(finished.wait(30000));
    s.out = run;
    s.resume = true;
    t.setSettings(s);
    t.startRun();
    QCOMPARE(t.settings().out, run);
    QVERIFY(finished.wait(30000));
    QCOMPARE(TrainPanel::freshRunFolder(dir_.filePath("never-used")), dir_.filePath("never-used"));
  }

  // The settings round-trip through the form, the vision-aided backbone
  // included; an unknown value falls back to the preset's.
  void settingsRoundTrip() {
    TrainPanel t;
    TrainSettings s = tinySettings(data_, dir_.filePath("rt"), 32);
    s.vision_backbone = "inception_v3";
    s.lr = 0.001;
    t.setSettings(s);
    const TrainSettings back = t.settings();
    QCOMPARE(back.vision_backbone, QString("inception_v3"));
    QCOMPARE(back.arguments(), s.arguments());
    s.vision_backbone = "vgg";
    t.setSettings(s);
    QCOMPARE(t.settings().vision_backbone, QString());
  }

  // Each loss term has its own colour, the same in every run; terms the
  // palette does not know get colours no other curve has.
  void lossCurvesHaveDistinctColours() {
    const QStringList terms{"g_total", "g_gan",  "g_match", "g_clip", "g_vision", "g_recon", "g_pixel", "g_perceptual",
                            "d_real",  "d_fake", "d_match", "d_vision", "r1",     "new_a",   "new_b",   "new_c"};
    TrainPanel a, b;
    Q_EMIT a.process()->event(stepEvent(16, terms, 8.0));
    Q_EMIT b.process()->event(stepEvent(16, {"d_real", "g_gan"}, 8.0));
    QSet<QRgb> colours;
    for (const QString& term : terms) {
      QVERIFY2(a.lossColourOf(term).isValid(), qPrintable(term));
      colours.insert(a.lossColourOf(term).rgb());
    }
    QCOMPARE(colours.size(), terms.size());
    QCOMPARE(b.lossColourOf("g_gan"), a.lossColourOf("g_gan"));
    QCOMPARE(b.lossColourOf("d_real"), a.lossColourOf("d_real"));
  }

  // The list beside "Use in studio" shows the run folder's checkpoints (the
  // trainer's RUN/checkpoints/ckpt-<images>.safetensors beside RUN/package),
  // also of a run started before, and follows checkpoint events.
  void checkpointListShowsTheRunsCheckpoints() {
    const QString run = dir_.filePath("listed");
    touch(run + "/checkpoints/ckpt-000000000016.safetensors");
    touch(run + "/checkpoints/ckpt-000000000032.safetensors");
    touch(run + "/package/package.json", "{}");
    TrainPanel t;
    TrainSettings s = tinySettings(data_, run, 64);
    s.resume = true;
    t.setSettings(s);
    QCOMPARE(t.checkpointFiles(), (QStringList{run + "/checkpoints/ckpt-000000000016.safetensors",
                                               run + "/checkpoints/ckpt-000000000032.safetensors"}));
    QCOMPARE(t.checkpointPackages(), (QStringList{run + "/packages/ckpt-000000000016", run + "/package"}));
    touch(run + "/checkpoints/ckpt-000000000048.safetensors");
    TrainEvent e;
    e.type = TrainEvent::Type::Checkpoint;
    e.images = 48;
    e.path = run + "/checkpoints/ckpt-000000000048.safetensors";
    e.package = run + "/package";
    Q_EMIT t.process()->event(e);
    QCOMPARE(t.checkpointFiles().size(), 3);
    QCOMPARE(t.checkpointPackages().last(), run + "/package");
  }

  // The ETA follows the throughput of the last minutes, not the trainer's
  // last tick: a tick 30 times slower (a checkpoint) barely moves it.
  void etaDoesNotJump() {
    TrainPanel t;
    TrainEvent start;
    start.type = TrainEvent::Type::Start;
    start.images_target = 100000;
    Q_EMIT t.process()->event(start);
    const auto eta = [&] {
      const QString text = t.statusText();
      const QRegularExpressionMatch m = QRegularExpression("ETA (\\d+) h (\\d+) min").match(text);
      return m.hasMatch() ? m.captured(1).toInt() * 60 + m.captured(2).toInt() : -1;
    };
    for (int i = 1; i <= 5; ++i) Q_EMIT t.process()->event(stepEvent(16 * i, {"g_gan"}, 8.0));
    const int before = eta();
    QVERIFY2(before > 0, qPrintable(t.statusText()));
    Q_EMIT t.process()->event(stepEvent(96, {"g_gan"}, 0.26));
    const int after = eta();
    QVERIFY2(after > 0 && after < 2 * before, qPrintable(QString("%1 -> %2 min").arg(before).arg(after)));
  }

  void runsToCompletionAndUsesTheCheckpoint() {
    MainWindow w;
    TrainPanel* t = w.trainPanel();
    t->setSettings(tinySettings(data_, dir_.filePath("run1"), 32));
    QSignalSpy finished(t, &TrainPanel::runFinished);
    QSignalSpy events(t->process(), &TrainProcess::event);
    t->startRun();
    QVERIFY(t->running());
    QVERIFY(finished.wait(600000));
    QVERIFY2(finished.first().at(0).toBool(), qPrintable(finished.first().at(1).toString()));
    QVERIFY(!t->running());
    QCOMPARE(t->process()->exitCode(), 0);
    QVERIFY(t->imagesSeen() >= 32);
    QVERIFY2(!t->lossTerms().isEmpty(), "live loss curves per term");
    for (const QString& term : t->lossTerms()) QVERIFY(t->lossPointCount(term) >= 1);
    QVERIFY2(QFileInfo::exists(t->latestSamplePath()), "the latest sample grid is shown");
    const QStringList packages = t->checkpointPackages();
    QVERIFY2(!packages.isEmpty(), "the run's checkpoints are listed");
    QVERIFY(QFileInfo::exists(packages.last() + "/package.json"));
    bool saw_start = false, saw_done = false;
    for (const QList<QVariant>& e : events) {
      const TrainEvent ev = e.first().value<TrainEvent>();
      saw_start |= ev.type == TrainEvent::Type::Start;
      saw_done |= ev.type == TrainEvent::Type::Done && ev.reason == "finished";
    }
    QVERIFY(saw_start && saw_done);
    QVERIFY(t->statusText().contains("finished"));

    // "Use in studio": the checkpoint's package becomes the studio's model.
    QSignalSpy loaded(w.engine(), &EngineHost::modelLoaded);
    QSignalSpy committed(&w, &MainWindow::stateCommitted);
    t->useSelectedCheckpoint();
    QVERIFY(loaded.wait(60000));
    QCOMPARE(QDir(w.model().folder).canonicalPath(), QDir(packages.last()).canonicalPath());
    QVERIFY(committed.wait(60000));
    QCOMPARE(w.canvas()->image().size(), QSize(16, 16));
  }

  void pauseResumeStop() {
    TrainPanel t;
    t.setSettings(tinySettings(data_, dir_.filePath("run2"), 10000000));
    QSignalSpy finished(&t, &TrainPanel::runFinished);
    t.startRun();
    TrainProcess* p = t.process();
    QVERIFY2(waitFor([&] { return t.imagesSeen() > 0; }, 300000), "no step event from the trainer");
    t.togglePause();
    QVERIFY2(waitFor([&] { return p->state() == TrainProcess::State::Paused; }, 60000), "no 'paused' event");
    const qint64 paused_at = t.imagesSeen();
    QTest::qWait(1500);
    QCOMPARE(t.imagesSeen(), paused_at);
    t.togglePause();
    QVERIFY2(waitFor([&] { return p->state() == TrainProcess::State::Running; }, 60000), "no 'resumed' event");
    QVERIFY(waitFor([&] { return t.imagesSeen() > paused_at; }, 120000));
    t.stopRun();
    QVERIFY(finished.wait(300000));
    QVERIFY2(finished.first().at(0).toBool(), qPrintable(finished.first().at(1).toString()));
    QVERIFY(finished.first().at(1).toString().contains("stopped"));
    QVERIFY2(!t.checkpointPackages().isEmpty(), "stop saves a checkpoint");
  }

  void deadRunIsReported() {
    TrainPanel t;
    const QString empty = dir_.filePath("empty");
    QDir().mkpath(empty);
    t.setSettings(tinySettings(empty, dir_.filePath("run3"), 32));
    QSignalSpy finished(&t, &TrainPanel::runFinished);
    QSignalSpy status(&t, &TrainPanel::statusMessage);
    t.startRun();
    QVERIFY(finished.wait(120000));
    QVERIFY(!finished.first().at(0).toBool());
    const QString summary = finished.first().at(1).toString();
    QVERIFY2(summary.contains(empty) || summary.contains("empty"), qPrintable(summary));
    QVERIFY(t.checkpointPackages().isEmpty());
    // The form refuses what cannot work, before starting anything.
    t.setSettings(tinySettings(dir_.filePath("no-such-folder"), dir_.filePath("run4"), 32));
    t.startRun();
    QVERIFY(!t.running());
    QVERIFY(status.last().first().toString().contains("dataset folder"));
  }

  // Closing the window while a run trains asks first: Cancel keeps the window
  // and the run; "Stop and save a checkpoint" ends the run with a stop
  // checkpoint before the window closes; "Keep running in the background"
  // closes the window and leaves the run alive, its log remembered.
  void closingTheWindowDuringTrainingAsks() {
    auto started = [&](MainWindow& w, const QString& run) {
      TrainPanel* t = w.trainPanel();
      t->setSettings(tinySettings(data_, dir_.filePath(run), 10000000));
      t->startRun();
      return waitFor([&] { return t->imagesSeen() > 0; }, 300000);
    };
    {
      MainWindow w;
      w.show();
      QVERIFY2(started(w, "close-stop"), "no step event from the trainer");
      answerCloseDialog([](QMessageBox* box) { return box->button(QMessageBox::Cancel); });
      QVERIFY(!w.close());
      QVERIFY(w.isVisible());
      QVERIFY(w.trainPanel()->running());
      const QString log = w.trainPanel()->process()->logPath();
      answerCloseDialog([](QMessageBox* box) { return buttonWithText(box, "Stop and save"); });
      QVERIFY(w.close());
      QVERIFY(!w.trainPanel()->running());
      QFile f(log);
      QVERIFY(f.open(QIODevice::ReadOnly));
      QVERIFY2(f.readAll().contains("\"reason\":\"stopped\""), "the run ended by the stop, before the window closed");
      const QStringList packages = w.trainPanel()->checkpointPackages();
      QVERIFY2(!packages.isEmpty(), "stopping on close saves a checkpoint");
    }
    {
      MainWindow w;
      w.show();
      QVERIFY2(started(w, "close-keep"), "no step event from the trainer");
      const qint64 group = w.trainPanel()->process()->pid();
      const QString log = w.trainPanel()->process()->logPath();
      answerCloseDialog([](QMessageBox* box) { return buttonWithText(box, "Keep running"); });
      QVERIFY(w.close());
      QCOMPARE(QSettings().value("train/background_log").toString(), log);
      QCOMPARE(::kill(pid_t(-group), 0), 0);  // still alive after the window closed
      const pid_t trainer = trainerIn(pid_t(group));
      QVERIFY2(trainer > 0, "no gigagan process in the run's session");
      QCOMPARE(::kill(trainer, SIGTERM), 0);
      QVERIFY(waitFor([&] {
        QFile f(log);
        return f.open(QIODevice::ReadOnly) && f.readAll().contains("\"reason\":\"stopped\"");
      }, 120000));
    }
  }

  void detachedRunSurvives() {
    auto p = std::make_unique<TrainProcess>();
    p->setLogPath(dir_.filePath("detached.log"));
    QVERIFY(p->start(tinySettings(data_, dir_.filePath("run5"), 10000000)));
    QSignalSpy events(p.get(), &TrainProcess::event);
    QVERIFY(waitFor([&] {
      for (const QList<QVariant>& e : events)
        if (e.first().value<TrainEvent>().type == TrainEvent::Type::Step) return true;
      return false;
    }, 300000));
    const qint64 group = p->pid();  // the wrapper shell leads the run's own session
    p->detach();
    p.reset();
    QCOMPARE(::kill(pid_t(-group), 0), 0);
    const qint64 size = QFileInfo(dir_.filePath("detached.log")).size();
    QVERIFY2(waitFor([&] { return QFileInfo(dir_.filePath("detached.log")).size() > size; }, 60000),
             "the detached run keeps writing its log");
    // SIGTERM to the trainer (= stop: it saves a checkpoint and ends); tee
    // and the shell of the run's session then end with it.
    const pid_t trainer = trainerIn(pid_t(group));
    QVERIFY2(trainer > 0, "no gigagan process in the run's session");
    QCOMPARE(::kill(trainer, SIGTERM), 0);
    QVERIFY(waitFor([&] {
      QFile f(dir_.filePath("detached.log"));
      return f.open(QIODevice::ReadOnly) && f.readAll().contains("\"reason\":\"stopped\"");
    }, 120000));
  }
};

QTEST_MAIN(TestTrainPanel)
#include "test_train_panel.moc"

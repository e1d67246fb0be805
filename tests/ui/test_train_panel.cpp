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
#include <QSettings>
#include <QTimer>
#include <QAbstractButton>
#include <QApplication>
#include <QPainter>
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

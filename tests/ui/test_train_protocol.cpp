// Progress-protocol parsing: every event of `gigagan train --progress json`, bad
// lines, lines split across reads, the trainer's command line, and the
// smoothed images/s behind the Train tab's ETA.
#include <QtTest/QtTest>

#include "throughput_estimate.h"
#include "train_process.h"
#include "train_protocol.h"

using gg::ui::LineBuffer;
using gg::ui::parseTrainEvent;
using gg::ui::TrainEvent;

class TestTrainProtocol : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void start() {
    const auto e = parseTrainEvent(
        "{\"event\":\"start\",\"run_dir\":\"/r\",\"mode\":\"gan\",\"config\":\"tiny\",\"images_target\":512,"
        "\"images\":64,\"resumed\":true}");
    QVERIFY(e);
    QCOMPARE(e->type, TrainEvent::Type::Start);
    QCOMPARE(e->run_dir, QString("/r"));
    QCOMPARE(e->mode, QString("gan"));
    QCOMPARE(e->config, QString("tiny"));
    QCOMPARE(e->images_target, 512);
    QCOMPARE(e->images, 64);
    QVERIFY(e->resumed);
  }

  void step() {
    const auto e = parseTrainEvent(
        "{\"event\":\"step\",\"images\":128,\"step\":8,\"images_per_s\":41.5,\"eta_s\":9.25,"
        "\"losses\":{\"g_gan\":0.69,\"d_real\":1.25,\"bad\":\"x\"},\"lr\":0.002}\r\n");
    QVERIFY(e);
    QCOMPARE(e->type, TrainEvent::Type::Step);
    QCOMPARE(e->images, 128);
    QCOMPARE(e->step, 8);
    QCOMPARE(e->images_per_s, 41.5);
    QCOMPARE(e->eta_s, 9.25);
    QCOMPARE(e->lr, 0.002);
    QCOMPARE(e->losses.size(), 2);  // a non-number is not a loss
    QCOMPARE(e->losses.value("d_real"), 1.25);
  }

  void others_data() {
    QTest::addColumn<QByteArray>("line");
    QTest::addColumn<int>("type");
    QTest::addColumn<QString>("field");
    QTest::addColumn<QString>("value");
    QTest::newRow("sample") << QByteArray("{\"event\":\"sample\",\"images\":5,\"path\":\"/r/s.png\"}")
                            << int(TrainEvent::Type::Sample) << "path" << "/r/s.png";
    QTest::newRow("checkpoint")
        << QByteArray("{\"event\":\"checkpoint\",\"images\":5,\"path\":\"/r/c.safetensors\",\"package\":\"/r/package\"}")
        << int(TrainEvent::Type::Checkpoint) << "package" << "/r/package";
    QTest::newRow("paused") << QByteArray("{\"event\":\"paused\"}") << int(TrainEvent::Type::Paused) << "" << "";
    QTest::newRow("resumed") << QByteArray("{\"event\":\"resumed\"}") << int(TrainEvent::Type::Resumed) << "" << "";
    QTest::newRow("warning") << QByteArray("{\"event\":\"warning\",\"message\":\"slow disk\"}")
                             << int(TrainEvent::Type::Warning) << "message" << "slow disk";
    QTest::newRow("error") << QByteArray("{\"event\":\"error\",\"message\":\"no images in /d\"}")
                           << int(TrainEvent::Type::Error) << "message" << "no images in /d";
    QTest::newRow("done") << QByteArray("{\"event\":\"done\",\"images\":9,\"reason\":\"stopped\",\"checkpoint\":\"/c\"}")
                          << int(TrainEvent::Type::Done) << "reason" << "stopped";
    QTest::newRow("unknown") << QByteArray("{\"event\":\"future\",\"x\":1}") << int(TrainEvent::Type::Unknown)
                             << "" << "";
  }
  void others() {
    QFETCH(QByteArray, line);
    QFETCH(int, type);
    QFETCH(QString, field);
    QFETCH(QString, value);
    const auto e = parseTrainEvent(line);
    QVERIFY(e);
    QCOMPARE(int(e->type), type);
    if (field == "path") QCOMPARE(e->path, value);
    if (field == "package") QCOMPARE(e->package, value);
    if (field == "message") QCOMPARE(e->message, value);
    if (field == "reason") {
      QCOMPARE(e->reason, value);
      QCOMPARE(e->checkpoint, QString("/c"));
    }
  }

  void notEvents_data() {
    QTest::addColumn<QByteArray>("line");
    QTest::newRow("text") << QByteArray("loading dataset...");
    QTest::newRow("array") << QByteArray("[1,2]");
    QTest::newRow("no event") << QByteArray("{\"images\":3}");
    QTest::newRow("event not a string") << QByteArray("{\"event\":3}");
    QTest::newRow("truncated") << QByteArray("{\"event\":\"step\",\"images\":");
    QTest::newRow("empty") << QByteArray("");
  }
  void notEvents() {
    QFETCH(QByteArray, line);
    QString error;
    QVERIFY(!parseTrainEvent(line, &error));
    QVERIFY(!error.isEmpty());
  }

  void lineBuffer() {
    LineBuffer b;
    QVERIFY(b.append("{\"event\":\"pa").isEmpty());
    QList<QByteArray> lines = b.append("used\"}\r\n{\"event\":\"resumed\"}\nrest");
    QCOMPARE(lines.size(), 2);
    QCOMPARE(lines[0], QByteArray("{\"event\":\"paused\"}"));
    QCOMPARE(lines[1], QByteArray("{\"event\":\"resumed\"}"));
    QCOMPARE(b.takeRest(), QByteArray("rest"));
    QCOMPARE(b.takeRest(), QByteArray());
  }

  void durations() {
    QCOMPARE(gg::ui::formatDuration(12.4), QString("12 s"));
    QCOMPARE(gg::ui::formatDuration(200), QString("3 min 20 s"));
    QCOMPARE(gg::ui::formatDuration(3900), QString("1 h 05 min"));
    QCOMPARE(gg::ui::formatDuration(-1), QString("–"));
  }

  void commandLine() {
    gg::ui::TrainSettings s;
    s.data = "/data/emoji";
    s.config = "tiny";
    s.out = "/runs/a";
    s.images = 2000;
    s.batch = 4;
    s.init = "/models/emoji";
    s.augment = {"color", "cutout"};
    s.lr = 0.0025;
    s.vision_backbone = "inception_v3";
    s.resume = true;
    const QStringList a = s.arguments();
    QCOMPARE(a.first(), QString("train"));
    QCOMPARE(a.mid(a.size() - 2), (QStringList{"--progress", "json"}));
    const auto value = [&](const QString& opt) { return a.value(a.indexOf(opt) + 1); };
    QCOMPARE(value("--data"), QString("/data/emoji"));
    QCOMPARE(value("--config"), QString("tiny"));
    QCOMPARE(value("--out"), QString("/runs/a"));
    QCOMPARE(value("--images"), QString("2000"));
    QCOMPARE(value("--batch"), QString("4"));
    QCOMPARE(value("--init"), QString("/models/emoji"));
    QCOMPARE(value("--augment"), QString("color,cutout"));
    QCOMPARE(value("--lr"), QString("0.0025"));
    QCOMPARE(value("--vision-backbone"), QString("inception_v3"));
    QVERIFY(a.contains("--resume"));
    s = gg::ui::TrainSettings{};
    s.data = "/d";
    s.out = "/o";
    const QStringList d = s.arguments();
    QVERIFY(!d.contains("--init") && !d.contains("--lr") && !d.contains("--resume") && !d.contains("--images") &&
            !d.contains("--vision-backbone"));
  }

  // A run at 8 images/s with ticks of 16 images, one of which also writes a
  // sample grid and a checkpoint (60 s more): the trainer's own rate for that
  // tick is 0.26 images/s, 30 times less, and its ETA leaps from minutes to
  // an hour. The smoothed ETA moves by less than half and settles back.
  void etaIsSmoothed() {
    gg::ui::ThroughputEstimate est;
    const qint64 target = 16000;
    double t = 0;
    qint64 images = 0;
    double previous = -1, worst_jump = 1.0, naive_jump = 1.0, naive_previous = -1;
    for (int tick = 0; tick < 400; ++tick) {
      const double dt = tick == 150 ? 62.0 : 2.0;
      t += dt;
      images += 16;
      const double reported = 16.0 / dt;
      est.add(t, images, reported);
      const double eta = est.secondsLeft(target - images);
      const double naive = double(target - images) / reported;
      QVERIFY(eta > 0);
      if (previous > 0) worst_jump = std::max({worst_jump, eta / previous, previous / eta});
      if (naive_previous > 0) naive_jump = std::max({naive_jump, naive / naive_previous, naive_previous / naive});
      previous = eta;
      naive_previous = naive;
    }
    QVERIFY2(naive_jump > 20, qPrintable(QString::number(naive_jump)));
    QVERIFY2(worst_jump < 1.35, qPrintable(QString::number(worst_jump)));
    QVERIFY(std::abs(est.rate() - 8.0) < 0.01);  // the stall has left the window
    // Until the window holds enough time, the trainer's rates, averaged.
    est.reset();
    QCOMPARE(est.rate(), 0.0);
    QCOMPARE(est.secondsLeft(100), -1.0);
    est.add(0.0, 16, 8.0);
    QCOMPARE(est.rate(), 8.0);
    est.add(0.5, 32, 0.5);
    QVERIFY(est.rate() > 6.0 && est.rate() < 8.0);
  }
};

QTEST_GUILESS_MAIN(TestTrainProtocol)
#include "test_train_protocol.moc"

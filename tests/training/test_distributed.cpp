// Data-parallel training (training/distributed.h) through the real command:
// two Gloo ranks on loopback (`gigagan train --nproc 2`), each with batch b,
// take the same step as one process with batch 2b (accumulated over two
// micro-batches of b, so the per-micro-batch CLIP contrastive softmax sees the
// same captions), within float tolerance. Augmentation is off: its random
// draws are per process.
#include <QtTest/QtTest>

#include <algorithm>
#include <csignal>
#include <fstream>
#include <sstream>

#include <signal.h>

#include <opencv2/imgcodecs.hpp>

#include "checkpoint.h"
#include "distributed.h"
#include "test_support.h"

namespace fs = std::filesystem;

class TestDistributed : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;
  fs::path root() const { return fs::path(tmp_.path().toStdString()); }

  int gigagan(const QStringList& args, QString* output = nullptr) {
    QProcess p;
    p.setProcessChannelMode(QProcess::MergedChannels);
    p.start(QString(GIGAGAN_BINARY_DIR) + "/app/gigagan", args);
    if (!p.waitForFinished(240000)) return -1;
    if (output) *output = QString::fromUtf8(p.readAll());
    return p.exitCode();
  }

 private Q_SLOTS:
  void initTestCase() {
    if (!gg::distributed_available()) QSKIP("this build has no c10d (libgloo-dev)");
    QVERIFY(tmp_.isValid());
    fs::create_directories(root() / "data");
    for (int i = 0; i < 8; ++i) {
      cv::Mat img(16, 16, CV_8UC3, cv::Scalar(30 * i, 255 - 30 * i, 128));
      cv::imwrite((root() / "data" / ("img" + std::to_string(i) + ".png")).string(), img);
      std::ofstream(root() / "data" / ("img" + std::to_string(i) + ".txt")) << "picture number " << i;
    }
  }

  void twoRanksEqualOneProcessWithTheWholeBatch() {
    const QStringList common = {"train", "--data", QString::fromStdString((root() / "data").string()), "--config",
                                "tiny", "--clip", "random", "--images", "8", "--batch", "8", "--augment", "",
                                "--threads", "1", "--progress", "json"};
    QString out;
    QStringList two = common;
    two << "--out" << QString::fromStdString((root() / "two").string()) << "--nproc" << "2";
    QVERIFY2(gigagan(two, &out) == 0, qPrintable(out));
    QVERIFY2(out.contains("\"event\":\"done\""), qPrintable(out));  // rank 0 reports
    QStringList one = common;
    one << "--out" << QString::fromStdString((root() / "one").string()) << "--micro-batch" << "4";
    QVERIFY2(gigagan(one, &out) == 0, qPrintable(out));

    const auto a = gg::load_checkpoint((root() / "two/checkpoints/ckpt-000000000008.safetensors").string());
    const auto b = gg::load_checkpoint((root() / "one/checkpoints/ckpt-000000000008.safetensors").string());
    // With beta1 = 0, Adam's m is the last averaged gradient: it must agree to
    // float rounding. Weights then agree except where a gradient is ~0: Adam
    // divides by sqrt(v), so rounding there can flip an update of size lr; such
    // elements must stay rare and within a few learning rates.
    int compared = 0;
    double worst_grad = 0, worst_weight = 0;
    int64_t weights = 0, off = 0;
    for (const auto& [name, t] : a.tensors) {
      const bool grad = name.rfind("adam_g.m.", 0) == 0 || name.rfind("adam_d.m.", 0) == 0;
      const bool weight = name.rfind("G.", 0) == 0 || name.rfind("D.", 0) == 0;
      if (!grad && !weight) continue;
      const auto it = b.tensors.find(name);
      QVERIFY2(it != b.tensors.end(), name.c_str());
      const auto diff = (t - it->second).abs();
      if (grad)  // relative to the tensor's largest gradient
        worst_grad = std::max(worst_grad, diff.max().item<double>() / (t.abs().max().item<double>() + 1e-6));
      if (weight) {
        worst_weight = std::max(worst_weight, diff.max().item<double>());
        weights += diff.numel();
        off += (diff > 1e-4).sum().item<int64_t>();
      }
      ++compared;
    }
    QVERIFY(compared > 100);
    QVERIFY2(worst_grad < 1e-3, qPrintable(QString("max relative gradient difference %1").arg(worst_grad)));
    QVERIFY2(off * 200 < weights, qPrintable(QString("%1 of %2 weights differ by > 1e-4").arg(off).arg(weights)));
    QVERIFY2(worst_weight < 4 * 2e-3 * 4, qPrintable(QString("max weight difference %1").arg(worst_weight)));
    // The step did train: the gradients compared above are not zero.
    double largest = 0;
    for (const auto& [name, t] : a.tensors)
      if (name.rfind("adam_g.m.", 0) == 0) largest = std::max(largest, t.abs().max().item<double>());
    QVERIFY2(largest > 1e-3, qPrintable(QString("largest G gradient %1").arg(largest)));
    // Only rank 0 wrote: one checkpoint, one stats file, in the run folder.
    QCOMPARE(std::distance(fs::directory_iterator(root() / "two/checkpoints"), fs::directory_iterator{}), 1L);
  }

  // Ctrl+C in a terminal sends SIGINT to the launcher and to every rank (one
  // process group); the run must still stop cleanly with a checkpoint of
  // where it was, not die from the launcher's forwarded copy of the signal.
  void ctrlCOnTheWholeGroupStopsWithACheckpoint() {
    const fs::path run = root() / "stopped";
    QProcess p;
    p.setProcessChannelMode(QProcess::MergedChannels);
    p.start(QString(GIGAGAN_BINARY_DIR) + "/app/gigagan",
            {"train", "--data", QString::fromStdString((root() / "data").string()), "--config", "tiny", "--clip",
             "random", "--images", "100000", "--batch", "4", "--threads", "1", "--progress", "json", "--out",
             QString::fromStdString(run.string()), "--nproc", "2"});
    QVERIFY(p.waitForStarted());
    QString out;
    QElapsedTimer t;
    t.start();
    while (!out.contains("\"event\":\"step\"") && t.elapsed() < 120000) {
      p.waitForReadyRead(500);
      out += QString::fromUtf8(p.readAll());
    }
    QVERIFY2(out.contains("\"event\":\"step\""), qPrintable(out));
    // The launcher's children (the two ranks), from /proc.
    const pid_t launcher = static_cast<pid_t>(p.processId());
    std::vector<pid_t> group = {launcher};
    for (const auto& e : fs::directory_iterator("/proc")) {
      std::ifstream stat(e.path() / "stat");
      std::string line;
      if (!std::getline(stat, line)) continue;
      const auto close = line.rfind(')');
      if (close == std::string::npos) continue;
      std::istringstream rest(line.substr(close + 2));
      char state = 0;
      pid_t ppid = 0;
      rest >> state >> ppid;
      if (ppid == launcher) group.push_back(static_cast<pid_t>(std::stoi(e.path().filename().string())));
    }
    QCOMPARE(group.size(), size_t(3));
    // The ranks first and the launcher a moment later (a terminal signals them
    // together), so that rank 0 has handled its own SIGINT before the
    // launcher's forwarded stop arrives: the kernel would merge two pending
    // SIGINTs and hide the race.
    for (size_t i = 1; i < group.size(); ++i) QCOMPARE(::kill(group[i], SIGINT), 0);
    QTest::qWait(20);
    QCOMPARE(::kill(launcher, SIGINT), 0);
    QVERIFY(p.waitForFinished(120000));
    out += QString::fromUtf8(p.readAll());
    QVERIFY2(p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0, qPrintable(out));
    QVERIFY2(out.contains("\"reason\":\"stopped\""), qPrintable(out));
    // The checkpoint of the stop is the newest one and holds the images reached.
    std::vector<fs::path> ckpts;
    for (const auto& e : fs::directory_iterator(run / "checkpoints")) ckpts.push_back(e.path());
    QVERIFY(!ckpts.empty());
    std::sort(ckpts.begin(), ckpts.end());
    const auto done = out.lastIndexOf("\"event\":\"done\"");
    QVERIFY2(done >= 0, qPrintable(out));
    const QString done_line = out.mid(out.lastIndexOf('\n', done) + 1).section('\n', 0, 0);
    QVERIFY2(done_line.contains(QString::fromStdString(ckpts.back().filename().string())),
             qPrintable(done_line + " newest: " + QString::fromStdString(ckpts.back().string())));
  }
};

QTEST_GUILESS_MAIN(TestDistributed)
#include "test_distributed.moc"

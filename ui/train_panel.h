// The Train tab: settings for a `gigagan train` run, Start / Pause / Resume /
// Stop, a progress bar with images seen, images/s and ETA, live loss curves
// per term (Qt Charts), the latest sample grid, and the run's checkpoints with
// "Use in studio" (which loads the checkpoint's package).
#pragma once
#include <QMap>
#include <QWidget>
#include <functional>

#include <QElapsedTimer>

#include "throughput_estimate.h"
#include "train_process.h"

class QCheckBox;
class QFormLayout;
class QGroupBox;
class QHBoxLayout;
class QVBoxLayout;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QListWidget;
class QPlainTextEdit;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QProcess;
class QChart;
class QChartView;
class QLineSeries;
class QValueAxis;
class QLogValueAxis;
class QColor;

namespace gg::ui {

class TrainPanel : public QWidget {
  Q_OBJECT
 public:
  explicit TrainPanel(QWidget* parent = nullptr);

  TrainProcess* process() { return process_; }
  // The settings as the form shows them.
  TrainSettings settings() const;
  void setSettings(const TrainSettings& s);
  bool running() const { return process_->running(); }

  // For tests and the screenshot script.
  QStringList checkpointPackages() const;
  QStringList checkpointFiles() const;
  QColor lossColourOf(const QString& term) const;  // the colour of a curve shown
  // A run folder that holds no run: `out` when it is empty or missing, else
  // the first free "out-2", "out-3", ... ("run-2" in use gives "run-3").
  static QString freshRunFolder(const QString& out);
  QStringList lossTerms() const { return series_.keys(); }
  int lossPointCount(const QString& term) const;
  qint64 imagesSeen() const { return images_; }
  QString latestSamplePath() const { return latest_sample_; }
  QString statusText() const;

 public Q_SLOTS:
  void startRun();
  void togglePause();
  void stopRun();
  void useSelectedCheckpoint();

 Q_SIGNALS:
  // "Use in studio": load this package folder.
  void usePackage(const QString& package_dir);
  // One line for the status bar.
  void statusMessage(const QString& text);
  void runFinished(bool ok, const QString& summary);

 private:
  void onEvent(const TrainEvent& e);
  void onState(TrainProcess::State s);
  void onFinished(bool ok, const QString& summary);
  void addLossPoint(const QString& term, double x, double y);
  void showSample(const QString& path);
  void buildEmojiDataset();
  QString defaultRunFolder() const;
  // Shows `dir`'s run: its curves (kept when it is the run shown, else read
  // from its stats.jsonl), its latest sample grid and its checkpoints.
  void showRunFolder(const QString& dir);
  void loadStats(const QString& run);
  void refreshCheckpoints();
  void fitAxes(qint64 images);
  QColor lossColour(const QString& term) const;
  void setStatus(const QString& text);  // the line under the progress bar, wrapping anywhere
  // Builders of the constructor, one part of the tab each.
  QGroupBox* buildRunForm();
  QWidget* buildDataRow();
  QWidget* buildBaseRow();
  QWidget* buildRunFolderRow();
  void buildLengthRows(QFormLayout* form);
  QWidget* buildAugmentRow();
  QWidget* buildVisionRow();
  QHBoxLayout* buildButtons();
  void buildProgress(QVBoxLayout* root);
  QChartView* buildChart();
  QWidget* buildSampleAndCheckpoints();
  QPlainTextEdit* buildLog();
  void connectProcess();
  void connectPresets();
  // `edit` with a "…" button choosing a folder (then `chosen` runs).
  QWidget* folderField(QLineEdit* edit, const QString& title, const std::function<void()>& chosen = {});

  TrainProcess* process_;
  QProcess* data_process_ = nullptr;
  // Form.
  QLineEdit* data_ = nullptr;
  QComboBox* config_ = nullptr;
  QComboBox* base_ = nullptr;
  QLineEdit* init_ = nullptr;
  QLineEdit* clip_ = nullptr;
  QSpinBox* checkpoint_k_ = nullptr;
  QLineEdit* out_ = nullptr;
  QCheckBox* resume_ = nullptr;
  QSpinBox* batch_ = nullptr;
  QSpinBox* images_k_ = nullptr;
  QCheckBox* aug_color_ = nullptr;
  QCheckBox* aug_translation_ = nullptr;
  QCheckBox* aug_cutout_ = nullptr;
  QDoubleSpinBox* lr_ = nullptr;
  QComboBox* vision_ = nullptr;  // the vision-aided D's backbone
  QPushButton* start_ = nullptr;
  QPushButton* pause_ = nullptr;
  QPushButton* stop_ = nullptr;
  QWidget* form_ = nullptr;
  // Run view.
  QProgressBar* progress_ = nullptr;
  QLabel* progress_label_ = nullptr;
  QChart* chart_ = nullptr;
  QChartView* chart_view_ = nullptr;
  QValueAxis* axis_x_ = nullptr;
  QValueAxis* axis_y_ = nullptr;
  QMap<QString, QLineSeries*> series_;
  double y_min_ = 0.0, y_max_ = 0.0;
  QLabel* sample_ = nullptr;
  QListWidget* checkpoints_ = nullptr;
  QPushButton* use_ = nullptr;
  QPlainTextEdit* log_ = nullptr;
  qint64 images_ = 0;
  qint64 images_target_ = 0;
  QString latest_sample_;
  QString run_dir_;
  QString chart_run_;  // the run whose curves the chart shows
  bool exporting_ = false;  // making a package of an older checkpoint
  QElapsedTimer clock_;
  ThroughputEstimate throughput_;
  QStringList extra_;  // further trainer arguments (setSettings), kept as given
  // The preset shown, and the CLIP and length last used with each preset.
  QString preset_ = QStringLiteral("emoji64");
  QMap<QString, QString> preset_clip_;
  QMap<QString, int> preset_images_;
};

}  // namespace gg::ui

#pragma once
#include <QWidget>

class QCheckBox;
class QLabel;
class QProgressBar;
class QPushButton;
class QSpinBox;

namespace gg::ui {

// The Drag tool (DragGAN point editing, Pan et al. SIGGRAPH 2023): the points
// and the mask are placed on the canvas (ImageCanvas's drag tools); the panel
// picks the tool, the steps, and starts / stops the optimisation, which
// updates the canvas live. The result is an edit like any other (Undo returns
// to the image before the drag) whose W+ latent the Prompt and Style Mix
// panels then use.
class DragPanel : public QWidget {
  Q_OBJECT
 public:
  explicit DragPanel(QWidget* parent = nullptr);
  int steps() const;
  void setSteps(int steps);
  bool maskMode() const;   // "Paint mask" is on: the canvas paints instead of placing points
  void setPointCounts(int handles, int targets);  // updates the hint and Start
  void setMaskPainted(bool painted);
  void setModelLoaded(bool loaded);
  void setRunning(bool running);
  bool running() const { return running_; }
  void setProgress(int step, int total);
  void setResultText(const QString& text);
  QPushButton* startButton() const { return start_; }
  QPushButton* stopButton() const { return stop_; }

 Q_SIGNALS:
  void startRequested();
  void stopRequested();
  void maskModeChanged(bool on);
  void clearPointsRequested();
  void clearMaskRequested();

 private:
  void updateState();
  QLabel* hint_;
  QLabel* points_;
  QCheckBox* mask_;
  QPushButton* clear_points_;
  QPushButton* clear_mask_;
  QSpinBox* steps_;
  QPushButton* start_;
  QPushButton* stop_;
  QProgressBar* progress_;
  QLabel* result_;
  int handles_ = 0, targets_ = 0;
  bool mask_painted_ = false;
  bool model_loaded_ = false;
  bool running_ = false;
};

}  // namespace gg::ui

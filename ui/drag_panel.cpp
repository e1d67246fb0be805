#include "drag_panel.h"

#include <QCheckBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>
#include <QVBoxLayout>

#include <algorithm>

namespace gg::ui {

DragPanel::DragPanel(QWidget* parent) : QWidget(parent) {
  auto* root = new QVBoxLayout(this);
  hint_ = new QLabel(tr("Click a point of the image (a handle, red), then where it should go (its target, blue). "
                        "Add as many pairs as you like; a right click removes the last point, the middle button "
                        "pans."),
                     this);
  hint_->setWordWrap(true);
  root->addWidget(hint_);
  points_ = new QLabel(this);
  points_->setWordWrap(true);
  root->addWidget(points_);

  auto* mask_row = new QHBoxLayout;
  mask_ = new QCheckBox(tr("Paint mask"), this);
  mask_->setToolTip(tr("Paint the region allowed to move (left button; right erases). Without a mask everything may "
                       "move; with one, the rest is held in place."));
  connect(mask_, &QCheckBox::toggled, this, &DragPanel::maskModeChanged);
  clear_mask_ = new QPushButton(tr("Clear mask"), this);
  connect(clear_mask_, &QPushButton::clicked, this, &DragPanel::clearMaskRequested);
  mask_row->addWidget(mask_, 1);
  mask_row->addWidget(clear_mask_);
  root->addLayout(mask_row);
  clear_points_ = new QPushButton(tr("Clear points"), this);
  connect(clear_points_, &QPushButton::clicked, this, &DragPanel::clearPointsRequested);
  root->addWidget(clear_points_);

  auto* form = new QFormLayout;
  steps_ = new QSpinBox(this);
  steps_->setRange(1, 2000);
  steps_->setValue(200);
  steps_->setSingleStep(50);
  steps_->setToolTip(tr("Optimisation steps at most; the drag stops early once every handle reached its target"));
  form->addRow(tr("Steps"), steps_);
  root->addLayout(form);

  auto* buttons = new QHBoxLayout;
  start_ = new QPushButton(tr("Start"), this);
  stop_ = new QPushButton(tr("Stop"), this);
  connect(start_, &QPushButton::clicked, this, &DragPanel::startRequested);
  connect(stop_, &QPushButton::clicked, this, &DragPanel::stopRequested);
  buttons->addWidget(start_, 1);
  buttons->addWidget(stop_);
  root->addLayout(buttons);
  progress_ = new QProgressBar(this);
  progress_->setRange(0, 1);
  progress_->setValue(0);
  root->addWidget(progress_);
  result_ = new QLabel(this);
  result_->setWordWrap(true);
  // Two lines reserved: the result text does not push the rows below it.
  result_->setMinimumHeight(2 * result_->fontMetrics().lineSpacing());
  result_->setAlignment(Qt::AlignTop | Qt::AlignLeft);
  root->addWidget(result_);
  root->addStretch();
  updateState();
}

int DragPanel::steps() const { return steps_->value(); }
void DragPanel::setSteps(int steps) { steps_->setValue(steps); }
bool DragPanel::maskMode() const { return mask_->isChecked(); }

void DragPanel::setPointCounts(int handles, int targets) {
  handles_ = handles;
  targets_ = targets;
  updateState();
}

void DragPanel::setMaskPainted(bool painted) {
  mask_painted_ = painted;
  updateState();
}

void DragPanel::setModelLoaded(bool loaded) {
  model_loaded_ = loaded;
  updateState();
}

void DragPanel::setRunning(bool running) {
  running_ = running;
  if (running) progress_->setValue(0);
  updateState();
}

void DragPanel::setProgress(int step, int total) {
  progress_->setRange(0, std::max(1, total));
  progress_->setValue(step);
}

void DragPanel::setResultText(const QString& text) { result_->setText(text); }

void DragPanel::updateState() {
  const int pairs = std::min(handles_, targets_);
  const QString count = pairs == 1 ? tr("1 pair") : tr("%1 pairs").arg(pairs);
  if (handles_ == 0)
    points_->setText(tr("No points yet."));
  else if (handles_ > targets_)
    points_->setText(tr("%1; now click the target of the last handle.").arg(count));
  else
    points_->setText(tr("%1.").arg(count));
  start_->setEnabled(model_loaded_ && !running_ && pairs > 0 && handles_ == targets_);
  stop_->setEnabled(running_);
  clear_points_->setEnabled(!running_ && handles_ > 0);
  clear_mask_->setEnabled(!running_ && mask_painted_);
  mask_->setEnabled(!running_);
  steps_->setEnabled(!running_);
}

}  // namespace gg::ui

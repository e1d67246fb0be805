#include "invert_panel.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDragEnterEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QImageReader>
#include <QLabel>
#include <QLineEdit>
#include <QMimeData>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>
#include <QVBoxLayout>

#include <algorithm>

#include "panel_controls.h"

namespace gg::ui {

InvertPanel::InvertPanel(QWidget* parent) : QWidget(parent) {
  setAcceptDrops(true);
  auto* root = new QVBoxLayout(this);
  auto* images = new QHBoxLayout;
  target_ = new QLabel(tr("Drop an image here\nor open one"), this);
  result_ = new QLabel(tr("Reconstruction"), this);
  for (QLabel* l : {target_, result_}) {
    l->setAlignment(Qt::AlignCenter);
    l->setMinimumSize(128, 128);
    l->setFrameShape(QFrame::StyledPanel);
    l->setStyleSheet("QLabel { background: #1c1d20; color: #888; }");
    images->addWidget(l, 1);
  }
  root->addLayout(images);
  info_ = new QLabel(this);
  info_->setWordWrap(true);
  // Three lines reserved: the result text does not push the rows below it.
  info_->setMinimumHeight(3 * info_->fontMetrics().lineSpacing());
  info_->setAlignment(Qt::AlignTop | Qt::AlignLeft);
  root->addWidget(info_);

  auto* form = new QFormLayout;
  auto* open = new QPushButton(tr("Open image…"), this);
  connect(open, &QPushButton::clicked, this, &InvertPanel::openImage);
  form->addRow(open);
  prompt_ = new QLineEdit(this);
  prompt_->setPlaceholderText(tr("what the image shows, e.g. cat face, noto style"));
  prompt_->setToolTip(tr("The text conditioning held fixed while searching the latent"));
  form->addRow(tr("Prompt"), prompt_);
  steps_ = new QSpinBox(this);
  steps_->setRange(10, 5000);
  steps_->setValue(300);
  steps_->setSingleStep(50);
  form->addRow(tr("Steps"), steps_);
  space_ = new QComboBox(this);
  space_->addItems({tr("W (one w, easy to edit)"), tr("W+ (one w per layer, closer)")});
  space_->setCurrentIndex(1);  // as `gigagan invert`: W+ reconstructs better
  form->addRow(tr("Space"), space_);
  pti_ = new QCheckBox(tr("Pivotal tuning (PTI)"), this);
  pti_->setToolTip(tr("Fine-tunes a copy of the generator around the found latent (slower, closer)"));
  form->addRow(QString(), pti_);
  root->addLayout(form);

  auto* buttons = new QHBoxLayout;
  run_ = new QPushButton(tr("Invert"), this);
  cancel_ = new QPushButton(tr("Cancel"), this);
  cancel_->setEnabled(false);
  run_->setEnabled(false);
  connect(run_, &QPushButton::clicked, this, &InvertPanel::run);
  connect(cancel_, &QPushButton::clicked, this, &InvertPanel::cancelRequested);
  buttons->addWidget(run_, 1);
  buttons->addWidget(cancel_);
  root->addLayout(buttons);
  progress_ = new QProgressBar(this);
  progress_->setRange(0, 1);
  progress_->setValue(0);
  root->addWidget(progress_);
  use_ = new QPushButton(tr("Edit the result"), this);
  use_->setToolTip(tr("Use the inverted latent as the Prompt and Style Mix source"));
  use_->setEnabled(false);
  connect(use_, &QPushButton::clicked, this, [this] { Q_EMIT useLatent(latent_, prompt_used_); });
  root->addWidget(use_);
  root->addStretch();
}

int InvertPanel::steps() const { return steps_->value(); }
QString InvertPanel::prompt() const { return prompt_->text().trimmed(); }
void InvertPanel::setPrompt(const QString& prompt) { prompt_->setText(prompt); }
bool InvertPanel::wPlus() const { return space_->currentIndex() == 1; }
bool InvertPanel::pivotalTuning() const { return pti_->isChecked(); }

bool InvertPanel::setImagePath(const QString& path) {
  QImageReader reader(path);
  const QImage img = reader.read();
  if (img.isNull()) {
    Q_EMIT statusMessage(tr("Cannot read '%1' as an image (%2); choose a PNG or JPEG.")
                             .arg(QFileInfo(path).fileName(), reader.errorString()));
    return false;
  }
  path_ = path;
  target_->setPixmap(crispPixmap(img, target_->size() - QSize(4, 4)));
  target_->setToolTip(path);
  info_->setText(tr("%1 (%2×%3)").arg(QFileInfo(path).fileName()).arg(img.width()).arg(img.height()));
  run_->setEnabled(model_loaded_ && !running_);
  return true;
}

void InvertPanel::openImage() {
  const QString path = QFileDialog::getOpenFileName(this, tr("Image to invert"), QFileInfo(path_).absolutePath(),
                                                    tr("Images (*.png *.jpg *.jpeg *.bmp *.webp)"));
  if (!path.isEmpty()) setImagePath(path);
}

void InvertPanel::setModelLoaded(bool loaded) {
  model_loaded_ = loaded;
  run_->setEnabled(model_loaded_ && !running_ && !path_.isEmpty());
}

void InvertPanel::setRunning(bool running) {
  running_ = running;
  run_->setEnabled(model_loaded_ && !running_ && !path_.isEmpty());
  cancel_->setEnabled(running_);
  if (!running_) progress_->setRange(0, 1);
}

void InvertPanel::setProgress(int step, int total, double value) {
  progress_->setRange(0, std::max(1, total));
  progress_->setValue(step);
  progress_->setFormat(tr("%1 / %2 · loss %3").arg(step).arg(total).arg(value, 0, 'g', 4));
}

void InvertPanel::setResult(const InvertResult& r) {
  latent_ = r.latent;
  result_->setPixmap(crispPixmap(r.reconstruction, result_->size() - QSize(4, 4)));
  prompt_used_ = r.prompt;
  info_->setText(tr("Reconstruction MSE %1 (PSNR %2 dB); the prompt's mean w: MSE %3. %4 s; latent %5.")
                     .arg(r.error, 0, 'g', 3)
                     .arg(r.psnr, 0, 'f', 1)
                     .arg(r.mean_error, 0, 'g', 3)
                     .arg(r.seconds, 0, 'f', 1)
                     .arg(r.latent));
  use_->setEnabled(!latent_.isEmpty());
  progress_->setValue(progress_->maximum());
}

void InvertPanel::run() {
  if (path_.isEmpty()) {
    Q_EMIT statusMessage(tr("Open or drop an image to invert first."));
    return;
  }
  if (prompt().isEmpty()) {
    Q_EMIT statusMessage(tr("Describe the image in the Prompt field: inversion searches under that text."));
    return;
  }
  setRunning(true);
  progress_->setRange(0, steps());
  progress_->setValue(0);
  Q_EMIT invertRequested(path_, prompt(), steps(), wPlus(), pivotalTuning());
}

void InvertPanel::dragEnterEvent(QDragEnterEvent* e) {
  if (e->mimeData()->hasUrls()) e->acceptProposedAction();
}

void InvertPanel::dropEvent(QDropEvent* e) {
  const QList<QUrl> urls = e->mimeData()->urls();
  if (!urls.isEmpty() && urls.first().isLocalFile()) setImagePath(urls.first().toLocalFile());
}

}  // namespace gg::ui

#include "train_panel.h"

#include <QChart>
#include <QChartView>
#include <QCheckBox>
#include <QComboBox>
#include <QDateTime>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QJsonDocument>
#include <QLabel>
#include <QLineEdit>
#include <QLineSeries>
#include <QListWidget>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QScrollArea>
#include <QSpinBox>
#include <QSplitter>
#include <QStandardPaths>
#include <QToolButton>
#include <QValueAxis>
#include <QVBoxLayout>

#include <cmath>

namespace gg::ui {

namespace {
// Points kept per curve; older points are thinned (every other one dropped)
// so a long run never slows the chart down.
constexpr int kMaxPoints = 1500;

QWidget* withBrowse(QLineEdit* edit, QWidget* parent, std::function<void()> browse) {
  auto* w = new QWidget(parent);
  auto* l = new QHBoxLayout(w);
  l->setContentsMargins(0, 0, 0, 0);
  l->addWidget(edit, 1);
  auto* b = new QToolButton(w);
  b->setText(QStringLiteral("…"));
  b->setToolTip(QObject::tr("Browse"));
  QObject::connect(b, &QToolButton::clicked, w, browse);
  l->addWidget(b);
  return w;
}
}  // namespace

TrainPanel::TrainPanel(QWidget* parent) : QWidget(parent), process_(new TrainProcess(this)) {
  auto* root = new QVBoxLayout(this);
  root->setContentsMargins(6, 6, 6, 6);

  // ---- Settings form
  form_ = new QGroupBox(tr("Run"), this);
  auto* form = new QFormLayout(form_);
  form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
  data_ = new QLineEdit(this);
  data_->setPlaceholderText(tr("dataset folder (manifest.jsonl, TSV or images + .txt)"));
  auto* data_row = new QWidget(this);
  auto* data_l = new QHBoxLayout(data_row);
  data_l->setContentsMargins(0, 0, 0, 0);
  data_l->addWidget(withBrowse(data_, this, [this] {
                      const QString d = QFileDialog::getExistingDirectory(this, tr("Dataset folder"), data_->text());
                      if (!d.isEmpty()) data_->setText(d);
                    }),
                    1);
  auto* build = new QPushButton(tr("Build emoji set"), this);
  build->setToolTip(tr("Runs `gigagan data emoji` (downloads Noto and Twemoji from the npm registry)"));
  connect(build, &QPushButton::clicked, this, &TrainPanel::buildEmojiDataset);
  data_l->addWidget(build);
  form->addRow(tr("Data"), data_row);

  config_ = new QComboBox(this);
  config_->setEditable(true);
  config_->addItems({"emoji64", "tiny"});
  config_->setToolTip(tr("A preset (tiny: tests, emoji64: the shipped model's size) or a config JSON path"));
  form->addRow(tr("Preset"), config_);

  base_ = new QComboBox(this);
  base_->addItems({tr("From scratch"), tr("Fine-tune from…")});
  init_ = new QLineEdit(this);
  init_->setPlaceholderText(tr("package folder or checkpoint"));
  init_->setEnabled(false);
  connect(base_, &QComboBox::currentIndexChanged, this, [this](int i) { init_->setEnabled(i == 1); });
  auto* base_row = new QWidget(this);
  auto* base_l = new QHBoxLayout(base_row);
  base_l->setContentsMargins(0, 0, 0, 0);
  base_l->addWidget(base_);
  base_l->addWidget(withBrowse(init_, this, [this] {
                      const QString d = QFileDialog::getExistingDirectory(this, tr("Base package"), init_->text());
                      if (!d.isEmpty()) {
                        init_->setText(d);
                        base_->setCurrentIndex(1);
                      }
                    }),
                    1);
  form->addRow(tr("Start"), base_row);

  clip_ = new QLineEdit(this);
  clip_->setPlaceholderText(tr("frozen CLIP: a model package, a train-clip run, or \"random\""));
  clip_->setToolTip(tr("The frozen text/image encoder the GAN is conditioned on (gigagan train --clip).\n"
                       "A model package's CLIP (e.g. the shipped emoji model) is the usual choice."));
  form->addRow(tr("CLIP"), withBrowse(clip_, this, [this] {
                 const QString d = QFileDialog::getExistingDirectory(this, tr("CLIP source (package or run)"), clip_->text());
                 if (!d.isEmpty()) clip_->setText(d);
               }));

  out_ = new QLineEdit(defaultRunFolder(), this);
  resume_ = new QCheckBox(tr("Resume"), this);
  resume_->setToolTip(tr("Continue the run in this folder from its latest checkpoint"));
  auto* out_row = new QWidget(this);
  auto* out_l = new QHBoxLayout(out_row);
  out_l->setContentsMargins(0, 0, 0, 0);
  out_l->addWidget(withBrowse(out_, this, [this] {
                     const QString d = QFileDialog::getExistingDirectory(this, tr("Run folder"), out_->text());
                     if (!d.isEmpty()) out_->setText(d);
                   }),
                   1);
  out_l->addWidget(resume_);
  form->addRow(tr("Run folder"), out_row);

  auto* nums = new QWidget(this);
  auto* nums_l = new QHBoxLayout(nums);
  nums_l->setContentsMargins(0, 0, 0, 0);
  batch_ = new QSpinBox(this);
  batch_->setRange(1, 1024);
  batch_->setValue(16);
  batch_->setPrefix(tr("batch "));
  images_k_ = new QSpinBox(this);
  images_k_->setRange(1, 2000000000);
  images_k_->setSingleStep(10000);
  images_k_->setValue(200000);
  images_k_->setGroupSeparatorShown(true);
  images_k_->setSuffix(tr(" images"));
  images_k_->setToolTip(tr("Train until this many images have been seen (in total, over resumes)"));
  lr_ = new QDoubleSpinBox(this);
  lr_->setDecimals(5);
  lr_->setRange(0.0, 1.0);
  lr_->setSingleStep(0.0005);
  lr_->setValue(0.0);
  lr_->setSpecialValueText(tr("lr: default"));
  lr_->setPrefix(tr("lr "));
  checkpoint_k_ = new QSpinBox(this);
  checkpoint_k_->setRange(0, 2000000000);
  checkpoint_k_->setSingleStep(5000);
  checkpoint_k_->setValue(0);
  checkpoint_k_->setGroupSeparatorShown(true);
  checkpoint_k_->setSpecialValueText(tr("checkpoints: default"));
  checkpoint_k_->setPrefix(tr("checkpoint every "));
  checkpoint_k_->setToolTip(tr("Images between checkpoints (each also writes a package you can use in the studio)"));
  nums_l->addWidget(images_k_, 2);
  nums_l->addWidget(batch_, 1);
  form->addRow(tr("Length"), nums);
  auto* nums2 = new QWidget(this);
  auto* nums2_l = new QHBoxLayout(nums2);
  nums2_l->setContentsMargins(0, 0, 0, 0);
  nums2_l->addWidget(checkpoint_k_, 2);
  nums2_l->addWidget(lr_, 1);
  form->addRow(tr("Checkpoints"), nums2);

  auto* aug = new QWidget(this);
  auto* aug_l = new QHBoxLayout(aug);
  aug_l->setContentsMargins(0, 0, 0, 0);
  aug_color_ = new QCheckBox(tr("color"), this);
  aug_translation_ = new QCheckBox(tr("translation"), this);
  aug_cutout_ = new QCheckBox(tr("cutout"), this);
  aug_color_->setChecked(true);
  aug_translation_->setChecked(true);
  aug_l->addWidget(aug_color_);
  aug_l->addWidget(aug_translation_);
  aug_l->addWidget(aug_cutout_);
  aug_l->addStretch();
  form->addRow(tr("Augment"), aug);
  root->addWidget(form_);

  // ---- Buttons
  auto* buttons = new QHBoxLayout;
  start_ = new QPushButton(QIcon::fromTheme("media-playback-start"), tr("Start"), this);
  pause_ = new QPushButton(QIcon::fromTheme("media-playback-pause"), tr("Pause"), this);
  stop_ = new QPushButton(QIcon::fromTheme("media-playback-stop"), tr("Stop"), this);
  stop_->setToolTip(tr("Save a checkpoint, then end the run"));
  pause_->setEnabled(false);
  stop_->setEnabled(false);
  connect(start_, &QPushButton::clicked, this, &TrainPanel::startRun);
  connect(pause_, &QPushButton::clicked, this, &TrainPanel::togglePause);
  connect(stop_, &QPushButton::clicked, this, &TrainPanel::stopRun);
  buttons->addWidget(start_);
  buttons->addWidget(pause_);
  buttons->addWidget(stop_);
  buttons->addStretch();
  root->addLayout(buttons);

  progress_ = new QProgressBar(this);
  progress_->setRange(0, 1000);
  progress_->setValue(0);
  progress_->setTextVisible(true);
  progress_->setFormat(QStringLiteral("%p%"));
  progress_label_ = new QLabel(tr("Not running."), this);
  progress_label_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  root->addWidget(progress_);
  root->addWidget(progress_label_);

  // ---- Curves | sample, checkpoints, log
  auto* split = new QSplitter(Qt::Vertical, this);
  chart_ = new QChart;
  chart_->setTheme(QChart::ChartThemeDark);
  chart_->setTitle(tr("Losses"));
  chart_->legend()->setAlignment(Qt::AlignRight);
  {
    QFont lf = chart_->legend()->font();
    lf.setPointSizeF(lf.pointSizeF() * 0.85);
    chart_->legend()->setFont(lf);
  }
  chart_->setMargins(QMargins(2, 2, 2, 2));
  axis_x_ = new QValueAxis;
  axis_x_->setTitleText(tr("images"));
  axis_x_->setLabelFormat("%.0f");
  axis_y_ = new QValueAxis;
  chart_->addAxis(axis_x_, Qt::AlignBottom);
  chart_->addAxis(axis_y_, Qt::AlignLeft);
  chart_view_ = new QChartView(chart_, this);
  chart_view_->setRenderHint(QPainter::Antialiasing);
  chart_view_->setMinimumHeight(250);
  setMinimumHeight(800);  // in a scroll area: the curves never get squashed
  split->addWidget(chart_view_);

  auto* lower = new QWidget(this);
  auto* lower_l = new QHBoxLayout(lower);
  lower_l->setContentsMargins(0, 0, 0, 0);
  sample_ = new QLabel(tr("Sample grid\nappears here"), this);
  sample_->setAlignment(Qt::AlignCenter);
  sample_->setMinimumSize(160, 160);
  sample_->setFrameShape(QFrame::StyledPanel);
  sample_->setStyleSheet("QLabel { background: #1c1d20; color: #888; }");
  lower_l->addWidget(sample_, 1);
  auto* ck = new QWidget(this);
  auto* ck_l = new QVBoxLayout(ck);
  ck_l->setContentsMargins(0, 0, 0, 0);
  ck_l->addWidget(new QLabel(tr("Checkpoints"), this));
  checkpoints_ = new QListWidget(this);
  connect(checkpoints_, &QListWidget::itemDoubleClicked, this, &TrainPanel::useSelectedCheckpoint);
  ck_l->addWidget(checkpoints_, 1);
  use_ = new QPushButton(tr("Use in studio"), this);
  use_->setEnabled(false);
  use_->setToolTip(tr("Load the selected checkpoint's package into the studio"));
  connect(use_, &QPushButton::clicked, this, &TrainPanel::useSelectedCheckpoint);
  connect(checkpoints_, &QListWidget::currentRowChanged, this, [this](int row) { use_->setEnabled(row >= 0); });
  ck_l->addWidget(use_);
  lower_l->addWidget(ck, 1);
  split->addWidget(lower);
  log_ = new QPlainTextEdit(this);
  log_->setReadOnly(true);
  log_->setMaximumBlockCount(2000);
  log_->setPlaceholderText(tr("Trainer messages"));
  QFont mono("monospace");
  mono.setStyleHint(QFont::Monospace);
  mono.setPointSizeF(font().pointSizeF() * 0.9);
  log_->setFont(mono);
  split->addWidget(log_);
  split->setStretchFactor(0, 3);
  split->setStretchFactor(1, 3);
  split->setStretchFactor(2, 1);
  root->addWidget(split, 1);

  connect(process_, &TrainProcess::event, this, &TrainPanel::onEvent);
  connect(process_, &TrainProcess::stateChanged, this, &TrainPanel::onState);
  connect(process_, &TrainProcess::finished, this, &TrainPanel::onFinished);
  connect(process_, &TrainProcess::logLine, log_, &QPlainTextEdit::appendPlainText);

  // Each preset brings a CLIP whose text tower fits it (tiny: its own random
  // 2-layer CLIP; emoji64: the shipped model's) and a length that fits it; a
  // CLIP or length chosen for a preset comes back with it. A config path
  // leaves both to the user.
  connect(config_, &QComboBox::currentTextChanged, this, [this](const QString& text) {
    const QString p = text.trimmed();
    if ((p != "tiny" && p != "emoji64") || p == preset_) return;
    preset_clip_[preset_] = clip_->text().trimmed();
    preset_images_[preset_] = images_k_->value();
    preset_ = p;
    const QString current = clip_->text().trimmed();
    clip_->setText(preset_clip_.value(p, p == "tiny" ? QStringLiteral("random")
                                         : current == "random" ? QString() : current));
    images_k_->setValue(preset_images_.value(p, p == "tiny" ? 8192 : 200000));
  });
}

QString TrainPanel::defaultRunFolder() const {
  return QStandardPaths::writableLocation(QStandardPaths::AppDataLocation) + "/runs/run-" +
         QDateTime::currentDateTime().toString("yyyyMMdd-HHmmss");
}

TrainSettings TrainPanel::settings() const {
  TrainSettings s;
  s.data = data_->text().trimmed();
  s.config = config_->currentText().trimmed();
  s.out = out_->text().trimmed();
  s.resume = resume_->isChecked();
  s.batch = batch_->value();
  s.images = images_k_->value();
  if (base_->currentIndex() == 1) s.init = init_->text().trimmed();
  s.clip = clip_->text().trimmed();
  s.checkpoint_every = checkpoint_k_->value();
  if (aug_color_->isChecked()) s.augment << "color";
  if (aug_translation_->isChecked()) s.augment << "translation";
  if (aug_cutout_->isChecked()) s.augment << "cutout";
  s.lr = lr_->value();
  s.extra = extra_;
  return s;
}

void TrainPanel::setSettings(const TrainSettings& s) {
  data_->setText(s.data);
  config_->setCurrentText(s.config);
  out_->setText(s.out);
  resume_->setChecked(s.resume);
  if (s.batch > 0) batch_->setValue(s.batch);
  if (s.images > 0) images_k_->setValue(int(std::min<qint64>(s.images, 2000000000)));
  base_->setCurrentIndex(s.init.isEmpty() ? 0 : 1);
  init_->setText(s.init);
  clip_->setText(s.clip);
  checkpoint_k_->setValue(int(std::min<qint64>(s.checkpoint_every, 2000000000)));
  aug_color_->setChecked(s.augment.contains("color"));
  aug_translation_->setChecked(s.augment.contains("translation"));
  aug_cutout_->setChecked(s.augment.contains("cutout"));
  lr_->setValue(s.lr);
  extra_ = s.extra;
}

QStringList TrainPanel::checkpointPackages() const {
  QStringList out;
  for (int i = 0; i < checkpoints_->count(); ++i) out << checkpoints_->item(i)->data(Qt::UserRole).toString();
  return out;
}

int TrainPanel::lossPointCount(const QString& term) const {
  const QLineSeries* s = series_.value(term);
  return s ? int(s->count()) : 0;
}

QString TrainPanel::statusText() const { return progress_label_->text(); }

void TrainPanel::resetRunView() {
  for (QLineSeries* s : std::as_const(series_)) {
    chart_->removeSeries(s);
    delete s;
  }
  series_.clear();
  y_min_ = y_max_ = 0.0;
  checkpoints_->clear();
  images_ = images_target_ = 0;
  latest_sample_.clear();
  progress_->setValue(0);
  sample_->setPixmap(QPixmap());
  sample_->setText(tr("Sample grid\nappears here"));
}

void TrainPanel::startRun() {
  const TrainSettings s = settings();
  QString problem;
  if (s.data.isEmpty() || !QFileInfo(s.data).isDir())
    problem = tr("Choose a dataset folder first (or build the emoji set).");
  else if (s.out.isEmpty())
    problem = tr("Choose a run folder.");
  else if (s.clip.isEmpty())
    problem = tr("Choose the frozen CLIP (a model package such as the shipped emoji model, or \"random\").");
  else if (!s.init.isEmpty() && !QFileInfo::exists(s.init))
    problem = tr("The base model '%1' does not exist; choose a package folder or checkpoint.").arg(s.init);
  if (!problem.isEmpty()) {
    progress_label_->setText(problem);
    Q_EMIT statusMessage(problem);
    return;
  }
  resetRunView();
  QString error;
  if (!process_->start(s, &error)) {
    progress_label_->setText(error);
    Q_EMIT statusMessage(error);
    return;
  }
  run_dir_ = s.out;
  progress_label_->setText(tr("Starting the trainer…"));
  Q_EMIT statusMessage(tr("Training started in %1").arg(s.out));
}

void TrainPanel::togglePause() {
  if (process_->state() == TrainProcess::State::Paused)
    process_->resume();
  else
    process_->pause();
}

void TrainPanel::stopRun() {
  process_->stop();
  progress_label_->setText(tr("Stopping: saving a checkpoint…"));
}

void TrainPanel::useSelectedCheckpoint() {
  QListWidgetItem* item = checkpoints_->currentItem();
  if (!item && checkpoints_->count() > 0) item = checkpoints_->item(checkpoints_->count() - 1);
  if (!item) return;
  Q_EMIT usePackage(item->data(Qt::UserRole).toString());
}

void TrainPanel::onState(TrainProcess::State s) {
  const bool active = s != TrainProcess::State::Idle;
  start_->setEnabled(!active);
  form_->setEnabled(!active);
  pause_->setEnabled(s == TrainProcess::State::Running || s == TrainProcess::State::Paused);
  stop_->setEnabled(s == TrainProcess::State::Running || s == TrainProcess::State::Paused);
  const bool paused = s == TrainProcess::State::Paused;
  pause_->setText(paused ? tr("Resume") : tr("Pause"));
  pause_->setIcon(QIcon::fromTheme(paused ? "media-playback-start" : "media-playback-pause"));
  if (paused) progress_label_->setText(tr("Paused at %L1 images.").arg(images_));
}

void TrainPanel::addLossPoint(const QString& term, double x, double y) {
  if (!std::isfinite(y)) return;
  QLineSeries* s = series_.value(term);
  if (!s) {
    s = new QLineSeries;
    s->setName(term);
    chart_->addSeries(s);
    s->attachAxis(axis_x_);
    s->attachAxis(axis_y_);
    series_.insert(term, s);
    if (series_.size() == 1) y_min_ = y_max_ = y;
  }
  if (s->count() >= kMaxPoints) {
    QList<QPointF> pts = s->points();
    QList<QPointF> thin;
    thin.reserve(pts.size() / 2 + 1);
    for (qsizetype i = 0; i < pts.size(); i += 2) thin.append(pts[i]);
    s->replace(thin);
  }
  s->append(x, y);
  y_min_ = std::min(y_min_, y);
  y_max_ = std::max(y_max_, y);
}

void TrainPanel::showSample(const QString& path) {
  QImage img(path);
  if (img.isNull()) return;
  latest_sample_ = path;
  // Integer scale (nearest) so the grid's pixels stay crisp.
  const int k = std::max(1, std::min((sample_->width() - 4) / std::max(1, img.width()),
                                     (sample_->height() - 4) / std::max(1, img.height())));
  sample_->setPixmap(QPixmap::fromImage(img.scaled(img.size() * k, Qt::KeepAspectRatio, Qt::FastTransformation)));
  sample_->setToolTip(path);
}

void TrainPanel::onEvent(const TrainEvent& e) {
  switch (e.type) {
    case TrainEvent::Type::Start:
      images_ = e.images;
      images_target_ = e.images_target;
      run_dir_ = e.run_dir.isEmpty() ? run_dir_ : e.run_dir;
      progress_label_->setText(tr("%1 training (%2)%3: %L4 / %L5 images")
                                   .arg(e.mode, e.config, e.resumed ? tr(", resumed") : QString())
                                   .arg(e.images)
                                   .arg(e.images_target));
      break;
    case TrainEvent::Type::Step: {
      images_ = e.images;
      if (images_target_ > 0)
        progress_->setValue(int(std::min<qint64>(1000, images_ * 1000 / images_target_)));
      for (auto it = e.losses.begin(); it != e.losses.end(); ++it) addLossPoint(it.key(), double(e.images), it.value());
      axis_x_->setRange(0, std::max<double>(1.0, double(images_)));
      // The y range covers the later three quarters of the run, so the large
      // values of the first steps do not flatten the curves.
      double lo = 0, hi = 0;
      bool any = false;
      for (const QLineSeries* s : std::as_const(series_))
        for (const QPointF& pt : s->points())
          if (pt.x() >= 0.25 * double(images_)) {
            lo = any ? std::min(lo, pt.y()) : pt.y();
            hi = any ? std::max(hi, pt.y()) : pt.y();
            any = true;
          }
      if (!any) lo = y_min_, hi = y_max_;
      const double pad = std::max(1e-3, 0.08 * (hi - lo));
      axis_y_->setRange(lo - pad, hi + pad);
      progress_label_->setText(tr("%L1 / %L2 images · %3 images/s · ETA %4 · step %L5 · lr %6")
                                   .arg(e.images)
                                   .arg(images_target_)
                                   .arg(e.images_per_s, 0, 'f', 1)
                                   .arg(formatDuration(e.eta_s))
                                   .arg(e.step)
                                   .arg(e.lr, 0, 'g', 3));
      break;
    }
    case TrainEvent::Type::Sample: showSample(e.path); break;
    case TrainEvent::Type::Checkpoint: {
      auto* item = new QListWidgetItem(tr("%L1 images").arg(e.images));
      item->setData(Qt::UserRole, e.package);
      item->setToolTip(tr("checkpoint: %1\npackage: %2").arg(e.path, e.package));
      checkpoints_->addItem(item);
      checkpoints_->setCurrentItem(item);
      Q_EMIT statusMessage(tr("Checkpoint saved at %L1 images.").arg(e.images));
      break;
    }
    case TrainEvent::Type::Paused: Q_EMIT statusMessage(tr("Training paused.")); break;
    case TrainEvent::Type::Resumed: Q_EMIT statusMessage(tr("Training resumed.")); break;
    case TrainEvent::Type::Warning:
      log_->appendPlainText(tr("warning: %1").arg(e.message));
      Q_EMIT statusMessage(tr("Trainer warning: %1").arg(e.message));
      break;
    case TrainEvent::Type::Error: log_->appendPlainText(tr("error: %1").arg(e.message)); break;
    case TrainEvent::Type::Done:
      images_ = e.images;
      if (e.reason == "finished") progress_->setValue(1000);
      break;
    case TrainEvent::Type::Unknown: log_->appendPlainText(QString::fromUtf8(QJsonDocument(e.raw).toJson(QJsonDocument::Compact))); break;
  }
}

void TrainPanel::onFinished(bool ok, const QString& summary) {
  progress_label_->setText(summary);
  if (!ok) log_->appendPlainText(summary);
  Q_EMIT statusMessage(summary);
  Q_EMIT runFinished(ok, summary);
}

void TrainPanel::buildEmojiDataset() {
  if (data_process_) return;
  const QString out = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation) + "/datasets/emoji";
  data_process_ = new QProcess(this);
  data_process_->setProcessChannelMode(QProcess::MergedChannels);
  connect(data_process_, &QProcess::readyRead, this, [this] {
    log_->appendPlainText(QString::fromUtf8(data_process_->readAll()).trimmed());
  });
  connect(data_process_, &QProcess::finished, this, [this, out](int code, QProcess::ExitStatus st) {
    const bool ok = st == QProcess::NormalExit && code == 0;
    const QString msg = ok ? tr("Emoji dataset ready in %1").arg(out)
                           : tr("Building the emoji dataset failed (see the log below); check the network and disk space.");
    if (ok) data_->setText(out);
    Q_EMIT statusMessage(msg);
    log_->appendPlainText(msg);
    data_process_->deleteLater();
    data_process_ = nullptr;
  });
  log_->appendPlainText(tr("$ %1 data emoji --out %2").arg(process_->cli(), out));
  data_process_->start(process_->cli(), {"data", "emoji", "--out", out});
  Q_EMIT statusMessage(tr("Building the emoji dataset…"));
}

}  // namespace gg::ui

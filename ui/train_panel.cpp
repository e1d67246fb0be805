#include "train_panel.h"

#include <QChart>
#include <QChartView>
#include <QCheckBox>
#include <QComboBox>
#include <QDateTime>
#include <QDir>
#include <QDoubleSpinBox>
#include <QElapsedTimer>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QLineEdit>
#include <QLineSeries>
#include <QListWidget>
#include <QPen>
#include <QPlainTextEdit>
#include <QProcess>
#include <QProgressBar>
#include <QPushButton>
#include <QRegularExpression>
#include <QScrollArea>
#include <QSet>
#include <QSpinBox>
#include <QSplitter>
#include <QStandardPaths>
#include <QToolButton>
#include <QVBoxLayout>
#include <QValueAxis>

#include <algorithm>
#include <cmath>

#include "panel_controls.h"

namespace gg::ui {

namespace {
// Points kept per curve; older points are thinned (every other one dropped)
// so a long run never slows the chart down.
constexpr int kMaxPoints = 1500;

// One colour per loss term, fixed (the same term has the same colour in
// every run) and never shared: a dark theme's five series colours would
// repeat after five terms.
const QMap<QString, QColor>& lossColours() {
  static const QMap<QString, QColor> colours = {
      {"g_total", QColor(255, 255, 255)},  {"g_gan", QColor(66, 165, 245)},      {"g_match", QColor(0, 229, 255)},
      {"g_clip", QColor(102, 187, 106)},   {"g_vision", QColor(198, 255, 0)},    {"g_recon", QColor(171, 71, 188)},
      {"g_pixel", QColor(240, 98, 146)},   {"g_perceptual", QColor(255, 152, 0)}, {"d_real", QColor(244, 67, 54)},
      {"d_fake", QColor(161, 136, 127)},   {"d_match", QColor(255, 235, 59)},    {"d_vision", QColor(144, 164, 174)},
      {"r1", QColor(0, 150, 136)},         {"clip", QColor(129, 212, 250)},      {"accuracy", QColor(174, 213, 129)},
      {"temperature", QColor(255, 112, 67)}};
  return colours;
}

// Characters after which a long word (a path) may break: a message wraps
// inside the panel instead of widening it.
QString wrappable(const QString& text) {
  QString out;
  out.reserve(text.size() + text.size() / 8);
  int run = 0;  // characters since the last break opportunity
  for (const QChar c : text) {
    out += c;
    run = c.isSpace() ? 0 : run + 1;
    if (!c.isSpace() && (c == '/' || c == '_' || c == '-' || c == '.' || c == ',' || c == ':' || c == '=' || run >= 24)) {
      out += QChar(0x200B);  // zero-width space
      run = 0;
    }
  }
  return out;
}

}  // namespace

TrainPanel::TrainPanel(QWidget* parent) : QWidget(parent), process_(new TrainProcess(this)) {
  auto* root = new QVBoxLayout(this);
  root->setContentsMargins(6, 6, 6, 6);
  root->addWidget(buildRunForm());
  root->addLayout(buildButtons());
  buildProgress(root);
  auto* split = new QSplitter(Qt::Vertical, this);
  split->addWidget(buildChart());
  split->addWidget(buildSampleAndCheckpoints());
  split->addWidget(buildLog());
  split->setStretchFactor(0, 3);
  split->setStretchFactor(1, 3);
  split->setStretchFactor(2, 1);
  root->addWidget(split, 1);
  setMinimumHeight(800);  // in a scroll area: the curves never get squashed
  connectProcess();
  connectPresets();
  clock_.start();
  showRunFolder(out_->text());
}

QWidget* TrainPanel::folderField(QLineEdit* edit, const QString& title, const std::function<void()>& chosen) {
  auto* b = new QToolButton(this);
  b->setText(QStringLiteral("…"));
  b->setToolTip(tr("Browse"));
  connect(b, &QToolButton::clicked, this, [this, edit, title, chosen] {
    const QString d = QFileDialog::getExistingDirectory(this, title, edit->text());
    if (d.isEmpty()) return;
    edit->setText(d);
    if (chosen) chosen();
  });
  return hboxRow(this, {{edit, 1}, {b, 0}});
}

QGroupBox* TrainPanel::buildRunForm() {
  auto* box = new QGroupBox(tr("Run"), this);
  form_ = box;
  auto* form = new QFormLayout(box);
  form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
  form->addRow(tr("Data"), buildDataRow());
  config_ = new QComboBox(this);
  config_->setEditable(true);
  config_->addItems({"emoji64", "tiny"});
  config_->setToolTip(tr("A preset (tiny: tests, emoji64: the shipped model's size) or a config JSON path"));
  form->addRow(tr("Preset"), config_);
  form->addRow(tr("Start"), buildBaseRow());
  clip_ = new QLineEdit(this);
  clip_->setPlaceholderText(tr("frozen CLIP: a model package, a train-clip run, or \"random\""));
  clip_->setToolTip(tr("The frozen text/image encoder the GAN is conditioned on (gigagan train --clip).\n"
                       "A model package's CLIP (e.g. the shipped emoji model) is the usual choice."));
  form->addRow(tr("CLIP"), folderField(clip_, tr("CLIP source (package or run)")));
  form->addRow(tr("Run folder"), buildRunFolderRow());
  buildLengthRows(form);
  form->addRow(tr("Augment"), buildAugmentRow());
  form->addRow(tr("Vision-aided D"), buildVisionRow());
  return box;
}

QWidget* TrainPanel::buildVisionRow() {
  vision_ = new QComboBox(this);
  // Item data: the --vision-backbone value ("" leaves the preset's).
  vision_->addItem(tr("As the preset says"), QString());
  vision_->addItem(tr("CLIP features (the paper)"), QStringLiteral("clip"));
  vision_->addItem(tr("InceptionV3 features (ImageNet)"), QStringLiteral("inception_v3"));
  vision_->setToolTip(tr("The frozen network under the vision-aided discriminator's heads "
                         "(gigagan train --vision-backbone).\n"
                         "CLIP: the run's own CLIP, as the paper. InceptionV3: nsfwjs's ImageNet-initialised "
                         "network; the metrics use another (MobileNetV2).\n"
                         "Fine-tuning a package trained with the other backbone starts the heads afresh."));
  QWidget* row = hboxRow(this, {{vision_, 0}});
  static_cast<QHBoxLayout*>(row->layout())->addStretch();
  return row;
}

QWidget* TrainPanel::buildDataRow() {
  data_ = new QLineEdit(this);
  data_->setPlaceholderText(tr("dataset folder (manifest.jsonl, TSV or images + .txt)"));
  auto* build = new QPushButton(tr("Build emoji set"), this);
  build->setToolTip(tr("Runs `gigagan data emoji` (downloads Noto and Twemoji from the npm registry)"));
  connect(build, &QPushButton::clicked, this, &TrainPanel::buildEmojiDataset);
  return hboxRow(this, {{folderField(data_, tr("Dataset folder")), 1}, {build, 0}});
}

QWidget* TrainPanel::buildBaseRow() {
  base_ = new QComboBox(this);
  base_->addItems({tr("From scratch"), tr("Fine-tune from…")});
  init_ = new QLineEdit(this);
  init_->setPlaceholderText(tr("package folder or checkpoint"));
  init_->setEnabled(false);
  connect(base_, &QComboBox::currentIndexChanged, this, [this](int i) { init_->setEnabled(i == 1); });
  return hboxRow(this, {{base_, 0}, {folderField(init_, tr("Base package"), [this] { base_->setCurrentIndex(1); }), 1}});
}

QWidget* TrainPanel::buildRunFolderRow() {
  out_ = new QLineEdit(defaultRunFolder(), this);
  connect(out_, &QLineEdit::editingFinished, this, [this] {
    if (!running()) showRunFolder(out_->text().trimmed());
  });
  resume_ = new QCheckBox(tr("Resume"), this);
  resume_->setToolTip(tr("Continue the run in this folder from its latest checkpoint"));
  return hboxRow(this, {{folderField(out_, tr("Run folder")), 1}, {resume_, 0}});
}

void TrainPanel::buildLengthRows(QFormLayout* form) {
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
  form->addRow(tr("Length"), hboxRow(this, {{images_k_, 2}, {batch_, 1}}));
  form->addRow(tr("Checkpoints"), hboxRow(this, {{checkpoint_k_, 2}, {lr_, 1}}));
}

QWidget* TrainPanel::buildAugmentRow() {
  aug_color_ = new QCheckBox(tr("color"), this);
  aug_translation_ = new QCheckBox(tr("translation"), this);
  aug_cutout_ = new QCheckBox(tr("cutout"), this);
  aug_color_->setChecked(true);
  aug_translation_->setChecked(true);
  QWidget* row = hboxRow(this, {{aug_color_, 0}, {aug_translation_, 0}, {aug_cutout_, 0}});
  static_cast<QHBoxLayout*>(row->layout())->addStretch();
  return row;
}

QHBoxLayout* TrainPanel::buildButtons() {
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
  return buttons;
}

void TrainPanel::buildProgress(QVBoxLayout* root) {
  progress_ = new QProgressBar(this);
  progress_->setRange(0, 1000);
  progress_->setValue(0);
  progress_->setTextVisible(true);
  progress_->setFormat(QStringLiteral("%p%"));
  progress_label_ = new QLabel(tr("Not running."), this);
  progress_label_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  // A long message (a failed run's error with its paths) wraps inside the
  // panel; its width never widens the panel (Start and the labels stay in view).
  progress_label_->setWordWrap(true);
  QSizePolicy policy(QSizePolicy::Ignored, QSizePolicy::Preferred);
  policy.setHeightForWidth(true);
  progress_label_->setSizePolicy(policy);
  progress_label_->setMinimumWidth(0);
  root->addWidget(progress_);
  root->addWidget(progress_label_);
}

QChartView* TrainPanel::buildChart() {
  chart_ = new QChart;
  chart_->setTheme(QChart::ChartThemeDark);
  chart_->setTitle(tr("Losses"));
  chart_->legend()->setAlignment(Qt::AlignRight);
  QFont lf = chart_->legend()->font();
  lf.setPointSizeF(lf.pointSizeF() * 0.85);
  chart_->legend()->setFont(lf);
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
  return chart_view_;
}

QWidget* TrainPanel::buildSampleAndCheckpoints() {
  sample_ = new QLabel(tr("Sample grid\nappears here"), this);
  sample_->setAlignment(Qt::AlignCenter);
  sample_->setMinimumSize(160, 160);
  sample_->setFrameShape(QFrame::StyledPanel);
  sample_->setStyleSheet("QLabel { background: #1c1d20; color: #888; }");
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
  connect(checkpoints_, &QListWidget::currentRowChanged, this, [this](int row) { use_->setEnabled(row >= 0 && !exporting_); });
  ck_l->addWidget(use_);
  return hboxRow(this, {{sample_, 1}, {ck, 1}});
}

QPlainTextEdit* TrainPanel::buildLog() {
  log_ = new QPlainTextEdit(this);
  log_->setReadOnly(true);
  log_->setMaximumBlockCount(2000);
  log_->setPlaceholderText(tr("Trainer messages"));
  QFont mono("monospace");
  mono.setStyleHint(QFont::Monospace);
  mono.setPointSizeF(font().pointSizeF() * 0.9);
  log_->setFont(mono);
  return log_;
}

void TrainPanel::connectProcess() {
  connect(process_, &TrainProcess::event, this, &TrainPanel::onEvent);
  connect(process_, &TrainProcess::stateChanged, this, &TrainPanel::onState);
  connect(process_, &TrainProcess::finished, this, &TrainPanel::onFinished);
  connect(process_, &TrainProcess::logLine, log_, &QPlainTextEdit::appendPlainText);
}

// Each preset brings a CLIP whose text tower fits it (tiny: its own random
// 2-layer CLIP; emoji64: the shipped model's) and a length that fits it; a
// CLIP or length chosen for a preset comes back with it. A config path
// leaves both to the user.
void TrainPanel::connectPresets() {
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
  s.vision_backbone = vision_->currentData().toString();
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
  vision_->setCurrentIndex(std::max(0, vision_->findData(s.vision_backbone)));
  extra_ = s.extra;
  if (!running()) showRunFolder(s.out);
}

QStringList TrainPanel::checkpointFiles() const {
  QStringList out;
  for (int i = 0; i < checkpoints_->count(); ++i) out << checkpoints_->item(i)->data(Qt::UserRole + 1).toString();
  return out;
}

QColor TrainPanel::lossColourOf(const QString& term) const {
  const QLineSeries* s = series_.value(term);
  return s ? s->pen().color() : QColor();
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

QString TrainPanel::statusText() const { return progress_label_->text().remove(QChar(0x200B)); }

void TrainPanel::setStatus(const QString& text) { progress_label_->setText(wrappable(text)); }

// The chart, the sample and the checkpoints show one run: `dir`'s. A run
// shown already keeps its curves (a resumed run continues them); another
// starts from the curves in its stats.jsonl, if any.
void TrainPanel::showRunFolder(const QString& dir) {
  const QString run = QDir::cleanPath(QDir(dir).absolutePath());
  if (run != chart_run_) {
    for (QLineSeries* s : std::as_const(series_)) {
      chart_->removeSeries(s);
      delete s;
    }
    series_.clear();
    y_min_ = y_max_ = 0.0;
    chart_run_ = run;
    chart_->setTitle(tr("Losses · %1").arg(QFileInfo(run).fileName()));
    loadStats(run);
    latest_sample_.clear();
    sample_->setPixmap(QPixmap());
    sample_->setText(tr("Sample grid\nappears here"));
    const QStringList samples = QDir(run + "/samples").entryList({"samples-*.png"}, QDir::Files, QDir::Name);
    if (!samples.isEmpty()) showSample(run + "/samples/" + samples.last());
  }
  run_dir_ = run;
  refreshCheckpoints();
}

// A run's earlier curves: the step lines of its stats.jsonl.
void TrainPanel::loadStats(const QString& run) {
  QFile f(run + "/stats.jsonl");
  if (!f.open(QIODevice::ReadOnly)) return;
  qint64 last = 0;
  while (!f.atEnd()) {
    const QJsonObject o = QJsonDocument::fromJson(f.readLine()).object();
    const QJsonObject losses = o.value("losses").toObject();
    if (losses.isEmpty()) continue;
    const qint64 images = qint64(o.value("images").toDouble());
    for (auto it = losses.begin(); it != losses.end(); ++it) addLossPoint(it.key(), double(images), it.value().toDouble());
    last = std::max(last, images);
  }
  if (last > 0) fitAxes(last);
}

// The run's checkpoints (RUN/checkpoints/ckpt-<images>.safetensors, as
// training/run.cpp writes them), oldest first. The newest is the run's
// package (RUN/package, written with every checkpoint); an older one becomes
// a package of its own (RUN/packages/ckpt-<images>, `gigagan package
// --generator`) when it is used.
void TrainPanel::refreshCheckpoints() {
  // The selection follows the newest checkpoint unless an older one was chosen.
  const bool follow = checkpoints_->currentRow() < 0 || checkpoints_->currentRow() == checkpoints_->count() - 1;
  const QString selected = follow ? QString() : checkpoints_->currentItem()->data(Qt::UserRole + 1).toString();
  checkpoints_->clear();
  if (run_dir_.isEmpty()) return;
  const QString package = run_dir_ + "/package";
  if (!QFileInfo::exists(package + "/package.json")) return;  // an upsampler run, or none yet
  static const QRegularExpression name(QStringLiteral("^ckpt-(\\d+)\\.safetensors$"));
  const QStringList files = QDir(run_dir_ + "/checkpoints").entryList({"ckpt-*.safetensors"}, QDir::Files, QDir::Name);
  for (int i = 0; i < files.size(); ++i) {
    const QRegularExpressionMatch m = name.match(files[i]);
    if (!m.hasMatch()) continue;
    const qint64 images = m.captured(1).toLongLong();
    const bool newest = i == files.size() - 1;
    const QString path = run_dir_ + "/checkpoints/" + files[i];
    const QString pkg = newest ? package : run_dir_ + "/packages/" + QFileInfo(files[i]).completeBaseName();
    auto* item = new QListWidgetItem(newest ? tr("%L1 images (newest)").arg(images) : tr("%L1 images").arg(images));
    item->setData(Qt::UserRole, pkg);
    item->setData(Qt::UserRole + 1, path);
    item->setToolTip(tr("checkpoint: %1\npackage: %2%3")
                         .arg(path, pkg, newest || QFileInfo::exists(pkg + "/package.json")
                                             ? QString()
                                             : tr(" (made from the checkpoint when used)")));
    checkpoints_->addItem(item);
    if (path == selected || (selected.isEmpty() && newest)) checkpoints_->setCurrentItem(item);
  }
}

void TrainPanel::startRun() {
  TrainSettings s = settings();
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
    setStatus(problem);
    Q_EMIT statusMessage(problem);
    return;
  }
  // Without Resume a run never continues an earlier one (the trainer would
  // resume from any checkpoint in --out): a folder in use gives way to a new
  // one beside it ("run-2", "run-3", ...).
  QString note;
  if (!s.resume) {
    const QString fresh = freshRunFolder(s.out);
    if (fresh != s.out) {
      note = tr("“%1” holds a run already; this new run goes to “%2” (check Resume to continue the old one).")
                 .arg(QFileInfo(s.out).fileName(), QFileInfo(fresh).fileName());
      s.out = fresh;
      out_->setText(fresh);
    }
  }
  showRunFolder(s.out);
  images_ = images_target_ = 0;
  progress_->setValue(0);
  throughput_.reset();
  QString error;
  if (!process_->start(s, &error)) {
    setStatus(error);
    Q_EMIT statusMessage(error);
    return;
  }
  setStatus(note.isEmpty() ? tr("Starting the trainer…") : note);
  Q_EMIT statusMessage(note.isEmpty() ? tr("Training started in %1").arg(s.out) : note);
}

QString TrainPanel::freshRunFolder(const QString& out) {
  const auto inUse = [](const QString& dir) {
    const QDir d(dir);
    return d.exists() && !d.entryList(QDir::AllEntries | QDir::NoDotAndDotDot | QDir::Hidden).isEmpty();
  };
  if (!inUse(out)) return out;
  // "run-2" in use goes on with "run-3", not "run-2-2".
  QString base = QDir::cleanPath(out);
  int n = 2;
  static const QRegularExpression suffix(QStringLiteral("^(.*)-(\\d{1,3})$"));
  const QRegularExpressionMatch m = suffix.match(base);
  if (m.hasMatch() && QFileInfo(m.captured(1)).isDir()) {
    base = m.captured(1);
    n = m.captured(2).toInt() + 1;
  }
  while (inUse(QStringLiteral("%1-%2").arg(base).arg(n))) ++n;
  return QStringLiteral("%1-%2").arg(base).arg(n);
}

void TrainPanel::togglePause() {
  if (process_->state() == TrainProcess::State::Paused)
    process_->resume();
  else
    process_->pause();
}

void TrainPanel::stopRun() {
  process_->stop();
  setStatus(tr("Stopping: saving a checkpoint…"));
}

void TrainPanel::useSelectedCheckpoint() {
  QListWidgetItem* item = checkpoints_->currentItem();
  if (!item && checkpoints_->count() > 0) item = checkpoints_->item(checkpoints_->count() - 1);
  if (!item || exporting_) return;
  const QString package = item->data(Qt::UserRole).toString();
  if (QFileInfo::exists(package + "/package.json")) {
    Q_EMIT usePackage(package);
    return;
  }
  // An older checkpoint: its generator in a copy of the run's package.
  exporting_ = true;
  use_->setEnabled(false);
  auto* p = new QProcess(this);
  p->setProcessChannelMode(QProcess::MergedChannels);
  const QStringList args{"package", "--base", run_dir_ + "/package", "--generator", item->data(Qt::UserRole + 1).toString(),
                         "--no-discriminator", "--out", package};
  log_->appendPlainText(tr("$ %1 %2").arg(process_->cli(), args.join(' ')));
  connect(p, &QProcess::finished, this, [this, p, package](int code, QProcess::ExitStatus st) {
    const QString out = QString::fromUtf8(p->readAll()).trimmed();
    if (!out.isEmpty()) log_->appendPlainText(out);
    p->deleteLater();
    exporting_ = false;
    use_->setEnabled(checkpoints_->currentRow() >= 0);
    if (st == QProcess::NormalExit && code == 0 && QFileInfo::exists(package + "/package.json")) {
      refreshCheckpoints();
      Q_EMIT usePackage(package);
    } else {
      const QString msg = tr("Could not make a package of that checkpoint (see the log below).");
      setStatus(msg);
      Q_EMIT statusMessage(msg);
    }
  });
  p->start(process_->cli(), args);
  Q_EMIT statusMessage(tr("Making a package of the checkpoint…"));
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
  if (paused) setStatus(tr("Paused at %L1 images.").arg(images_));
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
    QPen pen = s->pen();
    pen.setColor(lossColour(term));
    pen.setWidthF(term == QLatin1String("g_total") ? 2.0 : 1.5);
    s->setPen(pen);
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

QColor TrainPanel::lossColour(const QString& term) const {
  const auto known = lossColours().constFind(term);
  if (known != lossColours().constEnd()) return *known;
  // Another term: the next hue (golden angle) far from every colour in use.
  QSet<QRgb> used;
  for (const QColor& c : lossColours()) used.insert(c.rgb());
  for (auto it = series_.begin(); it != series_.end(); ++it)
    if (it.key() != term) used.insert(it.value()->pen().color().rgb());
  for (int k = 0;; ++k) {
    const QColor c = QColor::fromHsvF(std::fmod(0.13 + 0.618034 * k, 1.0), 0.55, 0.95);
    bool near = false;
    for (QRgb u : used) near |= std::abs(qRed(u) - c.red()) + std::abs(qGreen(u) - c.green()) + std::abs(qBlue(u) - c.blue()) < 60;
    if (!near || k > 64) return c;
  }
}

void TrainPanel::fitAxes(qint64 images) {
  axis_x_->setRange(0, std::max<double>(1.0, double(images)));
  // The y range covers the later three quarters of the run, so the large
  // values of the first steps do not flatten the curves.
  double lo = 0, hi = 0;
  bool any = false;
  for (const QLineSeries* s : std::as_const(series_))
    for (const QPointF& pt : s->points())
      if (pt.x() >= 0.25 * double(images)) {
        lo = any ? std::min(lo, pt.y()) : pt.y();
        hi = any ? std::max(hi, pt.y()) : pt.y();
        any = true;
      }
  if (!any) lo = y_min_, hi = y_max_;
  const double pad = std::max(1e-3, 0.08 * (hi - lo));
  axis_y_->setRange(lo - pad, hi + pad);
}

void TrainPanel::onEvent(const TrainEvent& e) {
  switch (e.type) {
    case TrainEvent::Type::Start:
      images_ = e.images;
      images_target_ = e.images_target;
      if (!e.run_dir.isEmpty()) showRunFolder(e.run_dir);
      throughput_.reset();
      setStatus(tr("%1 training (%2)%3: %L4 / %L5 images")
                    .arg(e.mode, e.config, e.resumed ? tr(", resumed") : QString())
                    .arg(e.images)
                    .arg(e.images_target));
      break;
    case TrainEvent::Type::Step: {
      images_ = e.images;
      if (images_target_ > 0)
        progress_->setValue(int(std::min<qint64>(1000, images_ * 1000 / images_target_)));
      for (auto it = e.losses.begin(); it != e.losses.end(); ++it) addLossPoint(it.key(), double(e.images), it.value());
      fitAxes(images_);
      // images/s and the ETA smoothed over the last minutes (the trainer's
      // per-tick rate jumps at ticks with a sample grid or a checkpoint).
      throughput_.add(double(clock_.elapsed()) / 1000.0, e.images, e.images_per_s);
      const double rate = throughput_.rate() > 0 ? throughput_.rate() : e.images_per_s;
      const double left = images_target_ > 0 ? throughput_.secondsLeft(images_target_ - e.images) : e.eta_s;
      setStatus(tr("%L1 / %L2 images · %3 images/s · ETA %4 · step %L5 · lr %6")
                    .arg(e.images)
                    .arg(images_target_)
                    .arg(rate, 0, 'f', 1)
                    .arg(formatDuration(left >= 0 ? left : e.eta_s))
                    .arg(e.step)
                    .arg(e.lr, 0, 'g', 3));
      break;
    }
    case TrainEvent::Type::Sample: showSample(e.path); break;
    case TrainEvent::Type::Checkpoint:
      refreshCheckpoints();
      Q_EMIT statusMessage(tr("Checkpoint saved at %L1 images.").arg(e.images));
      break;
    case TrainEvent::Type::Paused:
      throughput_.reset();  // the paused time is no throughput
      Q_EMIT statusMessage(tr("Training paused."));
      break;
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
  setStatus(summary);
  refreshCheckpoints();
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

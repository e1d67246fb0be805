#include "panels.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QDragEnterEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGridLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QImageReader>
#include <QLabel>
#include <QLineEdit>
#include <QMimeData>
#include <QMouseEvent>
#include <QPainter>
#include <QPainterPath>
#include <QProgressBar>
#include <QPushButton>
#include <QRandomGenerator>
#include <QSignalBlocker>
#include <QSlider>
#include <QSpinBox>
#include <QToolButton>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

namespace gg::ui {

namespace {
constexpr int kMaxSeed = 2147483647;
constexpr int kMaxHistory = 30;

// A die showing five, painted (no emoji font needed).
QIcon diceIcon() {
  QPixmap pm(36, 36);
  pm.fill(Qt::transparent);
  QPainter p(&pm);
  p.setRenderHint(QPainter::Antialiasing);
  p.setPen(QPen(QColor(200, 202, 210), 2.5));
  p.setBrush(QColor(70, 72, 80));
  p.drawRoundedRect(QRectF(3, 3, 30, 30), 7, 7);
  p.setPen(Qt::NoPen);
  p.setBrush(QColor(235, 236, 240));
  for (const QPointF& c : {QPointF(11, 11), QPointF(25, 11), QPointF(18, 18), QPointF(11, 25), QPointF(25, 25)})
    p.drawEllipse(c, 2.8, 2.8);
  return QIcon(pm);
}

QToolButton* diceButton(QWidget* parent) {
  auto* b = new QToolButton(parent);
  b->setIcon(diceIcon());
  b->setIconSize(QSize(18, 18));
  b->setToolTip(QObject::tr("Random seed"));
  b->setAutoRaise(true);
  return b;
}

QSpinBox* makeSeedSpin(QWidget* parent) {
  auto* s = new QSpinBox(parent);
  s->setRange(0, kMaxSeed);
  s->setPrefix(QObject::tr("seed "));
  s->setKeyboardTracking(false);  // a typed seed renders once, on Enter
  s->setMinimumWidth(110);
  s->setMaximumWidth(130);
  return s;
}

int randomSeed() { return int(QRandomGenerator::global()->bounded(100000)); }
}  // namespace

QPixmap crispPixmap(const QImage& image, QSize box) {
  if (image.isNull() || box.isEmpty()) return {};
  const int k = std::min(box.width() / std::max(1, image.width()), box.height() / std::max(1, image.height()));
  if (k >= 1) return QPixmap::fromImage(image.scaled(image.size() * k, Qt::KeepAspectRatio, Qt::FastTransformation));
  return QPixmap::fromImage(image.scaled(box, Qt::KeepAspectRatio, Qt::SmoothTransformation));
}

// ---- SourceEditor

SourceEditor::SourceEditor(const QString& label, QWidget* parent) : QWidget(parent) {
  auto* l = new QHBoxLayout(this);
  l->setContentsMargins(0, 0, 0, 0);
  auto* name = new QLabel(label, this);
  name->setMinimumWidth(14);
  name->setStyleSheet("font-weight: bold;");
  prompt_ = new QLineEdit(this);
  prompt_->setPlaceholderText(tr("prompt"));
  prompt_->setClearButtonEnabled(true);
  seed_ = makeSeedSpin(this);
  auto* dice = diceButton(this);
  l->addWidget(name);
  l->addWidget(prompt_, 1);
  l->addWidget(seed_);
  l->addWidget(dice);
  connect(prompt_, &QLineEdit::textEdited, this, [this] {
    latent_.clear();
    Q_EMIT changed();
  });
  connect(prompt_, &QLineEdit::returnPressed, this, &SourceEditor::changed);
  connect(seed_, &QSpinBox::valueChanged, this, [this] {
    latent_.clear();
    Q_EMIT changed();
  });
  connect(dice, &QToolButton::clicked, this, [this] { seed_->setValue(randomSeed()); });
}

Source SourceEditor::source() const { return Source{prompt_->text().trimmed(), quint64(seed_->value()), latent_}; }

void SourceEditor::setSource(const Source& s) {
  const QSignalBlocker b1(prompt_), b2(seed_);
  prompt_->setText(s.prompt);
  prompt_->setCursorPosition(0);  // a long prompt shows its start, not its tail
  prompt_->setToolTip(s.prompt);
  seed_->setValue(int(std::min<quint64>(s.seed, kMaxSeed)));
  latent_ = s.latent;
  seed_->setToolTip(latent_.isEmpty() ? QString() : tr("Using the inverted latent %1").arg(latent_));
}

// ---- PromptPanel

PromptPanel::PromptPanel(QWidget* parent) : QWidget(parent) {
  auto* form = new QFormLayout(this);
  form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
  prompt_ = new QComboBox(this);
  prompt_->setEditable(true);
  prompt_->setInsertPolicy(QComboBox::NoInsert);
  prompt_->setMaxCount(kMaxHistory);
  prompt_->lineEdit()->setPlaceholderText(tr("describe an image, e.g. cat face, noto style"));
  prompt_->lineEdit()->setClearButtonEnabled(true);
  prompt_->setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
  prompt_->setToolTip(tr("Prompt (Ctrl+Enter generates; the list holds recent prompts)"));
  connect(prompt_->lineEdit(), &QLineEdit::returnPressed, this, &PromptPanel::generate);
  form->addRow(tr("Prompt"), prompt_);

  auto* seed_row = new QWidget(this);
  auto* sl = new QHBoxLayout(seed_row);
  sl->setContentsMargins(0, 0, 0, 0);
  seed_ = makeSeedSpin(this);
  auto* dice = diceButton(this);
  random_ = new QCheckBox(tr("random each time"), this);
  sl->addWidget(seed_, 1);
  sl->addWidget(dice);
  sl->addWidget(random_);
  connect(dice, &QToolButton::clicked, this, &PromptPanel::rollSeed);
  connect(seed_, &QSpinBox::valueChanged, this, [this] {
    latent_.clear();
    latent_label_->clear();
    emitLive();
  });
  form->addRow(tr("Seed"), seed_row);
  latent_label_ = new QLabel(this);
  latent_label_->setStyleSheet("color: #e0a040;");
  // Always in the layout (empty without a latent): the rows below never jump.
  latent_label_->setMinimumHeight(latent_label_->fontMetrics().lineSpacing());
  form->addRow(QString(), latent_label_);

  auto* psi_row = new QWidget(this);
  auto* pl = new QHBoxLayout(psi_row);
  pl->setContentsMargins(0, 0, 0, 0);
  psi_slider_ = new QSlider(Qt::Horizontal, this);
  psi_slider_->setRange(0, 150);
  psi_ = new QDoubleSpinBox(this);
  psi_->setRange(0.0, 1.5);
  psi_->setSingleStep(0.05);
  psi_->setDecimals(2);
  psi_->setToolTip(tr("Truncation psi: 0 = the prompt's mean image, 1 = no truncation"));
  // A typed value renders once, on Enter or when the field loses focus (not at
  // every keystroke: each would be a history entry).
  psi_->setKeyboardTracking(false);
  psi_slider_->setToolTip(psi_->toolTip());
  pl->addWidget(psi_slider_, 1);
  pl->addWidget(psi_);
  connect(psi_slider_, &QSlider::valueChanged, this, [this](int v) {
    const QSignalBlocker b(psi_);
    psi_->setValue(v / 100.0);
    emitLive();
  });
  connect(psi_, &QDoubleSpinBox::valueChanged, this, [this](double v) {
    const QSignalBlocker b(psi_slider_);
    psi_slider_->setValue(int(std::lround(v * 100)));
    emitLive();
  });
  psi_->setValue(0.7);
  form->addRow(tr("Truncation ψ"), psi_row);

  auto* grid_row = new QWidget(this);
  auto* gl = new QHBoxLayout(grid_row);
  gl->setContentsMargins(0, 0, 0, 0);
  count_ = new QSpinBox(this);
  count_->setRange(1, 16);
  count_->setSuffix(tr(" image(s)"));
  count_->setToolTip(tr("A grid of images from consecutive seeds"));
  upsample_ = new QCheckBox(tr("Upsample"), this);
  upsample_->setEnabled(false);
  upsample_->setToolTip(tr("Run the GAN upsampler (needs a package with one)"));
  gl->addWidget(count_, 1);
  gl->addWidget(upsample_);
  form->addRow(tr("Grid"), grid_row);

  // Latent direction between two prompts (the engine's directions), live.
  auto* dir_row = new QWidget(this);
  auto* dl = new QHBoxLayout(dir_row);
  dl->setContentsMargins(0, 0, 0, 0);
  direction_from_ = new QLineEdit(this);
  direction_to_ = new QLineEdit(this);
  direction_from_->setPlaceholderText(tr("from, e.g. noto style"));
  direction_to_->setPlaceholderText(tr("to, e.g. twemoji style"));
  direction_from_->setToolTip(tr("Direction: moves w by strength × (mean w of “to” − mean w of “from”)"));
  direction_to_->setToolTip(direction_from_->toolTip());
  dl->addWidget(direction_from_, 1);
  dl->addWidget(new QLabel(QStringLiteral("→"), this));
  dl->addWidget(direction_to_, 1);
  form->addRow(tr("Direction"), dir_row);
  for (QLineEdit* e : {direction_from_, direction_to_})
    connect(e, &QLineEdit::editingFinished, this, [this] {
      if (strength_->value() != 0.0) emitLive();
    });
  auto* strength_row = new QWidget(this);
  auto* stl = new QHBoxLayout(strength_row);
  stl->setContentsMargins(0, 0, 0, 0);
  strength_slider_ = new QSlider(Qt::Horizontal, this);
  strength_slider_->setRange(-300, 300);
  strength_ = new QDoubleSpinBox(this);
  strength_->setRange(-3.0, 3.0);
  strength_->setSingleStep(0.1);
  strength_->setDecimals(2);
  strength_->setKeyboardTracking(false);
  strength_->setToolTip(tr("Strength of the direction (0 = off; negative goes the other way)"));
  strength_slider_->setToolTip(strength_->toolTip());
  stl->addWidget(strength_slider_, 1);
  stl->addWidget(strength_);
  connect(strength_slider_, &QSlider::valueChanged, this, [this](int v) {
    const QSignalBlocker b(strength_);
    strength_->setValue(v / 100.0);
    emitLive();
  });
  connect(strength_, &QDoubleSpinBox::valueChanged, this, [this](double v) {
    const QSignalBlocker b(strength_slider_);
    strength_slider_->setValue(int(std::lround(v * 100)));
    emitLive();
  });
  form->addRow(tr("Strength"), strength_row);

  generate_ = new QPushButton(tr("Generate"), this);
  generate_->setDefault(true);
  generate_->setToolTip(tr("Generate (Ctrl+Enter)"));
  generate_->setMinimumHeight(30);
  connect(generate_, &QPushButton::clicked, this, &PromptPanel::generate);
  form->addRow(generate_);
}

RenderRequest PromptPanel::request() const {
  RenderRequest r;
  r.kind = RenderRequest::Kind::Generate;
  r.source = Source{prompt_->currentText().trimmed(), quint64(seed_->value()), latent_};
  r.psi = psi_->value();
  r.count = count_->value();
  r.upsample = upsample_->isEnabled() && upsample_->isChecked();
  r.direction_from = direction_from_->text().trimmed();
  r.direction_to = direction_to_->text().trimmed();
  r.direction_strength = strength_->value();
  return r;
}

void PromptPanel::setRequest(const RenderRequest& r) {
  const QSignalBlocker b1(prompt_), b2(seed_), b3(psi_), b4(psi_slider_), b5(count_), b6(upsample_);
  prompt_->setCurrentText(r.source.prompt);
  seed_->setValue(int(std::min<quint64>(r.source.seed, kMaxSeed)));
  psi_->setValue(r.psi);
  psi_slider_->setValue(int(std::lround(r.psi * 100)));
  count_->setValue(r.count);
  upsample_->setChecked(r.upsample);
  setLatent(r.source.latent);
  setDirection(r.direction_from, r.direction_to, r.direction_strength);
}

void PromptPanel::setDirection(const QString& from, const QString& to, double strength) {
  const QSignalBlocker b1(direction_from_), b2(direction_to_), b3(strength_), b4(strength_slider_);
  direction_from_->setText(from);
  direction_to_->setText(to);
  strength_->setValue(strength);
  strength_slider_->setValue(int(std::lround(strength * 100)));
}

void PromptPanel::setModel(const ModelInfo& info) {
  upsample_->setEnabled(info.upsampled_resolution > 0);
  upsample_->setText(info.upsampled_resolution > 0 ? tr("Upsample to %1 px").arg(info.upsampled_resolution)
                                                   : tr("Upsample"));
  if (prompt_->currentText().trimmed().isEmpty() && !info.sample_prompts.isEmpty())
    prompt_->setCurrentText(info.sample_prompts.first());
  for (const QString& p : info.sample_prompts)
    if (prompt_->findText(p) < 0) prompt_->addItem(p);
}

QStringList PromptPanel::promptHistory() const {
  QStringList out;
  for (int i = 0; i < prompt_->count(); ++i) out << prompt_->itemText(i);
  return out;
}

void PromptPanel::setPromptHistory(const QStringList& prompts) {
  const QString current = prompt_->currentText();
  prompt_->clear();
  prompt_->addItems(prompts.mid(0, kMaxHistory));
  prompt_->setCurrentText(current);
}

void PromptPanel::setPrompt(const QString& text) { prompt_->setCurrentText(text); }
void PromptPanel::setSeed(quint64 seed) {
  const QSignalBlocker b(seed_);
  seed_->setValue(int(std::min<quint64>(seed, kMaxSeed)));
}

void PromptPanel::setUpsample(bool on) {
  const QSignalBlocker block(upsample_);
  upsample_->setChecked(on && upsample_->isEnabled());
}

void PromptPanel::setPsi(double psi) {
  const QSignalBlocker b1(psi_), b2(psi_slider_);
  psi_->setValue(psi);
  psi_slider_->setValue(int(std::lround(psi * 100)));
}

void PromptPanel::setLatent(const QString& latent) {
  latent_ = latent;
  latent_label_->setText(latent.isEmpty() ? QString()
                                          : tr("Using the latent %1 (change the seed to leave it)").arg(latent));
}

void PromptPanel::rollSeed() { seed_->setValue(randomSeed()); }

void PromptPanel::generate() {
  if (random_->isChecked()) {
    const QSignalBlocker b(seed_);
    seed_->setValue(randomSeed());
    latent_.clear();
    latent_label_->clear();
  }
  const QString p = prompt_->currentText().trimmed();
  if (!p.isEmpty()) {
    const int at = prompt_->findText(p);
    if (at != 0) {
      const QSignalBlocker b(prompt_);
      if (at > 0) prompt_->removeItem(at);
      prompt_->insertItem(0, p);
      prompt_->setCurrentIndex(0);
    }
  }
  generated_ = true;
  Q_EMIT generateRequested(request());
}

void PromptPanel::emitLive() {
  if (generated_) Q_EMIT liveChanged(request());
}

// ---- StyleMixPanel

StyleMixPanel::StyleMixPanel(QWidget* parent) : QWidget(parent) {
  auto* root = new QVBoxLayout(this);
  a_ = new SourceEditor(tr("A"), this);
  b_ = new SourceEditor(tr("B"), this);
  a_->setToolTip(tr("Source A: drives the layers not taken from B"));
  b_->setToolTip(tr("Source B: drives the checked layers"));
  a_->promptEdit()->setPlaceholderText(tr("prompt A (layout)"));
  b_->promptEdit()->setPlaceholderText(tr("prompt B (texture)"));
  b_->seedSpin()->setValue(1);
  root->addWidget(a_);
  root->addWidget(b_);
  connect(a_, &SourceEditor::changed, this, &StyleMixPanel::changed);
  connect(b_, &SourceEditor::changed, this, &StyleMixPanel::changed);

  auto* presets = new QHBoxLayout;
  presets->addWidget(new QLabel(tr("From B:"), this));
  for (const auto& [name, tip] : {std::pair{tr("coarse"), tr("4-8 px: pose, layout")},
                                  std::pair{tr("middle"), tr("16-32 px: features")},
                                  std::pair{tr("fine"), tr("64 px and up: colour, texture")}}) {
    auto* b = new QPushButton(name, this);
    b->setToolTip(tip);
    const QString key = name;
    connect(b, &QPushButton::clicked, this, [this, key] { applyPreset(key); });
    presets->addWidget(b);
  }
  auto* none = new QPushButton(tr("none"), this);
  connect(none, &QPushButton::clicked, this, [this] { applyPreset("none"); });
  presets->addWidget(none);
  presets->addStretch();
  root->addLayout(presets);

  layer_box_ = new QGroupBox(tr("Layers taken from B"), this);
  layer_grid_ = new QGridLayout(layer_box_);
  layer_grid_->setHorizontalSpacing(10);
  root->addWidget(layer_box_);

  auto* sw = new QHBoxLayout;
  swap_w_ = new QCheckBox(tr("Swap style (w)"), this);
  swap_text_ = new QCheckBox(tr("Swap text (t_local)"), this);
  swap_w_->setChecked(true);
  swap_text_->setChecked(true);
  swap_w_->setToolTip(tr("The checked layers read B's w"));
  swap_text_->setToolTip(tr("The checked layers cross-attend to B's prompt"));
  connect(swap_w_, &QCheckBox::toggled, this, &StyleMixPanel::changed);
  connect(swap_text_, &QCheckBox::toggled, this, &StyleMixPanel::changed);
  sw->addWidget(swap_w_);
  sw->addWidget(swap_text_);
  sw->addStretch();
  root->addLayout(sw);
  root->addStretch();
}

void StyleMixPanel::setModel(const ModelInfo& info) {
  for (QCheckBox* c : std::as_const(layer_checks_)) delete c;
  layer_checks_.clear();
  names_ = info.layers;
  resolutions_ = info.layer_resolutions;
  const int cols = 4;
  for (int i = 0; i < names_.size(); ++i) {
    auto* c = new QCheckBox(names_[i], layer_box_);
    connect(c, &QCheckBox::toggled, this, &StyleMixPanel::changed);
    layer_grid_->addWidget(c, i / cols, i % cols);
    layer_checks_.append(c);
  }
  if (a_->source().prompt.isEmpty() && !info.sample_prompts.isEmpty()) {
    a_->setSource(Source{info.sample_prompts.value(0), 0, {}});
    b_->setSource(Source{info.sample_prompts.value(std::min<int>(1, int(info.sample_prompts.size()) - 1)), 1, {}});
  }
  applyPreset("fine");
}

QVector<int> StyleMixPanel::layerSources() const {
  QVector<int> s;
  for (QCheckBox* c : layer_checks_) s.append(c->isChecked() ? 1 : 0);
  return s;
}

RenderRequest StyleMixPanel::request() const {
  RenderRequest r;
  r.kind = RenderRequest::Kind::Mix;
  r.a = a_->source();
  r.b = b_->source();
  r.layer_sources = layerSources();
  r.swap_w = swap_w_->isChecked();
  r.swap_text = swap_text_->isChecked();
  return r;
}

void StyleMixPanel::setRequest(const RenderRequest& r) {
  a_->setSource(r.a);
  b_->setSource(r.b);
  const QSignalBlocker b1(swap_w_), b2(swap_text_);
  swap_w_->setChecked(r.swap_w);
  swap_text_->setChecked(r.swap_text);
  for (int i = 0; i < layer_checks_.size(); ++i) {
    const QSignalBlocker b(layer_checks_[i]);
    layer_checks_[i]->setChecked(r.layer_sources.value(i) == 1);
  }
  Q_EMIT layerSourcesChanged(layerSources());
}

void StyleMixPanel::setSourceA(const Source& s) {
  a_->setSource(s);
  changed();
}

void StyleMixPanel::toggleLayer(int index) {
  if (index < 0 || index >= layer_checks_.size()) return;
  layer_checks_[index]->toggle();  // emits changed()
}

void StyleMixPanel::applyPreset(const QString& name) {
  for (int i = 0; i < layer_checks_.size(); ++i) {
    const int r = resolutions_.value(i);
    bool on = false;
    if (name == "coarse") on = r <= 8;
    else if (name == "middle") on = r >= 16 && r <= 32;
    else if (name == "fine") on = r >= 64;
    const QSignalBlocker b(layer_checks_[i]);
    layer_checks_[i]->setChecked(on);
  }
  changed();
}

void StyleMixPanel::changed() {
  Q_EMIT layerSourcesChanged(layerSources());
  Q_EMIT requestChanged(request());
}

// ---- WeightPad

WeightPad::WeightPad(QWidget* parent) : QWidget(parent) {
  setMinimumSize(160, 140);
  setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
  setCursor(Qt::CrossCursor);
}

void WeightPad::setCorners(int n) {
  n_ = std::clamp(n, 3, 4);
  update();
}

void WeightPad::setPosition(QPointF p) {
  pos_ = QPointF(std::clamp(p.x(), 0.0, 1.0), std::clamp(p.y(), 0.0, 1.0));
  update();
}

QVector<double> WeightPad::weightsAt(int corners, QPointF p) {
  const double x = std::clamp(p.x(), 0.0, 1.0), y = std::clamp(p.y(), 0.0, 1.0);
  if (corners == 4) return {(1 - x) * (1 - y), x * (1 - y), (1 - x) * y, x * y};
  // Triangle: top centre (0.5, 0), bottom left (0, 1), bottom right (1, 1).
  // Barycentric coordinates, negatives clamped and renormalised.
  const double l0 = 1.0 - y;
  const double l2 = x - 0.5 * (1.0 - y);
  const double l1 = 1.0 - l0 - l2;
  QVector<double> w{std::max(0.0, l0), std::max(0.0, l1), std::max(0.0, l2)};
  const double s = w[0] + w[1] + w[2];
  for (double& v : w) v /= s > 0 ? s : 1.0;
  return w;
}

QRectF WeightPad::area() const { return QRectF(rect()).adjusted(18, 14, -18, -14); }

void WeightPad::paintEvent(QPaintEvent*) {
  QPainter p(this);
  p.setRenderHint(QPainter::Antialiasing);
  const QRectF a = area();
  p.fillRect(rect(), palette().base());
  QPainterPath shape;
  QVector<QPointF> corners;
  if (n_ == 4) {
    corners = {a.topLeft(), a.topRight(), a.bottomLeft(), a.bottomRight()};
    shape.addRect(a);
  } else {
    corners = {QPointF(a.center().x(), a.top()), a.bottomLeft(), a.bottomRight()};
    shape.moveTo(corners[0]);
    shape.lineTo(corners[1]);
    shape.lineTo(corners[2]);
    shape.closeSubpath();
  }
  p.fillPath(shape, QColor(45, 47, 54));
  p.setPen(QPen(QColor(120, 122, 130), 1));
  p.drawPath(shape);
  const QVector<double> w = weights();
  for (int i = 0; i < corners.size(); ++i) {
    p.setBrush(QColor(90, 150, 230, 60 + int(195 * w.value(i))));
    p.setPen(Qt::NoPen);
    p.drawEllipse(corners[i], 7, 7);
    p.setPen(palette().color(QPalette::Text));
    p.drawText(corners[i] + QPointF(i % 2 == 0 && !(n_ == 3 && i == 2) ? -14 : 9, -6), QString::number(i + 1));
  }
  const QPointF dot(a.left() + pos_.x() * a.width(), a.top() + pos_.y() * a.height());
  p.setBrush(QColor(255, 210, 80));
  p.setPen(QPen(Qt::black, 1));
  p.drawEllipse(dot, 6, 6);
}

void WeightPad::moveTo(QPointF wp) {
  const QRectF a = area();
  setPosition(QPointF((wp.x() - a.left()) / a.width(), (wp.y() - a.top()) / a.height()));
  Q_EMIT moved(pos_);
}

void WeightPad::mousePressEvent(QMouseEvent* e) { moveTo(e->position()); }
void WeightPad::mouseMoveEvent(QMouseEvent* e) {
  if (e->buttons() & Qt::LeftButton) moveTo(e->position());
}

// ---- InterpolatePanel

InterpolatePanel::InterpolatePanel(QWidget* parent) : QWidget(parent) {
  auto* root = new QVBoxLayout(this);
  sources_layout_ = new QVBoxLayout;
  root->addLayout(sources_layout_);
  auto* count_row = new QHBoxLayout;
  add_ = new QToolButton(this);
  add_->setText(tr("+ prompt"));
  remove_ = new QToolButton(this);
  remove_->setText(tr("− prompt"));
  connect(add_, &QToolButton::clicked, this, [this] { setSourceCount(sourceCount() + 1); });
  connect(remove_, &QToolButton::clicked, this, [this] { setSourceCount(sourceCount() - 1); });
  count_row->addWidget(add_);
  count_row->addWidget(remove_);
  count_row->addStretch();
  root->addLayout(count_row);

  slider_row_ = new QWidget(this);
  auto* slider_row = new QHBoxLayout(slider_row_);
  slider_row->setContentsMargins(0, 0, 0, 0);
  slider_ = new QSlider(Qt::Horizontal, this);
  slider_->setRange(0, 1000);
  slider_->setToolTip(tr("Drag: the image follows live"));
  slider_label_ = new QLabel(QStringLiteral("t = 0.00"), this);
  slider_label_->setMinimumWidth(60);
  slider_row->addWidget(new QLabel(QStringLiteral("1"), this));
  slider_row->addWidget(slider_, 1);
  slider_row->addWidget(new QLabel(QStringLiteral("2"), this));
  slider_row->addWidget(slider_label_);
  root->addWidget(slider_row_);
  connect(slider_, &QSlider::valueChanged, this, [this](int v) {
    slider_label_->setText(QStringLiteral("t = %1").arg(v / 1000.0, 0, 'f', 2));
    changed();
  });
  pad_ = new WeightPad(this);
  pad_->setToolTip(tr("Drag between the prompts: the image follows live"));
  connect(pad_, &WeightPad::moved, this, &InterpolatePanel::changed);
  root->addWidget(pad_);

  auto* form = new QFormLayout;
  space_ = new QComboBox(this);
  space_->addItem(tr("text and w"), int(RenderRequest::Space::Both));
  space_->addItem(tr("text (t) only"), int(RenderRequest::Space::Text));
  space_->addItem(tr("w only"), int(RenderRequest::Space::W));
  method_ = new QComboBox(this);
  method_->addItems({tr("lerp"), tr("slerp")});
  connect(space_, &QComboBox::currentIndexChanged, this, &InterpolatePanel::changed);
  connect(method_, &QComboBox::currentIndexChanged, this, &InterpolatePanel::changed);
  form->addRow(tr("Space"), space_);
  form->addRow(tr("Method"), method_);
  auto* exp = new QHBoxLayout;
  frames_ = new QSpinBox(this);
  frames_->setRange(2, 1000);
  frames_->setValue(48);
  frames_->setSuffix(tr(" frames"));
  export_ = new QPushButton(tr("Export path…"), this);
  export_->setToolTip(tr("Write the path from prompt 1 to the last as PNG frames, a GIF or an MP4"));
  connect(export_, &QPushButton::clicked, this, [this] { Q_EMIT exportRequested(request(), frames()); });
  exp->addWidget(frames_);
  exp->addWidget(export_, 1);
  form->addRow(tr("Animation"), exp);
  root->addLayout(form);
  root->addStretch();
  setSourceCount(2);
}

void InterpolatePanel::setSourceCount(int n) {
  n = std::clamp(n, 2, 4);
  while (editors_.size() < n) {
    auto* e = new SourceEditor(QString::number(editors_.size() + 1), this);
    e->seedSpin()->setValue(int(editors_.size()));
    // A new prompt starts from a sample prompt, else from the first one (with
    // another seed), so adding a row never renders an empty prompt.
    if (samples_.size() > editors_.size())
      e->promptEdit()->setText(samples_[editors_.size()]);
    else if (!editors_.isEmpty())
      e->promptEdit()->setText(editors_.first()->source().prompt);
    connect(e, &SourceEditor::changed, this, &InterpolatePanel::changed);
    sources_layout_->addWidget(e);
    editors_.append(e);
  }
  while (editors_.size() > n) delete editors_.takeLast();
  add_->setEnabled(n < 4);
  remove_->setEnabled(n > 2);
  updateMode();
  changed();
}

void InterpolatePanel::updateMode() {
  const bool two = editors_.size() == 2;
  slider_row_->setVisible(two);
  pad_->setVisible(!two);
  pad_->setCorners(int(editors_.size()));
}

void InterpolatePanel::setT(double t) { slider_->setValue(int(std::lround(std::clamp(t, 0.0, 1.0) * 1000))); }

int InterpolatePanel::frames() const { return frames_->value(); }

RenderRequest InterpolatePanel::request() const {
  RenderRequest r;
  r.kind = RenderRequest::Kind::Interpolate;
  for (SourceEditor* e : editors_) r.sources.append(e->source());
  if (editors_.size() == 2) {
    const double t = slider_->value() / 1000.0;
    r.weights = {1.0 - t, t};
  } else {
    r.weights = pad_->weights();
  }
  r.space = RenderRequest::Space(space_->currentData().toInt());
  r.slerp = method_->currentIndex() == 1;
  return r;
}

void InterpolatePanel::setRequest(const RenderRequest& r) {
  const QSignalBlocker b1(slider_), b2(space_), b3(method_), b4(pad_);
  {
    const QSignalBlocker b5(this);
    setSourceCount(int(r.sources.size()));
  }
  for (int i = 0; i < editors_.size(); ++i) editors_[i]->setSource(r.sources.value(i));
  if (r.sources.size() == 2 && r.weights.size() == 2) {
    slider_->setValue(int(std::lround(r.weights[1] * 1000)));
    slider_label_->setText(QStringLiteral("t = %1").arg(r.weights[1], 0, 'f', 2));
  }
  space_->setCurrentIndex(space_->findData(int(r.space)));
  method_->setCurrentIndex(r.slerp ? 1 : 0);
}

void InterpolatePanel::setModel(const ModelInfo& info) {
  samples_ = info.sample_prompts;
  for (int i = 0; i < editors_.size(); ++i)
    if (editors_[i]->source().prompt.isEmpty() && i < samples_.size())
      editors_[i]->setSource(Source{samples_[i], quint64(i), {}});
}

void InterpolatePanel::changed() {
  if (signalsBlocked()) return;
  Q_EMIT requestChanged(request());
}

// ---- InvertPanel

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

// ---- DragPanel

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

#include "prompt_panel.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSignalBlocker>
#include <QSlider>
#include <QSpinBox>
#include <QToolButton>

#include <algorithm>

#include "prompt_style.h"
#include "source_editor.h"

namespace gg::ui {

PromptPanel::PromptPanel(QWidget* parent) : QWidget(parent) {
  auto* form = new QFormLayout(this);
  form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
  prompt_ = new QComboBox(this);
  prompt_->setEditable(true);
  prompt_->setInsertPolicy(QComboBox::NoInsert);
  prompt_->setMaxCount(kMaxPromptHistory);
  prompt_->lineEdit()->setPlaceholderText(tr("describe an image, e.g. cat face, noto style"));
  prompt_->lineEdit()->setClearButtonEnabled(true);
  prompt_->setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
  prompt_->setToolTip(tr("Prompt (Ctrl+Enter generates; the list holds recent prompts)"));
  showStartWhenIdle(prompt_->lineEdit());
  connect(prompt_->lineEdit(), &QLineEdit::returnPressed, this, &PromptPanel::generate);
  connect(prompt_->lineEdit(), &QLineEdit::textEdited, this, [this] { forgetGridRows(); });
  form->addRow(tr("Prompt"), prompt_);
  form->addRow(tr("Style"), buildStyleRow());
  connect(prompt_, &QComboBox::currentTextChanged, this, [this] { showPromptStyle(); });
  form->addRow(tr("Seed"), buildSeedRow());
  notes_ = new QLabel(this);
  notes_->setStyleSheet("color: #e0a040;");
  notes_->setWordWrap(true);
  // Always in the layout with room for two lines (empty without a note): the
  // rows below do not jump when a latent is used.
  notes_->setMinimumHeight(2 * notes_->fontMetrics().lineSpacing());
  notes_->setAlignment(Qt::AlignLeft | Qt::AlignTop);
  form->addRow(QString(), notes_);
  psi_ = makeSliderSpin(this, 0.0, 1.5, 0.05, tr("Truncation psi: 0 = the prompt's mean image, 1 = no truncation"),
                        [this] { emitLive(); });
  psi_.spin->setValue(0.7);
  form->addRow(tr("Truncation ψ"), psi_.row);
  form->addRow(tr("Grid"), buildGridRow());
  form->addRow(tr("Render"), buildRenderRow());
  form->addRow(tr("Direction"), buildDirectionRow());
  strength_ = makeSliderSpin(this, -3.0, 3.0, 0.1, tr("Strength of the direction (0 = off; negative goes the other way)"),
                             [this] { emitLive(); });
  form->addRow(tr("Strength"), strength_.row);
  form->addRow(buildGenerateButton());
}

QWidget* PromptPanel::buildStyleRow() {
  style_ = new QComboBox(this);
  style_->setToolTip(tr("The model's styles (its training captions end in “…, <style> style”): picking one sets "
                        "the prompt's style clause"));
  style_->setEnabled(false);
  connect(style_, &QComboBox::activated, this, [this](int index) {
    const std::string styled =
        with_style(prompt_->currentText().trimmed().toStdString(), style_->itemData(index).toString().toStdString());
    forgetGridRows();
    setPrompt(QString::fromStdString(styled));
  });
  every_style_ = new QToolButton(this);
  every_style_->setText(tr("A row per style"));
  every_style_->setToolTip(tr("Grid rows: the prompt in each of the model's styles (the same seeds in every row)"));
  every_style_->setEnabled(false);
  connect(every_style_, &QToolButton::clicked, this, &PromptPanel::everyStyle);
  return hboxRow(this, {{style_, 1}, {every_style_, 0}});
}

void PromptPanel::showPromptStyle() {
  const QString style = QString::fromStdString(caption_style(prompt_->currentText().trimmed().toStdString()));
  const QSignalBlocker b(style_);
  style_->setCurrentIndex(style_->findData(style));  // -1 (blank) for a style the model does not list
}

void PromptPanel::everyStyle() {
  if (style_->count() < 2) return;
  const std::string prompt = prompt_->currentText().trimmed().toStdString();
  QStringList rows;
  for (int i = 1; i < style_->count(); ++i)
    rows << QString::fromStdString(with_style(prompt, style_->itemData(i).toString().toStdString()));
  setPrompt(rows.takeFirst());
  more_prompts_ = rows;
  columns_ = 0;
  showNotes();
}

QWidget* PromptPanel::buildSeedRow() {
  seed_ = makeSeedSpin(this);
  auto* dice = diceButton(this);
  random_ = new QCheckBox(tr("random each time"), this);
  connect(dice, &QToolButton::clicked, this, &PromptPanel::rollSeed);
  connect(seed_, &QSpinBox::valueChanged, this, [this] {
    latent_.clear();
    showNotes();
    emitLive();
  });
  return hboxRow(this, {{seed_, 1}, {dice, 0}, {random_, 0}});
}

QWidget* PromptPanel::buildGridRow() {
  count_ = new QSpinBox(this);
  count_->setRange(1, 16);
  count_->setSuffix(tr(" image(s)"));
  count_->setToolTip(tr("A grid of images from consecutive seeds"));
  connect(count_, &QSpinBox::valueChanged, this, [this] { forgetGridRows(); });
  upsample_ = new QCheckBox(tr("Upsample"), this);
  upsample_->setEnabled(false);
  upsample_->setToolTip(tr("Run the GAN upsampler (needs a package with one)"));
  return hboxRow(this, {{count_, 1}, {upsample_, 0}});
}

QWidget* PromptPanel::buildRenderRow() {
  noise_ = new QComboBox(this);
  noise_->addItem(tr("noise: const"), QStringLiteral("const"));
  noise_->addItem(tr("noise: none"), QStringLiteral("none"));
  noise_->setToolTip(tr("The generator's per-layer noise: the model's fixed noise, or none"));
  connect(noise_, &QComboBox::currentIndexChanged, this, [this] { emitLive(); });
  upsample_seed_ = new QSpinBox(this);
  upsample_seed_->setRange(-1, kMaxSeed);
  upsample_seed_->setValue(-1);
  upsample_seed_->setSpecialValueText(tr("upsampler seed: the image's"));
  upsample_seed_->setPrefix(tr("upsampler seed "));
  upsample_seed_->setKeyboardTracking(false);
  upsample_seed_->setToolTip(tr("Seed of the upsampler's z and input noise (lowest value: each image's own seed)"));
  upsample_seed_->setEnabled(false);
  connect(upsample_, &QCheckBox::toggled, upsample_seed_, &QWidget::setEnabled);
  connect(upsample_seed_, &QSpinBox::valueChanged, this, [this] { emitLive(); });
  return hboxRow(this, {{noise_, 0}, {upsample_seed_, 1}});
}

// A latent direction between two prompts (the engine's directions), live.
QWidget* PromptPanel::buildDirectionRow() {
  direction_from_ = new QLineEdit(this);
  direction_to_ = new QLineEdit(this);
  direction_from_->setPlaceholderText(tr("from, e.g. noto style"));
  direction_to_->setPlaceholderText(tr("to, e.g. twemoji style"));
  direction_from_->setToolTip(tr("Direction: moves w by strength × (mean w of “to” − mean w of “from”)"));
  direction_to_->setToolTip(direction_from_->toolTip());
  for (QLineEdit* e : {direction_from_, direction_to_}) {
    connect(e, &QLineEdit::textEdited, this, [this] {
      direction_layers_ = QStringLiteral("all");
      showNotes();
    });
    connect(e, &QLineEdit::editingFinished, this, [this] {
      if (strength_.value() != 0.0) emitLive();
    });
  }
  return hboxRow(this, {{direction_from_, 1}, {new QLabel(QStringLiteral("→"), this), 0}, {direction_to_, 1}});
}

QPushButton* PromptPanel::buildGenerateButton() {
  generate_ = new QPushButton(tr("Generate"), this);
  generate_->setDefault(true);
  generate_->setToolTip(tr("Generate (Ctrl+Enter)"));
  generate_->setMinimumHeight(30);
  connect(generate_, &QPushButton::clicked, this, &PromptPanel::generate);
  return generate_;
}

void PromptPanel::applyRenderSettings(RenderRequest& r) const {
  r.psi = psi_.value();
  r.upsample = upsample_->isEnabled() && upsample_->isChecked();
  r.upsample_seed.reset();
  if (upsample_seed_->value() >= 0) r.upsample_seed = quint64(upsample_seed_->value());
  r.noise = noise_->currentData().toString();
  r.mean_w_samples = mean_w_samples_;
}

void PromptPanel::setRenderSettings(const RenderRequest& r) {
  const QSignalBlocker b1(upsample_), b2(upsample_seed_), b3(noise_);
  psi_.set(r.psi);
  upsample_->setChecked(r.upsample && upsample_->isEnabled());
  upsample_seed_->setEnabled(upsample_->isChecked());
  upsample_seed_->setValue(r.upsample_seed ? int(std::min<quint64>(*r.upsample_seed, kMaxSeed)) : -1);
  const int noise = noise_->findData(r.noise);
  noise_->setCurrentIndex(noise >= 0 ? noise : 0);
  mean_w_samples_ = r.mean_w_samples;
  showNotes();
}

RenderRequest PromptPanel::request() const {
  RenderRequest r;
  r.kind = RenderRequest::Kind::Generate;
  r.source = Source{prompt_->currentText().trimmed(), quint64(seed_->value()), latent_};
  r.count = count_->value();
  r.more_prompts = more_prompts_;
  r.columns = columns_;
  applyRenderSettings(r);
  r.direction_from = direction_from_->text().trimmed();
  r.direction_to = direction_to_->text().trimmed();
  r.direction_strength = strength_.value();
  r.direction_layers = direction_layers_;
  return r;
}

void PromptPanel::setRequest(const RenderRequest& r) {
  {
    const QSignalBlocker b1(prompt_), b2(seed_), b3(count_);
    prompt_->setCurrentText(r.source.prompt);
    prompt_->lineEdit()->setCursorPosition(0);  // a long prompt shows its start
    seed_->setValue(int(std::min<quint64>(r.source.seed, kMaxSeed)));
    count_->setValue(r.count);
  }
  more_prompts_ = r.more_prompts;
  columns_ = r.columns;
  direction_layers_ = r.direction_layers.isEmpty() ? QStringLiteral("all") : r.direction_layers;
  setRenderSettings(r);
  setLatent(r.source.latent);
  setDirection(r.direction_from, r.direction_to, r.direction_strength);
}

void PromptPanel::setDirection(const QString& from, const QString& to, double strength) {
  const QSignalBlocker b1(direction_from_), b2(direction_to_);
  direction_from_->setText(from);
  direction_to_->setText(to);
  direction_from_->setCursorPosition(0);
  direction_to_->setCursorPosition(0);
  strength_.set(strength);
}

void PromptPanel::setModel(const ModelInfo& info) {
  {
    const QSignalBlocker b(style_);
    style_->clear();
    if (!info.styles.isEmpty()) style_->addItem(tr("no style word"), QString());
    for (const QString& s : info.styles) style_->addItem(s, s);
    style_->setEnabled(!info.styles.isEmpty());
    every_style_->setEnabled(info.styles.size() > 1);
  }
  showPromptStyle();
  upsample_->setEnabled(info.upsampled_resolution > 0);
  upsample_->setText(info.upsampled_resolution > 0 ? tr("Upsample to %1 px").arg(info.upsampled_resolution)
                                                   : tr("Upsample"));
  upsample_seed_->setEnabled(upsample_->isEnabled() && upsample_->isChecked());
  if (prompt_->currentText().trimmed().isEmpty() && !info.sample_prompts.isEmpty()) setPrompt(info.sample_prompts.first());
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
  prompt_->addItems(prompts.mid(0, kMaxPromptHistory));
  setPrompt(current);
}

void PromptPanel::setPrompt(const QString& text) {
  prompt_->setCurrentText(text);
  prompt_->lineEdit()->setCursorPosition(0);  // a long prompt shows its start, not its tail
}

void PromptPanel::setSeed(quint64 seed) {
  const QSignalBlocker b(seed_);
  seed_->setValue(int(std::min<quint64>(seed, kMaxSeed)));
}

void PromptPanel::setUpsample(bool on) {
  const QSignalBlocker block(upsample_);
  upsample_->setChecked(on && upsample_->isEnabled());
  upsample_seed_->setEnabled(upsample_->isChecked());
}

void PromptPanel::setPsi(double psi) { psi_.set(psi); }

void PromptPanel::setLatent(const QString& latent) {
  latent_ = latent;
  showNotes();
}

void PromptPanel::forgetGridRows() {
  if (more_prompts_.isEmpty() && columns_ == 0) return;
  more_prompts_.clear();
  columns_ = 0;
  showNotes();
}

QString PromptPanel::notes() const { return notes_->text(); }

void PromptPanel::showNotes() {
  QStringList notes;
  if (!latent_.isEmpty()) notes << tr("Using the latent %1 (a new seed leaves it)").arg(latent_);
  if (!more_prompts_.isEmpty())
    notes << tr("Further grid rows: “%1” (editing the prompt or the count drops them)")
                 .arg(more_prompts_.join(QStringLiteral("”, “")));
  if (columns_ > 0) notes << tr("%1 grid columns, as in the recipe").arg(columns_);
  if (direction_layers_ != QLatin1String("all")) notes << tr("The direction acts on the layers %1").arg(direction_layers_);
  if (mean_w_samples_ != 4096) notes << tr("Mean w of %1 samples, as in the recipe").arg(mean_w_samples_);
  notes_->setText(notes.join('\n'));
}

void PromptPanel::rollSeed() { seed_->setValue(randomSeed()); }

void PromptPanel::generate() {
  if (random_->isChecked()) {
    const QSignalBlocker b(seed_);
    seed_->setValue(randomSeed());
    latent_.clear();
    showNotes();
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

}  // namespace gg::ui

#include "style_mix_panel.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QGridLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSignalBlocker>
#include <QSlider>
#include <QSpinBox>
#include <QVBoxLayout>

#include <algorithm>

#include "source_editor.h"

namespace gg::ui {

namespace {
constexpr int kThumbnail = 64;  // px: a 64 px image 1:1, smaller ones scaled up crisply
}  // namespace

StyleMixPanel::StyleMixPanel(QWidget* parent) : QWidget(parent) {
  auto* root = new QVBoxLayout(this);
  a_ = new SourceEditor(tr("A"), this);
  b_ = new SourceEditor(tr("B"), this);
  a_->setToolTip(tr("Source A: drives the layers not taken from B"));
  b_->setToolTip(tr("Source B: drives the checked layers"));
  a_->promptEdit()->setPlaceholderText(tr("prompt A (layout)"));
  b_->promptEdit()->setPlaceholderText(tr("prompt B (texture)"));
  b_->seedSpin()->setValue(1);
  root->addWidget(buildSourceRow(a_, thumb_a_));
  root->addWidget(buildSourceRow(b_, thumb_b_));
  connect(a_, &SourceEditor::changed, this, [this] { changed(false); });
  connect(b_, &SourceEditor::changed, this, [this] { changed(false); });
  root->addWidget(buildPresetRow());
  layer_box_ = new QGroupBox(tr("Layers taken from B"), this);
  layer_grid_ = new QGridLayout(layer_box_);
  layer_grid_->setHorizontalSpacing(10);
  root->addWidget(layer_box_);
  root->addWidget(buildSwapRow());
  root->addWidget(buildAmountRow());
  shares_note_ = new QLabel(this);
  shares_note_->setWordWrap(true);
  shares_note_->setStyleSheet("color: #e0a040;");
  shares_note_->hide();
  root->addWidget(shares_note_);
  root->addStretch();
}

QWidget* StyleMixPanel::buildSourceRow(SourceEditor* editor, QLabel*& thumbnail) {
  auto* row = new QWidget(this);
  auto* l = new QHBoxLayout(row);
  l->setContentsMargins(0, 0, 0, 0);
  thumbnail = new QLabel(this);
  thumbnail->setFixedSize(kThumbnail + 4, kThumbnail + 4);
  thumbnail->setAlignment(Qt::AlignCenter);
  thumbnail->setFrameShape(QFrame::StyledPanel);
  thumbnail->setStyleSheet("QLabel { background: #1c1d20; color: #666; }");
  thumbnail->setText(QStringLiteral("…"));
  thumbnail->setToolTip(editor == a_ ? tr("Source A alone") : tr("Source B alone"));
  l->addWidget(thumbnail);
  l->addWidget(editor, 1);
  return row;
}

QWidget* StyleMixPanel::buildPresetRow() {
  auto* row = new QWidget(this);
  auto* presets = new QHBoxLayout(row);
  presets->setContentsMargins(0, 0, 0, 0);
  presets->addWidget(new QLabel(tr("From B:"), this));
  for (const auto& [name, tip] : {std::pair{tr("coarse"), tr("4-8 px: pose, layout")},
                                  std::pair{tr("middle"), tr("16-32 px: features")},
                                  std::pair{tr("fine"), tr("64 px and up: colour, texture")},
                                  std::pair{tr("none"), tr("every layer from A")}}) {
    auto* b = new QPushButton(name, this);
    b->setToolTip(tip);
    const QString key = name;
    connect(b, &QPushButton::clicked, this, [this, key] { applyPreset(key); });
    presets->addWidget(b);
  }
  presets->addStretch();
  return row;
}

QWidget* StyleMixPanel::buildSwapRow() {
  auto* row = new QWidget(this);
  auto* sw = new QHBoxLayout(row);
  sw->setContentsMargins(0, 0, 0, 0);
  swap_w_ = new QCheckBox(tr("Swap style (w)"), this);
  swap_text_ = new QCheckBox(tr("Swap text (t_local)"), this);
  swap_w_->setChecked(true);
  swap_text_->setChecked(true);
  swap_w_->setToolTip(tr("The checked layers read B's w"));
  swap_text_->setToolTip(tr("The checked layers cross-attend to B's prompt"));
  for (QCheckBox* c : {swap_w_, swap_text_})
    connect(c, &QCheckBox::toggled, this, [this] {
      sharesFromControls();
      changed(true);
    });
  sw->addWidget(swap_w_);
  sw->addWidget(swap_text_);
  sw->addStretch();
  return row;
}

QWidget* StyleMixPanel::buildAmountRow() {
  amount_ = makeSliderSpin(this, 0.0, 1.0, 0.05, tr("How much of B the checked layers take (1 = swap; less blends A and B)"),
                           [this] {
                             sharesFromControls();
                             changed(false);
                           });
  amount_.set(1.0);
  blend_ = new QComboBox(this);
  blend_->addItems({tr("lerp"), tr("slerp")});
  blend_->setToolTip(tr("How a fraction of B blends with A"));
  connect(blend_, &QComboBox::currentIndexChanged, this, [this] { changed(true); });
  auto* row = new QWidget(this);
  auto* l = new QHBoxLayout(row);
  l->setContentsMargins(0, 0, 0, 0);
  l->addWidget(new QLabel(tr("Amount of B"), this));
  l->addWidget(amount_.row, 1);
  l->addWidget(blend_);
  return row;
}

void StyleMixPanel::setModel(const ModelInfo& info) {
  for (QCheckBox* c : std::as_const(layer_checks_)) delete c;
  layer_checks_.clear();
  names_ = info.layers;
  resolutions_ = info.layer_resolutions;
  const int cols = 4;
  for (int i = 0; i < names_.size(); ++i) {
    auto* c = new QCheckBox(names_[i], layer_box_);
    connect(c, &QCheckBox::toggled, this, [this] {
      sharesFromControls();
      changed(true);
    });
    layer_grid_->addWidget(c, i / cols, i % cols);
    layer_checks_.append(c);
  }
  if (a_->source().prompt.isEmpty() && !info.sample_prompts.isEmpty()) {
    a_->setSource(Source{info.sample_prompts.value(0), 0, {}});
    b_->setSource(Source{info.sample_prompts.value(std::min<int>(1, int(info.sample_prompts.size()) - 1)), 1, {}});
  }
  setThumbnail(0, {});
  setThumbnail(1, {});
  applyPreset("fine");
}

void StyleMixPanel::setThumbnail(int which, const QImage& image) {
  QLabel* l = thumbnail(which);
  if (image.isNull()) {
    l->setPixmap(QPixmap());
    l->setText(QStringLiteral("…"));
    return;
  }
  l->setPixmap(crispPixmap(image, QSize(kThumbnail, kThumbnail)));
}

QVector<int> StyleMixPanel::layerSources() const {
  QVector<int> s;
  for (QCheckBox* c : layer_checks_) s.append(c->isChecked() ? 1 : 0);
  return s;
}

double StyleMixPanel::amount() const { return amount_.value(); }
bool StyleMixPanel::slerp() const { return blend_->currentIndex() == 1; }

void StyleMixPanel::sharesFromControls() {
  const double x = amount();
  w_share_.clear();
  t_share_.clear();
  for (QCheckBox* c : std::as_const(layer_checks_)) {
    w_share_.append(c->isChecked() && swap_w_->isChecked() ? x : 0.0);
    t_share_.append(c->isChecked() && swap_text_->isChecked() ? x : 0.0);
  }
  describeLayers();
}

void StyleMixPanel::describeLayers() {
  bool uniform = true;
  for (int i = 0; i < layer_checks_.size(); ++i) {
    const double w = w_share_.value(i), t = t_share_.value(i);
    layer_checks_[i]->setToolTip(w > 0 || t > 0 ? tr("%1: w %2% from B, text %3% from B")
                                                      .arg(names_.value(i))
                                                      .arg(w * 100, 0, 'g', 3)
                                                      .arg(t * 100, 0, 'g', 3)
                                                : tr("%1: from A").arg(names_.value(i)));
    if (layer_checks_[i]->isChecked()) {
      uniform = uniform && w == (swap_w_->isChecked() ? amount() : 0.0) && t == (swap_text_->isChecked() ? amount() : 0.0);
    }
  }
  shares_note_->setVisible(!uniform);
  shares_note_->setText(uniform ? QString()
                                : tr("The layers take different shares of B (from the restored recipe; hover a layer "
                                     "to see its shares). Any change applies the amount to every checked layer."));
}

RenderRequest StyleMixPanel::request() const {
  RenderRequest r;
  r.kind = RenderRequest::Kind::Mix;
  r.a = a_->source();
  r.b = b_->source();
  r.layer_sources = layerSources();
  r.swap_w = swap_w_->isChecked();
  r.swap_text = swap_text_->isChecked();
  r.mix_w = w_share_;
  r.mix_t = t_share_;
  r.slerp = slerp();
  return r;
}

void StyleMixPanel::setRequest(const RenderRequest& r) {
  a_->setSource(r.a);
  b_->setSource(r.b);
  const QSignalBlocker b1(swap_w_), b2(swap_text_), b3(blend_);
  swap_w_->setChecked(r.swap_w);
  swap_text_->setChecked(r.swap_text);
  blend_->setCurrentIndex(r.slerp ? 1 : 0);
  for (int i = 0; i < layer_checks_.size(); ++i) {
    const QSignalBlocker b(layer_checks_[i]);
    layer_checks_[i]->setChecked(r.layer_sources.value(i) == 1);
  }
  if (r.mix_w.isEmpty() && r.mix_t.isEmpty()) {
    amount_.set(1.0);
    sharesFromControls();
  } else {
    w_share_ = r.mix_w;
    t_share_ = r.mix_t;
    w_share_.resize(layer_checks_.size());
    t_share_.resize(layer_checks_.size());
    double most = 0.0;
    for (int i = 0; i < layer_checks_.size(); ++i) most = std::max({most, w_share_[i], t_share_[i]});
    amount_.set(most > 0 ? most : 1.0);
    describeLayers();
  }
  Q_EMIT layerSourcesChanged(layerSources());
}

void StyleMixPanel::setSourceA(const Source& s) {
  a_->setSource(s);
  changed(false);
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
  sharesFromControls();
  changed(true);
}

void StyleMixPanel::changed(bool discrete) {
  Q_EMIT layerSourcesChanged(layerSources());
  RenderRequest r = request();
  r.discrete = discrete;
  Q_EMIT requestChanged(r);
}

}  // namespace gg::ui

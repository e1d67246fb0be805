#include "interpolate_panel.h"

#include <QComboBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSignalBlocker>
#include <QSlider>
#include <QSpinBox>
#include <QToolButton>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

#include "source_editor.h"
#include "weight_pad.h"

namespace gg::ui {

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
    restored_weights_.clear();
    changed();
  });
  pad_ = new WeightPad(this);
  pad_->setToolTip(tr("Drag between the prompts: the image follows live"));
  connect(pad_, &WeightPad::moved, this, [this] {
    restored_weights_.clear();
    changed();
  });
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
  if (restored_weights_.size() != n) restored_weights_.clear();
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
  if (!restored_weights_.isEmpty()) {
    r.weights = restored_weights_;  // exactly the restored recipe's, until the slider or the pad moves
  } else if (editors_.size() == 2) {
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
  double sum = 0;
  for (double w : r.weights) sum += w;
  const auto weight = [&](int i) { return sum > 0 ? r.weights.value(i) / sum : 0.0; };
  if (r.sources.size() == 2 && r.weights.size() == 2) {
    slider_->setValue(int(std::lround(weight(1) * 1000)));
    slider_label_->setText(QStringLiteral("t = %1").arg(weight(1), 0, 'f', 2));
  } else if (r.weights.size() == 4) {
    // Bilinear corners: x = weight of the right ones, y = of the bottom ones.
    pad_->setPosition(QPointF(weight(1) + weight(3), weight(2) + weight(3)));
  } else if (r.weights.size() == 3) {
    // Barycentric: top centre (0.5, 0), bottom left (0, 1), bottom right (1, 1).
    const double y = 1.0 - weight(0);
    pad_->setPosition(QPointF(weight(2) + 0.5 * (1.0 - y), y));
  }
  // The pad shows where the weights are; the request keeps them exactly.
  restored_weights_ = r.weights.size() == r.sources.size() ? r.weights : QVector<double>();
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

}  // namespace gg::ui

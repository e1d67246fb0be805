#include "source_editor.h"

#include <QEvent>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QSignalBlocker>
#include <QSpinBox>
#include <QToolButton>

#include <algorithm>

#include "panel_controls.h"

namespace gg::ui {

namespace {
// Moves the cursor of a line edit to 0 when it loses the focus.
class ShowStart : public QObject {
 public:
  using QObject::QObject;
  bool eventFilter(QObject* watched, QEvent* event) override {
    if (event->type() == QEvent::FocusOut)
      if (auto* e = qobject_cast<QLineEdit*>(watched)) e->setCursorPosition(0);
    return false;
  }
};
}  // namespace

void showStartWhenIdle(QLineEdit* edit) { edit->installEventFilter(new ShowStart(edit)); }

SourceEditor::SourceEditor(const QString& label, QWidget* parent) : QWidget(parent) {
  auto* l = new QHBoxLayout(this);
  l->setContentsMargins(0, 0, 0, 0);
  auto* name = new QLabel(label, this);
  name->setMinimumWidth(14);
  name->setStyleSheet("font-weight: bold;");
  prompt_ = new QLineEdit(this);
  prompt_->setPlaceholderText(tr("prompt"));
  prompt_->setClearButtonEnabled(true);
  showStartWhenIdle(prompt_);
  seed_ = makeSeedSpin(this);
  psi_label_ = new QLabel(this);
  psi_label_->setStyleSheet("color: #e0a040;");
  psi_label_->hide();
  auto* dice = diceButton(this);
  l->addWidget(name);
  l->addWidget(prompt_, 1);
  l->addWidget(seed_);
  l->addWidget(psi_label_);
  l->addWidget(dice);
  connect(prompt_, &QLineEdit::textEdited, this, [this] {
    edited();
    Q_EMIT changed();
  });
  connect(prompt_, &QLineEdit::returnPressed, this, &SourceEditor::changed);
  connect(seed_, &QSpinBox::valueChanged, this, [this] {
    edited();
    Q_EMIT changed();
  });
  connect(dice, &QToolButton::clicked, this, [this] { seed_->setValue(randomSeed()); });
}

Source SourceEditor::source() const {
  Source s{prompt_->text().trimmed(), quint64(seed_->value()), latent_};
  s.psi = psi_;
  return s;
}

void SourceEditor::setSource(const Source& s) {
  const QSignalBlocker b1(prompt_), b2(seed_);
  prompt_->setText(s.prompt);
  prompt_->setCursorPosition(0);  // a long prompt shows its start, not its tail
  prompt_->setToolTip(s.prompt);
  seed_->setValue(int(std::min<quint64>(s.seed, kMaxSeed)));
  latent_ = s.latent;
  seed_->setToolTip(latent_.isEmpty() ? QString() : tr("Using the inverted latent %1").arg(latent_));
  psi_ = s.psi;
  showPsi();
}

void SourceEditor::edited() {
  latent_.clear();
  seed_->setToolTip(QString());
  prompt_->setToolTip(prompt_->text());
  psi_.reset();
  showPsi();
}

void SourceEditor::showPsi() {
  psi_label_->setVisible(psi_.has_value());
  psi_label_->setText(psi_ ? QStringLiteral("ψ %1").arg(*psi_, 0, 'f', 2) : QString());
  psi_label_->setToolTip(psi_ ? tr("This source keeps its own truncation ψ %1 (from a restored recipe); edit the "
                                   "prompt or the seed to use the Prompt panel's ψ")
                                    .arg(*psi_, 0, 'f', 2)
                              : QString());
}

}  // namespace gg::ui

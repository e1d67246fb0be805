// A prompt with a seed and a dice button: one source of Style Mix and
// Interpolate. An inverted or dragged latent can stand in for the seed's w,
// and a restored recipe can give the source a truncation psi of its own
// (shown beside the seed), until the prompt or the seed is edited. A long
// prompt shows its start whenever the field is not being edited.
#pragma once
#include <QWidget>
#include <optional>

#include "render_request.h"

class QLabel;
class QLineEdit;
class QSpinBox;

namespace gg::ui {

class SourceEditor : public QWidget {
  Q_OBJECT
 public:
  SourceEditor(const QString& label, QWidget* parent = nullptr);
  Source source() const;
  void setSource(const Source& s);  // no signal
  QLineEdit* promptEdit() const { return prompt_; }
  QSpinBox* seedSpin() const { return seed_; }
  QLabel* psiLabel() const { return psi_label_; }
 Q_SIGNALS:
  void changed();

 private:
  void edited();  // the prompt or the seed changed by hand: the seed's own w, the panel's psi
  void showPsi();
  QLineEdit* prompt_;
  QSpinBox* seed_;
  QLabel* psi_label_;
  QString latent_;
  std::optional<double> psi_;
};

// A long text shows its start (not its tail) whenever `edit` does not have
// the focus: the cursor goes to 0 when the focus leaves.
void showStartWhenIdle(QLineEdit* edit);

}  // namespace gg::ui

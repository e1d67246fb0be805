// The Prompt panel: prompt (with its history), the model's styles (setting
// the prompt's "<style> style" clause, or a grid row per style), seed (fixed,
// dice, or random each time), truncation psi (live), a grid of 1-16, upsampling with the
// upsampler's seed, the generator's noise, and a latent direction between
// two prompts with a strength (live). Builds a Generate RenderRequest,
// restores itself from one (undo, history, a dropped recipe) without
// emitting. Its render settings (psi, upsampling, noise) apply to every
// panel's images.
#pragma once
#include <QStringList>
#include <QWidget>
#include <optional>

#include "panel_controls.h"
#include "render_request.h"

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QSpinBox;
class QToolButton;

namespace gg::ui {

class PromptPanel : public QWidget {
  Q_OBJECT
 public:
  explicit PromptPanel(QWidget* parent = nullptr);
  RenderRequest request() const;
  void setRequest(const RenderRequest& r);  // no signal
  void setModel(const ModelInfo& info);
  QStringList promptHistory() const;
  void setPromptHistory(const QStringList& prompts);
  void setPrompt(const QString& text);
  void setSeed(quint64 seed);
  void setPsi(double psi);  // no signal
  void setUpsample(bool on);  // no signal; ignored while the model has no upsampler
  void setLatent(const QString& latent);  // an inverted latent replaces the seed's w ("" to clear)
  // A latent direction (mean w of `to` - mean w of `from`) times `strength`; no signal.
  void setDirection(const QString& from, const QString& to, double strength);
  // The settings every panel renders with (psi, upsample and its seed, noise,
  // mean-w samples): copied into `r` / restored from `r` (no signal).
  void applyRenderSettings(RenderRequest& r) const;
  void setRenderSettings(const RenderRequest& r);
  QComboBox* promptBox() const { return prompt_; }
  QComboBox* styleBox() const { return style_; }
  QToolButton* everyStyleButton() const { return every_style_; }
  QSpinBox* countSpin() const { return count_; }
  QComboBox* noiseBox() const { return noise_; }
  QSpinBox* upsampleSeedSpin() const { return upsample_seed_; }
  QString notes() const;  // the line under the seed: a latent in use, what a recipe brought

 public Q_SLOTS:
  void generate();  // rolls the seed when "random" is on, remembers the prompt, emits generateRequested
  void rollSeed();

 Q_SIGNALS:
  void generateRequested(const gg::ui::RenderRequest& request);
  // psi or seed moved after a first generation: re-render live.
  void liveChanged(const gg::ui::RenderRequest& request);

 private:
  QWidget* buildStyleRow();
  void showPromptStyle();  // the style box follows the prompt's style clause
  void everyStyle();       // rows of the grid: the prompt in each of the model's styles
  QWidget* buildSeedRow();
  QWidget* buildGridRow();
  QWidget* buildRenderRow();
  QWidget* buildDirectionRow();
  QPushButton* buildGenerateButton();
  void emitLive();
  void showNotes();
  void forgetGridRows();  // the prompt or the count changed by hand: one prompt, square grid
  QComboBox* prompt_;
  QComboBox* style_;
  QToolButton* every_style_;
  QSpinBox* seed_;
  QCheckBox* random_;
  SliderSpin psi_;
  QSpinBox* count_;
  QCheckBox* upsample_;
  QComboBox* noise_;
  QSpinBox* upsample_seed_;  // -1: each image's own seed
  QLineEdit* direction_from_;
  QLineEdit* direction_to_;
  SliderSpin strength_;
  QLabel* notes_;
  QPushButton* generate_;
  QString latent_;
  // From a restored recipe, kept until edited: further grid rows, the grid's
  // columns, the layers of the direction, the mean-w samples.
  QStringList more_prompts_;
  int columns_ = 0;
  QString direction_layers_ = QStringLiteral("all");
  int mean_w_samples_ = 4096;
  bool generated_ = false;
};

}  // namespace gg::ui

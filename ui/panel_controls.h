// Little controls and helpers the studio's panels share: the seed spin box
// with its dice button, random seeds, a slider kept in step with a spin box,
// and crisp (integer-scaled) thumbnails of small images.
#pragma once
#include <QImage>
#include <QList>
#include <QPair>
#include <QPixmap>
#include <QSize>
#include <functional>
#include <memory>
#include <optional>

class QDoubleSpinBox;
class QSlider;
class QSpinBox;
class QToolButton;
class QWidget;

namespace gg::ui {

constexpr int kMaxSeed = 2147483647;  // what a QSpinBox holds
constexpr int kMaxPromptHistory = 30;

// "seed 123": typed seeds render once, on Enter.
QSpinBox* makeSeedSpin(QWidget* parent);
// A painted die (no emoji font needed), tool tip "Random seed".
QToolButton* diceButton(QWidget* parent);
int randomSeed();

// A slider and a spin box showing one value (the slider in hundredths),
// each following the other; `moved` runs after the user moved either. A value
// set by code (a restored recipe's 0.625) is kept exactly, though the spin box
// shows it rounded, until the user moves either.
struct SliderSpin {
  QWidget* row = nullptr;
  QSlider* slider = nullptr;
  QDoubleSpinBox* spin = nullptr;
  std::shared_ptr<std::optional<double>> exact = std::make_shared<std::optional<double>>();
  double value() const;
  void set(double value) const;  // no signals
};
// The slider and spin box are children of `parent` (so that findChild finds
// them in the order built); `row` lays them out.
SliderSpin makeSliderSpin(QWidget* parent, double min, double max, double step, const QString& tip,
                          const std::function<void()>& moved);

// A row of widgets without margins, each with its stretch factor.
QWidget* hboxRow(QWidget* parent, const QList<QPair<QWidget*, int>>& widgets);

// Scales an image by the largest integer factor that fits `box` (nearest),
// or down smoothly when it is larger: crisp thumbnails of small images.
QPixmap crispPixmap(const QImage& image, QSize box);

}  // namespace gg::ui

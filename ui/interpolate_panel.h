// The Interpolate panel: 2-4 prompts blended on a slider (2) or a 2-D pad
// (3-4); text, w or both; lerp or slerp; live; exports the path as PNG
// frames, a GIF or an MP4.
#pragma once
#include <QStringList>
#include <QVector>
#include <QWidget>

#include "render_request.h"

class QComboBox;
class QLabel;
class QPushButton;
class QSlider;
class QSpinBox;
class QToolButton;
class QVBoxLayout;

namespace gg::ui {

class SourceEditor;
class WeightPad;

class InterpolatePanel : public QWidget {
  Q_OBJECT
 public:
  explicit InterpolatePanel(QWidget* parent = nullptr);
  RenderRequest request() const;
  void setRequest(const RenderRequest& r);  // no signal
  void setModel(const ModelInfo& info);
  int sourceCount() const { return int(editors_.size()); }
  void setSourceCount(int n);  // 2..4
  QSlider* slider() const { return slider_; }
  WeightPad* pad() const { return pad_; }
  int frames() const;
  SourceEditor* editor(int i) const { return editors_.value(i); }

 public Q_SLOTS:
  void setT(double t);  // 2 sources: weight of the second

 Q_SIGNALS:
  void requestChanged(const gg::ui::RenderRequest& request);
  void exportRequested(const gg::ui::RenderRequest& request, int frames);

 private:
  void changed();
  void updateMode();
  QVBoxLayout* sources_layout_;
  QVector<SourceEditor*> editors_;
  QToolButton* add_;
  QToolButton* remove_;
  QWidget* slider_row_;
  QSlider* slider_;
  QLabel* slider_label_;
  WeightPad* pad_;
  QComboBox* space_;
  QComboBox* method_;
  QSpinBox* frames_;
  QPushButton* export_;
  QStringList samples_;
  QVector<double> restored_weights_;  // a restored recipe's weights, until the slider or the pad moves
};

}  // namespace gg::ui

// The Style Mix panel: sources A and B (prompt + seed), each with a small
// thumbnail of its own image beside it; coarse / middle / fine presets and
// per-layer toggles choose the layers that take B; swap w and swap text
// separately; how much of B those layers take (1 = swap; fractions blend, by
// lerp or slerp). Every change re-renders live; a click (preset, toggle) is
// an edit of its own, never merged into the previous one.
#pragma once
#include <QImage>
#include <QVector>
#include <QWidget>

#include "panel_controls.h"
#include "render_request.h"

class QCheckBox;
class QComboBox;
class QGridLayout;
class QLabel;

namespace gg::ui {

class SourceEditor;

class StyleMixPanel : public QWidget {
  Q_OBJECT
 public:
  explicit StyleMixPanel(QWidget* parent = nullptr);
  RenderRequest request() const;
  void setRequest(const RenderRequest& r);  // no requestChanged
  void setModel(const ModelInfo& info);
  QVector<int> layerSources() const;
  QStringList layerNames() const { return names_; }
  SourceEditor* sourceA() const { return a_; }
  SourceEditor* sourceB() const { return b_; }
  double amount() const;  // B's share on the layers taken from B
  bool slerp() const;
  // The thumbnail of source A (0) or B (1): its image alone, rendered by the
  // engine; a null image shows a placeholder.
  void setThumbnail(int which, const QImage& image);
  QLabel* thumbnail(int which) const { return which == 0 ? thumb_a_ : thumb_b_; }

 public Q_SLOTS:
  void toggleLayer(int index);
  // "coarse" (4-8 px), "middle" (16-32 px), "fine" (64 px and up): those layers from B.
  void applyPreset(const QString& name);
  void setSourceA(const gg::ui::Source& s);

 Q_SIGNALS:
  void requestChanged(const gg::ui::RenderRequest& request);
  void layerSourcesChanged(const QVector<int>& sources);

 private:
  QWidget* buildSourceRow(SourceEditor* editor, QLabel*& thumbnail);
  QWidget* buildPresetRow();
  QWidget* buildSwapRow();
  QWidget* buildAmountRow();
  // The controls (checked layers, swap w / text, amount) -> B's share of
  // every layer, the same on each checked layer.
  void sharesFromControls();
  void describeLayers();  // tool tips with each layer's shares
  void changed(bool discrete);
  SourceEditor* a_;
  SourceEditor* b_;
  QLabel* thumb_a_ = nullptr;
  QLabel* thumb_b_ = nullptr;
  QWidget* layer_box_;
  QGridLayout* layer_grid_;
  QVector<QCheckBox*> layer_checks_;
  QStringList names_;
  QVector<int> resolutions_;
  QCheckBox* swap_w_;
  QCheckBox* swap_text_;
  SliderSpin amount_;
  QComboBox* blend_;
  QLabel* shares_note_;
  // B's share of each layer's w and text: what request() renders. A restored
  // recipe may give layers different shares; any control change makes them
  // uniform again.
  QVector<double> w_share_, t_share_;
};

}  // namespace gg::ui

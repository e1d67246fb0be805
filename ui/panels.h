// The studio's editing panels (dock widgets): Prompt, Style Mix, Interpolate,
// Invert. Each builds a RenderRequest from its controls, restores its controls
// from a request (undo, history) without emitting, and says when the canvas
// should update. Panels never talk to the engine themselves.
#pragma once
#include <QImage>
#include <QVector>
#include <QWidget>

#include "render_request.h"

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QGridLayout;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QSlider;
class QSpinBox;
class QToolButton;
class QVBoxLayout;

namespace gg::ui {

// A prompt with a seed and a dice button (used by Style Mix and Interpolate).
class SourceEditor : public QWidget {
  Q_OBJECT
 public:
  SourceEditor(const QString& label, QWidget* parent = nullptr);
  Source source() const;
  void setSource(const Source& s);  // no signal
  QLineEdit* promptEdit() const { return prompt_; }
  QSpinBox* seedSpin() const { return seed_; }
 Q_SIGNALS:
  void changed();

 private:
  QLineEdit* prompt_;
  QSpinBox* seed_;
  QString latent_;
};

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
  QComboBox* promptBox() const { return prompt_; }

 public Q_SLOTS:
  void generate();  // rolls the seed when "random" is on, remembers the prompt, emits generateRequested
  void rollSeed();

 Q_SIGNALS:
  void generateRequested(const gg::ui::RenderRequest& request);
  // psi or seed moved after a first generation: re-render live.
  void liveChanged(const gg::ui::RenderRequest& request);

 private:
  void emitLive();
  QComboBox* prompt_;
  QSpinBox* seed_;
  QCheckBox* random_;
  QSlider* psi_slider_;
  QDoubleSpinBox* psi_;
  QSpinBox* count_;
  QCheckBox* upsample_;
  QLineEdit* direction_from_;
  QLineEdit* direction_to_;
  QSlider* strength_slider_;
  QDoubleSpinBox* strength_;
  QLabel* latent_label_;
  QPushButton* generate_;
  QString latent_;
  bool generated_ = false;
};

class StyleMixPanel : public QWidget {
  Q_OBJECT
 public:
  explicit StyleMixPanel(QWidget* parent = nullptr);
  RenderRequest request() const;
  void setRequest(const RenderRequest& r);  // no signal
  void setModel(const ModelInfo& info);
  QVector<int> layerSources() const;
  QStringList layerNames() const { return names_; }
  SourceEditor* sourceA() const { return a_; }
  SourceEditor* sourceB() const { return b_; }

 public Q_SLOTS:
  void toggleLayer(int index);
  // "coarse" (4-8 px), "middle" (16-32 px), "fine" (64 px and up): those layers from B.
  void applyPreset(const QString& name);
  void setSourceA(const gg::ui::Source& s);

 Q_SIGNALS:
  void requestChanged(const gg::ui::RenderRequest& request);
  void layerSourcesChanged(const QVector<int>& sources);

 private:
  void changed();
  SourceEditor* a_;
  SourceEditor* b_;
  QWidget* layer_box_;
  QGridLayout* layer_grid_;
  QVector<QCheckBox*> layer_checks_;
  QStringList names_;
  QVector<int> resolutions_;
  QCheckBox* swap_w_;
  QCheckBox* swap_text_;
};

// Weights of 3 or 4 prompts from a point in a square (4: bilinear over the
// corners) or a triangle (3: barycentric, clamped to the triangle).
class WeightPad : public QWidget {
  Q_OBJECT
 public:
  explicit WeightPad(QWidget* parent = nullptr);
  void setCorners(int n);  // 3 or 4
  int corners() const { return n_; }
  QPointF position() const { return pos_; }
  void setPosition(QPointF p);  // no signal
  QVector<double> weights() const { return weightsAt(n_, pos_); }
  static QVector<double> weightsAt(int corners, QPointF p);  // p in [0,1]^2
  QSize sizeHint() const override { return {200, 170}; }
 Q_SIGNALS:
  void moved(QPointF position);

 protected:
  void paintEvent(QPaintEvent*) override;
  void mousePressEvent(QMouseEvent* e) override;
  void mouseMoveEvent(QMouseEvent* e) override;

 private:
  QRectF area() const;
  void moveTo(QPointF widget_pos);
  int n_ = 4;
  QPointF pos_{0.5, 0.5};
};

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
};

class InvertPanel : public QWidget {
  Q_OBJECT
 public:
  explicit InvertPanel(QWidget* parent = nullptr);
  QString imagePath() const { return path_; }
  bool setImagePath(const QString& path);  // false (and a message) when the file is not an image
  int steps() const;
  QString prompt() const;
  void setPrompt(const QString& prompt);
  bool wPlus() const;
  bool pivotalTuning() const;
  void setModelLoaded(bool loaded);
  void setRunning(bool running);
  void setProgress(int step, int total, double value);
  void setResult(const InvertResult& r);
  QString latent() const { return latent_; }

 public Q_SLOTS:
  void openImage();
  void run();

 Q_SIGNALS:
  void invertRequested(const QString& path, const QString& prompt, int steps, bool plus, bool pti);
  void cancelRequested();
  // "Edit": use the inverted latent, under the prompt it was found with, as the
  // Prompt panel's / Style Mix A's source.
  void useLatent(const QString& latent, const QString& prompt);
  void statusMessage(const QString& text);

 protected:
  void dragEnterEvent(QDragEnterEvent* e) override;
  void dropEvent(QDropEvent* e) override;

 private:
  QLabel* target_;
  QLabel* result_;
  QLabel* info_;
  QLineEdit* prompt_;
  QSpinBox* steps_;
  QComboBox* space_;
  QCheckBox* pti_;
  QPushButton* run_;
  QPushButton* cancel_;
  QPushButton* use_;
  QProgressBar* progress_;
  QString path_;
  QString latent_;
  QString prompt_used_;
  bool model_loaded_ = false;
  bool running_ = false;
};

// The Drag tool (DragGAN point editing, Pan et al. SIGGRAPH 2023): the points
// and the mask are placed on the canvas (ImageCanvas's drag tools); the panel
// picks the tool, the steps, and starts / stops the optimisation, which
// updates the canvas live. The result is an edit like any other (Undo returns
// to the image before the drag) whose W+ latent the Prompt and Style Mix
// panels then use.
class DragPanel : public QWidget {
  Q_OBJECT
 public:
  explicit DragPanel(QWidget* parent = nullptr);
  int steps() const;
  void setSteps(int steps);
  bool maskMode() const;   // "Paint mask" is on: the canvas paints instead of placing points
  void setPointCounts(int handles, int targets);  // updates the hint and Start
  void setMaskPainted(bool painted);
  void setModelLoaded(bool loaded);
  void setRunning(bool running);
  bool running() const { return running_; }
  void setProgress(int step, int total);
  void setResultText(const QString& text);
  QPushButton* startButton() const { return start_; }
  QPushButton* stopButton() const { return stop_; }

 Q_SIGNALS:
  void startRequested();
  void stopRequested();
  void maskModeChanged(bool on);
  void clearPointsRequested();
  void clearMaskRequested();

 private:
  void updateState();
  QLabel* hint_;
  QLabel* points_;
  QCheckBox* mask_;
  QPushButton* clear_points_;
  QPushButton* clear_mask_;
  QSpinBox* steps_;
  QPushButton* start_;
  QPushButton* stop_;
  QProgressBar* progress_;
  QLabel* result_;
  int handles_ = 0, targets_ = 0;
  bool mask_painted_ = false;
  bool model_loaded_ = false;
  bool running_ = false;
};

// Scales an image by the largest integer factor that fits `box` (nearest),
// or down smoothly when it is larger: crisp thumbnails of small images.
QPixmap crispPixmap(const QImage& image, QSize box);

}  // namespace gg::ui

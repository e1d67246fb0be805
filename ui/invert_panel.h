// The Invert panel: open or drop an image, W+ (default, as the CLI) or W,
// optional PTI, progress and Cancel; the reconstruction with its MSE and
// PSNR; "Edit the result" hands the latent and its prompt to the others.
#pragma once
#include <QWidget>

#include "render_request.h"

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QSpinBox;

namespace gg::ui {

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

}  // namespace gg::ui

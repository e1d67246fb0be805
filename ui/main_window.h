// The studio's main window: the canvas in the centre, the Prompt, Style Mix,
// Interpolate, Invert and Train panels as docks, a History strip, menus,
// undo/redo over edits, persistent settings and layout.
#pragma once
#include <QElapsedTimer>
#include <QJsonObject>
#include <QMainWindow>
#include <QMap>
#include <QPointer>

#include "engine_backend.h"
#include "render_request.h"

class QLabel;
class QListWidget;
class QListWidgetItem;
class QMenu;
class QMessageBox;
class QProgressBar;
class QToolButton;
class QUndoStack;
class QDockWidget;

namespace gg::ui {

class EngineHost;
class ImageCanvas;
class PromptPanel;
class StyleMixPanel;
class InterpolatePanel;
class InvertPanel;
class DragPanel;
class TrainPanel;

// One state of the canvas: what was asked, what came out.
struct EditState {
  RenderRequest request;
  QImage image;
  QJsonObject recipe;
  bool valid() const { return !image.isNull(); }
};

class MainWindow : public QMainWindow {
  Q_OBJECT
 public:
  // backend: nullptr for the real engine.
  explicit MainWindow(std::unique_ptr<Backend> backend = nullptr, QWidget* parent = nullptr);
  ~MainWindow() override;

  // Where models, runs and datasets live (XDG data folder).
  static QString dataDir();
  // The shipped default model, or "" when this install has none.
  static QString defaultModelPath();

  void openModel(const QString& package_dir);
  bool modelLoaded() const { return model_loaded_; }
  const ModelInfo& model() const { return model_; }
  const EditState& current() const { return current_; }
  // Saves the current image as PNG with its recipe in a text chunk.
  bool saveImage(const QString& path, QString* error = nullptr);
  // The recipe stored in a PNG (empty when there is none).
  static QJsonObject readRecipe(const QString& png_path);
  static const char* recipeKey();

  // Accessors for tests and the screenshot script.
  EngineHost* engine() const { return engine_; }
  ImageCanvas* canvas() const { return canvas_; }
  PromptPanel* promptPanel() const { return prompt_; }
  StyleMixPanel* styleMixPanel() const { return mix_; }
  InterpolatePanel* interpolatePanel() const { return interp_; }
  InvertPanel* invertPanel() const { return invert_; }
  DragPanel* dragPanel() const { return drag_; }
  TrainPanel* trainPanel() const { return train_; }
  QUndoStack* undoStack() const { return undo_; }
  QListWidget* historyList() const { return history_; }
  QDockWidget* dock(const QString& name) const { return docks_.value(name); }
  void showPanel(const QString& name);  // raises a dock ("Prompt", "Style Mix", ...)
  QString lastStatus() const { return last_status_; }

  // Applies a state to the canvas and the panel that made it (undo/redo, history).
  void applyState(const EditState& state);

 public Q_SLOTS:
  void generate();  // Ctrl+Enter: the active panel's request
  // Drag tool: starts the drag of the canvas's points on the current image / stops it.
  void startDrag();
  void stopDrag();
  // Help ▸ Keys, Mouse and Panels (F1): a short page, window-modal, not blocking.
  void showHelp();
  void openModelDialog();
  void saveImageDialog();
  void copyImage();
  void exportAnimationDialog();
  void openImageDialog();
  void showStatus(const QString& text, int timeout_ms = 6000);
  void showError(const QString& text);

 Q_SIGNALS:
  void stateCommitted(const gg::ui::EditState& state);

 protected:
  void closeEvent(QCloseEvent* e) override;
  void dragEnterEvent(QDragEnterEvent* e) override;
  void dropEvent(QDropEvent* e) override;

 private:
  // Builders of the constructor, one part of the window each.
  void buildMenus();
  void buildDocks();
  void buildPanelDocks();
  void buildHistoryDock();
  void buildStatusBar();
  void connectEngine();
  void connectPanels();
  void connectDragTool();
  void connectTrainPanel();
  void connectCanvas();
  // Engine results and panel actions (the slots of the connections above).
  void onInverted(const InvertResult& r);
  void onRecipeRestored(const RenderRequest& r);
  void onDragFrame(const DragFrame& f);
  void useInvertedLatent(const QString& latent, const QString& prompt);
  void restoreHistoryItem(QListWidgetItem* item);
  void followPromptInMix();
  void updateMixThumbnails();
  void restoreSettings();
  void saveSettings();
  void addRecentModel(const QString& dir);
  void rebuildRecentMenu();
  void submit(RenderRequest r);
  void onRendered(const RenderResult& result);
  void onFailed(const QString& op, const QString& message, quint64 id);
  void onModelLoaded(const ModelInfo& info);
  void onProgress(const QString& op, int step, int total, double value);
  void commit(const EditState& state);
  void addHistory(const EditState& state, bool merge);
  void openDroppedFile(const QString& path);
  void latentPadMoved(quint64 seed, QPointF pos);
  void updateCanvasTool();
  void onDragged(const DragOutcome& outcome);
  void updateTitle();

  EngineHost* engine_ = nullptr;
  ImageCanvas* canvas_ = nullptr;
  PromptPanel* prompt_ = nullptr;
  StyleMixPanel* mix_ = nullptr;
  InterpolatePanel* interp_ = nullptr;
  InvertPanel* invert_ = nullptr;
  DragPanel* drag_ = nullptr;
  TrainPanel* train_ = nullptr;
  QListWidget* history_ = nullptr;
  QVector<EditState> history_states_;
  QUndoStack* undo_ = nullptr;
  QMap<QString, QDockWidget*> docks_;
  QMenu* recent_menu_ = nullptr;
  QMessageBox* help_ = nullptr;
  QMenu* view_menu_ = nullptr;
  QLabel* model_label_ = nullptr;
  QLabel* perf_label_ = nullptr;
  QProgressBar* job_progress_ = nullptr;
  QToolButton* job_cancel_ = nullptr;

  ModelInfo model_;
  bool model_loaded_ = false;
  QString loading_;  // package being loaded
  EditState current_;
  QElapsedTimer last_commit_;
  RenderRequest::Kind last_commit_kind_ = RenderRequest::Kind::Generate;
  QString last_status_;
  bool applying_ = false;  // applyState in progress: panel signals are not edits
  bool mix_started_ = false;  // a style mix was made (Style Mix keeps its own sources from then on)
  QString thumbnail_keys_[2];  // what Style Mix's thumbnails of A and B were last asked for
};

}  // namespace gg::ui

Q_DECLARE_METATYPE(gg::ui::EditState)

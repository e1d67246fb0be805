#include "main_window.h"

#include <QAction>
#include <QActionGroup>
#include <QApplication>
#include <QClipboard>
#include <QCloseEvent>
#include <QCoreApplication>
#include <QDir>
#include <QDockWidget>
#include <QEventLoop>
#include <QFileDialog>
#include <QFileInfo>
#include <QImageReader>
#include <QImageWriter>
#include <QJsonDocument>
#include <QLabel>
#include <QListWidget>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QProgressBar>
#include <QPushButton>
#include <QScrollArea>
#include <QSettings>
#include <QStandardPaths>
#include <QStatusBar>
#include <QTimer>
#include <QToolButton>
#include <QUndoCommand>
#include <QUndoStack>

#include <algorithm>
#include <cmath>

#include "engine_worker.h"
#include "image_io.h"
#include "image_canvas.h"
#include "drag_panel.h"
#include "interpolate_panel.h"
#include "invert_panel.h"
#include "panel_controls.h"
#include "prompt_panel.h"
#include "source_editor.h"
#include "style_mix_panel.h"
#include "studio_icon.h"
#include "train_panel.h"

namespace gg::ui {

namespace {
// Canvas fractions of the image <-> pixels of the generator's image (pixel centres at integers).
QPointF toGeneratorPixels(QPointF f, int res) {
  return {std::clamp(f.x() * res - 0.5, 0.0, res - 1.0), std::clamp(f.y() * res - 0.5, 0.0, res - 1.0)};
}
QPointF toFraction(QPointF px, int res) { return {(px.x() + 0.5) / res, (px.y() + 0.5) / res}; }

constexpr int kMaxRecent = 8;
constexpr int kMaxHistory = 200;
// Edits of the same kind closer together than this merge into one undo step
// (one slider drag is one step).
constexpr qint64 kMergeMs = 800;

QString kindName(RenderRequest::Kind k) {
  switch (k) {
    case RenderRequest::Kind::Generate: return QObject::tr("Generate");
    case RenderRequest::Kind::Mix: return QObject::tr("Style mix");
    case RenderRequest::Kind::Interpolate: return QObject::tr("Interpolate");
  }
  return {};
}

class EditCommand : public QUndoCommand {
 public:
  EditCommand(MainWindow* w, EditState before, EditState after, bool mergeable)
      : w_(w), before_(std::move(before)), after_(std::move(after)), mergeable_(mergeable) {
    setText(kindName(after_.request.kind));
  }
  int id() const override { return 1; }
  bool mergeWith(const QUndoCommand* other) override {
    const auto* o = static_cast<const EditCommand*>(other);
    if (!o->mergeable_ || o->after_.request.kind != after_.request.kind) return false;
    after_ = o->after_;
    return true;
  }
  void redo() override {
    if (first_) {
      first_ = false;  // the canvas shows it already
      return;
    }
    w_->applyState(after_);
  }
  void undo() override {
    if (before_.valid()) w_->applyState(before_);
  }

 private:
  MainWindow* w_;
  EditState before_, after_;
  bool mergeable_;
  bool first_ = true;
};

QWidget* scrollable(QWidget* w) {
  auto* s = new QScrollArea;
  s->setWidget(w);
  s->setWidgetResizable(true);
  s->setFrameShape(QFrame::NoFrame);
  return s;
}
}  // namespace

QString RenderRequest::describe() const {
  switch (kind) {
    case Kind::Generate:
      return QObject::tr("“%1” %2 ψ %3%4%5")
          .arg(source.prompt)
          .arg(source.latent.isEmpty() ? QObject::tr("seed %1").arg(source.seed)
                                       : QObject::tr("latent %1").arg(source.latent))
          .arg(psi, 0, 'f', 2)
          .arg(count > 1 ? QObject::tr(" ×%1").arg(count) : QString())
          .arg(hasDirection() ? QObject::tr(", %1 × (“%2” − “%3”)")
                                    .arg(direction_strength, 0, 'f', 2)
                                    .arg(direction_to.trimmed(), direction_from.trimmed())
                              : QString());
    case Kind::Mix: {
      int from_b = 0;
      for (int s : layer_sources) from_b += s == 1;
      return QObject::tr("mix “%1” #%2 with “%3” #%4 (%5 from B)")
          .arg(a.prompt)
          .arg(a.seed)
          .arg(b.prompt)
          .arg(b.seed)
          .arg(from_b == 1 ? QObject::tr("1 layer") : QObject::tr("%1 layers").arg(from_b));
    }
    case Kind::Interpolate: {
      // One prompt (the canvas's latent pad): name it once, then the seeds and their weights.
      bool one_prompt = !sources.isEmpty();
      for (const Source& s : sources) one_prompt = one_prompt && s.prompt == sources.first().prompt;
      if (one_prompt && sources.size() > 1) {
        QStringList seeds, ws;
        for (int i = 0; i < sources.size(); ++i) {
          seeds << (sources[i].latent.isEmpty() ? QString::number(sources[i].seed) : sources[i].latent);
          ws << QString::number(weights.value(i), 'f', 2);
        }
        return QObject::tr("“%1” seeds %2 weighted %3").arg(sources.first().prompt, seeds.join(", "), ws.join("/"));
      }
      QStringList parts;
      for (int i = 0; i < sources.size(); ++i)
        parts << QObject::tr("%1×“%2”").arg(weights.value(i), 0, 'f', 2).arg(sources[i].prompt);
      return parts.join(QStringLiteral(" + "));
    }
  }
  return {};
}

const char* MainWindow::recipeKey() { return gg::kRecipeChunkKey; }

QString MainWindow::dataDir() { return QStandardPaths::writableLocation(QStandardPaths::AppDataLocation); }

QString MainWindow::defaultModelPath() {
  QStringList roots;
  const QString env = qEnvironmentVariable("GIGAGAN_RESOURCES");
  if (!env.isEmpty()) roots << env;
  roots << QCoreApplication::applicationDirPath() + "/../share/gigagan/resources";
#ifdef GIGAGAN_SOURCE_RESOURCES
  roots << QStringLiteral(GIGAGAN_SOURCE_RESOURCES);
#endif
  roots << dataDir();
  for (const QString& r : roots) {
    const QString p = QDir::cleanPath(r + "/models/emoji");
    if (QFileInfo::exists(p + "/package.json")) return p;
  }
  return {};
}

MainWindow::MainWindow(std::unique_ptr<Backend> backend, QWidget* parent) : QMainWindow(parent) {
  setWindowTitle(tr("GigaGAN Studio"));
  setWindowIcon(studioIcon());
  setAcceptDrops(true);
  setDockNestingEnabled(true);
  engine_ = new EngineHost(std::move(backend), this);
  undo_ = new QUndoStack(this);
  undo_->setUndoLimit(500);
  canvas_ = new ImageCanvas(this);
  canvas_->setPlaceholder(tr("No model loaded.\nOpen a model package (File ▸ Open Model…), or train one in the Train panel."));
  setCentralWidget(canvas_);
  buildDocks();
  buildMenus();
  buildStatusBar();
  connectEngine();
  restoreSettings();
  updateTitle();
}

// Status bar: messages left, model / perf / job progress right.
void MainWindow::buildStatusBar() {
  model_label_ = new QLabel(tr("no model"), this);
  perf_label_ = new QLabel(this);
  perf_label_->setMinimumWidth(110);
  job_progress_ = new QProgressBar(this);
  job_progress_->setMaximumWidth(180);
  job_progress_->setMaximumHeight(16);
  job_progress_->hide();
  job_cancel_ = new QToolButton(this);
  job_cancel_->setText(tr("Cancel"));
  job_cancel_->setAutoRaise(true);
  job_cancel_->hide();
  connect(job_cancel_, &QToolButton::clicked, engine_, &EngineHost::cancel);
  statusBar()->addPermanentWidget(job_progress_);
  statusBar()->addPermanentWidget(job_cancel_);
  statusBar()->addPermanentWidget(perf_label_);
  statusBar()->addPermanentWidget(model_label_);
}

void MainWindow::connectEngine() {
  connect(engine_, &EngineHost::rendered, this, &MainWindow::onRendered);
  connect(engine_, &EngineHost::failed, this, &MainWindow::onFailed);
  connect(engine_, &EngineHost::modelLoaded, this, &MainWindow::onModelLoaded);
  connect(engine_, &EngineHost::progress, this, &MainWindow::onProgress);
  connect(engine_, &EngineHost::inverted, this, &MainWindow::onInverted);
  connect(engine_, &EngineHost::exported, this, [this](const QString& path) {
    showStatus(tr("Animation written to %1").arg(path), 10000);
  });
  connect(engine_, &EngineHost::cancelled, this, [this](const QString& op) {
    if (op == "invert") invert_->setRunning(false);
    showStatus(tr("%1 cancelled.").arg(op == "invert" ? tr("Inversion") : tr("Export")));
  });
  connect(engine_, &EngineHost::recipeRestored, this, &MainWindow::onRecipeRestored);
  connect(engine_, &EngineHost::dragFrame, this, &MainWindow::onDragFrame);
  connect(engine_, &EngineHost::dragged, this, &MainWindow::onDragged);
  connect(engine_, &EngineHost::thumbnailRendered, this, [this](const QString& tag, const RenderResult& r) {
    const int which = tag == QLatin1String("mix-a") ? 0 : tag == QLatin1String("mix-b") ? 1 : -1;
    if (which >= 0) mix_->setThumbnail(which, r.image);
  });
  connect(engine_, &EngineHost::busyChanged, this, [this](bool busy) {
    if (!busy) {
      job_progress_->hide();
      job_cancel_->hide();
    }
  });
}

void MainWindow::onInverted(const InvertResult& r) {
  invert_->setRunning(false);
  invert_->setResult(r);
  // The reconstruction on the canvas too (an edit: Save and Undo work on it);
  // the panels keep their settings until "Edit the result".
  RenderRequest shown = prompt_->request();
  shown.kind = RenderRequest::Kind::Generate;
  shown.source = Source{r.prompt, 0, r.latent};
  shown.count = 1;
  shown.direction_strength = 0.0;
  submit(shown);
  showStatus(tr("Inversion done: reconstruction MSE %1 (PSNR %2 dB). “Edit the result” uses it in the other panels.")
                 .arg(r.error, 0, 'g', 3)
                 .arg(r.psnr, 0, 'f', 1));
}

void MainWindow::onRecipeRestored(const RenderRequest& r) {
  EditState s;
  s.request = r;
  s.image = current_.image;  // replaced when the render arrives
  applying_ = true;
  // Everything the recipe holds goes into the panels, so that re-rendering
  // from them reproduces the image: the render settings (psi, upsampler and
  // its seed, noise) into Prompt, the rest into the panel of its kind.
  prompt_->setRenderSettings(r);
  switch (r.kind) {
    case RenderRequest::Kind::Generate: prompt_->setRequest(r); showPanel("Prompt"); break;
    case RenderRequest::Kind::Mix: mix_->setRequest(r); showPanel("Style Mix"); break;
    case RenderRequest::Kind::Interpolate: interp_->setRequest(r); showPanel("Interpolate"); break;
  }
  applying_ = false;
  if (r.kind == RenderRequest::Kind::Mix) mix_started_ = true;
  submit(r);
  updateMixThumbnails();
  showStatus(tr("Recipe restored: %1").arg(r.describe()));
}

void MainWindow::onDragFrame(const DragFrame& f) {
  canvas_->setImage(f.image);
  QVector<QPointF> handles;
  for (const QPointF& h : f.handles) handles.append(toFraction(h, model_.resolution));
  canvas_->setDragPoints(handles, canvas_->dragTargets());
  drag_->setProgress(f.step, f.steps);
}

MainWindow::~MainWindow() {
  // Closing hides the docks after this class's members are gone: no more tool updates.
  for (const char* name : {"Drag", "Style Mix"})
    if (QDockWidget* d = docks_.value(name)) disconnect(d, nullptr, this, nullptr);
}

void MainWindow::buildDocks() {
  buildPanelDocks();
  buildHistoryDock();
  connectPanels();
  connectDragTool();
  connectTrainPanel();
  connectCanvas();
}

// The panels, tabbed in one column on the right.
void MainWindow::buildPanelDocks() {
  prompt_ = new PromptPanel;
  mix_ = new StyleMixPanel;
  interp_ = new InterpolatePanel;
  invert_ = new InvertPanel;
  drag_ = new DragPanel;
  train_ = new TrainPanel;
  const struct {
    const char* name;
    QWidget* w;
  } docks[] = {{"Prompt", prompt_}, {"Style Mix", mix_}, {"Interpolate", interp_},
               {"Invert", invert_}, {"Drag", drag_},     {"Train", train_}};
  QDockWidget* first = nullptr;
  for (const auto& d : docks) {
    auto* dock = new QDockWidget(tr(d.name), this);
    dock->setObjectName(QString("dock_%1").arg(QString(d.name).remove(' ')));
    dock->setWidget(scrollable(d.w));
    dock->setMinimumWidth(380);
    addDockWidget(Qt::RightDockWidgetArea, dock);
    if (first)
      tabifyDockWidget(first, dock);
    else
      first = dock;
    docks_.insert(d.name, dock);
  }
  setTabPosition(Qt::RightDockWidgetArea, QTabWidget::North);
  first->raise();
}

// The strip of everything rendered this session, below the canvas.
void MainWindow::buildHistoryDock() {
  history_ = new QListWidget;
  history_->setViewMode(QListView::IconMode);
  history_->setFlow(QListView::LeftToRight);
  history_->setWrapping(false);
  history_->setMovement(QListView::Static);
  history_->setIconSize(QSize(64, 64));
  history_->setGridSize(QSize(76, 80));
  history_->setFixedHeight(100);
  history_->setHorizontalScrollBarPolicy(Qt::ScrollBarAsNeeded);
  history_->setToolTip(tr("Everything generated this session; click to restore it"));
  connect(history_, &QListWidget::itemClicked, this, &MainWindow::restoreHistoryItem);
  auto* hdock = new QDockWidget(tr("History"), this);
  hdock->setObjectName("dock_History");
  hdock->setWidget(history_);
  hdock->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetClosable);
  addDockWidget(Qt::BottomDockWidgetArea, hdock);
  docks_.insert("History", hdock);
}

void MainWindow::restoreHistoryItem(QListWidgetItem* item) {
  const int i = item->data(Qt::UserRole).toInt();
  if (i < 0 || i >= history_states_.size()) return;
  const EditState s = history_states_[i];
  undo_->push(new EditCommand(this, current_, s, false));
  applyState(s);
  current_ = s;
  showStatus(tr("Restored: %1").arg(s.request.describe()));
}

// Panels -> engine.
void MainWindow::connectPanels() {
  connect(prompt_, &PromptPanel::generateRequested, this, &MainWindow::submit);
  connect(prompt_, &PromptPanel::liveChanged, this, [this](const RenderRequest& r) {
    submit(r);
    updateMixThumbnails();  // psi and noise change the sources' images too
  });
  connect(mix_, &StyleMixPanel::requestChanged, this, [this](const RenderRequest& r) {
    submit(r);
    updateMixThumbnails();
  });
  connect(mix_, &StyleMixPanel::layerSourcesChanged, this,
          [this](const QVector<int>& s) { canvas_->setLayers(mix_->layerNames(), s); });
  connect(interp_, &InterpolatePanel::requestChanged, this, &MainWindow::submit);
  connect(interp_, &InterpolatePanel::exportRequested, this, [this] { exportAnimationDialog(); });
  connect(invert_, &InvertPanel::invertRequested, engine_, &EngineHost::invert);
  connect(invert_, &InvertPanel::cancelRequested, engine_, &EngineHost::cancel);
  connect(invert_, &InvertPanel::statusMessage, this, [this](const QString& m) { showStatus(m); });
  connect(invert_, &InvertPanel::useLatent, this, &MainWindow::useInvertedLatent);
  connect(docks_.value("Style Mix"), &QDockWidget::visibilityChanged, this, [this](bool visible) {
    if (!visible) return;
    followPromptInMix();
    updateMixThumbnails();
  });
}

// Style Mix starts from the image being edited: A is the Prompt panel's
// source, B the same prompt with the next seed; it follows the Prompt panel
// until a mix was made (then it keeps its own sources).
void MainWindow::followPromptInMix() {
  const Source s = prompt_->request().source;
  if (mix_started_ || s.prompt.isEmpty()) return;
  mix_->sourceA()->setSource(s);
  mix_->sourceB()->setSource(Source{s.prompt, s.seed + 1, {}});
  updateMixThumbnails();
}

// Style Mix's thumbnails: A and B alone, rendered on the side (not edits)
// whenever what they show changed, while the tab is shown (a psi drag in the
// Prompt tab renders no thumbnails; showing Style Mix catches up).
void MainWindow::updateMixThumbnails() {
  const QDockWidget* dock = docks_.value("Style Mix");
  if (!model_loaded_ || !dock || !dock->isVisible()) return;
  const Source sources[2] = {mix_->sourceA()->source(), mix_->sourceB()->source()};
  for (int i = 0; i < 2; ++i) {
    RenderRequest r;
    r.kind = RenderRequest::Kind::Generate;
    prompt_->applyRenderSettings(r);
    r.upsample = false;  // a thumbnail: the generator's image is enough
    r.upsample_seed.reset();
    r.source = sources[i];
    if (r.source.psi) r.psi = *r.source.psi;
    const QString key = QStringLiteral("%1|%2|%3|%4|%5|%6")
                            .arg(r.source.prompt)
                            .arg(r.source.seed)
                            .arg(r.source.latent)
                            .arg(r.psi, 0, 'g', 17)
                            .arg(r.noise)
                            .arg(r.mean_w_samples);
    if (key == thumbnail_keys_[i]) continue;
    thumbnail_keys_[i] = key;
    if (r.source.prompt.isEmpty()) {
      mix_->setThumbnail(i, {});
      continue;
    }
    engine_->thumbnail(i == 0 ? QStringLiteral("mix-a") : QStringLiteral("mix-b"), r);
  }
}

// "Edit the result" of Invert: the latent with its own prompt, one image (not
// a grid): the canvas shows the reconstruction. Not generate(): a random seed
// would drop the latent.
void MainWindow::useInvertedLatent(const QString& latent, const QString& prompt) {
  RenderRequest r = prompt_->request();
  r.kind = RenderRequest::Kind::Generate;
  r.source = Source{prompt, r.source.seed, latent};
  r.count = 1;
  r.direction_strength = 0.0;  // the reconstruction itself; a direction can be added afterwards
  applying_ = true;
  prompt_->setRequest(r);
  Source a = mix_->sourceA()->source();
  a.prompt = prompt;
  a.latent = latent;
  mix_->sourceA()->setSource(a);
  applying_ = false;
  showPanel("Prompt");
  submit(r);
  updateMixThumbnails();
  showStatus(tr("Editing the inverted latent %1 (“%2”): Prompt and Style Mix A use it.").arg(latent, prompt));
}

// Drag tool: the canvas places the points while the Drag tab is shown.
void MainWindow::connectDragTool() {
  connect(docks_.value("Drag"), &QDockWidget::visibilityChanged, this, [this] { updateCanvasTool(); });
  connect(drag_, &DragPanel::maskModeChanged, this, [this] { updateCanvasTool(); });
  connect(drag_, &DragPanel::clearPointsRequested, canvas_, &ImageCanvas::clearDragPoints);
  connect(drag_, &DragPanel::clearMaskRequested, canvas_, &ImageCanvas::clearDragMask);
  connect(drag_, &DragPanel::startRequested, this, &MainWindow::startDrag);
  connect(drag_, &DragPanel::stopRequested, this, &MainWindow::stopDrag);
  connect(canvas_, &ImageCanvas::dragPointsChanged, this, [this] {
    drag_->setPointCounts(int(canvas_->dragHandles().size()), int(canvas_->dragTargets().size()));
  });
  connect(canvas_, &ImageCanvas::dragMaskChanged, this,
          [this] { drag_->setMaskPainted(!canvas_->dragMask().isNull()); });
}

void MainWindow::connectTrainPanel() {
  connect(train_, &TrainPanel::statusMessage, this, [this](const QString& m) { showStatus(m, 8000); });
  connect(train_, &TrainPanel::usePackage, this, [this](const QString& dir) { openModel(dir); });
  connect(train_, &TrainPanel::runFinished, this, [this](bool ok, const QString& summary) {
    if (!ok) showError(summary);
  });
}

// Canvas overlay -> panels.
void MainWindow::connectCanvas() {
  connect(canvas_, &ImageCanvas::layerToggled, this, [this](int i) {
    showPanel("Style Mix");
    mix_->toggleLayer(i);
  });
  connect(canvas_, &ImageCanvas::latentPadChanged, this, &MainWindow::latentPadMoved);
  connect(canvas_, &ImageCanvas::zoomChanged, this, [this](double z) {
    showStatus(tr("Zoom %1%").arg(z * 100, 0, 'g', 4), 1500);
  });
}

void MainWindow::buildMenus() {
  QMenu* file = menuBar()->addMenu(tr("&File"));
  QAction* open = file->addAction(QIcon::fromTheme("document-open"), tr("&Open Model…"), this, &MainWindow::openModelDialog);
  open->setShortcut(QKeySequence::Open);
  recent_menu_ = file->addMenu(tr("Recent &Models"));
  file->addAction(tr("Open &Image or Recipe…"), this, &MainWindow::openImageDialog)->setShortcut(QKeySequence("Ctrl+I"));
  file->addSeparator();
  QAction* save = file->addAction(QIcon::fromTheme("document-save"), tr("&Save Image…"), this, &MainWindow::saveImageDialog);
  save->setShortcut(QKeySequence::Save);
  file->addAction(tr("&Export Animation…"), this, &MainWindow::exportAnimationDialog)->setShortcut(QKeySequence("Ctrl+E"));
  file->addSeparator();
  QAction* quit = file->addAction(tr("&Quit"), this, &QWidget::close);
  quit->setShortcut(QKeySequence::Quit);

  QMenu* edit = menuBar()->addMenu(tr("&Edit"));
  QAction* undo = undo_->createUndoAction(this, tr("&Undo"));
  undo->setShortcut(QKeySequence::Undo);
  QAction* redo = undo_->createRedoAction(this, tr("&Redo"));
  redo->setShortcuts({QKeySequence::Redo, QKeySequence("Ctrl+Y")});
  edit->addAction(undo);
  edit->addAction(redo);
  edit->addSeparator();
  QAction* copy = edit->addAction(tr("&Copy Image"), this, &MainWindow::copyImage);
  copy->setShortcut(QKeySequence("Ctrl+Shift+C"));
  QAction* gen = edit->addAction(tr("&Generate"), this, &MainWindow::generate);
  gen->setShortcuts({QKeySequence("Ctrl+Return"), QKeySequence("Ctrl+Enter")});
  gen->setShortcutContext(Qt::ApplicationShortcut);
  addAction(gen);

  view_menu_ = menuBar()->addMenu(tr("&View"));
  view_menu_->addAction(tr("&Fit"), canvas_, &ImageCanvas::fitView)->setShortcut(QKeySequence("Ctrl+0"));
  view_menu_->addAction(tr("&Actual Pixels"), canvas_, &ImageCanvas::zoomActual)->setShortcut(QKeySequence("Ctrl+1"));
  view_menu_->addAction(tr("Zoom &In"), canvas_, &ImageCanvas::zoomIn)->setShortcut(QKeySequence::ZoomIn);
  view_menu_->addAction(tr("Zoom &Out"), canvas_, &ImageCanvas::zoomOut)->setShortcut(QKeySequence::ZoomOut);
  QAction* overlay = view_menu_->addAction(tr("Canvas &Overlay"));
  overlay->setCheckable(true);
  overlay->setChecked(true);
  overlay->setShortcut(QKeySequence("F2"));
  connect(overlay, &QAction::toggled, canvas_, &ImageCanvas::setOverlayVisible);
  view_menu_->addSeparator();
  for (const char* name : {"Prompt", "Style Mix", "Interpolate", "Invert", "Drag", "Train", "History"})
    view_menu_->addAction(docks_.value(QString::fromLatin1(name))->toggleViewAction());

  QMenu* help = menuBar()->addMenu(tr("&Help"));
  help->addAction(tr("&Keys, Mouse and Panels"), this, &MainWindow::showHelp)->setShortcut(QKeySequence::HelpContents);
  help->addAction(tr("&About GigaGAN Studio"), this, [this] {
    QMessageBox::about(this, tr("About GigaGAN Studio"),
                       tr("<b>GigaGAN Studio</b> %1<br>A text-to-image GAN (Kang et al., CVPR 2023) you can "
                          "prompt, mix, interpolate, invert and train.<br><br>Canvas: wheel zooms, drag pans, "
                          "double-click fits; F2 toggles the overlay.")
                           .arg(QCoreApplication::applicationVersion()));
  });
}

void MainWindow::showHelp() {
  if (!help_) {
    help_ = new QMessageBox(QMessageBox::NoIcon, tr("GigaGAN Studio: keys, mouse and panels"), QString(),
                            QMessageBox::Close, this);
    help_->setObjectName("help");
    help_->setTextFormat(Qt::RichText);
    help_->setText(tr(
        "<h3>Keys</h3><table cellspacing='4'>"
        "<tr><td><b>Ctrl+Enter</b></td><td>generate (the panel you are typing in)</td></tr>"
        "<tr><td><b>Ctrl+Z / Ctrl+Shift+Z</b></td><td>undo / redo an edit</td></tr>"
        "<tr><td><b>Ctrl+S</b>, <b>Ctrl+Shift+C</b></td><td>save the image (with its recipe), copy it</td></tr>"
        "<tr><td><b>Ctrl+O</b>, <b>Ctrl+I</b></td><td>open a model, open an image or a recipe</td></tr>"
        "<tr><td><b>Ctrl+E</b></td><td>export the interpolation as frames, GIF or MP4</td></tr>"
        "<tr><td><b>Ctrl+0</b>, <b>Ctrl+1</b>, <b>Ctrl&plusmn;</b></td><td>fit, actual pixels, zoom</td></tr>"
        "<tr><td><b>F2</b></td><td>hide / show the canvas overlay</td></tr></table>"
        "<h3>Mouse on the canvas</h3><p>The wheel zooms around the pointer, dragging pans, a double click fits. "
        "The overlay's latent pad blends four seeds; its layer chips toggle Style Mix layers. "
        "In the Drag tab a click places a handle, the next its target (right click removes, middle button pans). "
        "Drop a PNG saved by the studio to restore how it was made; drop any other image to invert it.</p>"
        "<h3>Panels</h3><p><b>Prompt</b>: text, seed, truncation &psi;, grid, upsampling. "
        "<b>Style Mix</b>: layers from source B. <b>Interpolate</b>: 2-4 prompts on a slider or a pad. "
        "<b>Invert</b>: find the latent of an image, then edit it. <b>Drag</b>: move points of the image "
        "(DragGAN). <b>Train</b>: train or fine-tune a model on a dataset.</p>"));
  }
  help_->open();
}

void MainWindow::showPanel(const QString& name) {
  if (QDockWidget* d = docks_.value(name)) {
    d->show();
    d->raise();
  }
}

void MainWindow::restoreSettings() {
  QSettings s;
  if (!restoreGeometry(s.value("window/geometry").toByteArray())) resize(1360, 860);
  if (!restoreState(s.value("window/state").toByteArray())) {
    // First start: the canvas gets most of the window, the panels a column
    // (once the window has its size).
    QTimer::singleShot(0, this, [this] {
      resizeDocks({docks_.value("Prompt")}, {460}, Qt::Horizontal);
      resizeDocks({docks_.value("History")}, {110}, Qt::Vertical);
    });
  }
  prompt_->setPromptHistory(s.value("prompt/history").toStringList());
  train_->setSettings([&] {
    TrainSettings t = train_->settings();
    t.data = s.value("train/data", t.data).toString();
    t.config = s.value("train/config", t.config).toString();
    t.batch = s.value("train/batch", t.batch).toInt();
    t.images = s.value("train/images", t.images).toLongLong();
    // The frozen CLIP: the user's last choice, else the shipped model's.
    t.clip = s.value("train/clip", defaultModelPath()).toString();
    return t;
  }());
  rebuildRecentMenu();
}

void MainWindow::saveSettings() {
  QSettings s;
  s.setValue("window/geometry", saveGeometry());
  s.setValue("window/state", saveState());
  s.setValue("prompt/history", prompt_->promptHistory());
  const TrainSettings t = train_->settings();
  s.setValue("train/data", t.data);
  s.setValue("train/config", t.config);
  s.setValue("train/batch", t.batch);
  s.setValue("train/images", t.images);
  s.setValue("train/clip", t.clip);
  if (model_loaded_) s.setValue("model/last", model_.folder);
}

void MainWindow::addRecentModel(const QString& dir) {
  QSettings s;
  QStringList recent = s.value("model/recent").toStringList();
  recent.removeAll(dir);
  recent.prepend(dir);
  while (recent.size() > kMaxRecent) recent.removeLast();
  s.setValue("model/recent", recent);
  rebuildRecentMenu();
}

void MainWindow::rebuildRecentMenu() {
  recent_menu_->clear();
  const QStringList recent = QSettings().value("model/recent").toStringList();
  for (const QString& dir : recent) {
    QAction* a = recent_menu_->addAction(QFileInfo(dir).fileName() + "  —  " + dir);
    connect(a, &QAction::triggered, this, [this, dir] { openModel(dir); });
  }
  recent_menu_->setEnabled(!recent.isEmpty());
}

void MainWindow::updateTitle() {
  setWindowTitle(model_loaded_ ? tr("%1 — GigaGAN Studio").arg(model_.name) : tr("GigaGAN Studio"));
}

void MainWindow::showStatus(const QString& text, int timeout_ms) {
  last_status_ = text;
  statusBar()->setStyleSheet(QString());
  statusBar()->showMessage(text, timeout_ms);
}

void MainWindow::showError(const QString& text) {
  last_status_ = text;
  statusBar()->setStyleSheet("QStatusBar { color: #ff8a80; }");
  statusBar()->showMessage(text, 15000);
}

void MainWindow::openModel(const QString& package_dir) {
  if (!QFileInfo(package_dir + "/package.json").exists()) {
    showError(tr("'%1' is not a model package (no package.json). Choose the folder that holds package.json.")
                  .arg(package_dir));
    return;
  }
  loading_ = package_dir;
  showStatus(tr("Loading %1…").arg(package_dir), 0);
  engine_->loadModel(package_dir, QSettings().value("engine/device", "cpu").toString());
}

void MainWindow::openModelDialog() {
  const QString start = model_loaded_ ? QFileInfo(model_.folder).absolutePath() : dataDir() + "/models";
  const QString dir = QFileDialog::getExistingDirectory(this, tr("Open model package (a folder with package.json)"), start);
  if (!dir.isEmpty()) openModel(dir);
}

void MainWindow::onModelLoaded(const ModelInfo& info) {
  model_ = info;
  model_loaded_ = true;
  loading_.clear();
  addRecentModel(info.folder);
  prompt_->setModel(info);
  mix_->setModel(info);
  interp_->setModel(info);
  invert_->setModelLoaded(true);
  drag_->setModelLoaded(true);
  canvas_->setMaskResolution(info.resolution);
  canvas_->clearDragPoints();
  canvas_->setLayers(mix_->layerNames(), mix_->layerSources());
  thumbnail_keys_[0].clear();
  thumbnail_keys_[1].clear();
  model_label_->setText(tr("%1 · %2 px · %3").arg(info.name).arg(info.resolution).arg(info.device));
  model_label_->setToolTip(tr("%1\n%2\nhash %3").arg(info.folder, info.description, info.hash));
  canvas_->setPlaceholder(tr("Type a prompt and press Ctrl+Enter."));
  updateTitle();
  const QString layers = info.layers.size() == 1 ? tr("1 layer") : tr("%1 layers").arg(info.layers.size());
  showStatus(tr("Loaded %1 (%2 px, %3) on %4.").arg(info.name).arg(info.resolution).arg(layers, info.device));
  if (!prompt_->request().source.prompt.isEmpty()) prompt_->generate();
  updateMixThumbnails();
}

void MainWindow::submit(RenderRequest r) {
  if (applying_) return;
  if (!model_loaded_) {
    showError(tr("No model loaded: open a model package first (File ▸ Open Model…)."));
    return;
  }
  // Style Mix and Interpolate render with the Prompt panel's settings (psi,
  // upsampler, noise).
  if (r.kind != RenderRequest::Kind::Generate) prompt_->applyRenderSettings(r);
  engine_->request(r);
}

void MainWindow::generate() {
  QWidget* f = QApplication::focusWidget();
  const auto inside = [f](QWidget* panel) { return f && panel->isAncestorOf(f); };
  if (inside(mix_))
    submit(mix_->request());
  else if (inside(interp_))
    submit(interp_->request());
  else {
    showPanel("Prompt");
    prompt_->generate();
  }
}

void MainWindow::updateCanvasTool() {
  QDockWidget* d = docks_.value("Drag");
  const bool shown = d && d->isVisible() && !d->visibleRegion().isEmpty();
  canvas_->setTool(!shown ? ImageCanvas::Tool::View
                          : drag_->maskMode() ? ImageCanvas::Tool::DragMask : ImageCanvas::Tool::DragPoints);
}

void MainWindow::startDrag() {
  if (!model_loaded_) {
    showError(tr("No model loaded: open a model package first (File ▸ Open Model…)."));
    return;
  }
  if (!current_.valid()) {
    showError(tr("Generate an image first, then drag its points."));
    return;
  }
  if (drag_->running()) return;
  const QVector<QPointF> handles = canvas_->dragHandles(), targets = canvas_->dragTargets();
  if (handles.isEmpty() || handles.size() != targets.size()) {
    showError(tr("Drag: click a handle point on the image, then its target."));
    return;
  }
  const int res = model_.resolution;
  DragRequest d;
  d.start = current_.request;
  for (int i = 0; i < handles.size(); ++i) {
    d.handles.append(toGeneratorPixels(handles[i], res));
    d.targets.append(toGeneratorPixels(targets[i], res));
  }
  d.mask = canvas_->dragMask();
  d.steps = drag_->steps();
  drag_->setRunning(true);
  drag_->setResultText(QString());
  engine_->drag(d);
  showStatus(handles.size() == 1 ? tr("Dragging 1 point…") : tr("Dragging %1 points…").arg(handles.size()));
}

void MainWindow::stopDrag() {
  if (drag_->running()) engine_->cancel();
}

void MainWindow::onDragged(const DragOutcome& o) {
  drag_->setRunning(false);
  if (!o.stopped) drag_->setProgress(1, 1);  // finished, early when every handle arrived
  const int res = model_.resolution;
  QVector<QPointF> handles;
  for (const QPointF& h : o.handles) handles.append(toFraction(h, res));
  canvas_->setImage(o.result.image);
  canvas_->setDragPoints(handles, canvas_->dragTargets());
  // The result is an edit (Undo returns to the image before the drag) and the
  // Prompt and Style Mix panels' source from now on.
  commit(EditState{o.result.request, o.result.image, o.result.recipe});
  applying_ = true;
  prompt_->setRequest(o.result.request);
  mix_->sourceA()->setSource(o.result.request.source);
  applying_ = false;
  updateMixThumbnails();
  double worst = 0;
  for (int i = 0; i < o.handles.size() && i < canvas_->dragTargets().size(); ++i) {
    const QPointF d = o.handles[i] - toGeneratorPixels(canvas_->dragTargets()[i], res);
    worst = std::max(worst, std::hypot(d.x(), d.y()));
  }
  const QString how = o.stopped ? tr("Stopped") : o.reached ? tr("Every handle reached its target") : tr("Done");
  drag_->setResultText(tr("%1 after %2 (%3 s); the farthest handle is %4 px from its target.")
                           .arg(how, o.steps == 1 ? tr("1 step") : tr("%1 steps").arg(o.steps))
                           .arg(o.seconds, 0, 'f', 1)
                           .arg(worst, 0, 'f', 1));
  showStatus(tr("Drag: %1. Prompt and Style Mix A now use the dragged latent.").arg(how));
}

void MainWindow::onRendered(const RenderResult& r) {
  canvas_->setImage(r.image);
  canvas_->setPerf(r.ms, model_.device);
  perf_label_->setText(tr("%1 ms").arg(r.ms, 0, 'f', 1));
  EditState s{r.request, r.image, r.recipe};
  if (r.id == engine_->latestId()) commit(s);  // the edit came to rest
  else current_ = s;
}

void MainWindow::commit(const EditState& state) {
  const EditState before = current_;
  current_ = state;
  canvas_->setLayerMixShown(state.request.kind == RenderRequest::Kind::Mix);
  if (state.request.kind == RenderRequest::Kind::Mix) mix_started_ = true;
  if (state.request.kind == RenderRequest::Kind::Generate) followPromptInMix();
  // A click (a preset, a toggle) is an edit of its own; quick live edits of
  // one kind (a slider drag) merge into one.
  const bool mergeable = state.request.kind != RenderRequest::Kind::Generate && !state.request.discrete &&
                         last_commit_.isValid() && last_commit_.elapsed() < kMergeMs &&
                         state.request.kind == last_commit_kind_;
  last_commit_.start();
  last_commit_kind_ = state.request.kind;
  undo_->push(new EditCommand(this, before, state, mergeable));
  addHistory(state, mergeable);
  showStatus(state.request.describe(), 4000);
  Q_EMIT stateCommitted(state);
}

void MainWindow::addHistory(const EditState& state, bool merge) {
  // A live slider drag commits many states; the strip keeps one entry for it,
  // as the undo stack keeps one step (commit decides: same kind, < kMergeMs apart).
  if (merge && !history_states_.isEmpty() && history_states_.last().request.kind == state.request.kind &&
      history_->count() > 0 && history_->item(history_->count() - 1)->data(Qt::UserRole + 1).toBool()) {
    history_states_.last() = state;
    QListWidgetItem* item = history_->item(history_->count() - 1);
    item->setIcon(QIcon(crispPixmap(state.image, QSize(64, 64))));
    item->setToolTip(state.request.describe());
    return;
  }
  if (history_states_.size() >= kMaxHistory) {
    history_states_.removeFirst();
    delete history_->takeItem(0);
    for (int i = 0; i < history_->count(); ++i) history_->item(i)->setData(Qt::UserRole, i);
  }
  history_states_.append(state);
  auto* item = new QListWidgetItem(QIcon(crispPixmap(state.image, QSize(64, 64))), QString());
  item->setData(Qt::UserRole, int(history_states_.size() - 1));
  item->setData(Qt::UserRole + 1, state.request.kind != RenderRequest::Kind::Generate && !state.request.discrete);
  item->setToolTip(state.request.describe());
  history_->addItem(item);
  history_->scrollToItem(item);
}

void MainWindow::applyState(const EditState& state) {
  applying_ = true;
  prompt_->setRenderSettings(state.request);
  switch (state.request.kind) {
    case RenderRequest::Kind::Generate: prompt_->setRequest(state.request); break;
    case RenderRequest::Kind::Mix: mix_->setRequest(state.request); break;
    case RenderRequest::Kind::Interpolate: interp_->setRequest(state.request); break;
  }
  applying_ = false;
  canvas_->setImage(state.image);
  canvas_->setLayerMixShown(state.request.kind == RenderRequest::Kind::Mix);
  current_ = state;
  updateMixThumbnails();
}

void MainWindow::onFailed(const QString& op, const QString& message, quint64) {
  if (op == "load") {
    const QString what = loading_;
    loading_.clear();
    showError(tr("Could not open the model: %1").arg(message));
    // Window-modal but not blocking (open(), not exec()): the studio goes on.
    auto* box = new QMessageBox(QMessageBox::Warning, tr("Could not open the model"),
                                tr("<b>%1</b><p>%2</p><p>%3</p>")
                                    .arg(what.toHtmlEscaped(), message.toHtmlEscaped(),
                                         model_loaded_ ? tr("The studio keeps using %1.").arg(model_.name.toHtmlEscaped())
                                                       : tr("Choose a folder with a package.json (File ▸ Open Model…).")),
                                QMessageBox::Ok, this);
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open();
    return;
  }
  if (op == "invert") invert_->setRunning(false);
  if (op == "drag") drag_->setRunning(false);
  if (op == "export" || op == "invert") {
    job_progress_->hide();
    job_cancel_->hide();
  }
  showError(tr("%1 failed: %2").arg(op == "render" ? tr("Rendering") : op == "invert" ? tr("Inversion")
                                    : op == "export" ? tr("Export") : op == "drag" ? tr("Drag") : tr("Recipe"),
                                    message));
}

void MainWindow::onProgress(const QString& op, int step, int total, double value) {
  if (op == "invert") invert_->setProgress(step, total, value);
  job_progress_->setRange(0, std::max(1, total));
  job_progress_->setValue(step);
  job_progress_->setFormat(tr("%1 %2/%3").arg(op).arg(step).arg(total));
  job_progress_->show();
  job_cancel_->show();
}

void MainWindow::latentPadMoved(quint64 seed, QPointF pos) {
  RenderRequest r;
  r.kind = RenderRequest::Kind::Interpolate;
  const QString prompt = prompt_->request().source.prompt;
  for (int c = 0; c < 4; ++c) r.sources.append(Source{prompt, seed + quint64(c), {}});
  r.weights = ImageCanvas::latentWeights(pos);
  r.space = RenderRequest::Space::W;
  r.slerp = false;
  submit(r);
}

bool MainWindow::saveImage(const QString& path, QString* error) {
  if (!current_.valid()) {
    if (error) *error = tr("There is no image to save yet: generate one first.");
    return false;
  }
  // The engine's PNG writer (atomic; the recipe in an iTXt chunk), so that
  // `gigagan render` and the studio read each other's images.
  const QImage rgb = current_.image.convertToFormat(QImage::Format_RGB888);
  cv::Mat bgr(rgb.height(), rgb.width(), CV_8UC3);
  for (int y = 0; y < rgb.height(); ++y) {
    const uchar* src = rgb.constScanLine(y);
    uchar* dst = bgr.ptr<uchar>(y);
    for (int x = 0; x < rgb.width(); ++x) {
      dst[3 * x] = src[3 * x + 2];
      dst[3 * x + 1] = src[3 * x + 1];
      dst[3 * x + 2] = src[3 * x];
    }
  }
  try {
    std::map<std::string, std::string> text{
        {recipeKey(), QJsonDocument(current_.recipe).toJson(QJsonDocument::Compact).toStdString()},
        {"Software", "GigaGAN Studio"}};
    gg::write_png(path.toStdString(), bgr, text);
  } catch (const std::exception& e) {
    if (error) *error = QString::fromUtf8(e.what());
    return false;
  }
  return true;
}

QJsonObject MainWindow::readRecipe(const QString& png_path) {
  try {
    const auto text = gg::read_png_text(png_path.toStdString());
    const auto it = text.find(recipeKey());
    if (it == text.end()) return {};
    return QJsonDocument::fromJson(QByteArray::fromStdString(it->second)).object();
  } catch (const std::exception&) {
    return {};  // not a PNG: no recipe
  }
}

void MainWindow::saveImageDialog() {
  if (!current_.valid()) {
    showError(tr("There is no image to save yet: generate one first."));
    return;
  }
  QSettings s;
  const QString dir = s.value("paths/images", QStandardPaths::writableLocation(QStandardPaths::PicturesLocation)).toString();
  QString name = current_.request.kind == RenderRequest::Kind::Generate ? current_.request.source.prompt : QString("gigagan");
  name = name.left(40).replace(QRegularExpression("[^A-Za-z0-9_-]+"), "_");
  const QString path = QFileDialog::getSaveFileName(this, tr("Save image (PNG with its recipe)"),
                                                    dir + "/" + name + ".png", tr("PNG images (*.png)"));
  if (path.isEmpty()) return;
  s.setValue("paths/images", QFileInfo(path).absolutePath());
  QString error;
  if (saveImage(path, &error))
    showStatus(tr("Saved %1 (with its recipe: drop it back to restore).").arg(path));
  else
    showError(error);
}

void MainWindow::copyImage() {
  if (!current_.valid()) {
    showError(tr("There is no image to copy yet."));
    return;
  }
  QApplication::clipboard()->setImage(current_.image);
  showStatus(tr("Image copied."));
}

void MainWindow::exportAnimationDialog() {
  if (!model_loaded_) {
    showError(tr("Open a model package before exporting an animation."));
    return;
  }
  RenderRequest r = interp_->request();
  prompt_->applyRenderSettings(r);  // as the panel's live images
  QSettings s;
  const QString dir = s.value("paths/export", QStandardPaths::writableLocation(QStandardPaths::MoviesLocation)).toString();
  QString filter;
  QString path = QFileDialog::getSaveFileName(this, tr("Export the interpolation path"), dir + "/interpolation.gif",
                                              tr("GIF animation (*.gif);;MP4 video (*.mp4);;PNG frames (folder)"), &filter);
  if (path.isEmpty()) return;
  if (filter.startsWith("PNG")) path = QFileInfo(path).absolutePath() + "/" + QFileInfo(path).completeBaseName();
  s.setValue("paths/export", QFileInfo(path).absolutePath());
  showPanel("Interpolate");
  engine_->exportPath(r, interp_->frames(), path);
  showStatus(tr("Exporting %1 frames to %2…").arg(interp_->frames()).arg(path), 0);
}

void MainWindow::openImageDialog() {
  const QString path = QFileDialog::getOpenFileName(this, tr("Open an image (a studio PNG restores its recipe)"),
                                                    QSettings().value("paths/images").toString(),
                                                    tr("Images (*.png *.jpg *.jpeg *.bmp *.webp)"));
  if (!path.isEmpty()) openDroppedFile(path);
}

void MainWindow::openDroppedFile(const QString& path) {
  if (QFileInfo(path).isDir()) {
    openModel(path);
    return;
  }
  const QJsonObject recipe = readRecipe(path);
  if (!recipe.isEmpty()) {
    if (!model_loaded_) {
      showError(tr("Open a model package first; then drop the image again to restore its recipe."));
      return;
    }
    engine_->restoreRecipe(recipe);
    return;
  }
  // Any other image: invert it.
  showPanel("Invert");
  if (invert_->prompt().isEmpty()) invert_->setPrompt(prompt_->request().source.prompt);
  invert_->setImagePath(path);
}

void MainWindow::dragEnterEvent(QDragEnterEvent* e) {
  if (e->mimeData()->hasUrls()) e->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* e) {
  const QList<QUrl> urls = e->mimeData()->urls();
  if (!urls.isEmpty() && urls.first().isLocalFile()) openDroppedFile(urls.first().toLocalFile());
}

void MainWindow::closeEvent(QCloseEvent* e) {
  if (train_->running()) {
    QMessageBox box(QMessageBox::Question, tr("Training is running"),
                    tr("A training run is going on. Stop it (saving a checkpoint first), or keep it running in "
                       "the background?"),
                    QMessageBox::NoButton, this);
    QPushButton* stop = box.addButton(tr("Stop and save a checkpoint"), QMessageBox::AcceptRole);
    QPushButton* keep = box.addButton(tr("Keep running in the background"), QMessageBox::ActionRole);
    box.addButton(QMessageBox::Cancel);
    box.setDefaultButton(stop);
    box.exec();
    if (box.clickedButton() == stop) {
      showStatus(tr("Waiting for the trainer to save a checkpoint…"), 0);
      QEventLoop loop;
      connect(train_->process(), &TrainProcess::finished, &loop, &QEventLoop::quit);
      QTimer::singleShot(120000, &loop, &QEventLoop::quit);
      train_->stopRun();
      if (train_->running()) loop.exec();
    } else if (box.clickedButton() == keep) {
      train_->process()->detach();
      QSettings().setValue("train/background_log", train_->process()->logPath());
    } else {
      e->ignore();
      return;
    }
  }
  saveSettings();
  e->accept();
}

}  // namespace gg::ui

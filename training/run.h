// What every trainer (GAN, CLIP, upsampler) shares: the run folder with its
// checkpoints (atomic, keep the last K), stats.jsonl and sample grids; the
// pause/resume/stop flag the loop checks each step; the JSON progress events
// of `--progress json`; RNG state capture for exact resume; a generic loop
// that drives a mode-specific step. No Qt.
#pragma once
#include <torch/torch.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "checkpoint.h"
#include "dataset.h"
#include "json_config.h"

namespace gg {

// Pause, resume and stop through atomics (set from any thread, a signal
// handler included: only lock-free stores).
class RunControl {
 public:
  void pause() { paused_.store(true); }
  void resume() { paused_.store(false); }
  void stop() { stop_.store(true); }
  bool paused() const { return paused_.load(); }
  bool stop_requested() const { return stop_.load(); }

 private:
  std::atomic<bool> paused_{false};
  std::atomic<bool> stop_{false};
};

// One progress event (README "Training"): {"event": ..., ...}.
using ProgressCallback = std::function<void(const json& event)>;

// <run>/checkpoints/ckpt-<images, 12 digits>.safetensors, stats.jsonl, samples/.
class RunFolder {
 public:
  // Creates the folders; throws CheckpointError when they cannot be created or
  // written (before any training); removes temporaries (*.tmp.PID) of
  // processes that no longer exist.
  explicit RunFolder(std::filesystem::path root);
  const std::filesystem::path& root() const { return root_; }
  std::filesystem::path checkpoints_dir() const { return root_ / "checkpoints"; }
  std::filesystem::path samples_dir() const { return root_ / "samples"; }
  std::filesystem::path package_dir() const { return root_ / "package"; }
  std::filesystem::path checkpoint_path(int64_t images) const;
  std::filesystem::path sample_path(int64_t images) const;
  // Checkpoints, oldest first (only complete files: temporaries are ignored).
  std::vector<std::filesystem::path> checkpoints() const;
  std::optional<std::filesystem::path> latest_checkpoint() const;
  // Writes atomically, then deletes all but the newest `keep` (keep <= 0: keep all).
  std::filesystem::path save(int64_t images, const Checkpoint& ck, int keep) const;
  // Appends one line to stats.jsonl; throws CheckpointError when the write
  // fails (a full disk), leaving no half line behind.
  void append_stats(const json& line) const;
  // Drops the lines of stats.jsonl written after `images` (a run killed after
  // its last checkpoint writes them again on resume) and any cut line.
  void truncate_stats_after(int64_t images) const;

 private:
  std::filesystem::path root_;
};

// Replaces `loader` (stopping the old one first) with a shuffled loader of
// `batch` images from sampler position `position`: how trainers start and resume.
// style_negatives, short_captions: LoaderOptions' (the GAN's matching-aware
// c_hat, and its shortened captions).
void restart_loader(std::unique_ptr<BatchLoader>& loader, std::shared_ptr<const Dataset> data, int batch, uint64_t seed,
                    int64_t position, double style_negatives = 0, double short_captions = 0);

// The global CPU generator's state (and CUDA's, when present) as tensors.
TensorMap rng_state(const std::string& prefix = "rng.");
void set_rng_state(const TensorMap& tensors, const std::string& prefix = "rng.");

// images: [N, 3, H, W] in [-1, 1] -> a PNG grid, `columns` wide, written atomically.
void save_image_grid(const torch::Tensor& images, int columns, const std::filesystem::path& path);

// Options of the generic loop (every mode).
struct LoopOptions {
  int64_t images = 10000;           // stop when this many images have been seen (in total)
  int64_t tick_images = 0;          // a "step" event + stats line every this many images; 0: every step
  int64_t checkpoint_images = 0;    // checkpoint every this many images; 0: only at the end
  int64_t sample_images = 0;        // sample grid every this many images; 0: at checkpoints
  int keep_checkpoints = 3;
  // Data-parallel runs: only the writer (rank 0) writes checkpoints, samples,
  // stats and events; `agree` makes every rank take the same control decision
  // each step (bit 0 stop, bit 1 pause: OR over ranks), so collectives stay matched.
  bool writer = true;
  std::function<int(int)> agree;
};

// What one optimisation step reports.
struct StepResult {
  std::map<std::string, double> losses;  // term -> value (for logs)
  std::string non_finite;                // name of the first non-finite term; "" when fine
};

// A trainer plugs its step, state and samples into the loop.
class TrainerBase {
 public:
  virtual ~TrainerBase() = default;
  virtual std::string mode() const = 0;  // "gan", "clip", "upsampler"
  virtual int64_t batch_size() const = 0;  // images per step (over all ranks)
  // One step on the next batch. Must not change any weight when the result is non-finite.
  virtual StepResult step() = 0;
  // Everything needed to resume exactly (weights, optimisers, data position).
  virtual Checkpoint state() const = 0;
  virtual void load_state(const Checkpoint& ck, const std::string& source) = 0;
  // Writes a sample grid PNG at `path`; false when this mode has none.
  virtual bool write_samples(const std::filesystem::path& path) = 0;
  // Metrics on held-out data, reported with the samples ({} when none).
  virtual json evaluate() { return json::object(); }
  // A usable artefact of the current weights next to the checkpoint ("" when none).
  virtual std::string export_package(const RunFolder& run) { return ""; }
  // Data-parallel runs: make every rank equal to rank 0 (weights, optimiser
  // state, RNG, images seen, data position). No-op when alone.
  virtual void synchronize() {}
  virtual double learning_rate() const = 0;
  virtual void scale_learning_rate(double factor) = 0;
  // The training split the loader reads (its report counts the files found
  // bad during the run); null when the trainer has none.
  virtual const Dataset* training_data() const { return nullptr; }
  // Images seen so far (restored by load_state).
  int64_t images = 0;
  int64_t steps = 0;

 protected:
  // What every trainer's checkpoint carries besides its networks: images,
  // steps, the data position and the learning-rate scale (metadata
  // "gigagan_train_state") and the RNG state (tensors "rng.*").
  struct Progress {
    int64_t position = 0;
    double lr_scale = 1.0;
  };
  void save_progress(Checkpoint& ck, const Progress& p) const;
  // Restores images, steps and the RNG; returns the position and lr scale.
  // Throws CheckpointError naming `source` when the state is missing.
  Progress load_progress(const Checkpoint& ck, const std::string& source);
};

struct LoopResult {
  int64_t images = 0;
  std::string reason;  // "finished", "stopped", "non-finite"
  std::string checkpoint;
};

// Runs `trainer` until loop.images, a stop request or a non-finite loss.
// nan_rollbacks > 0: on a non-finite loss, reload the last checkpoint, halve the
// learning rate and go on, at most that many times; 0: stop at once (the last
// good checkpoint stays as it is; nothing is written).
LoopResult run_training(TrainerBase& trainer, const RunFolder& run, const LoopOptions& loop,
                        RunControl& control, const ProgressCallback& progress,
                        int nan_rollbacks = 0);

// Loads the newest checkpoint of the run that loads into `trainer` (returns its
// path) or returns "" when the run has none. A corrupt newer checkpoint is
// passed over (its error appended to `skipped`); CheckpointError when none
// loads. Lines of stats.jsonl after the checkpoint are dropped.
std::string resume_latest(TrainerBase& trainer, const RunFolder& run, std::vector<std::string>* skipped = nullptr);

}  // namespace gg

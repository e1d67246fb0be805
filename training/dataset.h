// The trainer's dataset layer: captioned images from a folder, a
// deterministic resumable sampler, mismatched captions for the matching-aware
// loss and a prefetching batch loader. No Qt: LibTorch, OpenCV, nlohmann-json.
// Ref: Kang et al. 2023 (GigaGAN): matching-aware loss (c_hat is an
// independently sampled caption), GAN-based upsampler (real (low, high) pairs).
//
// A dataset is one of (detected in this order):
//   <dir>/manifest.jsonl  one JSON object per line: "image" (path relative to
//                         the manifest), "caption", optional "split"
//                         ("train"/"val", default "train"), optional "weight"
//                         (sampling weight >= 0, default 1), optional high-res
//                         pair under DatasetOptions::hr_key ("image_256", as
//                         `gigagan data emoji` writes) or "image_hr".
//   <dir>/manifest.tsv    image<TAB>caption[<TAB>split], optional header line
//                         (first field "image", "path" or "file").
//   kohya convention      every image under <dir> (recursive; .png .jpg .jpeg
//                         .webp .bmp) with a sidecar caption <stem>.txt.
// A path to a manifest file (.jsonl or .tsv) works too.
//
// Images (OpenCV, IMREAD_UNCHANGED): 8/16-bit or float, grey, grey+alpha, BGR,
// BGRA; alpha is composited on white, the result rounded to 8-bit RGB. The
// central square is cropped, then resized to the resolution: an exact box
// average when the side is an integer multiple of it (as the emoji builder's
// downsample_box), area interpolation otherwise when shrinking, bicubic when
// enlarging. Upsampler pairs: the high image (hr_key, else "image") is made at
// hr_resolution and the low one is its exact box average when the ratio is an
// integer (cv::INTER_AREA otherwise), so for the emoji data the low image is
// bit-identical to the 64 px file. Tensors: float32 [3, H, W], RGB, in [-1, 1]
// (value / 127.5 - 1).
#pragma once
#include <torch/torch.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "prompt_style.h"

namespace gg {

struct DatasetOptions {
  int resolution = 64;             // side of `images`
  int hr_resolution = 0;           // > 0: also make the high-res pair [3, hr, hr] (upsampler)
  std::string hr_key = "image_256";  // JSONL key of the high-res image; "image_hr" is also read
  std::string split = "train";     // the split to use; "" or "all": every entry
  bool verify = false;             // decode every image of the split at open (`gigagan train`)
  int verify_threads = 0;          // threads for verify; 0: hardware concurrency
  int max_listed = 20;             // how many offending paths the report keeps
};

// Skip reasons, as written in reports.
namespace skip_reason {
inline constexpr const char* kBadLine = "bad manifest line";
inline constexpr const char* kMissing = "missing file";
inline constexpr const char* kUnreadable = "unreadable";
inline constexpr const char* kNoCaption = "without caption";
inline constexpr const char* kBadCaption = "caption not UTF-8";
}  // namespace skip_reason

// What was skipped and why. Counts are per reason; `listed` keeps the first
// `max_listed` offenders (path or "manifest.jsonl:LINE", reason, detail).
struct DatasetReport {
  std::string format;              // "jsonl", "tsv" or "sidecar"
  std::filesystem::path root;      // the dataset folder
  int64_t entries = 0;             // manifest lines / image files seen
  int64_t usable = 0;              // entries of the split not (yet) found bad
  int64_t other_split = 0;         // valid entries of other splits (not skipped)
  std::map<std::string, int64_t> skipped;  // reason -> count
  struct Problem {
    std::string path, reason, detail;
  };
  std::vector<Problem> listed;
  int64_t total_skipped() const;
  // "3 unreadable, 2 without caption" (reasons in alphabetical order); "" when none.
  std::string skipped_summary() const;
  std::string to_json() const;  // one JSON object (for report files and --progress json)
};

struct DatasetEntry {
  std::filesystem::path image;     // absolute or relative to the working directory
  std::filesystem::path image_hr;  // empty: none
  std::string caption;
  std::string split = "train";
  double weight = 1.0;
};

struct Sample {
  torch::Tensor image;     // [3, R, R] float32 in [-1, 1]
  torch::Tensor image_hr;  // [3, HR, HR] or undefined
  std::string caption;
  int64_t index = -1;
};

// Decodes one file into 8-bit RGB (alpha on white). Throws DatasetError with
// the reason when OpenCV cannot decode it.
std::vector<uint8_t> load_rgb8(const std::filesystem::path& path, int& width, int& height);
// Central square crop then resize to `size` (rules above); `rgb` is HxWx3 8-bit.
std::vector<uint8_t> crop_resize_rgb8(const std::vector<uint8_t>& rgb, int width, int height, int size);
// 8-bit HxWx3 RGB -> float32 [3, H, W] in [-1, 1].
torch::Tensor rgb8_to_tensor(const uint8_t* rgb, int width, int height);

class Dataset {
 public:
  // Reads the manifest or scans for sidecars, checks that files exist and, with
  // `verify`, decodes every image of the split. Throws DatasetError when the
  // path does not exist or no usable image is left, saying why, e.g.
  // "no usable image in 'DIR' (split 'train'): 3 unreadable, 2 without caption".
  Dataset(const std::filesystem::path& path, const DatasetOptions& options = {});
  Dataset(const Dataset&) = delete;
  Dataset& operator=(const Dataset&) = delete;

  const DatasetOptions& options() const { return options_; }
  // The usable entries of the split, in manifest (or sorted path) order.
  int64_t size() const { return static_cast<int64_t>(entries_.size()); }
  const DatasetEntry& entry(int64_t i) const { return entries_.at(static_cast<size_t>(i)); }
  std::vector<double> weights() const;

  // Decodes entry i. A file that fails is marked bad, counted in the report
  // (once) and std::nullopt returned; never throws for a bad image. Thread-safe.
  std::optional<Sample> load(int64_t i) const;
  // As load(), into caller memory: `rgb` R*R*3 and `rgb_hr` HR*HR*3 (or null).
  bool load_into(int64_t i, uint8_t* rgb, uint8_t* rgb_hr) const;
  bool is_bad(int64_t i) const { return bad_[static_cast<size_t>(i)].load(); }
  int64_t bad_count() const { return bad_total_.load(); }

  DatasetReport report() const;  // a copy, thread-safe

 private:
  void skip(const std::string& path, const std::string& reason, const std::string& detail) const;
  bool decode(int64_t i, uint8_t* rgb, uint8_t* rgb_hr, std::string& error) const;

  DatasetOptions options_;
  std::vector<DatasetEntry> entries_;
  std::unique_ptr<std::atomic<bool>[]> bad_;
  mutable std::atomic<int64_t> bad_total_{0};
  mutable std::mutex report_mutex_;
  mutable DatasetReport report_;
};

// SplitMix64 (Steele et al. 2014): the counter-based mixing used by the sampler.
uint64_t splitmix64(uint64_t x);

// Deterministic, resumable sampler over [0, n): index_at(p) depends only on
// (weights, seed, p), never on a global RNG or on what was drawn before, so a
// trainer checkpoints the position (images seen) and resumes exactly.
// Epochs of n draws: each entry appears floor or ceil of n * w_i / sum(w) times
// (systematic resampling with a per-epoch random offset), shuffled per epoch
// (Fisher-Yates on a SplitMix64 stream keyed by (seed, epoch)). Equal weights
// give a permutation per epoch; weight 0 is never drawn. With shuffle false:
// 0, 1, ..., n-1, 0, ... (evaluation).
class Sampler {
 public:
  Sampler(std::vector<double> weights, uint64_t seed, bool shuffle = true);
  int64_t index_at(int64_t position) const;  // thread-safe
  int64_t epoch_size() const { return n_; }
  uint64_t seed() const { return seed_; }

 private:
  std::vector<int64_t> make_epoch(int64_t epoch) const;
  std::vector<double> cumulative_;  // normalised prefix sums, last == 1
  int64_t n_ = 0;
  uint64_t seed_;
  bool shuffle_;
  mutable std::mutex mutex_;
  mutable int64_t cached_epoch_ = -1;
  mutable std::vector<int64_t> cached_;
};

// caption_style and with_style (prompt_style.h) read and replace a caption's
// style word.
// The style words of a data set's captions, most images first (ties in
// alphabetical order), valid style words only, at most kMaxPackageStyles: what
// a package made from it lists (ModelPackage::styles).
std::vector<std::string> dataset_styles(const Dataset& dataset);

// A short form of an emoji caption, as users type prompts: the label (the
// text before the first ", "), followed by its style clause ("<style> style")
// when `keep_style` and the caption has one. "pizza, cheese, food, noto style"
// -> "pizza" or "pizza, noto style".
std::string short_caption(const std::string& caption, bool keep_style);

// Captions for the matching-aware loss: c_hat for each image, drawn from the
// data distribution (the dataset's weights), independently of the image and
// a different entry (and, where possible, a different caption text) than its
// own. Deterministic in (seed, position, slot): resumable like the sampler.
class CaptionSampler {
 public:
  // style_negatives: the share of c_hat that is the image's own caption in
  // another style of the set (a hard negative for the matching-aware loss:
  // only the style word is wrong); 0 draws the paper's random captions.
  CaptionSampler(const Dataset& dataset, uint64_t seed, double style_negatives = 0);
  // own[b]: dataset index of image b; position: the batch's first sampler position.
  std::vector<std::string> sample(const std::vector<int64_t>& own, int64_t position) const;

 private:
  const Dataset& dataset_;
  std::vector<double> cumulative_;
  uint64_t seed_;
  double style_negatives_;
  std::vector<std::string> styles_;  // the style words of the set's captions, sorted
};

struct Batch {
  torch::Tensor images;     // [B, 3, R, R] float32 in [-1, 1]
  torch::Tensor images_hr;  // [B, 3, HR, HR] or undefined
  std::vector<std::string> captions;
  std::vector<std::string> captions_hat;  // c_hat for the matching-aware loss
  std::vector<int64_t> indices;           // dataset indices
  int64_t position_begin = 0, position_end = 0;  // sampler positions consumed
};

struct LoaderOptions {
  int batch_size = 32;
  uint64_t seed = 0;
  int64_t position = 0;  // resume: the sampler position to start at
  bool shuffle = true;
  int prefetch = 2;      // batches made ahead on a background thread; 0: synchronous
  double style_negatives = 0;  // CaptionSampler: share of c_hat that only changes the style word
  // Share of the batch's captions replaced by short_caption() (the image is
  // unchanged; c_hat is drawn from the full captions). Deterministic in
  // (seed, position, slot) like the rest of the batch.
  double short_captions = 0;
};

// Batches from the sampler. A bad image met on the way is skipped (reported by
// the dataset) and the next position is used, so batches stay full and the
// sequence stays a function of (seed, position). With prefetch > 0 one
// background std::thread decodes into a bounded queue; batches are identical
// to the synchronous loader's. stop() (or the destructor) ends the thread
// promptly. Throws DatasetError from next() when every entry turned out bad.
class BatchLoader {
 public:
  BatchLoader(std::shared_ptr<const Dataset> dataset, const LoaderOptions& options);
  ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  Batch next();
  // The position after the last batch returned by next(): what to checkpoint.
  int64_t position() const { return position_; }
  void stop();

 private:
  Batch make_batch(int64_t& cursor) const;
  void producer();

  std::shared_ptr<const Dataset> dataset_;
  LoaderOptions options_;
  Sampler sampler_;
  CaptionSampler captions_;
  int64_t position_ = 0;  // after the last returned batch
  int64_t cursor_ = 0;    // next position the producer (or next()) reads

  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Batch> queue_;
  std::exception_ptr error_;
  bool stopping_ = false;
};

}  // namespace gg

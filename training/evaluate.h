// Metrics of `gigagan eval`, computed with networks that never served in a
// loss. With the evaluator CLIP: Frechet distance between CLIP image
// embeddings (FD-CLIP), CLIP score, R-precision, and the two emoji probes
// (style follows the prompt; coarse/fine style mixing). With a frozen
// ImageNet-initialised MobileNetV2 (model/mobilenet_v2.h), whose features do
// not saturate on emoji as the small evaluator CLIP's do: Frechet distance
// (FD-MobileNetV2), improved precision and recall with coverage, and linear
// probes.
// Ref: Heusel et al. 2017 (Frechet distance);
// Hessel et al. 2021 (CLIPScore); Xu et al. 2018 (R-precision); Kynkaanniemi
// et al. 2019 (improved precision and recall); Naeem et al. 2020
// (coverage); Alain & Bengio 2016 (linear probes).
#pragma once
#include <torch/torch.h>

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "dataset.h"
#include "mobilenet_v2.h"

namespace gg {

// Frechet distance between Gaussians fitted to a [N, D] and b [M, D]:
// |mu_a - mu_b|^2 + tr(C_a + C_b - 2 (C_a^1/2 C_b C_a^1/2)^1/2), in float64,
// matrix square roots by symmetric eigendecomposition (negative eigenvalues
// from rounding clamp to 0).
double frechet_distance(const torch::Tensor& a, const torch::Tensor& b);

// Mean over rows of 100 * max(cos(image_i, text_i), 0); unit-norm inputs [N, P].
double clip_score(const torch::Tensor& image, const torch::Tensor& text);

// Fraction of images whose own caption ranks first among `candidates` captions
// (its own and candidates-1 others drawn from `pool`, distinct texts, seeded).
// encode: captions -> unit-norm text embeddings [K, P].
double r_precision(const torch::Tensor& image, const std::vector<std::string>& captions,
                   const std::vector<std::string>& pool,
                   const std::function<torch::Tensor(const std::vector<std::string>&)>& encode, int candidates = 100,
                   uint64_t seed = 0);

// caption_style and with_style (prompt_style.h) read and replace a caption's style word.
// The caption with "noto" and "twemoji" swapped, or "" when it names neither.
std::string other_style_caption(const std::string& caption);

// Style probe: over the images whose caption names noto or twemoji, the share
// whose embedding scores its own caption above the same caption in the other
// style. image: [N, P] (row i for captions[i]); encode: captions -> [M, P].
struct StyleProbe {
  double rate = 0;
  int64_t count = 0;  // images probed (0: none named noto or twemoji; rate 0)
};
StyleProbe style_accuracy(const torch::Tensor& image, const std::vector<std::string>& captions,
                          const std::function<torch::Tensor(const std::vector<std::string>&)>& encode);

// MobileNetV2 pooled features [N, 1280] (float32, CPU) of images [N, 3, H, W]
// in [-1, 1] at any resolution, each resized to the network's 224 px
// (mobilenet_preprocess), `batch` images per forward: small batches are the
// fastest on a CPU (the activations stay in cache).
torch::Tensor mobilenet_features(MobileNetV2& net, const torch::Tensor& images, torch::Device device,
                                 int64_t batch = 4);

// MobileNetV2 features of real images kept on disk, so that repeated
// evaluations of one dataset (the checkpoints of a run) compute them once, as
// clean-fid and torch-fidelity keep their reference statistics. An entry's key
// covers a format version, the metrics network file (path, size, modification
// time), the resolution the images are decoded at, and every image file (path,
// size, modification time) in order: any change is a miss. An unreadable or
// malformed entry is a miss; an entry that cannot be written is skipped.
class FeatureCache {
 public:
  explicit FeatureCache(std::filesystem::path dir = {});  // empty: no cache
  const std::filesystem::path& dir() const { return dir_; }
  // The features of `files` (decoded at `resolution`) by `network`: cached,
  // or compute() (which must return [files.size(), D]) and stored.
  torch::Tensor get(const std::string& network, int resolution, const std::vector<std::string>& files,
                    const std::function<torch::Tensor()>& compute);
  int64_t hits = 0, misses = 0;

 private:
  std::filesystem::path dir_;
};

// Improved precision and recall (Kynkaanniemi et al. 2019, sec. 2): each
// set's manifold is the union of balls around its points, each with the
// radius to that point's k-th nearest neighbour in the same set (k = 3 in
// the paper). precision: share of `generated` inside the real manifold (how
// many generations look real); recall: share of `real` inside the generated
// manifold (how much of the real variety the model covers). Precision
// overrates generations that collapse into the large ball of a real outlier
// (an untrained generator scores well), so coverage (Naeem et al. 2020,
// sec. 3, with the same radii) comes along: the share of real balls holding
// at least one generation. real [N, D], generated [M, D], N, M > k;
// distances in float64.
struct PrecisionRecall {
  double precision = 0, recall = 0, coverage = 0;
};
PrecisionRecall precision_recall(const torch::Tensor& real, const torch::Tensor& generated, int k = 3);

// A linear probe: multinomial logistic regression on standardised features
// (mean and standard deviation of the training features; a constant feature
// is only centred), trained full-batch with L-BFGS (strong Wolfe line
// search) from zero weights in float64, on the mean cross-entropy plus
// l2 / 2 * |weight|^2 (the bias is not penalised): deterministic.
struct LinearProbeOptions {
  double l2 = 1e-2;
  int max_iterations = 200;
};
struct LinearProbe {
  torch::Tensor mean, scale;   // [D]
  torch::Tensor weight, bias;  // [C, D], [C] (float64)
  int64_t classes = 0;
  torch::Tensor predict(const torch::Tensor& x) const;  // [N, D] -> [N] class indices
  // Share of rows predicted as their label; a label outside [0, classes)
  // (a class the probe never saw) counts as wrong.
  double accuracy(const torch::Tensor& x, const torch::Tensor& labels) const;
};
// features [N, D], labels [N] (integers in [0, classes)).
LinearProbe train_linear_probe(const torch::Tensor& features, const torch::Tensor& labels, int64_t classes,
                               const LinearProbeOptions& options = {});

// How far generations are from their own real images, by scale: the mean
// absolute difference on a 0..1 scale (images clamped to [-1, 1], as they are
// drawn, and the difference halved) after
// box-averaging both to size x size, for size = 4, 8, ..., the images' size
// (square, a power of two times 4); against chance, the same error between
// real image i and real image i + 1 (another emoji). A ratio to chance that is
// already high at 8-16 px says the layout and colours are wrong, not the
// detail. generated and real [N, 3, H, H], N >= 2, row i drawn for the
// caption of real row i.
struct ScaleError {
  int size = 0;
  double model = 0, chance = 0;
};
std::vector<ScaleError> scale_errors(const torch::Tensor& generated, const torch::Tensor& real);

// Lanczos resampling (the windowed sinc sinc(t) sinc(t / a), |t| < a; a = 3
// as ImageMagick's and Pillow's "Lanczos"), separable, of images [N, C, H, W]
// to [N, C, size, size]; pixel centres aligned (x_in = (x_out + 0.5) H / size
// - 0.5), the kernel stretched by H / size when shrinking, taps beyond the
// border left out and the rest normalised to sum 1 (as both those do). The
// reference the upsampler must beat. Float64 inside; the result in images'
// dtype.
torch::Tensor lanczos_resize(const torch::Tensor& images, int64_t size, int a = 3);

// Peak signal-to-noise ratio in dB of images against reference, both
// [N, 3, H, W] in [-1, 1] (clamped): 10 log10(4 / MSE) over every value.
double psnr(const torch::Tensor& images, const torch::Tensor& reference);

// The share of the most frequent label: the accuracy of always guessing it.
double majority_rate(const std::vector<int64_t>& labels);

// String fields of a JSONL manifest's lines ("group", "subgroup"), keyed by
// the image path exactly as Dataset builds it (the manifest's folder / the
// line's "image"): field -> (path -> value). A field no line has is absent
// from the result; a line without it is absent from that field's map. Empty
// when `data` is not a JSONL dataset (TSV manifests, sidecar folders).
std::map<std::string, std::map<std::string, std::string>> manifest_fields(const std::filesystem::path& data,
                                                                          const std::vector<std::string>& fields);

}  // namespace gg

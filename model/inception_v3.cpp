// Ref: keras-applications 1.0.6 inception_v3.py (Szegedy et al. 2016); nsfwjs
// src/index.ts (input pixels / 255, 299x299).
#include "inception_v3.h"

#include <cmath>

#include "checkpoint.h"
#include "errors.h"
#include "json_config.h"
#include "safetensors.h"
#include "tfjs_convert.h"

namespace gg {

namespace {

// The InceptionV3 graph, written once for two kinds of value: channel counts
// (int64_t, to build the units in Keras order) and tensors (to run them).
// `ops` provides conv(x, filters, kh, kw, stride, same), max_pool(x) (3x3/2
// valid), avg_pool(x) (3x3/1 same) and cat(list). Keeps mixed0..mixed<last>.
template <class T, class Ops>
std::vector<T> inception_graph(T x, Ops& ops, int last) {
  std::vector<T> mixed;
  auto c = [&](const T& in, int64_t f, int64_t kh, int64_t kw, int64_t stride = 1, bool same = true) {
    return ops.conv(in, f, kh, kw, stride, same);
  };
  x = c(x, 32, 3, 3, 2, false);
  x = c(x, 32, 3, 3, 1, false);
  x = c(x, 64, 3, 3);
  x = ops.max_pool(x);
  x = c(x, 80, 1, 1, 1, false);
  x = c(x, 192, 3, 3, 1, false);
  x = ops.max_pool(x);
  auto done = [&] {
    mixed.push_back(x);
    return static_cast<int>(mixed.size()) > last;
  };
  // mixed0-2: 35 x 35 (at 299 px)
  for (int64_t pool_filters : {32, 64, 64}) {
    auto b1 = c(x, 64, 1, 1);
    auto b5 = c(c(x, 48, 1, 1), 64, 5, 5);
    auto b3 = c(c(c(x, 64, 1, 1), 96, 3, 3), 96, 3, 3);
    auto bp = c(ops.avg_pool(x), pool_filters, 1, 1);
    x = ops.cat({b1, b5, b3, bp});
    if (done()) return mixed;
  }
  {  // mixed3: 17 x 17 x 768
    auto b3 = c(x, 384, 3, 3, 2, false);
    auto bd = c(c(c(x, 64, 1, 1), 96, 3, 3), 96, 3, 3, 2, false);
    x = ops.cat({b3, bd, ops.max_pool(x)});
    if (done()) return mixed;
  }
  // mixed4-7: 17 x 17 x 768
  for (int64_t m : {128, 160, 160, 192}) {
    auto b1 = c(x, 192, 1, 1);
    auto b7 = c(c(c(x, m, 1, 1), m, 1, 7), 192, 7, 1);
    auto bd = c(c(c(c(c(x, m, 1, 1), m, 7, 1), m, 1, 7), m, 7, 1), 192, 1, 7);
    auto bp = c(ops.avg_pool(x), 192, 1, 1);
    x = ops.cat({b1, b7, bd, bp});
    if (done()) return mixed;
  }
  {  // mixed8: 8 x 8 x 1280
    auto b3 = c(c(x, 192, 1, 1), 320, 3, 3, 2, false);
    auto b7 = c(c(c(c(x, 192, 1, 1), 192, 1, 7), 192, 7, 1), 192, 3, 3, 2, false);
    x = ops.cat({b3, b7, ops.max_pool(x)});
    if (done()) return mixed;
  }
  // mixed9-10: 8 x 8 x 2048
  for (int i = 0; i < 2; ++i) {
    auto b1 = c(x, 320, 1, 1);
    auto b3 = c(x, 384, 1, 1);
    auto b3_cat = ops.cat({c(b3, 384, 1, 3), c(b3, 384, 3, 1)});
    auto bd = c(c(x, 448, 1, 1), 384, 3, 3);
    auto bd_cat = ops.cat({c(bd, 384, 1, 3), c(bd, 384, 3, 1)});
    auto bp = c(ops.avg_pool(x), 192, 1, 1);
    x = ops.cat({b1, b3_cat, bd_cat, bp});
    if (done()) return mixed;
  }
  return mixed;
}

// Channel counts: records each unit as the Keras code creates it.
struct BuildOps {
  std::vector<InceptionV3Impl::Unit>* units;
  int64_t conv(int64_t in, int64_t f, int64_t kh, int64_t kw, int64_t stride, bool same) {
    units->push_back({in, f, kh, kw, stride, same, {}, {}, {}, {}});
    return f;
  }
  int64_t max_pool(int64_t x) { return x; }
  int64_t avg_pool(int64_t x) { return x; }
  int64_t cat(std::initializer_list<int64_t> xs) {
    int64_t s = 0;
    for (auto v : xs) s += v;
    return s;
  }
};

std::vector<InceptionV3Impl::Unit> unit_specs() {
  std::vector<InceptionV3Impl::Unit> units;
  BuildOps b{&units};
  inception_graph<int64_t>(3, b, InceptionV3Impl::kMixedBlocks - 1);
  return units;
}

struct RunOps {
  InceptionV3Impl* net;
  size_t next = 0;
  torch::Tensor conv(const torch::Tensor& x, int64_t, int64_t, int64_t, int64_t, bool) {
    const auto& u = net->units.at(next);
    const auto [w, b] = net->folded(next++);
    auto y = torch::conv2d(x, w, b, u.stride, u.same ? std::vector<int64_t>{u.kh / 2, u.kw / 2}
                                                     : std::vector<int64_t>{0, 0});
    count_conv_flops(x.size(0), u.out, u.in * u.kh * u.kw, 1, y.size(2), y.size(3));
    return torch::relu_(y);
  }
  torch::Tensor max_pool(const torch::Tensor& x) { return torch::max_pool2d(x, {3, 3}, {2, 2}); }
  torch::Tensor avg_pool(const torch::Tensor& x) {
    return torch::avg_pool2d(x, {3, 3}, {1, 1}, {1, 1}, /*ceil_mode=*/false, /*count_include_pad=*/false);
  }
  torch::Tensor cat(std::initializer_list<torch::Tensor> xs) { return torch::cat(xs, 1); }
};

}  // namespace

int64_t InceptionV3Impl::mixed_channels(int k) {
  static const int64_t kChannels[kMixedBlocks] = {256, 288, 288, 768, 768, 768, 768, 768, 1280, 2048, 2048};
  if (k < 0 || k >= kMixedBlocks)
    throw ConfigError("InceptionV3: mixed block " + std::to_string(k) + " is outside 0..10");
  return kChannels[k];
}

InceptionV3Impl::InceptionV3Impl(bool head_) : head(head_) {
  units = unit_specs();
  for (size_t i = 0; i < units.size(); ++i) {
    auto& u = units[i];
    const std::string n = std::to_string(i + 1);
    // One plain module per Keras layer, so the names are "<layer>.<weight>".
    auto conv = register_module("conv2d_" + n, std::make_shared<torch::nn::Module>());
    auto bn = register_module("batch_normalization_" + n, std::make_shared<torch::nn::Module>());
    const double std = 1.0 / std::sqrt(static_cast<double>(u.in * u.kh * u.kw));
    u.kernel = conv->register_parameter("kernel", new_randn({u.out, u.in, u.kh, u.kw}, std), false);
    u.beta = bn->register_parameter("beta", new_zeros({u.out}), false);
    u.moving_mean = bn->register_buffer("moving_mean", new_zeros({u.out}));
    u.moving_variance = bn->register_buffer("moving_variance", new_full({u.out}, 1.0));
  }
  if (head) {
    dense_1 = register_module("dense_1", KerasDense(kFeatures, 256));
    dense_2 = register_module("dense_2", KerasDense(256, 128));
    dense_3 = register_module("dense_3", KerasDense(128, kClasses));
  }
  folded_.resize(units.size());
  folded_from_.assign(units.size(), nullptr);
  folded_version_.assign(units.size(), -1);
}

std::pair<torch::Tensor, torch::Tensor> InceptionV3Impl::folded(size_t i) {
  // Refolded whenever the stored weights changed: Module::to() gives them new
  // storage, loading copies into them (which bumps their version counters).
  auto& u = units.at(i);
  const int64_t version = u.kernel._version() + u.beta._version() + u.moving_mean._version() +
                          u.moving_variance._version();
  if (folded_from_[i] != u.kernel.data_ptr() || folded_version_[i] != version || !folded_[i].first.defined()) {
    torch::NoGradGuard ng;
    auto s = torch::rsqrt(u.moving_variance + 1e-3);
    folded_[i] = {u.kernel * s.view({-1, 1, 1, 1}), u.beta - u.moving_mean * s};
    folded_from_[i] = u.kernel.data_ptr();
    folded_version_[i] = version;
  }
  return folded_[i];
}

InceptionV3Output InceptionV3Impl::forward(const torch::Tensor& x, int last_block) {
  check_shape(x, {-1, 3, -1, -1}, "InceptionV3 pixel_values");
  if (x.size(2) < kMinImageSize || x.size(3) < kMinImageSize)
    throw ShapeError("InceptionV3: images must be at least 75x75, got " + std::to_string(x.size(2)) + "x" +
                     std::to_string(x.size(3)));
  if (last_block < 0 || last_block >= kMixedBlocks)
    throw ConfigError("InceptionV3: last block " + std::to_string(last_block) + " is outside 0..10");
  RunOps ops{this};
  InceptionV3Output out;
  out.mixed = inception_graph<torch::Tensor>(x, ops, last_block);
  if (last_block == kMixedBlocks - 1) {
    out.pooled = out.mixed.back().mean({2, 3});
    if (head) out.logits = dense_3(torch::relu(dense_2(torch::relu(dense_1(out.pooled)))));
  }
  return out;
}

namespace {

void check_inception_topology(const std::string& text, const std::string& path) {
  const json t = json::parse(text);
  const json& model = t.contains("model_config") ? t.at("model_config") : t;
  int convs = 0, bns = 0;
  for (const auto& l : model.at("config").at("layers")) {
    const std::string cls = l.at("class_name").get<std::string>();
    const json& c = l.at("config");
    const std::string name = c.value("name", std::string("?"));
    if (cls == "Conv2D") {
      ++convs;
      if (c.value("use_bias", true) || c.value("activation", std::string()) != "linear")
        throw CheckpointError("'" + path + "': layer " + name +
                              " is not a Conv2D without bias and activation, as keras.applications' InceptionV3");
    } else if (cls == "BatchNormalization") {
      ++bns;
      if (std::abs(c.value("epsilon", 0.0) - 1e-3) > 1e-9 || c.value("scale", true))
        throw CheckpointError("'" + path + "': layer " + name +
                              " is not BatchNormalization(epsilon=1e-3, scale=False), as InceptionV3's");
    }
  }
  if (convs != 94 || bns != 94)
    throw CheckpointError("'" + path + "': its topology has " + std::to_string(convs) + " Conv2D and " +
                          std::to_string(bns) + " BatchNormalization layers; InceptionV3 has 94 of each");
}

}  // namespace

InceptionV3 load_inception_v3(const std::string& path, torch::Device device) {
  return load_converted_keras<InceptionV3>(path, device, check_inception_topology,
                                  [](const TensorMap& state) { return InceptionV3(state.count("dense_1.kernel") > 0); });
}

}  // namespace gg

#include "mobilenet_v2.h"

#include <cmath>
#include <vector>

#include "checkpoint.h"
#include "errors.h"
#include "json_config.h"
#include "safetensors.h"
#include "tfjs_convert.h"

namespace gg {

namespace {

// keras-applications mobilenet_v2.py, alpha 1.0: (expansion, filters, stride) of block_id 0..16.
struct BlockSpec {
  int64_t expansion, filters, stride;
};
constexpr BlockSpec kBlocks[17] = {
    {1, 16, 1},  {6, 24, 2},  {6, 24, 1},  {6, 32, 2},  {6, 32, 1},  {6, 32, 1},
    {6, 64, 2},  {6, 64, 1},  {6, 64, 1},  {6, 64, 1},  {6, 96, 1},  {6, 96, 1},
    {6, 96, 1},  {6, 160, 2}, {6, 160, 1}, {6, 160, 1}, {6, 320, 1},
};
constexpr int64_t kStem = 32;

std::string block_prefix(int i) { return i == 0 ? "expanded_conv_" : "block_" + std::to_string(i) + "_"; }

// Conv (+ folded BN) (+ ReLU6). Stride 2: Keras ZeroPadding2D((0, 1), (0, 1))
// then 'valid'; stride 1: 'same' (k // 2 on every side for odd k).
torch::Tensor conv_bn(const torch::Tensor& x, KerasConvImpl& conv, KerasBatchNormImpl& bn, bool relu6) {
  auto scale = bn.gamma * torch::rsqrt(bn.moving_variance + bn.eps);
  auto w = conv.kernel * scale.view({-1, 1, 1, 1});
  auto b = bn.beta - bn.moving_mean * scale;
  torch::Tensor in = x;
  int64_t pad = conv.k / 2;
  if (conv.stride == 2) {
    in = torch::constant_pad_nd(x, {0, 1, 0, 1});
    pad = 0;
  }
  auto y = torch::conv2d(in, w, b, conv.stride, pad, 1, conv.depthwise ? conv.in : 1);
  count_conv_flops(x.size(0), conv.out, conv.depthwise ? 1 : conv.in, conv.k, y.size(2), y.size(3));
  if (relu6) y.clamp_(0.0, 6.0);
  return y;
}

}  // namespace

KerasConvImpl::KerasConvImpl(int64_t in_, int64_t out_, int64_t k_, int64_t stride_, bool depthwise_)
    : in(in_), out(out_), k(k_), stride(stride_), depthwise(depthwise_) {
  if (depthwise && in != out) throw ConfigError("KerasConv: a depthwise convolution keeps the width (multiplier 1)");
  const double std = 1.0 / std::sqrt(static_cast<double>((depthwise ? 1 : in) * k * k));
  kernel = register_parameter(depthwise ? "depthwise_kernel" : "kernel", new_randn({out, depthwise ? 1 : in, k, k}, std),
                              /*requires_grad=*/false);
}

KerasBatchNormImpl::KerasBatchNormImpl(int64_t c, double eps_) : eps(eps_) {
  gamma = register_parameter("gamma", new_full({c}, 1.0), false);
  beta = register_parameter("beta", new_zeros({c}), false);
  moving_mean = register_buffer("moving_mean", new_zeros({c}));
  moving_variance = register_buffer("moving_variance", new_full({c}, 1.0));
}

KerasDenseImpl::KerasDenseImpl(int64_t in, int64_t out) {
  kernel = register_parameter("kernel", new_randn({out, in}, 1.0 / std::sqrt(static_cast<double>(in))), false);
  bias = register_parameter("bias", new_zeros({out}), false);
}

torch::Tensor KerasDenseImpl::forward(const torch::Tensor& x) {
  count_matmul_flops(1, x.size(0), kernel.size(1), kernel.size(0));
  return torch::addmm(bias, x, kernel.t());
}

MobileNetV2Impl::MobileNetV2Impl(bool head_) : head(head_) {
  conv1 = register_module("Conv1", KerasConv(3, kStem, 3, 2, false));
  bn_conv1 = register_module("bn_Conv1", KerasBatchNorm(kStem));
  int64_t in = kStem;
  for (int i = 0; i < 17; ++i) {
    const auto& s = kBlocks[i];
    const std::string p = block_prefix(i);
    Block b{in, s.expansion, s.filters, s.stride};
    const int64_t hidden = in * s.expansion;
    if (s.expansion != 1) {
      b.expand = register_module(p + "expand", KerasConv(in, hidden, 1, 1, false));
      b.expand_bn = register_module(p + "expand_BN", KerasBatchNorm(hidden));
    }
    b.depthwise = register_module(p + "depthwise", KerasConv(hidden, hidden, 3, s.stride, true));
    b.depthwise_bn = register_module(p + "depthwise_BN", KerasBatchNorm(hidden));
    b.project = register_module(p + "project", KerasConv(hidden, s.filters, 1, 1, false));
    b.project_bn = register_module(p + "project_BN", KerasBatchNorm(s.filters));
    blocks.push_back(b);
    in = s.filters;
  }
  conv_last = register_module("Conv_1", KerasConv(in, kFeatures, 1, 1, false));
  bn_last = register_module("Conv_1_bn", KerasBatchNorm(kFeatures));
  if (head) {
    dense_1 = register_module("dense_1", KerasDense(kFeatures, 256));
    dense_2 = register_module("dense_2", KerasDense(256, 128));
    dense_3 = register_module("dense_3", KerasDense(128, kClasses));
  }
}

torch::Tensor MobileNetV2Impl::features(const torch::Tensor& pixel_values) {
  check_shape(pixel_values, {-1, 3, -1, -1}, "MobileNetV2 pixel_values");
  if (pixel_values.size(2) < 32 || pixel_values.size(3) < 32)
    throw ShapeError("MobileNetV2: images must be at least 32x32 px, got " + shape_str(pixel_values.sizes()));
  // Channels-last activations: LibTorch's CPU (oneDNN) depthwise convolutions
  // are faster in NHWC; the results are the same up to rounding.
  auto x = conv_bn(pixel_values.contiguous(torch::MemoryFormat::ChannelsLast), *conv1, *bn_conv1, true);
  for (auto& b : blocks) {
    auto h = b.expand ? conv_bn(x, *b.expand, *b.expand_bn, true) : x;
    h = conv_bn(h, *b.depthwise, *b.depthwise_bn, true);
    h = conv_bn(h, *b.project, *b.project_bn, false);
    x = (b.stride == 1 && b.in == b.filters) ? x + h : h;  // block_N_add
  }
  x = conv_bn(x, *conv_last, *bn_last, true);
  return x.mean({2, 3});  // average_pooling2d_1 (7x7 at 224 px) + flatten_1
}

torch::Tensor MobileNetV2Impl::logits(const torch::Tensor& pooled) {
  if (!head) throw ConfigError("MobileNetV2: this model was built without the dense head");
  check_shape(pooled, {-1, kFeatures}, "MobileNetV2 pooled features");
  auto h = torch::relu(dense_1(pooled));  // dropout_2: identity at inference
  h = torch::relu(dense_2(h));            // dropout_3: identity at inference
  return dense_3(h);
}

MobileNetV2Output MobileNetV2Impl::forward(const torch::Tensor& pixel_values) {
  MobileNetV2Output o;
  o.pooled = features(pixel_values);
  if (head) o.logits = logits(o.pooled);
  return o;
}

torch::Tensor mobilenet_preprocess(const torch::Tensor& images, int64_t size) {
  // images: [N, 3, H, W] in [-1, 1] -> [N, 3, size, size] in [0, 1]
  check_shape(images, {-1, 3, -1, -1}, "mobilenet_preprocess images");
  if (size < 32) throw ShapeError("mobilenet_preprocess: size must be at least 32, got " + std::to_string(size));
  auto x = (images + 1.0) * 0.5;
  if (x.size(2) != size || x.size(3) != size) {
    namespace F = torch::nn::functional;
    x = F::interpolate(x, F::InterpolateFuncOptions()
                              .size(std::vector<int64_t>{size, size})
                              .mode(torch::kBilinear)
                              .align_corners(false)
                              .antialias(true));
  }
  return x;
}

namespace {

// The Keras layers of the stored topology (model_config.config.layers).
json topology_layers(const std::string& topology, const std::string& path) {
  json t;
  try {
    t = json::parse(topology);
  } catch (const json::exception& e) {
    throw CheckpointError("'" + path + "': metadata tfjs.model_topology is not valid JSON: " + e.what());
  }
  const json& m = t.contains("model_config") ? t["model_config"] : t;
  if (!m.is_object() || !m.contains("config") || !m["config"].is_object() || !m["config"].contains("layers") ||
      !m["config"]["layers"].is_array())
    throw CheckpointError("'" + path + "': metadata tfjs.model_topology is not a Keras functional model");
  return m["config"]["layers"];
}

// What forward() assumes about the graph, checked against the Keras topology.
void check_topology(const std::string& topology, const std::string& path) {
  const json layers = topology_layers(topology, path);
  auto bad = [&](const std::string& layer, const std::string& what) {
    throw CheckpointError("'" + path + "': layer '" + layer + "' " + what +
                          "; MobileNetV2 (model/mobilenet_v2.h) computes another graph");
  };
  int pads = 0, bns = 0;
  for (const auto& l : layers) {
    const std::string cls = l.value("class_name", "");
    const json c = l.value("config", json::object());
    const std::string name = c.value("name", l.value("name", std::string()));
    if (cls == "BatchNormalization") {
      ++bns;
      if (std::abs(c.value("epsilon", 0.0) - 1e-3) > 1e-9 || !c.value("center", true) || !c.value("scale", true))
        bad(name, "has " + c.dump() + " (expected epsilon 1e-3, center and scale)");
    } else if (cls == "ReLU") {
      if (c.value("max_value", json()) != json(6) || c.value("negative_slope", 0.0) != 0.0 || c.value("threshold", 0.0) != 0.0)
        bad(name, "is not ReLU6");
    } else if (cls == "ZeroPadding2D") {
      ++pads;
      if (c.value("padding", json()) != json::parse("[[0,1],[0,1]]")) bad(name, "pads " + c.value("padding", json()).dump());
    } else if (cls == "Conv2D" || cls == "DepthwiseConv2D") {
      if (c.value("use_bias", false) || c.value("activation", "linear") != "linear" ||
          c.value("dilation_rate", json::parse("[1,1]")) != json::parse("[1,1]"))
        bad(name, "has a bias, an activation or dilation");
      if (cls == "DepthwiseConv2D" && c.value("depth_multiplier", 1) != 1) bad(name, "has a depth multiplier");
    } else if (cls == "Dense") {
      const std::string act = c.value("activation", "");
      if ((name == "dense_1" || name == "dense_2") && act != "relu") bad(name, "has activation '" + act + "'");
      if (name == "dense_3" && act != "softmax") bad(name, "has activation '" + act + "'");
    } else if (cls == "AveragePooling2D") {
      if (c.value("pool_size", json()) != json::parse("[7,7]")) bad(name, "is not a 7x7 average pool");
    } else if (cls == "GlobalAveragePooling2D" || cls == "Add" || cls == "Dropout" || cls == "Flatten" ||
               cls == "InputLayer") {
    } else {
      bad(name, "is a " + cls);
    }
  }
  if (pads != 5 || bns != 52)
    throw CheckpointError("'" + path + "': the topology has " + std::to_string(pads) + " ZeroPadding2D and " +
                          std::to_string(bns) + " BatchNormalization layers; MobileNetV2 has 5 and 52");
}

}  // namespace

MobileNetV2 load_mobilenet_v2(const std::string& path, torch::Device device) {
  return load_converted_keras<MobileNetV2>(path, device, check_topology,
                                  [](const TensorMap& state) { return MobileNetV2(state.count("dense_1.kernel") > 0); });
}

}  // namespace gg

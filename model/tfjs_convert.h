// Reader for TensorFlow.js models (model.json + binary weight shards) and
// their conversion to safetensors, so that networks published for TF.js (e.g.
// nsfwjs's Keras MobileNetV2, model/mobilenet_v2.h) load into LibTorch.
//
// model.json: {"format", "generatedBy", "convertedBy", "modelTopology",
// "weightsManifest": [{"paths": [shard files], "weights": [{"name", "shape",
// "dtype", "quantization"?}]}]}. The weights of a group are stored one after
// the other in the concatenation of its shard files, in manifest order.
// Supported: dtype float32 / int32 / bool, stored raw or quantized
// (uint8 / uint16 with min and scale: value = q * scale + min, as TF.js's
// decodeWeight; float16 for float32 weights). Every size is checked against
// the files before anything is allocated; errors name the file and weight.
// Ref: tfjs-core src/io/io_utils.ts (decodeWeight), src/io/types.ts
// (WeightsManifestConfig); tfjs-layers (Keras weight layouts).
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "checkpoint.h"
#include "json_config.h"

namespace gg {

struct TfjsModel {
  std::string source;                  // the model.json path
  std::string format;                  // "layers-model", "graph-model" or "" (older Keras exports)
  std::string generated_by, converted_by;  // provenance fields of model.json, if any
  json topology;                       // modelTopology (null when absent)
  std::vector<std::string> names;      // weight names in manifest order
  TensorMap tensors;                   // CPU tensors in TF.js layout: float32 (dequantized), int32 or bool
  std::map<std::string, std::string> keras_class;  // weight name -> class_name of its Keras layer (layers models)
  struct Uint8Codes {
    torch::Tensor codes;  // uint8, TF.js layout
    double min = 0, scale = 1;
  };
  std::map<std::string, Uint8Codes> uint8_codes;  // float32 weights stored uint8-quantized, as stored
};

// Limits on what a model.json may ask for (beyond them: CheckpointError).
constexpr int64_t kTfjsMaxModelJsonBytes = 64ll << 20;
constexpr int64_t kTfjsMaxWeightBytes = 8ll << 30;  // all groups together, as stored

TfjsModel read_tfjs_model(const std::string& model_json);

// Tensors in PyTorch layout, for the Keras layers whose layout differs:
//   Conv1D/2D/3D, Conv2DTranspose `kernel` and SeparableConv `pointwise_kernel`
//     [k..., a, b] -> [b, a, k...]  (conv: [out, in, k...]; transpose: [in, out, k...] as torch)
//   DepthwiseConv2D / SeparableConv `depthwise_kernel` [kh, kw, in, m] -> [in * m, 1, kh, kw]
//   Dense `kernel` [in, out] -> [out, in]
// Every other tensor (biases, BatchNormalization statistics, graph-model
// weights, whose layers are unknown) is returned as stored. Contiguous.
TensorMap tfjs_torch_layout(const TfjsModel& model);

struct TfjsConvertResult {
  int64_t tensors = 0;
  int64_t values = 0;       // elements over all tensors
  int64_t transposed = 0;   // tensors put into PyTorch layout
  int64_t quantized = 0;    // tensors kept as uint8 codes (quantized = true)
};

// Name suffix of the float64 [min, scale] that goes with a tensor kept as uint8 codes.
constexpr const char* kTfjsQuantizationSuffix = ":quantization";

// Reads `model_json` and writes its weights to `out` (safetensors, atomic),
// under their TF.js names (Keras: "<layer>/<weight>", e.g. "Conv1/kernel"),
// in PyTorch layout unless keep_layout. Metadata: "tfjs.layout" ("torch" or
// "tfjs"), "tfjs.format", "tfjs.generated_by", "tfjs.converted_by",
// "tfjs.source" (file name of model.json) and "tfjs.model_topology" (JSON).
// quantized: float32 weights that TF.js stores uint8-quantized are written as
// their uint8 codes (in the same layout) plus "<name>:quantization", float64
// [min, scale], a quarter of the size; dequantize_tfjs gives the same values
// as the float32 file, bit for bit.
TfjsConvertResult convert_tfjs(const std::string& model_json, const std::string& out, bool keep_layout = false,
                               bool quantized = false);

// Tensors of a converted file, with every uint8 code tensor replaced by its
// float32 values (q * scale + min, computed as TF.js does) and the
// ":quantization" entries dropped. Throws CheckpointError naming `source` and
// the tensor for a code tensor without its (min, scale) or the reverse.
TensorMap dequantize_tfjs(const TensorMap& stored, const std::string& source);

// A file written by convert_tfjs in PyTorch layout, read as a Keras state
// dict: uint8 codes dequantized, "<layer>/<weight>" named "<layer>.<weight>",
// float32; the stored Keras topology as text ("" when absent). Throws
// CheckpointError naming the file (and the tensor) for another layout, a name
// that is not <layer>/<weight>, or a tensor that is not floating point.
struct ConvertedKeras {
  TensorMap state;
  std::string topology;
};
ConvertedKeras read_converted_keras(const std::string& path);

// Loads a converted Keras network: `check(topology, path)` on the stored
// topology (a JSON error in it is reported as malformed metadata), `make(state)`
// builds the network for that state dict, which is loaded strictly; returned
// frozen (no gradients), in eval mode, on `device`.
template <class Net, class Check, class Make>
Net load_converted_keras(const std::string& path, torch::Device device, Check check, Make make) {
  const ConvertedKeras f = read_converted_keras(path);
  if (!f.topology.empty()) {
    try {
      check(f.topology, path);
    } catch (const json::exception& e) {
      throw CheckpointError("'" + path + "': metadata tfjs.model_topology is malformed: " + e.what());
    }
  }
  Net m = make(f.state);
  load_state_dict_strict(*m, f.state, path);
  m->eval();
  for (auto& p : m->parameters()) p.set_requires_grad(false);
  m->to(device);
  return m;
}

}  // namespace gg

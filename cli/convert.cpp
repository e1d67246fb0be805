// `gigagan convert-tfjs`: converts a TensorFlow.js model (model.json + weight
// shards, e.g. nsfwjs's MobileNetV2) to a safetensors file, weights named as
// in the TF.js manifest ("<keras layer>/<weight>") and in PyTorch layout, so
// that model/mobilenet_v2.h loads it. See model/tfjs_convert.h.
#include "cli.h"
#include "tfjs_convert.h"

namespace gg::cli {

Command convert_tfjs_command() {
  Command c;
  c.name = "convert-tfjs";
  c.summary = "Convert a TensorFlow.js model (model.json + weight shards) to a safetensors file.";
  c.options = {
      {"model-json", "PATH", "the TF.js model.json; its weight shards are read from the same folder (required)", ""},
      {"out", "FILE", "safetensors file to write (atomically) (required)", ""},
      {"keep-layout", "", "store the weights in TF.js layout ([kh, kw, in, out] kernels) instead of PyTorch's", ""},
      {"quantized", "", "keep uint8-quantized weights as their codes plus (min, scale): a quarter of the size, "
                        "the same values once loaded (InceptionV3)", ""},
  };
  c.run = [](const Args& args, std::ostream& out) {
    if (!args.has("model-json")) throw UsageError("gigagan convert-tfjs: --model-json PATH is required");
    if (!args.has("out")) throw UsageError("gigagan convert-tfjs: --out FILE is required");
    const bool keep = args.flag("keep-layout");
    const TfjsConvertResult r = convert_tfjs(args.get("model-json"), args.get("out"), keep, args.flag("quantized"));
    out << "wrote " << args.get("out") << ": " << r.tensors << " tensors, " << r.values << " values, "
        << (keep ? "TF.js layout" : std::to_string(r.transposed) + " kernels put into PyTorch layout");
    if (r.quantized > 0) out << ", " << r.quantized << " kept as uint8 codes";
    out << "\n";
    return 0;
  };
  return c;
}

}  // namespace gg::cli

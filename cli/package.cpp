// `gigagan package`: assembles a model package (format in model/engine/
// package.h) from the artefacts of separate runs: the base model (a train
// run's package/ folder or any package), an upsampler (train-upsampler's
// upsampler.safetensors), an evaluator CLIP (train-clip's clip.safetensors)
// and the discriminator for later fine-tuning, optionally stored as half
// precision. This is how resources/models/emoji is made.
#include "cli.h"
#include "gan_trainer.h"
#include "model_io.h"
#include "package.h"
#include "runtime.h"

namespace gg::cli {

namespace fs = std::filesystem;

Command package_command() {
  Command c;
  c.name = "package";
  c.summary = "Assemble a model package from a base model package, a generator, encoder CLIP, upsampler, evaluator CLIP and D.";
  c.options = {
      {"base", "PKG", "model package with the tokenizer, CLIP and generator (e.g. RUN/package) (required)", ""},
      {"generator", "FILE", "generator instead of the base package's: a generator .safetensors, or a `gigagan train` "
                            "checkpoint (its EMA weights), e.g. an earlier one of the run", ""},
      {"clip", "FILE", "frozen encoder CLIP instead of the base package's (train-clip's RUN/clip.safetensors; the "
                       "generator and upsampler read its text features, so pair it with a generator trained on it)", ""},
      {"upsampler", "FILE", "upsampler .safetensors (train-upsampler's RUN/upsampler.safetensors)", ""},
      {"evaluator", "FILE", "evaluator CLIP .safetensors (train-clip's RUN/clip.safetensors; metrics only)", ""},
      {"discriminator", "FILE", "D for later fine-tuning (--init): a `gigagan train` checkpoint or discriminator "
                                ".safetensors; default: the base package's, if any", ""},
      {"no-discriminator", "", "leave the discriminator out", ""},
      {"name", "NAME", "package name (default: the base package's)", ""},
      {"description", "TEXT", "one line shown by the studio (default: the base package's)", ""},
      {"fp16", "", "store weights as half precision (loaded as float32)", ""},
      {"out", "DIR", "package folder to write (replaced atomically) (required)", ""},
  };
  c.run = [](const Args& args, std::ostream& out) {
    if (!args.has("base")) throw UsageError("gigagan package: --base PKG is required");
    if (!args.has("out")) throw UsageError("gigagan package: --out DIR is required");
    init_runtime(0);
    ModelPackage pkg = load_package(args.get("base"));
    if (args.has("generator")) {
      const std::string f = args.get("generator");
      const NetworkWeights g = ema_network_weights(load_checkpoint(f), "generator", f);
      if (g.config != json(pkg.generator->config))
        throw ConfigError("--generator '" + f + "' was built with another generator config than the base package's");
      torch::NoGradGuard no_grad;
      load_state_dict_strict(*pkg.generator, g.tensors, f);
    }
    if (args.has("clip")) {
      const std::string f = args.get("clip");
      ClipModel clip = load_network<ClipConfig, ClipModel>(f, "clip");
      const auto& t = clip->config.text_config;
      const auto& g = pkg.generator->config;
      if (t.hidden_size != g.text_input_dim || t.max_position_embeddings != g.context_length)
        throw ConfigError("--clip '" + f + "': its text tower has width " + std::to_string(t.hidden_size) + " and context " +
                          std::to_string(t.max_position_embeddings) + "; the generator reads width " +
                          std::to_string(g.text_input_dim) + " and context " + std::to_string(g.context_length));
      if (t.vocab_size < pkg.tokenizer->vocab_size())
        throw ConfigError("--clip '" + f + "' has a smaller vocabulary than the package's tokenizer");
      pkg.clip = clip;
    }
    if (args.has("upsampler")) {
      const std::string f = args.get("upsampler");
      pkg.upsampler = load_network<UpsamplerConfig, Upsampler>(f, "upsampler");
      const auto& u = pkg.upsampler->config;
      const auto& g = pkg.generator->config;
      if (u.input_resolution != g.resolution || u.text_input_dim != g.text_input_dim || u.context_length != g.context_length)
        throw ConfigError("--upsampler '" + f + "' takes " + std::to_string(u.input_resolution) + " px and text width " +
                          std::to_string(u.text_input_dim) + "; the generator makes " + std::to_string(g.resolution) +
                          " px with text width " + std::to_string(g.text_input_dim));
    }
    if (args.has("evaluator")) {
      const std::string f = args.get("evaluator");
      pkg.evaluator = load_network<ClipConfig, ClipModel>(f, "clip");
      if (pkg.evaluator->config.text_config.vocab_size < pkg.tokenizer->vocab_size())
        throw ConfigError("--evaluator '" + f + "' has a smaller vocabulary than the package's tokenizer");
    }
    if (args.has("discriminator")) {
      const std::string f = args.get("discriminator");
      Checkpoint d = discriminator_checkpoint(load_checkpoint(f), f);
      const json g = d.config.value("model", json::object()).value("generator", json());
      if (g != json(pkg.generator->config))
        throw ConfigError("--discriminator '" + f + "' was trained with another generator config than the base package's");
      pkg.discriminator = std::move(d);
    }
    if (args.flag("no-discriminator")) {
      pkg.discriminator.reset();
      pkg.discriminator_file.clear();
    }
    if (args.has("name")) pkg.name = args.get("name");
    if (args.has("description")) pkg.description = args.get("description");
    pkg.vocabulary.reset();  // copy the tokenizer files as they are
    SavePackageOptions so;
    if (args.flag("fp16")) so.storage = torch::kFloat16;
    save_package(args.get("out"), pkg, so);
    uintmax_t bytes = 0;
    for (const auto& e : fs::recursive_directory_iterator(args.get("out")))
      if (e.is_regular_file()) bytes += e.file_size();
    out << "wrote " << args.get("out") << " (" << bytes / 1000000.0 << " MB, hash " << package_hash(args.get("out"))
        << ")\n";
    return 0;
  };
  return c;
}

}  // namespace gg::cli

// `gigagan package`: assembles a model package (format in model/engine/
// package.h) from the artefacts of separate runs: the base model (a train
// run's package/ folder or any package), an upsampler (train-upsampler's
// upsampler.safetensors), an evaluator CLIP (train-clip's clip.safetensors)
// and the discriminator for later fine-tuning, optionally stored as half
// precision. This is how resources/models/emoji is made.
#include "cli.h"
#include "prompt_style.h"
#include "recipe.h"
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
      {"sample-prompt", "TEXT", "a prompt the studio starts with and lists (repeatable; replaces the base package's)",
       "", true},
      {"styles", "WORDS", "comma-separated style words the studio offers (its Style box, `generate --style`); "
                          "'none' for none (default: the base package's)", ""},
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
      if (g.config != json(pkg.generator->config)) {
        // Another architecture (e.g. widened by `train --widen`): built from its
        // own config; check_package_fit below checks it against the other parts.
        const GeneratorConfig gc = config_from_json<GeneratorConfig>(g.config, f, "generator");
        const bool base_d = pkg.discriminator || !pkg.discriminator_file.empty();
        if (base_d && !args.has("discriminator") && !args.flag("no-discriminator"))
          throw ConfigError("--generator '" + f + "' has another generator config than the base package's, whose "
                            "discriminator was trained with the old one: give --discriminator (e.g. the same "
                            "checkpoint) or --no-discriminator");
        pkg.generator = Generator(gc);
      }
      torch::NoGradGuard no_grad;
      load_state_dict_strict(*pkg.generator, g.tensors, f);
    }
    if (args.has("clip")) pkg.clip = load_network<ClipConfig, ClipModel>(args.get("clip"), "clip");
    if (args.has("upsampler")) pkg.upsampler = load_network<UpsamplerConfig, Upsampler>(args.get("upsampler"), "upsampler");
    if (args.has("evaluator")) pkg.evaluator = load_network<ClipConfig, ClipModel>(args.get("evaluator"), "clip");
    if (args.has("discriminator")) {
      const std::string f = args.get("discriminator");
      Checkpoint d = discriminator_checkpoint(load_checkpoint(f), f);
      const json g = d.config.value("model", json::object()).value("generator", json());
      if (g != json(pkg.generator->config))
        throw ConfigError("--discriminator '" + f + "' was trained with another generator config than the base package's");
      pkg.discriminator = std::move(d);
    }
    // The parts must fit one another as load_package requires: a swapped
    // encoder CLIP against the generator, upsampler and tokenizer, and so on.
    PackagePartNames names{"the base package's tokenizer", "the base package's encoder CLIP",
                           "the base package's generator", "the base package's upsampler",
                           "the base package's evaluator CLIP"};
    auto given = [&](const char* option, std::string& name) {
      if (args.has(option)) name = std::string("--") + option + " '" + args.get(option) + "'";
    };
    given("clip", names.clip);
    given("generator", names.generator);
    given("upsampler", names.upsampler);
    given("evaluator", names.evaluator);
    check_package_fit(pkg, names);
    if (args.flag("no-discriminator")) {
      pkg.discriminator.reset();
      pkg.discriminator_file.clear();
    }
    if (args.has("name")) pkg.name = args.get("name");
    if (args.has("description")) pkg.description = args.get("description");
    if (args.has("sample-prompt")) {
      pkg.sample_prompts = args.get_all("sample-prompt");
      if (pkg.sample_prompts.size() > kMaxGridPrompts)
        throw UsageError("gigagan package: at most " + std::to_string(kMaxGridPrompts) + " --sample-prompt");
      for (size_t i = 0; i < pkg.sample_prompts.size(); ++i) {
        const std::string& p = pkg.sample_prompts[i];
        if (p.find_first_not_of(" \t") == std::string::npos)
          throw UsageError("gigagan package: --sample-prompt " + std::to_string(i + 1) + " is empty");
        check_prompt_text(p, "gigagan package: --sample-prompt " + std::to_string(i + 1));
      }
    }
    if (args.has("styles")) {
      pkg.styles.clear();
      const std::string list = args.get("styles");
      if (list != "none")
        for (size_t at = 0; at <= list.size();) {
          const size_t comma = std::min(list.find(',', at), list.size());
          pkg.styles.push_back(list.substr(at, comma - at));
          at = comma + 1;
          if (pkg.styles.size() > kMaxPackageStyles) break;  // check_style_words names the count
        }
      if (const std::string bad = check_style_words(pkg.styles); !bad.empty())
        throw UsageError("gigagan package: --styles: " + bad);
    }
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

// `gigagan invert`: project an image into W or W+ (the studio's Invert
// panel), optionally with pivotal tuning; prints the reconstruction error and
// writes the reconstruction, whose recipe holds the latent for other edits
// (e.g. `gigagan mix --a-recipe inverted.png`).
#include <iomanip>

#include "cli_engine.h"
#include "image_io.h"
#include "inversion.h"

namespace gg::cli {

Command invert_command() {
  Command c;
  c.name = "invert";
  c.summary = "Find the latent (W or W+) that reproduces an image; report the reconstruction error.";
  c.options = {
      {"image", "FILE", "image to invert (any size; resized to the model's resolution)", ""},
      {"prompt", "TEXT", "a description of the image (text conditioning)", ""},
      {"space", "SPACE", "w (one w for all layers) or w+ (one per layer)", "w+"},
      {"steps", "N", "optimisation steps", "300"},
      {"lr", "X", "peak learning rate", "0.05"},
      {"clip-weight", "X", "weight of the CLIP image-feature loss (0 = pixels only)", "0.1"},
      {"pti-steps", "N", "pivotal tuning steps of the synthesis weights afterwards (0 = none)", "0"},
      {"pti-lr", "X", "learning rate of pivotal tuning", "0.0003"},
      {"save-model", "DIR", "after PTI: write the tuned model package here (the recipe refers to it)", ""},
      {"out", "FILE", "reconstruction PNG (recipe with the latent inside)", "inverted.png"},
      model_option(),
      device_option(),
      threads_option(),
  };
  c.run = [](const Args& args, std::ostream& out) {
    const std::string image = required(args, "image");
    const std::string prompt = required(args, "prompt");
    check_prompt(prompt);
    const std::string space = args.get("space");
    if (space != "w" && space != "w+") throw UsageError("gigagan invert: --space expects w or w+, got '" + space + "'");
    InversionOptions o;
    o.prompt = prompt;
    o.w_plus = space == "w+";
    o.steps = args.get_int("steps");
    o.lr = args.get_double("lr");
    o.clip_weight = args.get_double("clip-weight");
    o.pti_steps = args.get_int("pti-steps");
    o.pti_lr = args.get_double("pti-lr");
    if (o.steps < 1 || o.pti_steps < 0) throw UsageError("gigagan invert: --steps must be >= 1, --pti-steps >= 0");
    if (args.has("save-model") && o.pti_steps == 0)
      throw UsageError("gigagan invert: --save-model needs --pti-steps > 0 (without PTI the model is unchanged)");
    auto engine = open_engine(args);
    const auto target = read_image(image, engine->package().generator->config.resolution);
    const auto r = invert(*engine, target, o);
    Recipe recipe = r.recipe;
    if (args.has("save-model")) {
      save_package(args.get("save-model"), engine->package());
      recipe.model_name = engine->package().name;
      recipe.model_hash = package_hash(args.get("save-model"));
      out << "wrote the tuned model package " << args.get("save-model") << "\n";
    }
    write_png(args.get("out"), to_bgr8(r.reconstruction), {{kRecipeChunkKey, recipe.dump()}});
    out << std::fixed << std::setprecision(5) << "inverted " << image << " into " << (o.w_plus ? "W+" : "W") << " in "
        << r.steps << " steps (" << std::setprecision(2) << r.seconds_latent << " s";
    if (o.pti_steps > 0) out << " + PTI " << o.pti_steps << " steps, " << r.seconds_pti << " s";
    out << ")\n"
        << std::setprecision(5) << "reconstruction MSE " << r.mse << " (PSNR " << std::setprecision(2) << r.psnr
        << " dB); mean w MSE " << std::setprecision(5) << r.mean_w_mse;
    if (o.pti_steps > 0) out << "; before PTI " << r.mse_before_pti;
    out << "\nwrote " << args.get("out") << " (recipe with the latent inside)\n";
    return 0;
  };
  return c;
}

}  // namespace gg::cli

// `gigagan upsample`: the model's upsampler (e.g. 64 -> 256 px) on any image.
// A PNG made by this model is re-rendered from its recipe with the upsampler
// (exactly what `generate --upsample` gives); any other image needs --prompt.
#include "cli_engine.h"
#include "image_io.h"

namespace gg::cli {

Command upsample_command() {
  Command c;
  c.name = "upsample";
  c.summary = "Upsample an image with the model's text-conditioned upsampler (e.g. 64 -> 256 px).";
  c.options = {
      {"image", "FILE", "image to upsample (a gigagan PNG, or any image with --prompt)", ""},
      {"prompt", "TEXT", "text conditioning (default: the PNG's recipe)", ""},
      {"seed", "N", "seed of the upsampler's z and input noise", "0"},
      {"psi", "X", "truncation of the upsampler's w", "1"},
      {"out", "FILE", "PNG to write", "upsampled.png"},
      model_option(),
      device_option(),
      threads_option(),
  };
  c.run = [](const Args& args, std::ostream& out) {
    const std::string image = required(args, "image");
    if (args.has("prompt")) check_prompt(args.get("prompt"));
    auto engine = open_engine(args);
    if (!engine->package().upsampler)
      throw ConfigError("model '" + engine->model_name() + "' has no upsampler (its package.json has no \"upsampler\")");
    if (!args.has("prompt")) {
      // The image's own recipe, re-rendered with the upsampler.
      RecipeGrid g;
      try {
        g = read_recipe_file(image);
      } catch (const ConfigError& e) {
        throw ConfigError(std::string(e.what()) + "; pass --prompt to upsample an image without a recipe");
      }
      for (auto& cell : g.cells) cell.upsample = true;
      render_and_save(*engine, g.cells, g.columns, args.get("out"), out);
      return 0;
    }
    const int r_in = engine->package().upsampler->config.input_resolution;
    const auto x = read_image(image, r_in).unsqueeze(0);
    const auto y = engine->upsample(x, {Source{args.get("prompt"), parse_seed(args.get("seed"), "--seed"),
                                               args.get_double("psi"), {}}});
    write_png(args.get("out"), to_bgr8(y[0]));
    out << "wrote " << args.get("out") << " (" << y.size(3) << " px)\n";
    return 0;
  };
  return c;
}

}  // namespace gg::cli

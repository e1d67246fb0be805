// `gigagan mix`: W-space style swapping (the studio's Mix panel). Image A
// (prompt + seed, or the first source of a recipe such as an inverted image)
// takes w and/or t_local from image B on the chosen layers: e.g. layout from A,
// texture from B with --layers fine.
#include "cli_engine.h"

namespace gg::cli {

Command mix_command() {
  Command c;
  c.name = "mix";
  c.summary = "Style swapping: take w and/or text (t_local) of some layers from a second image.";
  c.options = {
      {"a", "TEXT", "prompt of image A (the base)", ""},
      {"a-seed", "N", "seed of image A", "0"},
      {"a-recipe", "FILE", "image A from a recipe (PNG or JSON; its first source), instead of --a", ""},
      {"b", "TEXT", "prompt of image B (required)", ""},
      {"b-seed", "N", "seed of image B", "1"},
      {"layers", "LAYERS",
       "layers taken from B: coarse (4-8 px), middle (16-32 px), fine (64 px + upsampler), upsampler, all, 16px, "
       "8px.b1, 3, 2-5, comma-separated",
       "coarse"},
      {"swap", "WHAT", "what those layers take from B: w, t or both", "both"},
      {"amount", "X", "how much of B on those layers (0..1; 1 = swap)", "1"},
      {"psi", "X", "truncation for prompt sources", "0.8"},
      {"upsample", "", "also run the upsampler", ""},
      {"out", "FILE", "PNG to write (recipe inside)", "mixed.png"},
      model_option(),
      device_option(),
      threads_option(),
  };
  c.run = [](const Args& args, std::ostream& out) {
    if (args.has("a") == args.has("a-recipe"))
      throw UsageError("gigagan mix: give image A as --a TEXT or --a-recipe FILE (one of them)");
    const std::string b = required(args, "b");
    const std::string swap = args.get("swap");
    if (swap != "w" && swap != "t" && swap != "both")
      throw UsageError("gigagan mix: --swap expects w, t or both, got '" + swap + "'");
    const double amount = args.get_double("amount");
    if (!(amount >= 0 && amount <= 1)) throw UsageError("gigagan mix: --amount must be within 0..1");
    Recipe r;
    if (args.has("a-recipe")) {
      const auto g = read_recipe_file(args.get("a-recipe"));
      r.sources = {g.cells[0].sources.at(0)};
    } else {
      r.sources = {Source{args.get("a"), parse_seed(args.get("a-seed"), "--a-seed"), args.get_double("psi"), {}}};
    }
    r.sources.push_back(Source{b, parse_seed(args.get("b-seed"), "--b-seed"), args.get_double("psi"), {}});
    LayerBlend l;
    l.layers = args.get("layers");
    if (swap != "t") l.w = {1 - amount, amount};
    if (swap != "w") l.t = {1 - amount, amount};
    r.layers = {l};
    r.upsample = args.flag("upsample");
    auto engine = open_engine(args);
    engine->layers().parse(l.layers);  // name an unknown layer before any work
    render_and_save(*engine, {r}, 1, args.get("out"), out);
    return 0;
  };
  return c;
}

}  // namespace gg::cli

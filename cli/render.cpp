// `gigagan render`: renders a recipe (a JSON file, or the recipe inside a PNG
// written by gigagan or the studio) to the same pixels.
#include "cli_engine.h"

namespace gg::cli {

Command render_command() {
  Command c;
  c.name = "render";
  c.summary = "Render a recipe (JSON, or a gigagan PNG's embedded recipe) to a PNG.";
  c.options = {
      {"recipe", "FILE", "recipe JSON or PNG carrying one", ""},
      {"out", "FILE", "PNG to write", "rendered.png"},
      {"print", "", "print the recipe JSON instead of rendering", ""},
      {"any-model", "", "render even when the recipe was made with another model (hash)", ""},
      model_option(),
      device_option(),
      threads_option(),
  };
  c.run = [](const Args& args, std::ostream& out) {
    const RecipeGrid g = read_recipe_file(required(args, "recipe"));
    if (args.flag("print")) {
      out << g.to_json().dump(2) << "\n";
      return 0;
    }
    auto engine = open_engine(args);
    render_and_save(*engine, g.cells, g.columns, args.get("out"), out, args.flag("any-model"));
    return 0;
  };
  return c;
}

}  // namespace gg::cli

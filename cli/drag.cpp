// `gigagan drag`: drag-based point editing (the studio's Drag tool; DragGAN,
// Pan et al., SIGGRAPH 2023): moves handle points of a recipe's image to
// their targets by optimising its W+ latent, and writes the result, whose
// recipe holds the latent (like `gigagan invert`), so every other command
// accepts it.
#include <cmath>
#include <iomanip>
#include <sstream>

#include "cli_engine.h"
#include "drag.h"
#include "image_io.h"

namespace gg::cli {

namespace {

// "x,y:x2,y2" -> a pair; UsageError naming the value.
DragPair parse_point(const std::string& s) {
  auto bad = [&] {
    return UsageError("gigagan drag: --point expects HANDLE_X,HANDLE_Y:TARGET_X,TARGET_Y in pixels of the "
                      "generator's image (e.g. 20,32:40,32), got '" + s + "'");
  };
  const auto colon = s.find(':');
  if (colon == std::string::npos) throw bad();
  auto xy = [&](const std::string& part) {
    const auto comma = part.find(',');
    if (comma == std::string::npos) throw bad();
    DragPoint p;
    size_t used = 0;
    try {
      p.x = std::stod(part.substr(0, comma), &used);
      if (used != comma) throw bad();
      const std::string y = part.substr(comma + 1);
      p.y = std::stod(y, &used);
      if (used != y.size()) throw bad();
    } catch (const std::logic_error&) {
      throw bad();
    }
    return p;
  };
  return DragPair{xy(s.substr(0, colon)), xy(s.substr(colon + 1))};
}

std::string point_str(DragPoint p) {
  std::ostringstream ss;
  ss << "(" << p.x << ", " << p.y << ")";
  return ss.str();
}

}  // namespace

Command drag_command() {
  Command c;
  c.name = "drag";
  c.summary = "Drag points of an image to targets (DragGAN point editing of the W+ latent).";
  c.options = {
      {"recipe", "FILE", "the image to edit: a PNG written by gigagan or the studio (or its recipe JSON)", ""},
      {"point", "X,Y:X2,Y2",
       "a handle point and its target, in pixels of the generator's image (0 = the top-left pixel's centre)", "",
       true},
      {"mask", "FILE", "image of the region allowed to move (white; black stays), resized to the generator's size", ""},
      {"steps", "N", "optimisation steps at most (stops early when every handle is within 1 px of its target)",
       "200"},
      {"lr", "X", "learning rate (Adam) of the latent", "0.004"},
      {"layers", "LAYERS", "the W+ slots optimised (default: every slot up to the feature layer)", ""},
      {"feature-layer", "SLOT", "the slot whose features are dragged and tracked (default: the last slot at half "
                                "the resolution)", ""},
      {"mask-weight", "X", "weight of the term keeping the region outside the mask", "20"},
      {"r1", "PX", "radius of the dragged patch around each handle (0 = max(2, resolution / 32))", "0"},
      {"r2", "PX", "radius of the window where handles are tracked (0 = max(3, resolution / 16))", "0"},
      {"out", "FILE", "result PNG (recipe with the latent inside)", "dragged.png"},
      {"any-model", "", "edit even when the recipe was made with another model (hash)", ""},
      model_option(),
      device_option(),
      threads_option(),
  };
  c.run = [](const Args& args, std::ostream& out) {
    const std::string recipe_path = required(args, "recipe");
    const auto points = args.get_all("point");
    if (points.empty()) throw UsageError("gigagan drag: give at least one --point HANDLE_X,HANDLE_Y:TARGET_X,TARGET_Y");
    DragOptions o;
    for (const auto& p : points) o.points.push_back(parse_point(p));
    o.steps = args.get_int("steps");
    if (o.steps < 1) throw UsageError("gigagan drag: --steps must be >= 1");
    o.lr = args.get_double("lr");
    o.layers = args.get("layers");
    o.feature_layer = args.get("feature-layer");
    o.mask_weight = args.get_double("mask-weight");
    o.r1 = args.get_double("r1");
    o.r2 = args.get_double("r2");
    const RecipeGrid grid = read_recipe_file(recipe_path);
    if (grid.cells.size() != 1)
      throw ConfigError("'" + recipe_path + "' is a grid of " + std::to_string(grid.cells.size()) +
                        " images; drag edits one: render one cell (e.g. gigagan generate --count 1) and drag that");
    Recipe start = grid.cells[0];
    auto engine = open_engine(args);
    if (args.flag("any-model")) engine->stamp(start);
    const int res = engine->package().generator->config.resolution;
    if (args.has("mask")) o.mask = read_image(args.get("mask"), res).mean(0) > 0;  // white (> mid-grey) moves
    const auto r = drag(*engine, start, o);
    out << std::fixed << std::setprecision(2) << "dragged " << o.points.size() << " point"
        << (o.points.size() == 1 ? "" : "s") << " in " << r.steps << " steps (" << r.seconds << " s"
        << (r.stopped ? ", stopped" : r.reached ? ", all reached" : "") << ")\n";
    for (size_t i = 0; i < o.points.size(); ++i) {
      const auto& h = r.handles[i];
      const auto& t = o.points[i].target;
      out << "  point " << i + 1 << ": " << point_str(o.points[i].handle) << " -> " << point_str(t) << ", now at "
          << point_str(h) << ", " << std::hypot(t.x - h.x, t.y - h.y) << " px from its target\n";
    }
    render_and_save(*engine, {r.recipe}, 1, args.get("out"), out);
    return 0;
  };
  return c;
}

}  // namespace gg::cli

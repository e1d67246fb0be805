// `gigagan generate`: images from prompts and seeds (the studio's Generate
// panel): truncation around the prompt's mean w, grids, latent directions,
// the upsampler. Every PNG carries its recipe.
#include <algorithm>

#include "cli_engine.h"
#include "prompt_style.h"

namespace gg::cli {

namespace {

// --style: every prompt with its style clause set to `style`, removed
// ("none"), or one prompt per style of the model ("all", the model's order).
std::vector<std::string> styled_prompts(const std::vector<std::string>& prompts, const std::string& style,
                                        const std::vector<std::string>& styles) {
  std::string known;
  for (const auto& s : styles) known += (known.empty() ? "" : ", ") + s;
  if (style == "all" && styles.empty())
    throw UsageError("gigagan generate: --style all: this model's package lists no styles");
  if (style != "all" && style != "none") {
    if (!is_style_word(style))
      throw UsageError("gigagan generate: --style '" + style + "' is not a style word (a-z, 0-9, '-', 1-" +
                       std::to_string(kMaxStyleWordBytes) + " bytes), 'all' or 'none'");
    if (!styles.empty() && std::find(styles.begin(), styles.end(), style) == styles.end())
      throw UsageError("gigagan generate: --style '" + style + "' is not one of this model's styles: " + known);
  }
  std::vector<std::string> out;
  for (const auto& p : prompts) {
    if (style == "all")
      for (const auto& s : styles) out.push_back(with_style(p, s));
    else
      out.push_back(with_style(p, style == "none" ? std::string() : style));
  }
  if (out.size() > kMaxGridPrompts)
    throw UsageError("gigagan generate: --style all makes " + std::to_string(out.size()) + " rows, at most " +
                     std::to_string(kMaxGridPrompts));
  return out;
}

}  // namespace

Command generate_command() {
  Command c;
  c.name = "generate";
  c.summary = "Generate images from a prompt (grids of seeds, truncation, directions, upsampling).";
  c.options = {
      {"prompt", "TEXT", "what to draw (repeatable: one grid row per prompt)", "", true},
      {"seed", "N", "first seed", "0"},
      {"count", "N", "images per prompt (seeds N, N+1, ...)", "1"},
      {"style", "WORD|all|none",
       "draw each prompt in this style of the model (its \", WORD style\" clause set), in all of them (a row "
       "each), or with the clause removed",
       ""},
      {"psi", "X", "truncation around the prompt's mean w (1 = none, 0 = the mean)", "0.8"},
      {"direction-from", "TEXT", "latent direction: from this prompt ...", ""},
      {"direction-to", "TEXT", "... to this prompt (mean w difference)", ""},
      {"strength", "X", "strength of the direction", "1"},
      {"direction-layers", "LAYERS", "layers the direction acts on", "all"},
      {"upsample", "", "also run the upsampler and save its output", ""},
      {"noise", "MODE", "per-layer noise: const or none", "const"},
      {"columns", "N", "grid width (default: --count)", ""},
      {"out", "FILE", "PNG to write (recipe inside)", "generated.png"},
      model_option(),
      device_option(),
      threads_option(),
  };
  c.run = [](const Args& args, std::ostream& out) {
    auto prompts = args.get_all("prompt");
    if (prompts.empty()) throw UsageError("gigagan generate: --prompt is required");
    const uint64_t seed = parse_seed(args.get("seed"), "--seed");
    const int count = args.get_int("count");
    if (count < 1 || count > 1024) throw UsageError("gigagan generate: --count must be 1..1024");
    const bool has_from = args.has("direction-from"), has_to = args.has("direction-to");
    if (has_from != has_to)
      throw UsageError("gigagan generate: a direction needs both --direction-from and --direction-to");
    auto engine = open_engine(args);
    if (args.has("style")) prompts = styled_prompts(prompts, args.get("style"), engine->package().styles);
    std::vector<Recipe> cells;
    for (const auto& p : prompts)
      for (int i = 0; i < count; ++i) {
        Recipe r;
        r.sources = {Source{p, seed + static_cast<uint64_t>(i), args.get_double("psi"), {}}};
        if (has_from)
          r.directions = {{args.get("direction-from"), args.get("direction-to"), -1, -1, args.get_double("strength"),
                           args.get("direction-layers")}};
        r.upsample = args.flag("upsample");
        r.noise = args.get("noise");
        cells.push_back(r);
      }
    const int columns = args.has("columns") ? args.get_int("columns") : count;
    render_and_save(*engine, cells, columns, args.get("out"), out);
    return 0;
  };
  return c;
}

}  // namespace gg::cli

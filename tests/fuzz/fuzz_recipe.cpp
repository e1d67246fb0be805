// libFuzzer target: recipe JSON (single recipes and grids): strict numbers,
// counts and indices within the limits, prompts in UTF-8, latents finite; a
// recipe that parses must serialize (valid UTF-8 JSON) and parse back.
#include "errors.h"
#include "fuzz_target.h"
#include "recipe.h"

GG_FUZZ_TARGET(recipe) {
  try {
    const gg::RecipeGrid g = gg::RecipeGrid::parse(gg::fuzz::bytes(data, size), "fuzz.json");
    const std::string text = g.to_json().dump();  // throws type_error 316 on invalid UTF-8: a finding
    (void)gg::RecipeGrid::parse(text, "fuzz-again.json");
  } catch (const gg::Error&) {
  }
  return 0;
}

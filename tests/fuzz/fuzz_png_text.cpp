// libFuzzer target: PNG text chunks (tEXt, iTXt, zTXt) as read for the
// recipe a PNG carries, then the recipe inside.
#include "errors.h"
#include "fuzz_target.h"
#include "image_io.h"
#include "recipe.h"

GG_FUZZ_TARGET(png_text) {
  const std::string in = gg::fuzz::bytes(data, size);
  try {
    const auto text = gg::parse_png_text(in, "fuzz.png");
    (void)gg::png_compressed_text_keys(in);
    auto it = text.find(gg::kRecipeChunkKey);
    if (it != text.end()) (void)gg::RecipeGrid::parse(it->second, "fuzz.png");
  } catch (const gg::Error&) {
  }
  return 0;
}

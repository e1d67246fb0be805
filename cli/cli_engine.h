// Shared pieces of the engine subcommands (generate, mix, interpolate, invert,
// upsample, render) and `gigagan bench --engine`: the --model option resolved
// to the shipped package, opening the engine, writing images that carry their
// recipe, reading recipes back from PNGs or JSON files.
#pragma once
#include <memory>
#include <opencv2/core.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "cli.h"
#include "engine.h"
#include "recipe.h"

namespace gg::cli {

Option model_option();
// --model's value, or the shipped package (<resource dir>/models/emoji).
// Throws CheckpointError naming the folders searched when there is none.
std::string resolve_model_path(const Args& args);
// init_runtime(--threads), --device, load the package; warnings go to stderr.
std::unique_ptr<Engine> open_engine(const Args& args);

// The value of a required option; UsageError (exit 2) when it is absent.
std::string required(const Args& args, const std::string& name);
// Throws PromptError for an empty or blank prompt (checked before slow work).
void check_prompt(const std::string& prompt);
uint64_t parse_seed(const std::string& s, const std::string& option);

// Renders `cells` as one batch, writes a PNG (a grid of `columns` when there
// are several) carrying the recipe, and prints a line naming the file.
// Returns the rendered batch.
Rendered render_and_save(Engine& engine, std::vector<Recipe> cells, int columns, const std::string& path,
                         std::ostream& out, bool allow_other_model = false);
// Images [N, 3, H, W] in [-1, 1] -> one BGR picture, `columns` wide, row-major.
cv::Mat tile(const torch::Tensor& images, int columns);

// Reads a recipe (or grid) from a PNG's text chunk or a JSON file. Throws
// ConfigError / ImageError naming the file.
RecipeGrid read_recipe_file(const std::string& path);

// `gigagan bench --engine PKG|PRESET`: the engine's speed (see cli/bench.cpp).
int engine_bench(const Args& args, std::ostream& out);

}  // namespace gg::cli

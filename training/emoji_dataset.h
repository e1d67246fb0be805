// The emoji dataset: `gigagan data emoji --out DIR` (issue 4).
// Sources come from the npm registry (npm pack + tar): Noto (@svgmoji/noto,
// one sprite sheet, split here), Twemoji (@twemoji/svg), optionally OpenMoji,
// and emojibase-data's en/data.json for captions. Each SVG is rendered with
// librsvg + cairo at 256 px on white; the 64 px image is its exact 4x4 mean.
// Output, all paths relative to DIR:
//   images/<style>/<hex>_256.png, images/<style>/<hex>_64.png
//   manifest.jsonl  one object per image: image, image_256, caption, split,
//                   weight, style, hexcode, group
//   report.json     counts per style, skipped entries with reasons, time
//   NOTICE.md       licences and attributions; licenses/ the packages' texts
// No Qt, no LibTorch.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace gg {

// ---- Captions (emojibase-data) --------------------------------------------

// Canonical key of an emoji's code points, used to match file names across
// vendors: hex tokens split on '-' or '_', parsed as numbers, variation
// selectors FE0F/FE0E dropped, written lowercase without leading zeros.
// "0023-FE0F-20E3", "23-20e3" and "23_fe0f_20e3" all give "23-20e3".
// Returns "" when `name` is not a code point sequence.
std::string emoji_key(const std::string& name);

struct EmojiInfo {
  std::string hexcode;       // emojibase's hexcode, e.g. "1F44B-1F3FD"
  std::string label;         // the variant's label, e.g. "waving hand: medium skin tone"
  std::string base_hexcode;  // the emoji it is a skin-tone variant of (itself for a base emoji)
  std::string base_label;    // "waving hand"
  std::vector<std::string> tags;  // keywords of the base emoji
  std::string group;         // emojibase group key, e.g. "people-body"; "other" when it has none
  bool skin_variant = false;
};

// emojibase-data en/data.json (with en/messages.json for group names when it
// is next to it): every emoji and every skin-tone variant, by emoji_key.
class EmojiCatalog {
 public:
  static EmojiCatalog load(const std::filesystem::path& data_json);
  const EmojiInfo* find(const std::string& key) const;
  size_t size() const { return by_key_.size(); }
  // Number of entries (base + skin-tone variants) of the family of `base_hexcode`.
  int family_size(const std::string& base_hexcode) const;

 private:
  std::map<std::string, EmojiInfo> by_key_;
  std::map<std::string, int> family_size_;
};

// `<label>[, <skin tone>], <up to 4 keywords not in the label>, <style> style`.
// The variant's "label: qualifiers" becomes "label, qualifiers"; a keyword is
// left out when all of its words are already words of that text; keywords keep
// emojibase's order and are not repeated.
std::string emoji_caption(const EmojiInfo& info, const std::string& style, int max_keywords = 4);

// Validation split by emoji: a stable hash (FNV-1a 64) of the emoji_key of the
// BASE emoji, so every style and every skin-tone variant of an emoji fall on
// the same side. Returns "val" for about `val_fraction` of emoji, else "train".
std::string emoji_split(const std::string& base_hexcode, double val_fraction);
uint64_t fnv1a64(const std::string& s);

// ---- Building -------------------------------------------------------------

// One SVG of one style: either in memory (`svg`, from a sprite) or a file.
struct SvgInput {
  std::string name;  // file stem or sprite id, e.g. "1f431" or "0023-FE0F-20E3"
  std::string svg;   // document text; empty when `path` is set
  std::filesystem::path path;
};

struct StyleInputs {
  std::string style;  // "noto", "twemoji", "openmoji"
  std::vector<SvgInput> svgs;
  // Entries left out before rendering (e.g. OpenMoji brand logos), by name -> reason.
  std::vector<std::pair<std::string, std::string>> excluded;
};

struct EmojiBuildOptions {
  int size = 256;             // the large image; the small one is size / 4
  int threads = 0;            // 0: all hardware threads
  int limit = 0;              // > 0: only the first N captioned emoji per style
  double val_fraction = 0.02;
  std::function<void(const std::string&)> log;  // progress lines; may be empty
  std::vector<std::string> sources;  // recorded in report.json, e.g. "@twemoji/svg@15.0.0"
};

struct EmojiBuildResult {
  struct StyleCounts {
    int inputs = 0, rendered = 0, no_caption = 0, render_failed = 0, duplicate = 0, excluded = 0;
    int train = 0, val = 0;
  };
  std::map<std::string, StyleCounts> styles;
  struct Skipped {
    std::string style, name, reason, detail;
  };
  std::vector<Skipped> skipped;
  int images = 0;
  double seconds = 0;
  std::filesystem::path manifest;
};

// Renders every captioned SVG into `out`, writes manifest.jsonl and
// report.json atomically. Sampling weight: the skin-tone variants of an emoji
// share the weight of one emoji, i.e. weight = 1 / (number of members of its
// family, base plus variants, present in that style); an emoji without
// variants weighs 1. People & body emoji are over half the files but about a
// fifth of the weight this way. A corrupt SVG is skipped and reported; an
// empty result throws DatasetError saying why.
EmojiBuildResult build_emoji_dataset(const std::filesystem::path& out, const std::vector<StyleInputs>& inputs,
                                     const EmojiCatalog& catalog, const EmojiBuildOptions& options);

// ---- Sources (npm) --------------------------------------------------------

struct NpmPackage {
  std::string name, version;  // "@twemoji/svg", "15.0.0"
};
// `npm pack NAME@VERSION` into `cache_dir` unless the tarball is already
// there, then unpacks it (tar) into cache_dir/<stem>/ once. Returns the
// package's root (cache_dir/<stem>/package). DatasetError, naming the package,
// when npm is missing, offline or the tarball cannot be unpacked.
std::filesystem::path fetch_npm_package(const NpmPackage& package, const std::filesystem::path& cache_dir,
                                        const std::function<void(const std::string&)>& log = {});

// The SVGs of one style from its unpacked package: noto splits
// sprites/all.svg; twemoji lists *.svg; openmoji lists color/svg/*.svg and
// excludes what data/openmoji.json puts in the extras groups (brand logos,
// non-emoji Unicode symbols). Sorted by name.
StyleInputs load_style_inputs(const std::string& style, const std::filesystem::path& package_root);

// The package each style comes from, and the captions package.
NpmPackage style_package(const std::string& style);  // DatasetError for an unknown style
NpmPackage captions_package();

struct EmojiDatasetOptions {
  std::filesystem::path out;
  std::vector<std::string> styles = {"noto", "twemoji"};
  std::filesystem::path cache;  // empty: <out>/../cache/npm
  EmojiBuildOptions build;
};
// The whole command: fetch, split, caption, render, write NOTICE.md.
EmojiBuildResult make_emoji_dataset(const EmojiDatasetOptions& options);

// NOTICE.md text for the given styles (licences and attributions).
std::string emoji_notice(const std::vector<std::string>& styles);

}  // namespace gg

// The emoji dataset: `gigagan data emoji --out DIR`.
// Sources come from the npm registry (npm pack + tar): Noto (@svgmoji/noto,
// one sprite sheet, split here), Twemoji (@twemoji/svg), the emoji sets of
// Iconify (@iconify-json/*: Fluent Emoji Flat, Noto v1, Firefox OS Emoji,
// Emoji One, Streamline Emojis, ...; one icons.json each), optionally OpenMoji,
// and emojibase-data's en/data.json (+ en/shortcodes/) for captions. Every
// style is listed in emoji_styles() with its package, licence and caption
// word. Each SVG is rendered with librsvg + cairo at 256 px on white; the
// 64 px image is its exact 4x4 mean.
// Output, all paths relative to DIR:
//   images/<style>/<hex>_256.png, images/<style>/<hex>_64.png
//   manifest.jsonl  one object per image: image, image_256, caption, split,
//                   weight, style, hexcode, group, subgroup
//   report.json     counts per style, skipped entries with reasons, time
//   NOTICE.md       licences and attributions; licenses/ the licence texts
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
  std::string subgroup;      // emojibase subgroup key, e.g. "hand-fingers-open"; "other" when it has none
  bool skin_variant = false;
};

// `text` as an icon name: lowercase ASCII, common Latin accents dropped
// ("Côte" -> "cote"), apostrophes removed, every other run of characters
// that are not letters or digits one '-', none at either end.
// "flag: Côte d’Ivoire" -> "flag-cote-divoire", "keycap: *" -> "keycap".
std::string emoji_slug(const std::string& text);

// emojibase-data en/data.json (with en/messages.json for group names and
// en/shortcodes/*.json for name matching when they are next to it): every
// emoji and every skin-tone variant, by emoji_key.
class EmojiCatalog {
 public:
  static EmojiCatalog load(const std::filesystem::path& data_json);
  const EmojiInfo* find(const std::string& key) const;
  size_t size() const { return by_key_.size(); }
  // Number of entries (base + skin-tone variants) of the family of `base_hexcode`.
  int family_size(const std::string& base_hexcode) const;

  // The emoji an icon name spells, for icon sets that do not give code points
  // (Iconify sets with an empty chars.json name their icons after CLDR names).
  // Tried in order, the first hit wins (rank = its number):
  //   0  the emoji_slug of an emojibase label ("grinning-face",
  //      "waving-hand-medium-skin-tone"),
  //   1  the same with "flag-for-" (and "flag-for-flag-") read as "flag-"
  //      ("flag-for-fiji" -> "flag-fiji"),
  //   2  an emojibase shortcode (cldr, emojibase, github, iamcal, joypixels
  //      lists) as a slug ("hugging-face", "cop"),
  //   3  1 and 2 with every '-' removed on both sides ("beermug"),
  //   4+ any of these with a trailing "-<digits>" removed, for sets that draw
  //      variants of one emoji ("baby-2" -> "baby"; rank 4 + the rule's).
  // A slug that names two different emoji is ambiguous and matches nothing.
  struct NameMatch {
    std::string key;  // emoji_key of the emoji, "" when nothing matches
    int rank = -1;
  };
  NameMatch match_name(const std::string& icon_name) const;

 private:
  std::map<std::string, EmojiInfo> by_key_;
  std::map<std::string, int> family_size_;
  // slug -> emoji_key ("" when ambiguous); *_flat_: the slugs without '-'.
  std::map<std::string, std::string> by_label_, by_shortcode_, by_label_flat_, by_shortcode_flat_;
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

// ---- Styles ---------------------------------------------------------------

struct NpmPackage {
  std::string name, version;  // "@twemoji/svg", "15.0.0"
};

// One emoji style: where its SVGs come from, its licence, and whether the
// default build has it (permissive licence, renders well).
struct EmojiStyle {
  // The style word: the folder under images/, the --styles value and the
  // caption's last clause ("cat face, ..., fluent style").
  std::string name;
  std::vector<std::string> aliases;  // also accepted by --styles, e.g. "fluent-emoji-flat"
  std::string title;                 // "Fluent Emoji Flat by Microsoft"
  NpmPackage package;
  // "noto-sprite" (@svgmoji/noto), "svg-files" (@twemoji/svg), "openmoji",
  // "iconify" (an Iconify JSON package: icons.json [+ chars.json]).
  std::string format;
  // Iconify packages without chars.json whose icons have the names of
  // another package's: that package (its chars.json gives the code points).
  // Empty name: none (code points from the icon names, EmojiCatalog::match_name).
  NpmPackage chars_package = {};
  std::string license;      // SPDX id of the artwork's licence: "MIT", "Apache-2.0", "CC-BY-4.0", ...
  bool in_default = false;  // part of the default build
  std::string note = {};    // why it is not in the default build, when it is not
};
// Every style `gigagan data emoji` can build, default ones first:
//   style word   package                                   artwork licence
//   noto         @svgmoji/noto                             Apache-2.0
//   twemoji      @twemoji/svg                              CC-BY-4.0
//   fluent       @iconify-json/fluent-emoji-flat           MIT
//   notov1       @iconify-json/noto-v1                     Apache-2.0
//   emojione     @iconify-json/emojione                    CC-BY-4.0
//   firefox      @iconify-json/fxemoji                     CC-BY-4.0 (design; code Apache-2.0)
//   streamline   @iconify-json/streamline-emojis           CC-BY-4.0
//   fluentcolor  @iconify-json/fluent-emoji                MIT
// opt-in:
//   openmoji     openmoji                                  CC-BY-SA-4.0
//   emojionev1   @iconify-json/emojione-v1                 CC-BY-SA-4.0
//   fluentmono   @iconify-json/fluent-emoji-high-contrast  MIT (black and white)
//   emojionemono @iconify-json/emojione-monotone           CC-BY-4.0 (black and white)
// (@iconify-json/noto, /twemoji and /openmoji hold the same artwork as
// noto, twemoji and openmoji, so they are not styles of their own.)
const std::vector<EmojiStyle>& emoji_styles();
// By name or alias (DatasetError listing the styles for an unknown one).
const EmojiStyle& emoji_style(const std::string& name_or_alias);
// The names of the default build's styles, in emoji_styles() order.
std::vector<std::string> default_emoji_styles();

// ---- Building -------------------------------------------------------------

// One SVG of one style: either in memory (`svg`, from a sprite) or a file.
struct SvgInput {
  std::string name;  // file stem or sprite id, e.g. "1f431" or "0023-FE0F-20E3"
  std::string svg;   // document text; empty when `path` is set
  std::filesystem::path path;
  // Where it came from when `name` does not say, e.g. the Iconify icon name
  // ("grinning-face"); used in report.json.
  std::string label = {};
};

struct StyleInputs {
  std::string style;  // the style word: "noto", "twemoji", "fluent", ...
  // By name; when two inputs have the same emoji, the first is rendered and
  // the others are reported as duplicates.
  std::vector<SvgInput> svgs;
  // Entries left out before rendering (e.g. OpenMoji brand logos, Iconify
  // icons without a code point), by name -> reason.
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

// `npm pack NAME@VERSION` into `cache_dir` unless the tarball is already
// there, then unpacks it (tar) into cache_dir/<stem>/ once. Returns the
// package's root (cache_dir/<stem>/package). DatasetError, naming the package,
// when npm is missing, offline or the tarball cannot be unpacked.
std::filesystem::path fetch_npm_package(const NpmPackage& package, const std::filesystem::path& cache_dir,
                                        const std::function<void(const std::string&)>& log = {});

// An Iconify JSON icon set (icons.json: "prefix", "icons" {name: {"body",
// optional "left", "top", "width", "height", "rotate", "hFlip", "vFlip",
// "hidden"}}, default "left"/"top"/"width"/"height" at the top level (16 x 16
// when absent), "aliases" {name: {"parent", optional the same transforms}},
// optional "chars" {hex code point sequence: icon name}) as SVG inputs named
// by emoji_key, each a standalone SVG document (viewBox from the icon's box;
// hFlip/vFlip/rotate as Iconify applies them; an alias takes its parent's
// body, its transforms combined with the parent's, possibly over a chain).
// Code points: the "chars" of icons.json, else those of `chars_json` when
// that is a file, else (also when these are empty, as the chars.json of the
// sets without code points is) the icon names matched by `catalog`
// (match_name); a DatasetError when none of these is given. Icons that get
// no code point are listed in `excluded` ("no code point: ..."), as are
// icons whose alias chain is broken; aliases without a code point are only
// other names and are not listed. When several icons give one emoji, the best match comes first
// (chars before names, then by match rank, icons before hidden icons and
// aliases, then by name): it is rendered, the others are duplicates; an
// alias drawn exactly as an earlier input of its emoji is left out.
StyleInputs load_iconify_style(const std::string& style, const std::filesystem::path& icons_json,
                               const std::filesystem::path& chars_json = {}, const EmojiCatalog* catalog = nullptr);

// The SVGs of one style from its unpacked package: noto splits
// sprites/all.svg; twemoji lists *.svg; openmoji lists color/svg/*.svg and
// excludes what data/openmoji.json puts in the extras groups (brand logos,
// non-emoji Unicode symbols); iconify styles use load_iconify_style on
// icons.json and chars.json (`chars_root`: the unpacked chars_package, when
// the style has one), matching names with `catalog` when there is no
// chars.json. Sorted by name.
StyleInputs load_style_inputs(const std::string& style, const std::filesystem::path& package_root,
                              const EmojiCatalog* catalog = nullptr, const std::filesystem::path& chars_root = {});

// The package each style comes from, and the captions package.
NpmPackage style_package(const std::string& style);  // DatasetError for an unknown style
NpmPackage captions_package();

struct EmojiDatasetOptions {
  std::filesystem::path out;
  std::vector<std::string> styles = default_emoji_styles();
  std::filesystem::path cache;  // empty: <out>/../cache/npm
  EmojiBuildOptions build;
};
// The whole command: fetch, split, caption, render, write NOTICE.md.
EmojiBuildResult make_emoji_dataset(const EmojiDatasetOptions& options);

// NOTICE.md text for the given styles (licences and attributions). Every
// style has a section naming its package, artwork, authors and licence.
std::string emoji_notice(const std::vector<std::string>& styles);

}  // namespace gg

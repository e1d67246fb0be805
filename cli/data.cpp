// `gigagan data emoji --out DIR`: builds the emoji dataset (datasets/emoji_dataset.h).
#include <algorithm>
#include <iomanip>
#include <sstream>

#include "cli.h"
#include "emoji_dataset.h"

namespace gg::cli {

namespace {

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ",") + s;
  return out;
}

// "--styles" help: the default styles, then the opt-in ones with the reason.
std::string styles_help() {
  std::string opt_in;
  for (const EmojiStyle& s : emoji_styles())
    if (!s.in_default) opt_in += (opt_in.empty() ? "" : "; ") + s.name + " (" + s.note + ")";
  return "comma-separated styles, or `default` for the default set (e.g. default,openmoji). Default set: " +
         join(default_emoji_styles()) + ". Opt-in: " + opt_in;
}

}  // namespace

Command data_command() {
  Command c;
  c.name = "data";
  c.summary = "Build a training dataset: `gigagan data emoji --out DIR` (Noto, Twemoji and the Iconify emoji sets "
              "from npm, captions from emojibase).";
  c.options = {
      {"dataset", "emoji", "the dataset to build (only: emoji)", "", false, true},
      {"out", "DIR", "output folder: images/, manifest.jsonl, report.json, NOTICE.md (required)", ""},
      {"styles", "LIST", styles_help(), "default"},
      {"cache", "DIR", "npm tarball cache (default: <out>/../cache/npm)", ""},
      {"limit", "N", "only the first N emoji per style (0 = all), for quick runs", "0"},
      threads_option(),
      {"size", "PX", "large image size; the small one is size/4", "256"},
      {"val-fraction", "F", "fraction of emoji held out for validation (by emoji)", "0.02"},
  };
  c.run = [](const Args& args, std::ostream& out) {
    const std::string dataset = args.get("dataset");
    if (dataset.empty()) throw UsageError("gigagan data: which dataset? (gigagan data emoji --out DIR)");
    if (dataset != "emoji") throw UsageError("gigagan data: unknown dataset '" + dataset + "' (datasets: emoji)");
    if (!args.has("out")) throw UsageError("gigagan data: --out DIR is required");
    EmojiDatasetOptions o;
    o.out = args.get("out");
    o.styles.clear();
    auto add = [&o](const std::string& s) {  // "default,noto": noto once
      if (std::find(o.styles.begin(), o.styles.end(), s) == o.styles.end()) o.styles.push_back(s);
    };
    for (const auto& s : split_list(args.get("styles"))) {
      if (s == "default") {
        for (const auto& d : default_emoji_styles()) add(d);
      } else {
        add(s);
      }
    }
    if (o.styles.empty()) throw UsageError("gigagan data: --styles is empty (e.g. default or noto,twemoji)");
    if (args.has("cache")) o.cache = args.get("cache");
    o.build.limit = args.get_int("limit");
    o.build.threads = args.get_int("threads");
    o.build.size = args.get_int("size");
    o.build.val_fraction = args.get_double("val-fraction");
    if (o.build.limit < 0) throw UsageError("gigagan data: --limit must be >= 0");
    if (o.build.threads < 0) throw UsageError("gigagan data: --threads must be >= 0");
    o.build.log = [&out](const std::string& line) { out << line << std::endl; };

    const EmojiBuildResult r = make_emoji_dataset(o);
    out << "\n" << std::left << std::setw(13) << "style" << std::right << std::setw(8) << "inputs" << std::setw(10)
        << "rendered" << std::setw(8) << "train" << std::setw(6) << "val" << std::setw(12) << "no caption"
        << std::setw(14) << "render fail" << std::setw(11) << "duplicate" << std::setw(10) << "excluded" << "\n";
    for (const auto& [style, s] : r.styles)
      out << std::left << std::setw(13) << style << std::right << std::setw(8) << s.inputs << std::setw(10)
          << s.rendered << std::setw(8) << s.train << std::setw(6) << s.val << std::setw(12) << s.no_caption
          << std::setw(14) << s.render_failed << std::setw(11) << s.duplicate << std::setw(10) << s.excluded << "\n";
    out << "\n" << r.images << " images in " << std::fixed << std::setprecision(1) << r.seconds << " s -> "
        << r.manifest.string() << " (see report.json, NOTICE.md beside it)\n";
    return 0;
  };
  return c;
}

}  // namespace gg::cli

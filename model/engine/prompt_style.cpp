#include "prompt_style.h"

#include <algorithm>
#include <set>

namespace gg {

namespace {
constexpr const char* kSuffix = " style";
constexpr size_t kSuffixBytes = 6;
}  // namespace

std::string caption_style(const std::string& caption) {
  if (caption.size() <= kSuffixBytes || caption.compare(caption.size() - kSuffixBytes, kSuffixBytes, kSuffix) != 0)
    return "";
  const size_t end = caption.size() - kSuffixBytes;
  const size_t sep = caption.find_last_of(", ", end - 1);
  const size_t start = sep == std::string::npos ? 0 : sep + 1;
  return start < end ? caption.substr(start, end - start) : "";
}

std::string with_style(const std::string& caption, const std::string& style) {
  const std::string old = caption_style(caption);
  std::string base = caption;
  if (!old.empty()) {
    base.resize(caption.size() - old.size() - kSuffixBytes);
    if (style.empty()) {
      while (!base.empty() && (base.back() == ' ' || base.back() == ',')) base.pop_back();
      return base;
    }
    return base + style + kSuffix;
  }
  if (style.empty()) return caption;
  return caption.empty() ? style + kSuffix : caption + ", " + style + kSuffix;
}

bool is_style_word(const std::string& word) {
  return !word.empty() && word.size() <= kMaxStyleWordBytes &&
         std::all_of(word.begin(), word.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
}

std::string check_style_words(const std::vector<std::string>& styles) {
  if (styles.size() > kMaxPackageStyles)
    return std::to_string(styles.size()) + " entries, at most " + std::to_string(kMaxPackageStyles);
  std::set<std::string> seen;
  for (size_t i = 0; i < styles.size(); ++i) {
    const std::string shown = styles[i].size() > 40 ? styles[i].substr(0, 40) + "..." : styles[i];
    if (!is_style_word(styles[i]))
      return "entry " + std::to_string(i) + ", '" + shown + "': a style word is 1-" +
             std::to_string(kMaxStyleWordBytes) + " bytes of a-z, 0-9 and '-'";
    if (!seen.insert(styles[i]).second) return "entry " + std::to_string(i) + ", '" + shown + "': listed twice";
  }
  return "";
}

}  // namespace gg

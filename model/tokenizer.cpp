// Ref: openai/CLIP clip/simple_tokenizer.py and Hugging Face CLIPTokenizer;
//      GigaGAN (Kang et al. 2023) encodes each prompt as C = 77 CLIP tokens.
// Choices where the references differ or cannot be followed in C++:
//  - ftfy.fix_text is unavailable: text is not repaired for mojibake, only HTML
//    unescaped (a basic subset of html.unescape: numeric references and the
//    common named ones), whitespace-collapsed, stripped and lowercased.
//  - \p{L}, \p{N}, \s and str.lower() come from generated tables
//    (tokenizer_unicode.inc, made from Python's unicodedata), so the scanner
//    agrees with the Python `regex` pattern without ICU.
#include "tokenizer.h"

#include "errors.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <mutex>
#include <sstream>

namespace gg {
namespace {

struct CodeRange {
  char32_t lo, hi;
};
struct LowerMapping {
  char32_t cp, lower0, lower1;  // lower1 == 0 when the lowercase is one code point
};
#include "tokenizer_unicode.inc"

template <size_t N>
bool in_ranges(const CodeRange (&table)[N], char32_t cp) {
  const CodeRange* end = table + N;
  const CodeRange* it =
      std::upper_bound(table, end, cp, [](char32_t c, const CodeRange& r) { return c < r.lo; });
  return it != table && cp <= (it - 1)->hi;
}

bool is_letter(char32_t cp) {
  if (cp < 0x80) return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z';
  return in_ranges(kLetterRanges, cp);
}
bool is_number(char32_t cp) {
  if (cp < 0x80) return cp >= '0' && cp <= '9';
  return in_ranges(kNumberRanges, cp);
}
bool is_space(char32_t cp) { return in_ranges(kSpaceRanges, cp); }

constexpr char32_t kReplacement = 0xFFFD;

// UTF-8 -> code points; each invalid byte becomes U+FFFD.
std::u32string utf8_decode(const std::string& s) {
  std::u32string out;
  out.reserve(s.size());
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    if (b0 < 0x80) {
      out.push_back(b0);
      ++i;
      continue;
    }
    int len = 0;
    char32_t cp = 0, min = 0;
    if ((b0 & 0xE0) == 0xC0) {
      len = 2, cp = b0 & 0x1F, min = 0x80;
    } else if ((b0 & 0xF0) == 0xE0) {
      len = 3, cp = b0 & 0x0F, min = 0x800;
    } else if ((b0 & 0xF8) == 0xF0) {
      len = 4, cp = b0 & 0x07, min = 0x10000;
    }
    bool ok = len > 0 && i + len <= n;
    for (int k = 1; ok && k < len; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0) != 0x80) ok = false;
      cp = (cp << 6) | (b & 0x3F);
    }
    if (ok && (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))) ok = false;
    if (ok) {
      out.push_back(cp);
      i += len;
    } else {
      out.push_back(kReplacement);
      ++i;
    }
  }
  return out;
}

void utf8_append(char32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string utf8_encode(const std::u32string& s, size_t begin, size_t end) {
  std::string out;
  out.reserve(end - begin);
  for (size_t i = begin; i < end; ++i) utf8_append(s[i], out);
  return out;
}

// A basic subset of Python's html.unescape: &#NNN;, &#xHH; (';' optional) and
// the named references that occur in captions.
std::u32string html_unescape(const std::u32string& s) {
  static const std::pair<const char*, char32_t> kNamed[] = {
      {"amp;", U'&'}, {"lt;", U'<'},     {"gt;", U'>'},      {"quot;", U'"'},
      {"apos;", U'\''}, {"nbsp;", 0xA0}, {"copy;", 0xA9},    {"reg;", 0xAE},
      {"ndash;", 0x2013}, {"mdash;", 0x2014}, {"hellip;", 0x2026}, {"amp", U'&'},
      {"lt", U'<'},     {"gt", U'>'},      {"quot", U'"'}};
  std::u32string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] != U'&') {
      out.push_back(s[i++]);
      continue;
    }
    bool done = false;
    if (i + 2 < s.size() && s[i + 1] == U'#') {
      size_t j = i + 2;
      const bool hex = s[j] == U'x' || s[j] == U'X';
      if (hex) ++j;
      uint64_t value = 0;
      const size_t digits_begin = j;
      while (j < s.size() && j - digits_begin < 8) {
        const char32_t c = s[j];
        int d = -1;
        if (c >= U'0' && c <= U'9') d = static_cast<int>(c - U'0');
        else if (hex && c >= U'a' && c <= U'f') d = static_cast<int>(c - U'a' + 10);
        else if (hex && c >= U'A' && c <= U'F') d = static_cast<int>(c - U'A' + 10);
        if (d < 0) break;
        value = value * (hex ? 16 : 10) + static_cast<uint64_t>(d);
        ++j;
      }
      if (j > digits_begin) {
        if (j < s.size() && s[j] == U';') ++j;
        const bool valid = value > 0 && value <= 0x10FFFF && !(value >= 0xD800 && value <= 0xDFFF);
        out.push_back(valid ? static_cast<char32_t>(value) : kReplacement);
        i = j;
        done = true;
      }
    } else {
      for (const auto& [name, cp] : kNamed) {
        const size_t len = std::char_traits<char>::length(name);
        if (i + 1 + len > s.size()) continue;
        bool match = true;
        for (size_t k = 0; k < len && match; ++k) match = s[i + 1 + k] == static_cast<char32_t>(name[k]);
        if (match) {
          out.push_back(cp);
          i += 1 + len;
          done = true;
          break;
        }
      }
    }
    if (!done) out.push_back(s[i++]);
  }
  return out;
}

// Python's str.lower(): full lowercase mapping, capital sigma by the Final_Sigma rule.
std::u32string lowercase(const std::u32string& s) {
  auto cased = [](char32_t c) { return in_ranges(kCasedRanges, c); };
  auto ignorable = [](char32_t c) { return in_ranges(kCaseIgnorableRanges, c); };
  std::u32string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const char32_t c = s[i];
    if (c < 0x80) {
      out.push_back(c >= U'A' && c <= U'Z' ? c + 32 : c);
      continue;
    }
    if (c == 0x3A3) {  // Final_Sigma: cased ignorable* Σ !(ignorable* cased)
      size_t j = i;
      while (j > 0 && ignorable(s[j - 1])) --j;
      bool final_sigma = j > 0 && cased(s[j - 1]);
      if (final_sigma) {
        size_t k = i + 1;
        while (k < s.size() && ignorable(s[k])) ++k;
        final_sigma = k == s.size() || !cased(s[k]);
      }
      out.push_back(final_sigma ? 0x3C2 : 0x3C3);
      continue;
    }
    const LowerMapping* end = kLowerMappings + std::size(kLowerMappings);
    const LowerMapping* it = std::lower_bound(
        kLowerMappings, end, c, [](const LowerMapping& m, char32_t v) { return m.cp < v; });
    if (it != end && it->cp == c) {
      out.push_back(it->lower0);
      if (it->lower1) out.push_back(it->lower1);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::u32string normalize_u32(const std::string& text) {
  std::u32string s = html_unescape(html_unescape(utf8_decode(text)));
  std::u32string collapsed;
  collapsed.reserve(s.size());
  bool pending_space = false;
  for (char32_t c : s) {
    if (is_space(c)) {
      pending_space = !collapsed.empty();
      continue;
    }
    if (pending_space) collapsed.push_back(U' ');
    pending_space = false;
    collapsed.push_back(c);
  }
  return lowercase(collapsed);
}

const char32_t kStartOfText[] = U"<|startoftext|>";
const char32_t kEndOfText[] = U"<|endoftext|>";
const std::string kStartOfTextStr = "<|startoftext|>";
const std::string kEndOfTextStr = "<|endoftext|>";

bool starts_with_at(const std::u32string& s, size_t i, const char32_t* lit) {
  for (size_t k = 0; lit[k]; ++k)
    if (i + k >= s.size() || s[i + k] != lit[k]) return false;
  return true;
}

// The CLIP regex as a hand-written scanner over code points; same alternation
// order as the pattern: specials, contractions, letters+, one number, other+.
std::vector<std::string> pre_tokenize_u32(const std::u32string& s) {
  std::vector<std::string> out;
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    const char32_t c = s[i];
    size_t end = i;
    if (c == U'<' && starts_with_at(s, i, kStartOfText)) {
      end = i + std::char_traits<char32_t>::length(kStartOfText);
    } else if (c == U'<' && starts_with_at(s, i, kEndOfText)) {
      end = i + std::char_traits<char32_t>::length(kEndOfText);
    } else if (c == U'\'' && i + 1 < n &&
               (s[i + 1] == U's' || s[i + 1] == U't' || s[i + 1] == U'm' || s[i + 1] == U'd')) {
      end = i + 2;
    } else if (c == U'\'' && i + 2 < n &&
               ((s[i + 1] == U'r' && s[i + 2] == U'e') || (s[i + 1] == U'v' && s[i + 2] == U'e') ||
                (s[i + 1] == U'l' && s[i + 2] == U'l'))) {
      end = i + 3;
    } else if (is_letter(c)) {
      end = i + 1;
      while (end < n && is_letter(s[end])) ++end;
    } else if (is_number(c)) {
      end = i + 1;
    } else if (is_space(c)) {
      ++i;
      continue;
    } else {
      end = i + 1;
      while (end < n && !is_space(s[end]) && !is_letter(s[end]) && !is_number(s[end])) ++end;
    }
    out.push_back(utf8_encode(s, i, end));
    i = end;
  }
  return out;
}

uint64_t pair_key(int64_t a, int64_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}

std::string read_file(const std::string& path, const char* what) {
  // CLIP's own vocab.json is about 1.6 MB: bounded before anything is read.
  constexpr uintmax_t kMaxBytes = uintmax_t(64) << 20;
  std::error_code ec;
  const uintmax_t size = std::filesystem::file_size(path, ec);
  if (!ec && size > kMaxBytes)
    throw ConfigError(std::string(what) + " '" + path + "' is " + std::to_string(size) + " bytes, more than the " +
                      std::to_string(kMaxBytes) + " a tokenizer file may have");
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw ConfigError("cannot open " + std::string(what) + " '" + path +
                      "': a CLIP tokenizer folder needs vocab.json and merges.txt "
                      "(Hugging Face layout)");
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

// ---- shared text pipeline ------------------------------------------------------

const std::array<std::string, 256>& clip_byte_to_unicode() {
  static const std::array<std::string, 256> table = [] {
    std::array<std::string, 256> t;
    auto printable = [](int b) {
      return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    };
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      const char32_t cp = printable(b) ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + n++);
      utf8_append(cp, t[b]);
    }
    return t;
  }();
  return table;
}

const std::vector<std::string>& clip_byte_symbols() {
  // bytes_to_unicode() keeps the printable bytes first, in order, then the rest.
  static const std::vector<std::string> symbols = [] {
    const auto& t = clip_byte_to_unicode();
    std::vector<std::string> printable, rest;
    for (int b = 0; b < 256; ++b) {
      const bool p = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      (p ? printable : rest).push_back(t[b]);
    }
    printable.insert(printable.end(), rest.begin(), rest.end());
    return printable;
  }();
  return symbols;
}

std::string clip_normalize(const std::string& text) {
  const std::u32string s = normalize_u32(text);
  return utf8_encode(s, 0, s.size());
}

std::vector<std::string> clip_pre_tokenize(const std::string& normalized) {
  return pre_tokenize_u32(utf8_decode(normalized));
}

const char* clip_unicode_version() { return kUnicodeVersion; }

// ---- Tokenizer -------------------------------------------------------------------

struct Tokenizer::Cache {
  std::mutex mutex;
  std::unordered_map<std::string, std::vector<int64_t>> words;
  static constexpr size_t kMaxEntries = 1 << 16;
};

Tokenizer::Tokenizer(std::unordered_map<std::string, int64_t> vocab,
                     std::vector<std::pair<std::string, std::string>> merges,
                     TokenizerOptions options)
    : options_(std::move(options)),
      vocab_(std::move(vocab)),
      merges_(std::move(merges)),
      cache_(std::make_shared<Cache>()) {
  if (options_.context_length < 2) {
    throw ConfigError("context_length: expected at least 2 (bos and eos), got " +
                      std::to_string(options_.context_length));
  }
  for (const auto& [token, id] : vocab_) {
    if (id < 0 || id > std::numeric_limits<int32_t>::max())
      throw ConfigError("vocab: id " + std::to_string(id) + " of token '" + token + "' is out of range");
    if (!id_to_token_.emplace(id, token).second) {
      throw ConfigError("vocab: id " + std::to_string(id) + " is used by both '" + id_to_token_[id] +
                        "' and '" + token + "'");
    }
  }
  auto require = [&](const std::string& token, const std::string& why) {
    const int64_t id = token_id(token);
    if (id < 0) throw ConfigError("vocab: missing token '" + token + "' (" + why + ")");
    return id;
  };
  const auto& bytes = clip_byte_to_unicode();
  for (int b = 0; b < 256; ++b) {
    byte_id_[b] = require(bytes[b], "byte-level BPE needs all 256 byte symbols");
    byte_end_id_[b] = require(bytes[b] + "</w>", "byte-level BPE needs all 256 byte symbols + '</w>'");
  }
  bos_id_ = require(kStartOfTextStr, "special token");
  eos_id_ = require(kEndOfTextStr, "special token");
  pad_id_ = options_.pad_id < 0 ? eos_id_ : options_.pad_id;
  if (!id_to_token_.count(pad_id_))
    throw ConfigError("pad_id: " + std::to_string(pad_id_) + " is not an id of the vocabulary");
  for (size_t r = 0; r < merges_.size(); ++r) {
    const auto& [a, b] = merges_[r];
    const std::string where = "merge " + std::to_string(r + 1) + " ('" + a + " " + b + "')";
    const int64_t ia = require(a, where + ": left symbol not in the vocabulary");
    const int64_t ib = require(b, where + ": right symbol not in the vocabulary");
    const int64_t im = require(a + b, where + ": merged symbol not in the vocabulary");
    // As openai/CLIP's dict(zip(merges, range(...))): a repeated merge keeps its last rank.
    merge_ranks_[pair_key(ia, ib)] = {static_cast<int64_t>(r), im};
  }
}

Tokenizer Tokenizer::from_files(const std::string& vocab_json, const std::string& merges_txt,
                                TokenizerOptions options) {
  std::unordered_map<std::string, int64_t> vocab;
  {
    const std::string text = read_file(vocab_json, "vocab.json");
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
      throw ConfigError("vocab.json '" + vocab_json + "' is not valid JSON: " + e.what());
    }
    if (!j.is_object())
      throw ConfigError("vocab.json '" + vocab_json + "': expected a JSON object {token: id}");
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (!it.value().is_number_integer()) {
        throw ConfigError("vocab.json '" + vocab_json + "': the id of token '" + it.key() +
                          "' is not an integer");
      }
      vocab[it.key()] = it.value().get<int64_t>();
    }
  }
  std::vector<std::pair<std::string, std::string>> merges;
  {
    std::istringstream in(read_file(merges_txt, "merges.txt"));
    std::string line;
    int64_t line_no = 0;
    while (std::getline(in, line)) {
      ++line_no;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line_no == 1 && line.rfind("#version", 0) == 0) continue;  // "#version: 0.2"
      if (line.empty()) continue;
      const size_t sp = line.find(' ');
      if (sp == std::string::npos || sp == 0 || sp + 1 >= line.size() ||
          line.find(' ', sp + 1) != std::string::npos) {
        throw ConfigError("merges.txt '" + merges_txt + "' line " + std::to_string(line_no) +
                          ": expected two symbols separated by one space, got '" + line + "'");
      }
      merges.emplace_back(line.substr(0, sp), line.substr(sp + 1));
    }
  }
  try {
    return Tokenizer(std::move(vocab), std::move(merges), std::move(options));
  } catch (const ConfigError& e) {
    throw ConfigError(std::string(e.what()) + " [" + vocab_json + ", " + merges_txt + "]");
  }
}

Tokenizer Tokenizer::from_folder(const std::string& folder, TokenizerOptions options) {
  return from_files(folder + "/vocab.json", folder + "/merges.txt", std::move(options));
}

int64_t Tokenizer::token_id(const std::string& token) const {
  const auto it = vocab_.find(token);
  return it == vocab_.end() ? -1 : it->second;
}

const std::string& Tokenizer::token_string(int64_t id) const {
  const auto it = id_to_token_.find(id);
  if (it == id_to_token_.end())
    throw PromptError("token id " + std::to_string(id) + " is not in the vocabulary");
  return it->second;
}

std::vector<int64_t> Tokenizer::bpe(const std::string& word) const {
  if (word == kStartOfTextStr) return {bos_id_};
  if (word == kEndOfTextStr) return {eos_id_};
  {
    std::lock_guard<std::mutex> lock(cache_->mutex);
    const auto it = cache_->words.find(word);
    if (it != cache_->words.end()) return it->second;
  }
  std::vector<int64_t> symbols;
  symbols.reserve(word.size());
  for (size_t i = 0; i < word.size(); ++i) {
    const auto b = static_cast<unsigned char>(word[i]);
    symbols.push_back(i + 1 == word.size() ? byte_end_id_[b] : byte_id_[b]);
  }
  std::vector<int64_t> next;
  while (symbols.size() > 1) {
    // The adjacent pair with the lowest merge rank.
    int64_t best_rank = std::numeric_limits<int64_t>::max(), first = -1, second = -1, merged = -1;
    for (size_t i = 0; i + 1 < symbols.size(); ++i) {
      const auto it = merge_ranks_.find(pair_key(symbols[i], symbols[i + 1]));
      if (it != merge_ranks_.end() && it->second.first < best_rank) {
        best_rank = it->second.first;
        first = symbols[i], second = symbols[i + 1], merged = it->second.second;
      }
    }
    if (merged < 0) break;
    // Merge every occurrence, left to right.
    next.clear();
    for (size_t i = 0; i < symbols.size();) {
      if (i + 1 < symbols.size() && symbols[i] == first && symbols[i + 1] == second) {
        next.push_back(merged);
        i += 2;
      } else {
        next.push_back(symbols[i++]);
      }
    }
    symbols.swap(next);
  }
  std::lock_guard<std::mutex> lock(cache_->mutex);
  if (cache_->words.size() >= Cache::kMaxEntries) cache_->words.clear();
  cache_->words.emplace(word, symbols);
  return symbols;
}

void Tokenizer::append_ids(const std::string& text, std::vector<int64_t>& out) const {
  for (const std::string& word : pre_tokenize_u32(normalize_u32(text))) {
    const std::vector<int64_t> ids = bpe(word);
    out.insert(out.end(), ids.begin(), ids.end());
  }
}

std::vector<int64_t> Tokenizer::tokenize(const std::string& text) const {
  std::vector<int64_t> ids;
  append_ids(text, ids);
  return ids;
}

std::vector<std::string> Tokenizer::tokenize_to_strings(const std::string& text) const {
  std::vector<std::string> out;
  for (int64_t id : tokenize(text)) out.push_back(token_string(id));
  return out;
}

TokenizedPrompt Tokenizer::encode(const std::string& text) const {
  const int64_t C = options_.context_length;
  TokenizedPrompt result;
  result.ids.reserve(static_cast<size_t>(C));
  result.ids.push_back(bos_id_);
  append_ids(text, result.ids);
  const int64_t n_tokens = static_cast<int64_t>(result.ids.size()) - 1;
  if (n_tokens > C - 2) {
    result.truncated = true;
    result.ids.resize(static_cast<size_t>(C - 1));
    if (options_.on_warning) {
      options_.on_warning("prompt truncated to " + std::to_string(C - 2) + " of its " +
                          std::to_string(n_tokens) + " tokens (context length " +
                          std::to_string(C) + "): '" + text.substr(0, 80) +
                          (text.size() > 80 ? "...'" : "'"));
    }
  }
  result.eot_index = static_cast<int64_t>(result.ids.size());
  result.ids.push_back(eos_id_);
  result.ids.resize(static_cast<size_t>(C), pad_id_);
  return result;
}

std::string Tokenizer::decode(const std::vector<int64_t>& ids) const {
  // byte-level symbol (one code point) -> byte
  static const std::unordered_map<char32_t, unsigned char> byte_decoder = [] {
    std::unordered_map<char32_t, unsigned char> m;
    const auto& t = clip_byte_to_unicode();
    for (int b = 0; b < 256; ++b) m[utf8_decode(t[b])[0]] = static_cast<unsigned char>(b);
    return m;
  }();
  std::string bytes;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] == eos_id_) break;
    if (ids[i] == bos_id_ && i == 0) continue;
    const std::string& token = token_string(ids[i]);
    for (char32_t cp : utf8_decode(token)) {
      const auto it = byte_decoder.find(cp);
      if (it != byte_decoder.end()) bytes.push_back(static_cast<char>(it->second));
      else utf8_append(cp, bytes);
    }
  }
  std::string text;
  text.reserve(bytes.size());
  for (size_t i = 0; i < bytes.size();) {
    if (bytes.compare(i, 4, "</w>") == 0) {
      text.push_back(' ');
      i += 4;
    } else {
      text.push_back(bytes[i++]);
    }
  }
  const std::u32string cps = utf8_decode(text);  // invalid UTF-8 -> U+FFFD
  size_t begin = 0, end = cps.size();
  while (begin < end && is_space(cps[begin])) ++begin;
  while (end > begin && is_space(cps[end - 1])) --end;
  return utf8_encode(cps, begin, end);
}

TokenBatch Tokenizer::encode_batch(const std::vector<std::string>& texts) const {
  const int64_t N = static_cast<int64_t>(texts.size());
  const int64_t C = options_.context_length;
  TokenBatch batch;
  batch.ids = torch::empty({N, C}, torch::kInt64);
  batch.eot_index = torch::empty({N}, torch::kInt64);
  auto ids = batch.ids.accessor<int64_t, 2>();
  auto eot = batch.eot_index.accessor<int64_t, 1>();
  for (int64_t n = 0; n < N; ++n) {
    const TokenizedPrompt p = encode(texts[static_cast<size_t>(n)]);
    for (int64_t c = 0; c < C; ++c) ids[n][c] = p.ids[static_cast<size_t>(c)];
    eot[n] = p.eot_index;
    batch.truncated.push_back(p.truncated);
  }
  return batch;
}

}  // namespace gg

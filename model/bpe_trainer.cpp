// Ref: Sennrich, Haddow, Birch 2016, "Neural Machine Translation of Rare Words
//      with Subword Units" (BPE); openai/CLIP simple_tokenizer.py (vocabulary layout).
// Incremental training: pair counts and, per pair, the words that contain it;
// a max-heap with lazy deletion picks the next merge; only the words holding the
// merged pair are re-segmented.
#include "bpe_trainer.h"

#include "errors.h"
#include "safetensors.h"
#include "tokenizer.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <queue>

namespace gg {
namespace {

const char* const kStartOfText = "<|startoftext|>";
const char* const kEndOfText = "<|endoftext|>";

uint64_t pair_key(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}
int32_t pair_left(uint64_t p) { return static_cast<int32_t>(p >> 32); }
int32_t pair_right(uint64_t p) { return static_cast<int32_t>(p & 0xFFFFFFFFu); }

}  // namespace

void BpeTrainerConfig::validate() const {
  if (vocab_size < 514) {
    throw ConfigError("vocab_size: expected at least 514 (512 byte symbols + 2 special tokens), got " +
                      std::to_string(vocab_size));
  }
  if (min_frequency < 1)
    throw ConfigError("min_frequency: expected at least 1, got " + std::to_string(min_frequency));
}

std::unordered_map<std::string, int64_t> BpeVocabulary::token_to_id() const {
  std::unordered_map<std::string, int64_t> m;
  for (size_t i = 0; i < tokens.size(); ++i) m.emplace(tokens[i], static_cast<int64_t>(i));
  return m;
}

BpeTrainer::BpeTrainer(BpeTrainerConfig config_) : config(std::move(config_)) {}

void BpeTrainer::add_text(const std::string& caption) {
  ++num_captions_;
  for (const std::string& word : clip_pre_tokenize(clip_normalize(caption))) {
    if (word == kStartOfText || word == kEndOfText) continue;
    ++word_counts_[word];
  }
}

void BpeTrainer::add_texts(const std::vector<std::string>& captions) {
  for (const auto& c : captions) add_text(c);
}

void BpeTrainer::add_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DatasetError("cannot open caption file '" + path + "' (expected one caption per line)");
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    add_text(line);
  }
  if (in.bad()) throw DatasetError("error while reading caption file '" + path + "'");
}

BpeVocabulary BpeTrainer::train() const {
  config.validate();
  if (word_counts_.empty()) {
    throw DatasetError("BPE training: the corpus has no words (" + std::to_string(num_captions_) +
                       " captions, all empty?)");
  }
  // Symbols: 256 byte symbols, the same with '</w>', then one per merge.
  std::vector<std::string> sym = clip_byte_symbols();
  for (int i = 0; i < 256; ++i) sym.push_back(sym[static_cast<size_t>(i)] + "</w>");
  std::unordered_map<std::string, int32_t> sym_id;
  for (size_t i = 0; i < sym.size(); ++i) sym_id.emplace(sym[i], static_cast<int32_t>(i));
  std::array<int32_t, 256> byte_sym{}, byte_end_sym{};
  const auto& b2u = clip_byte_to_unicode();
  for (int b = 0; b < 256; ++b) {
    byte_sym[b] = sym_id.at(b2u[b]);
    byte_end_sym[b] = sym_id.at(b2u[b] + "</w>");
  }

  // Words in a fixed order (sorted) so every container is filled deterministically.
  std::vector<std::pair<std::string, int64_t>> sorted(word_counts_.begin(), word_counts_.end());
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::vector<int32_t>> words(sorted.size());
  std::vector<int64_t> counts(sorted.size());
  std::unordered_map<uint64_t, int64_t> pair_count;
  std::unordered_map<uint64_t, std::vector<int32_t>> pair_words;
  for (size_t w = 0; w < sorted.size(); ++w) {
    const std::string& s = sorted[w].first;
    counts[w] = sorted[w].second;
    auto& syms = words[w];
    for (size_t i = 0; i < s.size(); ++i) {
      const auto b = static_cast<unsigned char>(s[i]);
      syms.push_back(i + 1 == s.size() ? byte_end_sym[b] : byte_sym[b]);
    }
    for (size_t i = 0; i + 1 < syms.size(); ++i) {
      const uint64_t p = pair_key(syms[i], syms[i + 1]);
      pair_count[p] += counts[w];
      auto& list = pair_words[p];
      if (list.empty() || list.back() != static_cast<int32_t>(w)) list.push_back(static_cast<int32_t>(w));
    }
  }

  // Max-heap on (count, then the smaller pair by symbol strings).
  struct Entry {
    int64_t count;
    uint64_t pair;
  };
  auto pair_less = [&sym](uint64_t p, uint64_t q) {
    const int c = sym[static_cast<size_t>(pair_left(p))].compare(sym[static_cast<size_t>(pair_left(q))]);
    if (c != 0) return c < 0;
    return sym[static_cast<size_t>(pair_right(p))] < sym[static_cast<size_t>(pair_right(q))];
  };
  auto lower_priority = [&pair_less](const Entry& a, const Entry& b) {
    if (a.count != b.count) return a.count < b.count;
    return pair_less(b.pair, a.pair);
  };
  std::priority_queue<Entry, std::vector<Entry>, decltype(lower_priority)> heap(lower_priority);
  for (const auto& [p, c] : pair_count) heap.push({c, p});

  BpeVocabulary result;
  const int64_t target_merges = config.vocab_size - 512 - 2;
  std::vector<int32_t> seen(words.size(), -1);
  std::unordered_map<uint64_t, int64_t> delta;
  std::vector<int32_t> merged_word;
  while (static_cast<int64_t>(result.merges.size()) < target_merges) {
    if (heap.empty()) break;
    const Entry top = heap.top();
    heap.pop();
    const auto it = pair_count.find(top.pair);
    if (it == pair_count.end() || it->second != top.count) continue;  // stale entry
    if (top.count < config.min_frequency) break;
    const int32_t a = pair_left(top.pair), b = pair_right(top.pair);
    std::string merged = sym[static_cast<size_t>(a)] + sym[static_cast<size_t>(b)];
    if (sym_id.count(merged)) continue;  // would duplicate a token: never merged (see header)
    const auto c = static_cast<int32_t>(sym.size());
    sym_id.emplace(merged, c);
    sym.push_back(std::move(merged));
    result.merges.emplace_back(sym[static_cast<size_t>(a)], sym[static_cast<size_t>(b)]);

    // Re-segment every word holding (a, b); update counts by the net change.
    const int32_t stamp = static_cast<int32_t>(result.merges.size());
    std::vector<int32_t> holders = std::move(pair_words[top.pair]);
    pair_words.erase(top.pair);
    delta.clear();
    for (int32_t w : holders) {
      if (seen[static_cast<size_t>(w)] == stamp) continue;
      seen[static_cast<size_t>(w)] = stamp;
      auto& syms = words[static_cast<size_t>(w)];
      merged_word.clear();
      bool changed = false;
      for (size_t i = 0; i < syms.size();) {
        if (i + 1 < syms.size() && syms[i] == a && syms[i + 1] == b) {
          merged_word.push_back(c);
          i += 2;
          changed = true;
        } else {
          merged_word.push_back(syms[i++]);
        }
      }
      if (!changed) continue;
      const int64_t n = counts[static_cast<size_t>(w)];
      for (size_t i = 0; i + 1 < syms.size(); ++i) delta[pair_key(syms[i], syms[i + 1])] -= n;
      for (size_t i = 0; i + 1 < merged_word.size(); ++i) {
        const uint64_t p = pair_key(merged_word[i], merged_word[i + 1]);
        delta[p] += n;
        if (merged_word[i] == c || merged_word[i + 1] == c) {  // new pairs always involve c
          auto& list = pair_words[p];
          if (list.empty() || list.back() != w) list.push_back(w);
        }
      }
      syms.swap(merged_word);
    }
    for (const auto& [p, d] : delta) {
      if (d == 0) continue;
      int64_t& count = pair_count[p];
      count += d;
      if (count <= 0) {
        pair_count.erase(p);
      } else {
        heap.push({count, p});
      }
    }
  }
  result.reached_target = static_cast<int64_t>(result.merges.size()) == target_merges;
  result.tokens = std::move(sym);
  result.tokens.emplace_back(kStartOfText);
  result.tokens.emplace_back(kEndOfText);
  return result;
}

BpeVocabulary train_bpe(const std::vector<std::string>& captions, const BpeTrainerConfig& config) {
  BpeTrainer trainer(config);
  trainer.add_texts(captions);
  return trainer.train();
}

BpeVocabulary train_bpe_file(const std::string& path, const BpeTrainerConfig& config) {
  BpeTrainer trainer(config);
  trainer.add_file(path);
  return trainer.train();
}

void save_bpe_vocabulary(const BpeVocabulary& vocab, const std::string& folder) {
  std::error_code ec;
  std::filesystem::create_directories(folder, ec);
  if (ec) throw DatasetError("cannot create tokenizer folder '" + folder + "': " + ec.message());
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (size_t i = 0; i < vocab.tokens.size(); ++i) j[vocab.tokens[i]] = static_cast<int64_t>(i);
  std::string merges = "#version: 0.2\n";
  for (const auto& [a, b] : vocab.merges) merges += a + " " + b + "\n";
  write_file_atomic(folder + "/vocab.json", j.dump());
  write_file_atomic(folder + "/merges.txt", merges);
}

}  // namespace gg

// Byte-level BPE trainer producing a CLIP-style vocabulary from captions.
// Ref: Sennrich et al. 2016 (BPE); openai/CLIP's vocabulary layout: 256 byte
//      symbols, the same 256 with '</w>', one token per merge in merge order,
//      then <|startoftext|>, <|endoftext|>.
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace gg {

struct BpeTrainerConfig {
  // Total vocabulary size, specials included: 512 byte symbols + merges + 2.
  int64_t vocab_size = 49408;
  // A pair seen fewer times than this (summed over the corpus) is never merged;
  // training stops early when no pair is that frequent.
  int64_t min_frequency = 2;
  void validate() const;  // throws ConfigError naming the field
};

// A trained vocabulary, laid out like CLIP's.
struct BpeVocabulary {
  std::vector<std::string> tokens;                           // id -> token
  std::vector<std::pair<std::string, std::string>> merges;   // in rank order
  bool reached_target = true;  // false when the corpus ran out of pairs first
  int64_t size() const { return static_cast<int64_t>(tokens.size()); }
  std::unordered_map<std::string, int64_t> token_to_id() const;
};

// Learns merges from captions with CLIP's normalization and pre-tokenization
// (clip_normalize, clip_pre_tokenize; special-token strings are not learned).
// Each step merges the most frequent adjacent pair (counts weighted by word
// frequency). Ties are broken by the smaller pair: the left symbol, then the
// right symbol, compared bytewise as their byte-level strings, so results do
// not depend on hash order. A pair whose concatenation is already a token is
// skipped, so every merge adds exactly one token and the rank-order encoder
// (Tokenizer) reproduces the learned segmentation.
class BpeTrainer {
 public:
  explicit BpeTrainer(BpeTrainerConfig config = {});
  void add_text(const std::string& caption);
  void add_texts(const std::vector<std::string>& captions);
  // One caption per line. Throws DatasetError if the file cannot be read.
  void add_file(const std::string& path);
  int64_t num_captions() const { return num_captions_; }
  int64_t num_distinct_words() const { return static_cast<int64_t>(word_counts_.size()); }
  // Throws DatasetError when no caption has any word.
  BpeVocabulary train() const;

  BpeTrainerConfig config;

 private:
  std::unordered_map<std::string, int64_t> word_counts_;  // pre-token (raw UTF-8) -> count
  int64_t num_captions_ = 0;
};

BpeVocabulary train_bpe(const std::vector<std::string>& captions, const BpeTrainerConfig& config);
BpeVocabulary train_bpe_file(const std::string& path, const BpeTrainerConfig& config);

// Writes <folder>/vocab.json and <folder>/merges.txt ("#version: 0.2" first) in
// the Hugging Face CLIPTokenizer format, each atomically (temporary + rename);
// creates the folder. Throws DatasetError if it cannot write.
void save_bpe_vocabulary(const BpeVocabulary& vocab, const std::string& folder);

}  // namespace gg

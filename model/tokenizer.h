// CLIP's byte-level BPE tokenizer, as openai/CLIP's SimpleTokenizer and
// Hugging Face's CLIPTokenizer: text cleanup, lowercase, the CLIP
// pre-tokenization regex, bytes_to_unicode, merges by rank with '</w>' ending a
// word, then [bos] tokens [eos] [pad]... to the context length.
// Ref: Kang et al. 2023 (GigaGAN: C = 77 tokens per prompt, frozen CLIP text encoder);
//      Radford et al. 2021 (CLIP), openai/CLIP clip/simple_tokenizer.py.
#pragma once
#include <torch/types.h>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace gg {

// ---- Text pipeline shared by Tokenizer and BpeTrainer -------------------------

// The 256-entry table of openai/CLIP's bytes_to_unicode(): byte -> one code
// point (UTF-8 encoded), printable bytes map to themselves, the others to U+0100...
const std::array<std::string, 256>& clip_byte_to_unicode();
// openai/CLIP's 256 byte symbols in vocabulary order (bytes_to_unicode().values()).
const std::vector<std::string>& clip_byte_symbols();
// Cleanup + lowercase, as CLIP does before pre-tokenization: basic HTML
// unescape (twice, as CLIP), whitespace runs -> one space, strip, Unicode
// lowercase (Python's str.lower(), full mapping). Invalid UTF-8 bytes become
// U+FFFD. ftfy.fix_text (mojibake repair) is not available in C++ and is not applied.
std::string clip_normalize(const std::string& text);
// CLIP's pre-tokenization of normalized text: the matches of
//   <|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
// in order (whitespace between matches is dropped).
std::vector<std::string> clip_pre_tokenize(const std::string& normalized);
// Version of the Unicode tables behind \p{L}, \p{N}, \s and lowercase.
const char* clip_unicode_version();

// ---- Tokenizer ---------------------------------------------------------------

struct TokenizerOptions {
  int64_t context_length = 77;  // C: ids per prompt, bos and eos included (>= 2)
  // Padding id after eos; -1 means "the eos id" (HF openai/clip-vit-large-patch14
  // and OpenAI's truncated tokenize pad with <|endoftext|>; open_clip pads with 0).
  int64_t pad_id = -1;
  // Called with a human-readable line when a prompt is truncated (optional).
  std::function<void(const std::string&)> on_warning;
};

struct TokenizedPrompt {
  std::vector<int64_t> ids;  // [C]: bos, tokens, eos, pad...
  int64_t eot_index = 0;     // position of eos in ids
  bool truncated = false;    // the prompt had more than C-2 tokens; the tail was dropped
};

struct TokenBatch {
  torch::Tensor ids;        // [N, C] int64 (CPU)
  torch::Tensor eot_index;  // [N] int64 (CPU)
  std::vector<bool> truncated;
};

class Tokenizer {
 public:
  // vocab: token string (byte-level, as in vocab.json) -> id; merges in rank order.
  // Throws ConfigError if a byte symbol, a special token or a merge part/result is
  // missing from the vocabulary.
  Tokenizer(std::unordered_map<std::string, int64_t> vocab,
            std::vector<std::pair<std::string, std::string>> merges, TokenizerOptions options = {});
  // Reads <folder>/vocab.json and <folder>/merges.txt (a Hugging Face CLIP
  // tokenizer folder). Throws ConfigError naming the file (and line) on error.
  static Tokenizer from_folder(const std::string& folder, TokenizerOptions options = {});
  static Tokenizer from_files(const std::string& vocab_json, const std::string& merges_txt,
                              TokenizerOptions options = {});

  // Prompt -> [bos] tokens [eos] [pad]..., C ids. Over-long prompts are
  // truncated to C-2 tokens (flag set, on_warning called); never throws for text.
  TokenizedPrompt encode(const std::string& text) const;
  // Prompt -> BPE ids only, no bos/eos, no truncation.
  std::vector<int64_t> tokenize(const std::string& text) const;
  // Prompt -> BPE token strings (byte-level symbols, '</w>' included).
  std::vector<std::string> tokenize_to_strings(const std::string& text) const;
  // Ids -> text: bos is skipped, decoding stops at the first eos, '</w>' becomes
  // a space, bytes are UTF-8 decoded (invalid sequences -> U+FFFD), result stripped.
  // Throws PromptError for an id outside the vocabulary.
  std::string decode(const std::vector<int64_t>& ids) const;
  // Batch helper: ids [N, C] and eot indices [N], int64 on the CPU.
  TokenBatch encode_batch(const std::vector<std::string>& texts) const;

  int64_t bos_id() const { return bos_id_; }
  int64_t eos_id() const { return eos_id_; }
  int64_t pad_id() const { return pad_id_; }
  int64_t context_length() const { return options_.context_length; }
  int64_t vocab_size() const { return static_cast<int64_t>(vocab_.size()); }
  int64_t num_merges() const { return static_cast<int64_t>(merges_.size()); }
  // Id of a vocabulary string, or -1.
  int64_t token_id(const std::string& token) const;
  const std::string& token_string(int64_t id) const;  // throws PromptError if unknown

 private:
  struct Cache;
  // One pre-token (byte-level string) -> its BPE symbols as ids (cached).
  std::vector<int64_t> bpe(const std::string& word) const;
  void append_ids(const std::string& text, std::vector<int64_t>& out) const;

  TokenizerOptions options_;
  std::unordered_map<std::string, int64_t> vocab_;
  std::unordered_map<int64_t, std::string> id_to_token_;
  std::vector<std::pair<std::string, std::string>> merges_;
  // (left id, right id) -> (rank, merged id)
  std::unordered_map<uint64_t, std::pair<int64_t, int64_t>> merge_ranks_;
  std::array<int64_t, 256> byte_id_{};       // byte symbol ids
  std::array<int64_t, 256> byte_end_id_{};   // byte symbol + '</w>' ids
  int64_t bos_id_ = -1, eos_id_ = -1, pad_id_ = -1;
  std::shared_ptr<Cache> cache_;
};

}  // namespace gg

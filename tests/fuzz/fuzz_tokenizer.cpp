// libFuzzer target: the CLIP BPE tokenizer on arbitrary prompt bytes (it
// must never throw for text, whatever the bytes), and decode of what it
// encodes.
#include <cstdlib>
#include <memory>

#include "errors.h"
#include "fuzz_target.h"
#include "tokenizer.h"

#ifndef GG_FUZZ_TOKENIZER_DIR
#error "GG_FUZZ_TOKENIZER_DIR: the tokenizer folder (tests/data/tokenizer/clip)"
#endif

GG_FUZZ_TARGET(tokenizer) {
  static const std::unique_ptr<gg::Tokenizer> tok =
      std::make_unique<gg::Tokenizer>(gg::Tokenizer::from_folder(GG_FUZZ_TOKENIZER_DIR));
  const std::string text = gg::fuzz::bytes(data, size);
  const auto p = tok->encode(text);  // never throws for text
  (void)p;
  try {
    (void)tok->decode(tok->tokenize(text));
  } catch (const gg::Error&) {
    std::abort();  // ids the tokenizer made must decode
  }
  return 0;
}

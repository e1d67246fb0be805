// One libFuzzer target per file (tests/fuzz/README.md). GG_FUZZ_TARGET(name)
// defines LLVMFuzzerTestOneInput in a libFuzzer build (-DGIGAGAN_FUZZ=ON,
// clang), and a registered function in the corpus replay test
// (fuzz_corpus_replay, built by the regular build with any compiler), so the
// same body runs under both. A target catches the errors its input may
// rightly cause (gg::Error and friends); anything else escapes and is a
// finding (a crash, a sanitizer report, an unexpected exception, a hang).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#ifdef GG_FUZZ_REPLAY
#include <map>
namespace gg::fuzz {
using TargetFn = int (*)(const uint8_t*, size_t);
inline std::map<std::string, TargetFn>& targets() {
  static std::map<std::string, TargetFn> t;
  return t;
}
inline bool register_target(const char* name, TargetFn fn) {
  targets()[name] = fn;
  return true;
}
}  // namespace gg::fuzz
#define GG_FUZZ_TARGET(name)                                                               \
  static int gg_fuzz_##name(const uint8_t* data, size_t size);                             \
  [[maybe_unused]] static const bool gg_fuzz_registered_##name =                           \
      gg::fuzz::register_target(#name, gg_fuzz_##name);                                    \
  static int gg_fuzz_##name(const uint8_t* data, size_t size)
#else
#define GG_FUZZ_TARGET(name) extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
#endif

namespace gg::fuzz {
inline std::string bytes(const uint8_t* data, size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}
}  // namespace gg::fuzz

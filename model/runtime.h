// Process-wide runtime set-up shared by every entry point (CLI, studio, tests).
#pragma once
#include <torch/torch.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace gg {

// Sets LibTorch's intra-op thread count: `threads` if > 0, else the
// GIGAGAN_THREADS environment variable, else the number of cores (LibTorch
// starts with one thread on this platform). Idempotent. Throws ConfigError for
// a negative count or one above max_threads() (naming --threads or the
// variable).
void init_runtime(int threads = 0);
int max_threads();  // 4 per core, at least 64

// "cpu", "cuda", "cuda:N" or "auto" (CUDA when available). Throws ConfigError
// for an unknown name or when CUDA is asked for but this build has none.
torch::Device parse_device(const std::string& name);

// The BLAS library actually loaded into this process (from /proc/self/maps),
// e.g. "openblas (libopenblasp-r0.3.21.so)", or "reference BLAS (slow)".
std::string blas_library();
// "jemalloc" when it is loaded into this process, else "system malloc".
std::string allocator_name();
// Hands the allocator's cached free pages back to the OS: every jemalloc
// arena is purged, or malloc_trim runs under the system allocator. The
// executables keep freed pages (jemalloc with no decay, see app/) so that each
// training step or frame reuses them instead of faulting them in again; long
// loops call this now and then (MemoryReleaseTimer) so that resident memory
// stays bounded. Returns false when the allocator offers no way to do it.
bool release_free_memory();

// Bytes of freed pages the allocator holds resident for reuse: jemalloc's
// dirty and muzzy pages over every arena. std::nullopt when jemalloc is not in
// the process (the system allocator offers no such count).
std::optional<int64_t> kept_free_bytes();

// Calls release_free_memory() from poll() every `seconds`, and at once when
// the allocator keeps more than `max_kept_bytes` of freed pages (0: no bound).
// The bound matters: one step's free pages do not always fit the next step's
// tensors, so kept pages can grow by gigabytes between two timed releases
// (README, "Speed and memory"). `kept` and `release` are the allocator's by
// default; tests pass their own.
class MemoryReleaseTimer {
 public:
  using KeptBytes = std::function<std::optional<int64_t>()>;
  using Release = std::function<bool()>;
  explicit MemoryReleaseTimer(double seconds, int64_t max_kept_bytes = 0, KeptBytes kept = kept_free_bytes,
                              Release release = release_free_memory);
  // True when it released memory this call.
  bool poll();

 private:
  std::chrono::duration<double> period_;
  int64_t max_kept_;
  KeptBytes kept_;
  Release release_;
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

// One line: threads, BLAS, CUDA availability, allocator, LibTorch version.
std::string runtime_summary();

}  // namespace gg

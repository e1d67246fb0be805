// Process-wide runtime set-up shared by every entry point (CLI, studio, tests).
#pragma once
#include <torch/torch.h>

#include <chrono>
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

// Calls release_free_memory() from poll() at most once every `seconds`.
class MemoryReleaseTimer {
 public:
  explicit MemoryReleaseTimer(double seconds) : period_(seconds) {}
  void poll();

 private:
  std::chrono::duration<double> period_;
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

// One line: threads, BLAS, CUDA availability, allocator, LibTorch version.
std::string runtime_summary();

}  // namespace gg

#include "runtime.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "errors.h"
#include <torch/version.h>

// jemalloc's control interface, when jemalloc is linked into the process.
extern "C" int mallctl(const char* name, void* oldp, size_t* oldlenp, void* newp, size_t newlen) __attribute__((weak));

namespace gg {

int max_threads() {
  return static_cast<int>(std::max(64u, 4 * std::thread::hardware_concurrency()));
}

void init_runtime(int threads) {
  std::string from = "--threads";
  if (threads < 0) throw ConfigError("--threads " + std::to_string(threads) + ": must be >= 0 (0 = all cores)");
  if (threads == 0) {
    if (const char* env = std::getenv("GIGAGAN_THREADS")) {
      char* end = nullptr;
      errno = 0;
      const long v = std::strtol(env, &end, 10);
      if (*env == '\0' || *end != '\0' || errno != 0 || v < 0 || v > max_threads())
        throw ConfigError("GIGAGAN_THREADS='" + std::string(env) + "': must be an integer in [0, " +
                          std::to_string(max_threads()) + "] (0 = all cores)");
      threads = static_cast<int>(v);
      from = "GIGAGAN_THREADS";
    }
  }
  // Thousands of OpenMP threads take minutes per image (and keep spawning):
  // the limit is 4 per core, at least 64.
  if (threads > max_threads())
    throw ConfigError(from + " " + std::to_string(threads) + ": more than the limit of " +
                      std::to_string(max_threads()) + " threads (4 per core, at least 64)");
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (at::get_num_threads() != threads) at::set_num_threads(threads);
}

torch::Device parse_device(const std::string& name) {
  if (name == "auto") return torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  if (name == "cpu") return torch::Device(torch::kCPU);
  static const std::regex cuda_re("cuda(:([0-9]+))?");
  std::smatch m;
  if (std::regex_match(name, m, cuda_re)) {
    if (!torch::cuda::is_available())
      throw ConfigError("device '" + name + "': this build of LibTorch has no CUDA or no GPU is visible; use --device cpu");
    const int index = m[2].matched ? std::stoi(m[2].str()) : 0;
    if (index >= static_cast<int>(torch::cuda::device_count()))
      throw ConfigError("device '" + name + "': only " + std::to_string(torch::cuda::device_count()) + " CUDA device(s)");
    return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
  }
  throw ConfigError("unknown device '" + name + "' (expected cpu, cuda, cuda:N or auto)");
}

std::string blas_library() {
  // Touch BLAS once so that a lazily loaded library shows up in the maps.
  (void)torch::mm(torch::ones({2, 2}), torch::ones({2, 2}));
  std::ifstream maps("/proc/self/maps");
  std::string line, found;
  while (std::getline(maps, line)) {
    const auto slash = line.rfind('/');
    if (slash == std::string::npos) continue;
    const std::string file = line.substr(slash + 1);
    if (file.find("openblas") != std::string::npos) return "openblas (" + file + ")";
    if (file.find("libmkl") != std::string::npos) return "mkl (" + file + ")";
    if (file.find("blis") != std::string::npos) found = "blis (" + file + ")";
    if (found.empty() && file.rfind("libblas.so", 0) == 0) found = "reference BLAS (" + file + ", slow: install libopenblas0-openmp)";
  }
  return found.empty() ? "unknown" : found;
}

std::string allocator_name() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line))
    if (line.find("libjemalloc") != std::string::npos) return "jemalloc";
  return "system malloc";
}

bool release_free_memory() {
  if (mallctl) return mallctl("arena.4096.purge", nullptr, nullptr, nullptr, 0) == 0;  // 4096: MALLCTL_ARENAS_ALL
#if defined(__GLIBC__)
  malloc_trim(0);
  return true;
#else
  return false;
#endif
}

std::optional<int64_t> kept_free_bytes() {
  if (!mallctl) return std::nullopt;
  // jemalloc's statistics are a snapshot taken when "epoch" is written.
  uint64_t epoch = 1;
  size_t epoch_len = sizeof epoch;
  if (mallctl("epoch", &epoch, &epoch_len, &epoch, epoch_len) != 0) return std::nullopt;
  auto read = [](const char* name, size_t& value) {
    size_t len = sizeof value;
    return mallctl(name, &value, &len, nullptr, 0) == 0;
  };
  size_t dirty = 0, muzzy = 0, page = 0;  // 4096: all arenas
  if (!read("stats.arenas.4096.pdirty", dirty) || !read("stats.arenas.4096.pmuzzy", muzzy) || !read("arenas.page", page))
    return std::nullopt;
  return static_cast<int64_t>((dirty + muzzy) * page);
}

MemoryReleaseTimer::MemoryReleaseTimer(double seconds, int64_t max_kept_bytes, KeptBytes kept, Release release)
    : period_(seconds), max_kept_(max_kept_bytes), kept_(std::move(kept)), release_(std::move(release)) {}

bool MemoryReleaseTimer::poll() {
  const auto now = std::chrono::steady_clock::now();
  bool due = now - last_ >= period_;
  if (!due && max_kept_ > 0 && kept_) {
    const std::optional<int64_t> kept = kept_();
    due = kept && *kept > max_kept_;
  }
  if (!due) return false;
  if (release_) release_();
  last_ = now;
  return true;
}

std::string runtime_summary() {
  std::ostringstream os;
  os << "threads " << at::get_num_threads() << ", BLAS " << blas_library() << ", CUDA "
     << (torch::cuda::is_available() ? std::to_string(torch::cuda::device_count()) + " device(s)" : std::string("no"))
     << ", allocator " << allocator_name() << ", LibTorch " << TORCH_VERSION_MAJOR << "." << TORCH_VERSION_MINOR << "." << TORCH_VERSION_PATCH;
  return os.str();
}

}  // namespace gg

#include "run.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <thread>

#include <opencv2/imgcodecs.hpp>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errors.h"
#include "runtime.h"
#include "safetensors.h"

namespace gg {

namespace fs = std::filesystem;

namespace {

// "<name>.tmp.<pid>" left by write_file_atomic when a process was killed
// mid-write: the pid, or -1 for any other name.
long tmp_owner(const std::string& name) {
  const auto at = name.rfind(".tmp.");
  if (at == std::string::npos || at + 5 >= name.size()) return -1;
  long pid = 0;
  for (size_t i = at + 5; i < name.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(name[i])) || pid > 100000000) return -1;
    pid = pid * 10 + (name[i] - '0');
  }
  return pid;
}

// Removes the temporaries of processes that no longer exist (a live writer's
// temporary, e.g. another rank's, is left alone).
void remove_stale_temporaries(const fs::path& dir) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const long pid = tmp_owner(e.path().filename().string());
    if (pid <= 0 || pid == ::getpid() || !e.is_regular_file(ec)) continue;
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;
    fs::remove(e.path(), ec);
  }
}

}  // namespace

RunFolder::RunFolder(fs::path root) : root_(std::move(root)) {
  std::error_code ec;
  for (const fs::path& p : {root_, checkpoints_dir(), samples_dir()}) {
    fs::create_directories(p, ec);
    if (ec) throw CheckpointError("cannot create the run folder '" + p.string() + "': " + ec.message());
  }
  // Refuse a folder we cannot write before any training, not at the first
  // checkpoint: a probe file in each folder, and stats.jsonl opened to append.
  for (const fs::path& dir : {root_, checkpoints_dir(), samples_dir()}) {
    const fs::path probe = dir / (".write-test.tmp." + std::to_string(::getpid()));
    const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
      throw CheckpointError("the run folder '" + dir.string() + "' is not writable (" + std::strerror(errno) +
                            "); use another --out or fix its permissions");
    ::close(fd);
    ::unlink(probe.c_str());
  }
  const fs::path stats = root_ / "stats.jsonl";
  const int fd = ::open(stats.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0)
    throw CheckpointError("cannot append to '" + stats.string() + "' (" + std::strerror(errno) +
                          "); use another --out or fix its permissions");
  ::close(fd);
  for (const fs::path& dir : {root_, checkpoints_dir(), samples_dir(), package_dir()})
    remove_stale_temporaries(dir);
}

fs::path RunFolder::checkpoint_path(int64_t images) const {
  char name[64];
  std::snprintf(name, sizeof name, "ckpt-%012" PRId64 ".safetensors", images);
  return checkpoints_dir() / name;
}

fs::path RunFolder::sample_path(int64_t images) const {
  char name[64];
  std::snprintf(name, sizeof name, "samples-%012" PRId64 ".png", images);
  return samples_dir() / name;
}

std::vector<fs::path> RunFolder::checkpoints() const {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(checkpoints_dir(), ec)) {
    const std::string name = e.path().filename().string();
    if (e.is_regular_file() && name.rfind("ckpt-", 0) == 0 && e.path().extension() == ".safetensors")
      out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());  // zero-padded image counts sort by name
  return out;
}

std::optional<fs::path> RunFolder::latest_checkpoint() const {
  auto all = checkpoints();
  if (all.empty()) return std::nullopt;
  return all.back();
}

fs::path RunFolder::save(int64_t images, const Checkpoint& ck, int keep) const {
  const fs::path path = checkpoint_path(images);
  save_checkpoint(path.string(), ck);
  if (keep > 0) {
    auto all = checkpoints();
    for (size_t i = 0; i + static_cast<size_t>(keep) < all.size(); ++i) {
      std::error_code ec;
      fs::remove(all[i], ec);  // best effort: an old checkpoint left behind loses nothing
    }
  }
  return path;
}

void RunFolder::append_stats(const json& line) const {
  const fs::path path = root_ / "stats.jsonl";
  std::string text = line.dump(-1, ' ', false, json::error_handler_t::replace) + '\n';
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw CheckpointError("cannot append to '" + path.string() + "': " + std::strerror(errno));
  // A line cut by an earlier full disk or kill is ended first, so this one
  // starts on its own line.
  struct stat st {};
  char last = '\n';
  if (::fstat(fd, &st) == 0 && st.st_size > 0 && ::pread(fd, &last, 1, st.st_size - 1) == 1 && last != '\n')
    text.insert(text.begin(), '\n');
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : ENOSPC;
      // Leave no half line behind for the next run to append onto.
      if (::fstat(fd, &st) == 0) (void)!::ftruncate(fd, st.st_size - static_cast<off_t>(done));
      ::close(fd);
      throw CheckpointError("cannot append to '" + path.string() + "': " + std::strerror(err) +
                            " (is the disk full?)");
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0)
    throw CheckpointError("cannot append to '" + path.string() + "': " + std::strerror(errno));
}

void RunFolder::truncate_stats_after(int64_t images) const {
  const fs::path path = root_ / "stats.jsonl";
  std::ifstream in(path);
  if (!in) return;
  std::string kept, line;
  bool dropped = false;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) {  // a line cut by a kill or a full disk
      dropped = true;
      continue;
    }
    if (j.contains("images") && j["images"].is_number_integer() && j["images"].get<int64_t>() > images) {
      dropped = true;  // written after the checkpoint we resume from: it will be written again
      continue;
    }
    kept += line + '\n';
  }
  in.close();
  if (dropped) write_file_atomic(path.string(), kept);
}

void restart_loader(std::unique_ptr<BatchLoader>& loader, std::shared_ptr<const Dataset> data, int batch, uint64_t seed,
                    int64_t position, double style_negatives, double short_captions) {
  if (loader) loader->stop();
  LoaderOptions lo;
  lo.style_negatives = style_negatives;
  lo.short_captions = short_captions;
  lo.batch_size = batch;
  lo.seed = seed;
  lo.position = position;
  loader = std::make_unique<BatchLoader>(std::move(data), lo);
}

TensorMap rng_state(const std::string& prefix) {
  TensorMap out;
  auto cpu = at::detail::getDefaultCPUGenerator();
  {
    std::lock_guard<std::mutex> lock(cpu.mutex());
    out[prefix + "cpu"] = cpu.get_state();
  }
  return out;
}

void set_rng_state(const TensorMap& tensors, const std::string& prefix) {
  auto it = tensors.find(prefix + "cpu");
  if (it == tensors.end()) throw CheckpointError("checkpoint has no RNG state '" + prefix + "cpu'");
  auto cpu = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(cpu.mutex());
  cpu.set_state(it->second.to(torch::kUInt8).contiguous());
}

void save_image_grid(const torch::Tensor& images, int columns, const fs::path& path) {
  check_shape(images, {-1, 3, -1, -1}, "save_image_grid images");
  const int64_t n = images.size(0), h = images.size(2), w = images.size(3);
  columns = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(columns, n)));
  const int64_t rows = (n + columns - 1) / columns;
  torch::Tensor x = ((images.detach().to(torch::kCPU, torch::kFloat32).clamp(-1, 1) + 1) * 127.5)
                        .round()
                        .to(torch::kUInt8);
  torch::Tensor grid = torch::full({rows * h, columns * w, 3}, 255, torch::kUInt8);
  for (int64_t k = 0; k < n; ++k) {
    const int64_t r = k / columns, c = k % columns;
    grid.slice(0, r * h, (r + 1) * h).slice(1, c * w, (c + 1) * w).copy_(x[k].permute({1, 2, 0}));
  }
  grid = grid.flip(2).contiguous();  // RGB -> BGR for OpenCV
  cv::Mat mat(static_cast<int>(rows * h), static_cast<int>(columns * w), CV_8UC3, grid.data_ptr<uint8_t>());
  std::vector<uint8_t> bytes;
  if (!cv::imencode(".png", mat, bytes)) throw Error("cannot encode the sample grid '" + path.string() + "'");
  write_file_atomic(path.string(), std::string(bytes.begin(), bytes.end()));
}

void TrainerBase::save_progress(Checkpoint& ck, const Progress& p) const {
  add_prefix(ck.tensors, rng_state(""), "rng.");
  ck.metadata["gigagan_train_state"] =
      json({{"images", images}, {"steps", steps}, {"position", p.position}, {"lr_scale", p.lr_scale}}).dump();
}

TrainerBase::Progress TrainerBase::load_progress(const Checkpoint& ck, const std::string& source) {
  auto it = ck.metadata.find("gigagan_train_state");
  if (it == ck.metadata.end()) throw CheckpointError("'" + source + "' has no training state");
  set_rng_state(select_prefix(ck.tensors, "rng."), "");
  json st = json::parse(it->second);
  images = st.at("images").get<int64_t>();
  steps = st.at("steps").get<int64_t>();
  return {st.at("position").get<int64_t>(), st.value("lr_scale", 1.0)};
}

std::string resume_latest(TrainerBase& trainer, const RunFolder& run, std::vector<std::string>* skipped) {
  const auto all = run.checkpoints();
  if (all.empty()) return "";
  // Newest first; a corrupt checkpoint (a flipped bit, a truncated copy) is
  // passed over for the previous good one, and the caller is told which.
  std::string first_error;
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    Checkpoint ck;
    try {
      ck = load_checkpoint(it->string());
    } catch (const CheckpointError& e) {
      if (first_error.empty()) first_error = e.what();
      if (skipped) skipped->push_back(e.what());
      continue;
    }
    trainer.load_state(ck, it->string());
    run.truncate_stats_after(trainer.images);
    return it->string();
  }
  throw CheckpointError("no checkpoint of '" + run.root().string() + "' can be loaded; the newest: " + first_error);
}

namespace {

struct Clock {
  using time_point = std::chrono::steady_clock::time_point;
  static time_point now() { return std::chrono::steady_clock::now(); }
  static double seconds(time_point a, time_point b) { return std::chrono::duration<double>(b - a).count(); }
};

// Crossed a multiple of `every` between `before` and `after`?
bool crossed(int64_t before, int64_t after, int64_t every) {
  return every > 0 && before / every != after / every;
}

}  // namespace

LoopResult run_training(TrainerBase& trainer, const RunFolder& run, const LoopOptions& loop,
                        RunControl& control, const ProgressCallback& progress, int nan_rollbacks) {
  auto emit = [&](const json& event) {
    if (progress && loop.writer) progress(event);
  };
  LoopResult result;
  std::string last_checkpoint;
  if (auto latest = run.latest_checkpoint()) last_checkpoint = latest->string();
  std::string last_package;
  auto checkpoint = [&]() {
    if (!loop.writer) {  // other ranks only track where the writer's checkpoint is
      last_checkpoint = run.checkpoint_path(trainer.images).string();
      return;
    }
    const fs::path path = run.save(trainer.images, trainer.state(), loop.keep_checkpoints);
    last_checkpoint = path.string();
    last_package = trainer.export_package(run);
    emit({{"event", "checkpoint"}, {"images", trainer.images}, {"path", last_checkpoint},
          {"package", last_package}});
  };
  auto sample = [&]() {
    if (!loop.writer) return;
    const fs::path path = run.sample_path(trainer.images);
    if (trainer.write_samples(path))
      emit({{"event", "sample"}, {"images", trainer.images}, {"path", path.string()}});
    json metrics = trainer.evaluate();
    if (!metrics.empty()) {
      run.append_stats({{"images", trainer.images}, {"eval", metrics}});
      emit({{"event", "eval"}, {"images", trainer.images}, {"metrics", metrics}});
    }
  };

  // Running means of the losses over a tick.
  std::map<std::string, double> sums;
  int64_t tick_steps = 0;
  auto tick_start = Clock::now();
  int64_t tick_images_start = trainer.images;
  double images_per_s = 0;
  int rollbacks_left = nan_rollbacks;
  bool was_paused = false;
  // The executables keep freed pages so every step reuses them; hand them back
  // every few minutes, and whenever more than 2 GiB are kept, or a long run's
  // resident memory creeps up (README, "Speed and memory").
  MemoryReleaseTimer release_memory(300, int64_t{2} << 30);
  // Images that become unreadable while the run goes on (deleted, truncated,
  // replaced by garbage) are skipped by the loader; each is reported once as a
  // warning event, so a run never loses data silently.
  const Dataset* data = trainer.training_data();
  int64_t skipped_seen = data ? data->report().total_skipped() : 0;
  size_t listed_seen = data ? data->report().listed.size() : 0;
  auto report_new_skips = [&]() {
    if (!data) return;
    const DatasetReport rep = data->report();
    const int64_t now = rep.total_skipped();
    if (now <= skipped_seen) return;
    std::string message = std::to_string(now - skipped_seen) + " training image" +
                          (now - skipped_seen == 1 ? "" : "s") + " could not be read during the run and " +
                          (now - skipped_seen == 1 ? "is" : "are") + " skipped from now on";
    for (size_t i = listed_seen; i < rep.listed.size(); ++i)
      message += (i == listed_seen ? ": " : "; ") + rep.listed[i].path +
                 (rep.listed[i].detail.empty() ? "" : " (" + rep.listed[i].detail + ")");
    emit({{"event", "warning"}, {"images", trainer.images}, {"message", message}});
    skipped_seen = now;
    listed_seen = rep.listed.size();
  };

  while (trainer.images < loop.images) {
    int flags = (control.stop_requested() ? 1 : 0) | (control.paused() ? 2 : 0);
    if (loop.agree) flags = loop.agree(flags);
    if (flags & 1) break;
    if (flags & 2) {
      if (!was_paused) emit({{"event", "paused"}, {"images", trainer.images}});
      was_paused = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      tick_start = Clock::now();  // paused time is not training time
      tick_images_start = trainer.images;
      continue;
    }
    if (was_paused) emit({{"event", "resumed"}, {"images", trainer.images}});
    was_paused = false;

    const int64_t before = trainer.images;
    StepResult step = trainer.step();
    if (!step.non_finite.empty()) {
      const std::string what = "non-finite loss '" + step.non_finite + "' at " + std::to_string(before) +
                               " images (step " + std::to_string(trainer.steps) + ")";
      int cannot_roll_back = rollbacks_left > 0 && !last_checkpoint.empty() ? 0 : 1;
      if (loop.agree) cannot_roll_back = loop.agree(cannot_roll_back);
      if (!cannot_roll_back) {
        --rollbacks_left;
        if (loop.writer) trainer.load_state(load_checkpoint(last_checkpoint), last_checkpoint);
        trainer.synchronize();
        trainer.scale_learning_rate(0.5);
        emit({{"event", "warning"},
              {"message", what + "; rolled back to '" + last_checkpoint + "' with learning rate " +
                              std::to_string(trainer.learning_rate())}});
        sums.clear();
        tick_steps = 0;
        continue;
      }
      result.images = trainer.images;
      result.reason = "non-finite";
      result.checkpoint = last_checkpoint;
      emit({{"event", "error"},
            {"message", what + "; the step was not applied and no checkpoint was written" +
                            (last_checkpoint.empty() ? std::string(" (the run has no checkpoint yet)")
                                                     : "; the last good checkpoint is '" + last_checkpoint + "'") +
                            ". Lower the learning rate or resume with --nan-rollbacks."}});
      return result;
    }
    trainer.images += trainer.batch_size();
    trainer.steps += 1;
    report_new_skips();
    release_memory.poll();
    for (const auto& [k, v] : step.losses) sums[k] += v;
    ++tick_steps;

    const bool last = trainer.images >= loop.images;
    if (last || loop.tick_images <= 0 || crossed(before, trainer.images, loop.tick_images)) {
      const double dt = Clock::seconds(tick_start, Clock::now());
      if (dt > 0) images_per_s = static_cast<double>(trainer.images - tick_images_start) / dt;
      json losses = json::object();
      for (const auto& [k, v] : sums) losses[k] = v / static_cast<double>(std::max<int64_t>(tick_steps, 1));
      const double eta = images_per_s > 0 ? static_cast<double>(loop.images - trainer.images) / images_per_s : 0;
      json event = {{"event", "step"},         {"images", trainer.images}, {"step", trainer.steps},
                    {"images_per_s", images_per_s}, {"eta_s", eta},        {"losses", losses},
                    {"lr", trainer.learning_rate()}};
      json stats = event;
      stats.erase("event");
      stats["time"] = static_cast<double>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                              std::chrono::system_clock::now().time_since_epoch())
                                              .count()) / 1000.0;
      if (loop.writer) run.append_stats(stats);
      emit(event);
      sums.clear();
      tick_steps = 0;
      tick_start = Clock::now();
      tick_images_start = trainer.images;
    }
    const bool do_checkpoint = !last && crossed(before, trainer.images, loop.checkpoint_images);
    const int64_t sample_every = loop.sample_images > 0 ? loop.sample_images : loop.checkpoint_images;
    if (!last && crossed(before, trainer.images, sample_every)) sample();
    if (do_checkpoint) checkpoint();
  }
  // Finished or stopped: always leave a checkpoint of where we are.
  if (loop.writer && (last_checkpoint.empty() || last_checkpoint != run.checkpoint_path(trainer.images).string() ||
                      !fs::exists(last_checkpoint))) {
    sample();
    checkpoint();
  }
  result.images = trainer.images;
  result.reason = trainer.images >= loop.images ? "finished" : "stopped";
  result.checkpoint = last_checkpoint;
  return result;
}

}  // namespace gg

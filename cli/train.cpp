// `gigagan train` and `gigagan train-clip`: the trainers of training/ behind
// the command line, with JSON progress (`--progress json`: one JSON
// object per line on stdout), control words on stdin (pause, resume, stop)
// and SIGINT/SIGTERM as "stop" (a checkpoint is written, then exit 0).
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <thread>

#include "adaptive_conv2d.h"
#include "clip_trainer.h"
#include "distributed.h"
#include "gan_trainer.h"
#include "model_io.h"
#include "cli.h"
#include "model_config.h"
#include "package.h"
#include "runtime.h"

namespace gg::cli {

namespace fs = std::filesystem;

namespace {

RunControl* g_control = nullptr;

extern "C" void on_stop_signal(int) {
  if (g_control) g_control->stop();
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl+C kills at once
}

// Signals and stdin words drive `control` while a run is active.
class ControlSession {
 public:
  explicit ControlSession(RunControl& control, bool read_stdin) {
    g_control = &control;
    std::signal(SIGINT, on_stop_signal);
    std::signal(SIGTERM, on_stop_signal);
    if (read_stdin) {
      // Detached: a blocking read cannot be interrupted portably; it ends with the process.
      std::thread([&control] {
        for (std::string line; std::getline(std::cin, line);) {
          while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
          if (line == "pause") control.pause();
          else if (line == "resume") control.resume();
          else if (line == "stop") { control.stop(); control.resume(); }
        }
      }).detach();
    }
  }
  ~ControlSession() {
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
    g_control = nullptr;
  }
};

// Prints events as JSON lines or as readable text.
ProgressCallback make_printer(const std::string& mode, std::ostream& out) {
  if (mode == "json")
    return [&out](const json& e) { out << e.dump() << std::endl; };
  if (mode != "text") throw UsageError("--progress must be text or json, got '" + mode + "'");
  return [&out](const json& e) {
    const std::string ev = e.value("event", "");
    if (ev == "step") {
      out << "images " << std::setw(9) << e["images"].get<int64_t>() << "  " << std::fixed << std::setprecision(1)
          << e["images_per_s"].get<double>() << " img/s  eta " << std::setprecision(0) << e["eta_s"].get<double>()
          << " s  lr " << std::scientific << std::setprecision(2) << e["lr"].get<double>() << std::defaultfloat;
      for (const auto& [k, v] : e["losses"].items()) out << "  " << k << " " << std::setprecision(4) << v.get<double>();
      out << std::endl;
    } else if (ev == "checkpoint") {
      out << "checkpoint " << e["path"].get<std::string>() << std::endl;
    } else if (ev == "sample") {
      out << "samples " << e["path"].get<std::string>() << std::endl;
    } else if (ev == "eval") {
      out << "eval " << e["metrics"].dump() << std::endl;
    } else if (ev == "warning" || ev == "error") {
      out << ev << ": " << e["message"].get<std::string>() << std::endl;
    } else if (ev == "start" || ev == "done" || ev == "paused" || ev == "resumed") {
      out << e.dump() << std::endl;
    }
  };
}

std::vector<Option> loop_options() {
  return {
      {"out", "RUN", "run folder: checkpoints/, samples/, stats.jsonl (required)", ""},
      {"images", "N", "train until this many images have been seen in total", ""},
      {"resume", "", "continue from the newest checkpoint in --out (the default when it has one)", ""},
      {"restart", "", "ignore checkpoints already in --out and start over", ""},
      {"checkpoint-every", "N", "checkpoint every N images", ""},
      {"sample-every", "N", "sample grid / metrics every N images (default: at checkpoints)", "0"},
      {"keep", "K", "keep the newest K checkpoints", "3"},
      {"tick", "N", "a progress line every N images (0: every step)", "0"},
      {"progress", "MODE", "text, or json (one JSON progress event per line; control words on stdin)", "text"},
      {"nan-rollbacks", "N", "on a NaN/Inf loss, roll back to the last checkpoint with half the lr, N times", "0"},
      device_option(),
      threads_option(),
  };
}

LoopOptions parse_loop(const Args& args, int64_t default_images, int64_t default_checkpoint) {
  LoopOptions loop;
  loop.images = args.has("images") ? std::stoll(args.get("images")) : default_images;
  loop.checkpoint_images = args.has("checkpoint-every") ? std::stoll(args.get("checkpoint-every")) : default_checkpoint;
  loop.sample_images = std::stoll(args.get("sample-every"));
  loop.keep_checkpoints = args.get_int("keep");
  loop.tick_images = std::stoll(args.get("tick"));
  if (loop.images <= 0) throw UsageError("--images must be positive");
  if (loop.checkpoint_images < 0 || loop.sample_images < 0 || loop.tick_images < 0)
    throw UsageError("--checkpoint-every, --sample-every and --tick must be >= 0");
  return loop;
}

std::shared_ptr<const Dataset> open_split(const std::string& path, int resolution, const std::string& split,
                                          bool required, int hr_resolution = 0) {
  DatasetOptions o;
  o.resolution = resolution;
  o.hr_resolution = hr_resolution;
  o.split = split;
  o.verify = required;
  try {
    return std::make_shared<const Dataset>(path, o);
  } catch (const DatasetError&) {
    if (required) throw;
    return nullptr;  // no validation split: metrics are skipped
  }
}

// Resume (or not), run the loop, print start/done; returns the exit code.
int drive(TrainerBase& trainer, const RunFolder& run, const LoopOptions& loop, const Args& args,
          const json& start_extra, std::ostream& out) {
  const std::string progress_mode = args.get("progress");
  ProgressCallback printer = make_printer(progress_mode, out);
  ProgressCallback print = [&](const json& e) {
    if (loop.writer) printer(e);
  };
  std::string resumed;
  if (args.flag("restart") && !run.checkpoints().empty())
    throw UsageError("--restart: '" + run.root().string() + "' already has checkpoints; use another --out "
                     "(nothing is deleted)");
  std::vector<std::string> skipped;  // corrupt newer checkpoints passed over
  if (!args.flag("restart") && loop.writer) resumed = resume_latest(trainer, run, &skipped);
  trainer.synchronize();  // data-parallel: every rank starts from rank 0's state
  json start = {{"event", "start"},        {"run_dir", run.root().string()}, {"mode", trainer.mode()},
                {"images_target", loop.images}, {"images", trainer.images},   {"resumed", !resumed.empty()}};
  for (const auto& [k, v] : start_extra.items()) start[k] = v;
  if (!resumed.empty()) start["checkpoint"] = resumed;
  print(start);
  for (const auto& why : skipped)
    print({{"event", "warning"}, {"message", "skipped a corrupt checkpoint: " + why + "; resumed from '" + resumed + "'"}});
  RunControl control;
  ControlSession session(control, progress_mode == "json" && loop.writer);
  LoopResult r = run_training(trainer, run, loop, control, print, args.get_int("nan-rollbacks"));
  if (r.reason == "non-finite") return 1;
  print({{"event", "done"}, {"images", r.images}, {"reason", r.reason}, {"checkpoint", r.checkpoint}});
  return 0;
}

}  // namespace

namespace {

// Where a CLIP spec's weights and tokenizer are: a model package (its "clip"
// and "tokenizer"), a folder with clip.safetensors and tokenizer/ (a
// train-clip run), or a clip .safetensors with tokenizer/ beside it.
struct ClipLocation {
  std::string clip_file;
  std::string tokenizer_folder;
};
ClipLocation locate_clip(const std::string& spec) {
  const fs::path p(spec);
  if (fs::is_directory(p) && fs::exists(p / "package.json")) {
    const json j = read_json_file((p / "package.json").string());
    return {(p / j.value("clip", "clip.safetensors")).string(), (p / j.value("tokenizer", "tokenizer")).string()};
  }
  if (fs::is_directory(p)) return {(p / "clip.safetensors").string(), (p / "tokenizer").string()};
  return {spec, (p.parent_path() / "tokenizer").string()};
}

// train-clip --init: a CLIP spec as locate_clip reads it. Its config must be
// the run's: a fine-tuning start, not a different network. Returns the file used.
std::string init_clip(const std::string& spec, const ClipConfig& config, ClipModel& clip) {
  const std::string file = locate_clip(spec).clip_file;
  if (!fs::is_regular_file(file)) throw ConfigError("--init '" + spec + "': no CLIP weights at '" + file + "'");
  const Checkpoint ck = load_checkpoint(file);
  const ClipConfig theirs = checkpoint_config<ClipConfig>(ck, file, "clip");
  if (json(theirs) != json(config))
    throw ConfigError("--init '" + file + "': its CLIP config differs from --config's (" + json(theirs).dump() +
                      " against " + json(config).dump() + ")");
  load_state_dict_strict(*clip, ck.tensors, file);
  return file;
}

}  // namespace

Command train_clip_command() {
  Command c;
  c.name = "train-clip";
  c.summary = "Train a CLIP (text + image towers, contrastive) on a captioned dataset: the frozen encoder, or "
              "with another seed and size the evaluator.";
  c.options = {
      {"data", "DIR", "dataset folder or manifest (required)", ""},
      {"config", "NAME", "model preset or JSON whose `clip` is trained, or a JSON of a CLIP config alone", "emoji64"},
      {"tokenizer", "DIR", "use this tokenizer (vocab.json + merges.txt) instead of training one on the captions", ""},
      {"batch", "N", "images per step", "128"},
      {"lr", "F", "peak learning rate (AdamW)", "5e-4"},
      {"warmup", "N", "warm-up images", "5000"},
      {"seed", "N", "seed of the weights, the sampler and augmentation", "0"},
      {"augment", "POLICY", "DiffAugment policy on images (\"\" for none)", "translation"},
      {"hr", "", "make the tower's images from the high-res files (image_256) instead of the 64 px ones", ""},
      {"style-pairs", "", "half of each batch: the same emoji in the other style (noto <-> twemoji) as a hard negative", ""},
      {"short-captions", "F", "share of captions shortened to the emoji's label, half of them with the style clause "
                              "(\"pizza\", \"pizza, noto style\"): the short prompts users type", "0"},
      {"init", "SPEC", "start from this CLIP's weights (a clip .safetensors, a train-clip run folder or a model "
                       "package; same config) instead of random ones; a resumed run keeps its checkpoint's", ""},
  };
  for (auto& o : loop_options()) c.options.push_back(o);
  c.run = [](const Args& args, std::ostream& out) {
    if (!args.has("data")) throw UsageError("gigagan train-clip: --data DIR is required");
    if (!args.has("out")) throw UsageError("gigagan train-clip: --out RUN is required");
    init_runtime(args.get_int("threads"));
    const torch::Device device = parse_device(args.get("device"));
    const std::string config_path = resolve_config_path(args.get("config"));
    json j = read_json_file(config_path);
    ClipConfig clip = j.contains("clip") ? j.at("clip").get<ClipConfig>() : j.get<ClipConfig>();
    clip.validate();
    ClipTrainOptions o;
    o.batch = args.get_int("batch");
    o.lr = args.get_double("lr");
    o.warmup_images = std::stoll(args.get("warmup"));
    o.seed = std::stoull(args.get("seed"));
    o.augment = args.get("augment");
    o.style_pairs = args.flag("style-pairs");
    o.short_captions = args.get_double("short-captions");
    LoopOptions loop = parse_loop(args, 200000, 20000);
    o.images = loop.images;
    o.validate();
    RunFolder run(args.get("out"));
    const int size = clip.vision_config.image_size;
    const int hr = args.flag("hr") ? size : 0;  // resolution of the plain images is then irrelevant: keep it small
    auto train = open_split(args.get("data"), hr ? 16 : size, "train", true, hr);
    auto val = open_split(args.get("data"), hr ? 16 : size, "val", false, hr);
    ClipTrainer trainer(clip, o, train, val, run, args.get("tokenizer"), device);
    json start = {{"config", config_path}, {"train_size", train->report().usable},
                  {"dataset", json::parse(train->report().to_json())}};
    if (args.has("init") && run.checkpoints().empty()) start["init"] = init_clip(args.get("init"), clip, trainer.model());
    return drive(trainer, run, loop, args, start, out);
  };
  return c;
}

}  // namespace gg::cli

namespace gg::cli {

namespace {

struct FrozenClip {
  ClipModel model{nullptr};
  std::string tokenizer_folder;
  std::string clip_file;
};

// --clip: a train-clip run folder (clip.safetensors + tokenizer/), a model
// package (package.json), a clip .safetensors with tokenizer/ beside it, or
// "random" (an untrained CLIP with a BPE vocabulary learned on the captions:
// for tests and smoke runs; kept in the run folder so a resume uses the same).
FrozenClip open_frozen_clip(const std::string& spec, const ModelConfig& config, const RunFolder& run,
                            const Dataset& train, torch::Device device) {
  FrozenClip f;
  if (spec == "random") {
    f.clip_file = (run.root() / "clip.safetensors").string();
    f.tokenizer_folder = (run.root() / "tokenizer").string();
    if (!fs::exists(f.tokenizer_folder + "/vocab.json")) train_clip_tokenizer(train, config.clip, f.tokenizer_folder);
    if (!fs::exists(f.clip_file)) {
      torch::manual_seed(1);
      ClipModel clip(config.clip);
      save_network(f.clip_file, "clip", config.clip, clip);
    }
  } else {
    const ClipLocation at = locate_clip(spec);
    f.clip_file = at.clip_file;
    f.tokenizer_folder = at.tokenizer_folder;
  }
  if (!fs::exists(f.clip_file))
    throw ConfigError("--clip '" + spec + "': no CLIP weights at '" + f.clip_file +
                      "' (train one with `gigagan train-clip`, or pass a model package)");
  ClipConfig cc;
  f.model = load_network<ClipConfig, ClipModel>(f.clip_file, "clip", device, &cc);
  const auto& g = config.generator;
  if (cc.text_config.hidden_size != g.text_input_dim || cc.text_config.max_position_embeddings != g.context_length)
    throw ConfigError("--clip '" + spec + "': its text tower has width " + std::to_string(cc.text_config.hidden_size) +
                      " and context " + std::to_string(cc.text_config.max_position_embeddings) +
                      ", the generator expects " + std::to_string(g.text_input_dim) + " and " +
                      std::to_string(g.context_length));
  return f;
}

}  // namespace

namespace {

constexpr const char* kInceptionFile = "models/inception_v3/inception_v3_nsfwjs.safetensors";

// --vision-backbone, --vision-layers, --vision-image-size into the config;
// the InceptionV3 file (--vision-backbone-weights or the shipped one) into
// the options. A config with the inception_v3 backbone needs the file too.
void apply_vision_backbone(const Args& args, ModelConfig& config, GanTrainOptions& o) {
  auto& va = config.vision_aided;
  const std::string backbone = args.get("vision-backbone");
  if (!backbone.empty() && backbone != va.backbone) {
    if (backbone != "clip" && backbone != "inception_v3")
      throw UsageError("--vision-backbone '" + backbone + "': expected clip or inception_v3");
    if (backbone == "clip" && !args.has("vision-layers"))
      throw UsageError("--vision-backbone clip: this config's vision-aided D is on " + va.backbone +
                       "; name the CLIP layers with --vision-layers");
    va.backbone = backbone;
    va.feature_layers = {2, 7};  // inception_v3: mixed2 and mixed7 (clip: --vision-layers, required above)
    va.backbone_image_size = backbone == "inception_v3" ? 128 : 0;
  }
  if (args.has("vision-layers")) va.feature_layers = args.get_int_list("vision-layers", 0);
  if (args.has("vision-image-size")) va.backbone_image_size = args.get_int("vision-image-size");
  config.validate();
  if (va.backbone != "inception_v3" || !va.enabled) return;
  o.vision_backbone_weights = args.get("vision-backbone-weights");
  if (o.vision_backbone_weights.empty()) {
    o.vision_backbone_weights = find_resource(kInceptionFile);
    if (o.vision_backbone_weights.empty())
      throw ConfigError(std::string("the vision-aided backbone inception_v3: ") + kInceptionFile +
                        " is in none of the resource folders; make it as resources/models/inception_v3/README.md "
                        "says, or pass --vision-backbone-weights FILE");
  } else if (!fs::is_regular_file(o.vision_backbone_weights)) {
    throw ConfigError("--vision-backbone-weights '" + o.vision_backbone_weights + "': no such file");
  }
}

pid_t g_rank0 = -1;
volatile std::sig_atomic_t g_forwarded = 0;
// The first stop is forwarded as SIGTERM: a Ctrl+C in a terminal reaches the
// whole process group, so rank 0 gets its own SIGINT too, and a second SIGINT
// means "kill at once" (on_stop_signal); the forwarded copy must not count as
// that second one. A later signal is forwarded as SIGINT: the kill.
extern "C" void forward_stop_signal(int) {
  if (g_rank0 > 0) ::kill(g_rank0, g_forwarded++ == 0 ? SIGTERM : SIGINT);
}

// `--nproc N`: runs this same command N times as ranks 0..N-1 of a local
// c10d group (a free port on 127.0.0.1), threads split between them. Rank 0
// keeps stdin/stdout (progress, control words); the others print errors only.
// A signal is forwarded to rank 0, which agrees the stop with the others. If a
// rank fails, the rest are stopped and the exit code is 1.
int launch_workers(int nproc, int threads) {
  if (!distributed_available())
    throw ConfigError("--nproc: this build has no c10d (install libgloo-dev and rebuild)");
  std::vector<std::string> base;
  const auto& inv = invocation();
  for (size_t i = 0; i < inv.size(); ++i) {
    const std::string& a = inv[i];
    if (a == "--nproc" || a == "--threads") { ++i; continue; }
    if (a.rfind("--nproc=", 0) == 0 || a.rfind("--threads=", 0) == 0) continue;
    base.push_back(a);
  }
  const int per_rank = threads > 0 ? threads : std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / nproc);
  const int port = free_tcp_port();
  const std::string exe = fs::read_symlink("/proc/self/exe").string();
  // Ranks share the cores: idle OpenMP threads should sleep rather than spin,
  // or a preempted thread stalls everyone waiting at its barrier.
  ::setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
  std::vector<pid_t> pids;
  for (int r = 0; r < nproc; ++r) {
    std::vector<std::string> argv = {exe};
    argv.insert(argv.end(), base.begin(), base.end());
    for (const std::string& a : {std::string("--rank"), std::to_string(r), std::string("--world-size"),
                                 std::to_string(nproc), std::string("--master-addr"), std::string("127.0.0.1"),
                                 std::string("--master-port"), std::to_string(port), std::string("--threads"),
                                 std::to_string(per_rank)})
      argv.push_back(a);
    std::cout.flush();
    const pid_t pid = ::fork();
    if (pid < 0) throw Error("--nproc: cannot start a worker process");
    if (pid == 0) {
      if (r > 0) {
        const int devnull = ::open("/dev/null", O_RDWR);
        ::dup2(devnull, 0);
        ::dup2(devnull, 1);
      }
      std::vector<char*> cargv;
      for (auto& a : argv) cargv.push_back(a.data());
      cargv.push_back(nullptr);
      ::execv(exe.c_str(), cargv.data());
      _exit(127);
    }
    pids.push_back(pid);
  }
  g_rank0 = pids[0];
  g_forwarded = 0;
  std::signal(SIGINT, forward_stop_signal);
  std::signal(SIGTERM, forward_stop_signal);
  int result = 0;
  size_t running = pids.size();
  while (running > 0) {
    int status = 0;
    const pid_t done = ::waitpid(-1, &status, 0);
    if (done < 0) {
      if (errno == EINTR) continue;
      break;
    }
    --running;
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
    if (code != 0 && result == 0) {
      result = code;
      for (pid_t p : pids)
        if (p != done) ::kill(p, SIGKILL);  // the others would wait for it forever
    }
    if (done == pids[0] && result == 0) result = code;
  }
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  g_rank0 = -1;
  return result;
}

Command gan_command(GanTarget target) {
  const bool up = target == GanTarget::Upsampler;
  Command c;
  c.name = up ? "train-upsampler" : "train";
  c.summary = up ? "Train the GAN upsampler (64 -> 256 px by the emoji64 preset) on real (low, high) pairs: base "
                   "losses without vision-aided, CLIP-feature perceptual loss, input noise."
                 : "Train the GigaGAN base generator (full objective) on a captioned dataset, resumably.";
  c.options = {
      {"data", "DIR", "dataset folder or manifest (required)", ""},
      {"config", "NAME", "model preset (tiny, emoji64, paper) or JSON file", "emoji64"},
      {"clip", "SPEC", "frozen CLIP: train-clip run folder, model package, clip .safetensors, or random", ""},
      {"init", "FILE", "start G from this package or generator/checkpoint file (fine-tuning)", ""},
      {"widen", "",
       "--init's G may have fewer channels per level than --config's: its weights fill the leading channels and "
       "the new channels start with zero weights into the next layer, so G draws the same at the start "
       "(Net2Net; levels without attention only)",
       ""},
      {"batch", "N", "images per step (all ranks)", "32"},
      {"micro-batch", "N", "images per forward/backward (gradient accumulation); 0: whole batch", "0"},
      {"lr", "F", "learning rate of G and D (Adam, betas 0, 0.99)", "2e-3"},
      {"beta1", "F", "Adam beta1 of G and D (0 as StyleGAN2 for the adversarial game; a reconstruction-only "
                     "phase (--gan-weight 0) learns faster with momentum, e.g. 0.9)", "0"},
      {"r1-gamma", "F", "R1 weight (lazy, every 16 steps)", "0.05"},
      {"match-weight", "F", "matching-aware loss weight (G and D)", "1"},
      {"match-style-negatives", "F",
       "share of the matching-aware loss's wrong captions that are the image's own caption in another style "
       "(hard negatives that teach D, and through it G, the style word; 0: random captions as in the paper)",
       "0"},
      {"recon-weight", "F",
       "paired reconstruction: L1 (mean over the pyramid levels) between G's image for a real image's caption and "
       "that image, on the best of --recon-samples latents (not in the paper; 0: off)",
       "0"},
      {"recon-max-size", "PX",
       "--recon-weight's L1 (and its choice of latent) on the pyramid levels of at most PX pixels only, e.g. 16: "
       "the layout and colours of the real image, the detail left to D (0: every level)",
       "0"},
      {"gan-weight", "F",
       "weight of G's adversarial terms (0: reconstruction only, D is not run; needs --recon-weight)", "1"},
      {"recon-samples", "K", "latents tried per image for --recon-weight (the closest one is trained); 0: z = 0 for "
                             "every G-step image (a caption -> image regression, to test whether G can learn its "
                             "training images)", "4"},
      {"mode-seeking-weight", "F",
       "mode-seeking term (Mao et al. 2019; not in the paper): each G-step image is drawn again with another z "
       "and G pays F / (image distance / z distance); against seeds that all give one image (0: off; costs one "
       "more G forward and backward per image)",
       "0"},
      {"short-captions", "F",
       "share of captions shortened to the emoji's label, half of them with the style clause (\"pizza\", "
       "\"pizza, noto style\"): the short prompts users type",
       "0"},
      {"noise", "MODE",
       "G's per-layer noise in training: const or none (none: noise strengths held at 0, so the model renders "
       "the same in either mode; default: the config's)",
       ""},
      {"clip-weight", "F", "CLIP contrastive loss weight (G)", "0.2"},
      {"vision-weight", "F", "vision-aided loss weight (0: off)", "0.5"},
      {"vision-backbone", "NAME",
       "the vision-aided D's frozen network: clip (the run's CLIP, as the paper) or inception_v3 (ImageNet-"
       "initialised, nsfwjs; the metrics' MobileNetV2 stays a different network); default: the config's",
       ""},
      {"vision-layers", "LIST",
       "the layers the vision-aided heads judge (clip: encoder layers; inception_v3: mixed blocks 0..10); default: "
       "the config's, or 2,7 for inception_v3",
       ""},
      {"vision-image-size", "N", "inception_v3: the side images are resized to before it (>= 75; default 128)", ""},
      {"vision-backbone-weights", "FILE",
       "inception_v3's .safetensors (default: the one in the resource folders, " + std::string(kInceptionFile) + ")",
       ""},
      {"ema", "N", "G EMA half-life in images", "10000"},
      {"ema-rampup", "F", "EMA half-life at most F x images seen (0: off, for fine-tuning an --init G)", "0.05"},
      {"d-warmup", "N", "train only D for the first N images (fine-tuning an --init G with a fresh D)", "0"},
      {"augment", "POLICY", "DiffAugment policy (color,translation,cutout; \"\" for none)", "translation,cutout"},
      {"seed", "N", "seed of weights, sampler, z and augmentation", "0"},
      {"perceptual-weight", "F", "upsampler: CLIP-feature perceptual loss weight", "1"},
      {"pixel-weight", "F", "upsampler: L1 weight between output and real image, both averaged down to --pixel-size",
       "30"},
      {"input-blur", "SIGMA",
       "upsampler: blur each low-res training input with a Gaussian of a random standard deviation in [0, SIGMA] input "
       "px, so that it learns to sharpen soft inputs such as the base generator's (0: off)",
       "0"},
      {"pixel-size", "PX",
       "upsampler: side the pixel term compares at (0: the input size, so the upscale gives its input back; the "
       "output size: the full-resolution L1 of super-resolution training, which asks for sharp edges)",
       "0"},
      {"inject-nan-at-step", "N", "testing aid: make the G loss NaN at this step", "-1"},
      {"nproc", "N", "start N local data-parallel workers (c10d, rendezvous on 127.0.0.1)", "1"},
      {"world-size", "N", "ranks in a multi-machine run (with --rank, --master-addr, --master-port)", "1"},
      {"rank", "R", "this process's rank in [0, world size)", "0"},
      {"master-addr", "HOST", "rank 0's address (its TCP store)", "127.0.0.1"},
      {"master-port", "PORT", "rank 0's TCP store port", "29500"},
      {"backend", "NAME", "gloo (CPU) or nccl (CUDA)", "gloo"},
      adaconv_option(),
  };
  for (auto& o : loop_options()) c.options.push_back(o);
  c.run = [target, up, name = c.name](const Args& args, std::ostream& out) {
    if (args.get_int("nproc") > 1) return launch_workers(args.get_int("nproc"), args.get_int("threads"));
    if (!args.has("data")) throw UsageError("gigagan " + name + ": --data DIR is required");
    if (!args.has("out")) throw UsageError("gigagan " + name + ": --out RUN is required");
    if (!args.has("clip"))
      throw UsageError("gigagan " + name + ": --clip is required (a train-clip run, a model package, or random)");
    init_runtime(args.get_int("threads"));
    const torch::Device device = parse_device(args.get("device"));
    set_adaconv_impl(parse_adaconv_impl(args.get("adaconv")));
    const std::string config_path = resolve_config_path(args.get("config"));
    ModelConfig config = ModelConfig::load(config_path);
    GanTrainOptions o;
    if (!up) apply_vision_backbone(args, config, o);
    o.batch = args.get_int("batch");
    o.micro_batch = args.get_int("micro-batch");
    o.lr_g = o.lr_d = args.get_double("lr");
    o.beta1 = args.get_double("beta1");
    o.r1_gamma = args.get_double("r1-gamma");
    o.match_weight = args.get_double("match-weight");
    o.match_style_negatives = args.get_double("match-style-negatives");
    o.recon_weight = args.get_double("recon-weight");
    o.recon_samples = args.get_int("recon-samples");
    o.recon_max_size = args.get_int("recon-max-size");
    o.gan_weight = args.get_double("gan-weight");
    o.short_captions = args.get_double("short-captions");
    o.mode_seeking_weight = args.get_double("mode-seeking-weight");
    o.clip_weight = args.get_double("clip-weight");
    o.vision_weight = args.get_double("vision-weight");
    o.ema_half_life_images = args.get_double("ema");
    o.ema_rampup = args.get_double("ema-rampup");
    o.d_warmup_images = std::stoll(args.get("d-warmup"));
    o.augment = args.get("augment");
    o.noise = args.get("noise");
    o.seed = std::stoull(args.get("seed"));
    o.inject_nan_at_step = std::stoll(args.get("inject-nan-at-step"));
    o.perceptual_weight = args.get_double("perceptual-weight");
    o.pixel_weight = args.get_double("pixel-weight");
    o.pixel_size = args.get_int("pixel-size");
    o.input_blur = args.get_double("input-blur");
    if (!up && o.input_blur != 0)
      throw UsageError("gigagan " + name + ": --input-blur is the upsampler's (train-upsampler)");
    if (!up && o.pixel_size != 0)
      throw UsageError("gigagan " + name + ": --pixel-size is the upsampler's (train-upsampler)");
    if (up && !o.noise.empty())
      throw UsageError("gigagan " + name + ": --noise is the base generator's (the upsampler has input noise only)");
    if (up && o.recon_weight > 0)
      throw UsageError("gigagan " + name + ": --recon-weight is the base generator's (the upsampler has --pixel-weight)");
    if (up && o.mode_seeking_weight > 0)
      throw UsageError("gigagan " + name + ": --mode-seeking-weight is the base generator's");
    if (args.flag("widen") && (up || !args.has("init")))
      throw UsageError("gigagan " + name + ": --widen widens the base generator given by --init");
    if (up) o.vision_weight = 0;  // the upsampler has no vision-aided D (GigaGAN paper)
    o.validate();
    LoopOptions loop = parse_loop(args, 1000000, 50000);
    RunFolder run(args.get("out"));
    auto train = up ? open_split(args.get("data"), config.upsampler.input_resolution, "train", true,
                                 config.upsampler.output_resolution)
                    : open_split(args.get("data"), config.generator.resolution, "train", true);
    FrozenClip clip = open_frozen_clip(args.get("clip"), config, run, *train, device);
    auto tokenizer = std::make_shared<Tokenizer>(load_clip_tokenizer(clip.tokenizer_folder, config.clip));
    DataParallel dp;
    std::shared_ptr<ProcessGroup> group;
    if (args.get_int("world-size") > 1) {
      DistributedOptions d;
      d.rank = args.get_int("rank");
      d.world_size = args.get_int("world-size");
      d.master_addr = args.get("master-addr");
      d.master_port = args.get_int("master-port");
      d.backend = args.get("backend");
      group = std::make_shared<ProcessGroup>(d);
      dp.rank = d.rank;
      dp.world = d.world_size;
      dp.reduce = [group](const std::vector<torch::Tensor>& p) { group->average_gradients(p); };
      dp.any = [group](bool f) { return group->any(f); };
      dp.broadcast = [group](const std::vector<torch::Tensor>& t) { group->broadcast(t); };
      loop.writer = d.rank == 0;
      loop.agree = [group](int flags) { return (group->any(flags & 1) ? 1 : 0) | (group->any(flags & 2) ? 2 : 0); };
    }
    GanTrainer trainer(config, o, train, clip.model, tokenizer, device, dp, target);
    trainer.set_package_sources(clip.tokenizer_folder, "GigaGAN " + config.name + " trained on " + args.get("data"));
    json init;  // what --init started from (the start event says; D null: D starts from scratch)
    if (args.has("init") && run.checkpoints().empty()) {
      std::string file = args.get("init");
      std::string d_file;  // a package's discriminator (base GAN only)
      if (fs::is_directory(file)) {
        if (!up && fs::exists(fs::path(file) / "package.json")) d_file = package_discriminator_file(file);
        file = (fs::path(file) / (up ? "upsampler.safetensors" : "generator.safetensors")).string();
      }
      Checkpoint ck = load_checkpoint(file);
      if (ck.kind == "train-state" && !up) d_file = file;  // its D too
      NetworkWeights g = ema_network_weights(ck, up ? "upsampler" : "generator", file);
      trainer.init_generator(g.tensors, file, args.flag("widen") ? g.config : json());
      bool heads = false;  // the vision-aided heads came with D (same backbone and layers)
      if (!d_file.empty()) heads = trainer.init_discriminator(d_file == file ? ck : load_checkpoint(d_file), d_file);
      init = {{"generator", file}, {"widened", args.flag("widen")},
              {"discriminator", d_file.empty() ? json() : json(d_file)},
              {"vision_aided_heads", heads ? "from the discriminator" : "fresh"}};
    }
    return drive(trainer, run, loop, args,
                 {{"config", config_path},
                  {"train_size", train->report().usable},
                  {"dataset", json::parse(train->report().to_json())},
                  {"clip", clip.clip_file},
                  {"init", init}},
                 out);
  };
  return c;
}

}  // namespace

Command train_command() { return gan_command(GanTarget::Base); }
Command train_upsampler_command() { return gan_command(GanTarget::Upsampler); }

}  // namespace gg::cli

namespace gg::cli {

namespace {

// A synthetic captioned dataset (noise images, 16 pseudo-word captions) so
// the training benchmark needs no download. Few distinct captions: the frozen
// text features are cached after the warm-up, as in a long run.
fs::path make_bench_dataset(int resolution, int count) {
  fs::path dir = fs::temp_directory_path() / ("gigagan-bench-data-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  auto gen = at::detail::createCPUGenerator(7);
  std::ofstream manifest(dir / "manifest.jsonl");
  const char* letters = "abcdefghijklmnopqrstuvwxyz";
  uint64_t state = 1;
  auto next = [&state] { return state = splitmix64(state); };
  for (int i = 0; i < count; ++i) {
    state = static_cast<uint64_t>(i % 16) + 1;  // 16 distinct captions: the text cache fills during warm-up
    auto img = (torch::rand({3, resolution, resolution}, gen) * 255).to(torch::kUInt8);
    const std::string name = "img" + std::to_string(i) + ".png";
    save_image_grid(img.unsqueeze(0).to(torch::kFloat) / 127.5 - 1, 1, dir / name);
    // Words of 2-4 syllables from 100 consonant-vowel syllables: plenty of
    // repeated pairs for the BPE trainer to merge.
    std::string caption;
    for (int w = 0; w < 10; ++w) {
      if (w) caption += ' ';
      const int syllables = 2 + static_cast<int>(next() % 3);
      for (int k = 0; k < syllables; ++k) {
        caption += letters[next() % 20];
        caption += "aeiou"[next() % 5];
      }
    }
    manifest << json({{"image", name}, {"caption", caption}}).dump() << "\n";
  }
  return dir;
}

}  // namespace

int train_bench(const Args& args, std::ostream& out) {
  init_runtime(args.get_int("threads"));
  const torch::Device device = parse_device(args.get("device"));
  set_adaconv_impl(parse_adaconv_impl(args.get("adaconv")));
  std::vector<std::string> configs = args.get_all("config");
  if (configs.empty()) configs = {"tiny", "emoji64"};
  const int iters = std::max(1, args.get_int("iters")), warmup = std::max(0, args.get_int("warmup"));
  const double ref = args.get_double("reference-gflops");
  const std::string batches = args.has("batch") ? args.get("batch") : "16";
  out << "runtime " << runtime_summary() << ", device " << device.str() << ", adaptive conv "
      << adaconv_impl_name(adaconv_impl()) << "\n";
  if (args.get_double("gan-weight") > 0)
    out << "training step: G and D, all losses (MS-I/O, matching-aware, CLIP, vision-aided), lazy R1 every 16 "
           "steps included pro rata\n";
  else
    out << "training step: G only (gan weight 0: reconstruction and CLIP terms; D not run)\n";
  GanTrainOptions step_options;  // the objective timed (the batch is set per measurement)
  step_options.r1_interval = 16;
  step_options.gan_weight = args.get_double("gan-weight");
  step_options.recon_weight = args.get_double("recon-weight");
  step_options.recon_samples = args.get_int("recon-samples");
  step_options.clip_weight = args.get_double("clip-weight");
  step_options.noise = args.get("noise");
  step_options.validate();
  for (const auto& name : configs) {
    const ModelConfig config = ModelConfig::load(resolve_config_path(name));
    const fs::path data = make_bench_dataset(config.generator.resolution, 256);
    struct RemoveOnExit {
      fs::path dir;
      ~RemoveOnExit() {
        std::error_code ec;
        fs::remove_all(dir, ec);
      }
    } remove_data{data};
    RunFolder run(data / "run");
    for (const std::string& bs : {batches}) {
      for (size_t pos = 0; pos < bs.size();) {
        size_t end = bs.find(',', pos);
        if (end == std::string::npos) end = bs.size();
        const int batch = std::stoi(bs.substr(pos, end - pos));
        pos = end + 1;
        DatasetOptions dopt;
        dopt.resolution = config.generator.resolution;
        auto train = std::make_shared<const Dataset>(data.string(), dopt);
        if (!fs::exists(run.root() / "tokenizer" / "vocab.json"))
          train_clip_tokenizer(*train, config.clip, (run.root() / "tokenizer").string());
        auto tokenizer = std::make_shared<Tokenizer>(load_clip_tokenizer((run.root() / "tokenizer").string(), config.clip));
        torch::manual_seed(1);
        ClipModel clip(config.clip);
        GanTrainOptions o = step_options;
        o.batch = batch;
        o.validate();
        GanTrainer trainer(config, o, train, clip, tokenizer, device);
        // R1 runs every 16 steps: time 16 steps per iteration so it counts pro rata.
        for (int i = 0; i < warmup; ++i) trainer.step();
        trainer.steps = 1;  // the timed window starts after an R1 step
        trainer.enable_profile(true);
        const auto t0 = std::chrono::steady_clock::now();
        for (int i = 0; i < iters * 16; ++i) {
          trainer.step();
          ++trainer.steps;
        }
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const auto& prof = trainer.profile();
        double flops = 0;
        for (const auto& [k, v] : prof.flops) flops += v;
        const double images = static_cast<double>(batch) * iters * 16;
        out << "\n" << config.name << "  batch " << batch << "  " << iters * 16 << " steps: " << std::fixed
            << std::setprecision(2) << images / secs << " images/s, " << std::setprecision(3)
            << flops / images / 1e9 << " training GFLOP/image, " << std::setprecision(1) << flops / secs / 1e9
            << " GFLOP/s = " << std::setprecision(0) << 100.0 * flops / secs / 1e9 / ref << "% of " << ref
            << " GFLOP/s\n";
        out << "  " << std::left << std::setw(26) << "phase" << std::right << std::setw(10) << "ms/step"
            << std::setw(8) << "share" << std::setw(16) << "fwd GFLOP/s" << "\n";
        // Forward phases: their own FLOPs over their own time. The backward each
        // one causes is timed in a backward phase; its FLOPs count in the total.
        for (const auto& [phase, t] : prof.seconds) {
          const double f = prof.forward_flops.count(phase) ? prof.forward_flops.at(phase) : 0;
          out << "  " << std::left << std::setw(26) << phase << std::right << std::setprecision(1) << std::setw(10)
              << 1e3 * t / prof.steps << std::setw(7) << std::setprecision(0) << 100 * t / secs << "%" << std::setw(16)
              << std::setprecision(1);
          if (f > 0) out << f / t / 1e9;
          else out << "-";
          out << "\n";
        }
        out.flush();
      }
    }
  }
  return 0;
}

}  // namespace gg::cli

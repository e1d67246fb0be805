// `gigagan eval`: the quality numbers of a model package on a dataset's
// validation split, measured with the evaluator CLIP (training/evaluate.h).
// Rows: real validation images (ceiling), a second set of real images (the
// FD noise floor), the model, an untrained generator of the same config, and
// with an upsampler its 256 px output against bicubic upscaling. Probes:
// style follows the prompt; coarse/fine style mixing.
#include <fstream>
#include <iomanip>

#include "cli.h"
#include "clip_trainer.h"
#include "evaluate.h"
#include "model_io.h"
#include "package.h"
#include "runtime.h"
#include "safetensors.h"

namespace gg::cli {

namespace fs = std::filesystem;

namespace {

struct Evaluator {
  ClipModel clip{nullptr};
  std::shared_ptr<const Tokenizer> tokenizer;
  torch::Device device = torch::kCPU;
  torch::Tensor images(const torch::Tensor& x) {  // [N, 3, H, W] in [-1, 1] -> unit-norm [N, P]
    std::vector<torch::Tensor> out;
    for (int64_t a = 0; a < x.size(0); a += 64) out.push_back(clip->encode_image(x.slice(0, a, a + 64).to(device)).cpu());
    return torch::cat(out);
  }
  torch::Tensor texts(const std::vector<std::string>& t) {
    std::vector<torch::Tensor> out;
    for (size_t a = 0; a < t.size(); a += 256) {
      std::vector<std::string> part(t.begin() + a, t.begin() + std::min(t.size(), a + 256));
      out.push_back(clip->encode_text(tokenizer->encode_batch(part).ids.to(device)).cpu());
    }
    return torch::cat(out);
  }
};

// Generates one image per (caption, z) row: coarse slots (<= coarse_max px)
// take w and t_local from `captions`, the others from `fine_captions` (the
// same captions when empty: a plain generation).
torch::Tensor generate(ModelPackage& pkg, Generator& G, const std::vector<std::string>& captions,
                       const std::vector<std::string>& fine_captions, const torch::Tensor& z, double psi,
                       int coarse_max, torch::Device device) {
  std::vector<torch::Tensor> out;
  for (size_t a = 0; a < captions.size(); a += 32) {
    const size_t b = std::min(captions.size(), a + 32);
    auto encode = [&](const std::vector<std::string>& caps) {
      auto ids = pkg.tokenizer->encode_batch(std::vector<std::string>(caps.begin() + a, caps.begin() + b)).ids.to(device);
      auto f = pkg.clip->text_features(ids);
      auto t = G->encode_text(f.tokens, f.eot_index);
      auto zz = z.slice(0, a, b).to(device);
      auto w = G->map(zz, t.t_global);
      if (psi != 1.0) w = GeneratorImpl::truncate(w, G->mean_w(t.t_global, 512), psi);
      return std::make_pair(w, t.t_local);
    };
    auto [w, tl] = encode(captions);
    auto ws = G->broadcast_w(w).clone();
    auto tls = G->broadcast_t_local(tl).clone();
    if (!fine_captions.empty()) {
      auto [wf, tf] = encode(fine_captions);
      for (const auto& slot : G->slots())
        if (slot.resolution > coarse_max) {
          ws.select(1, slot.index).copy_(wf);
          tls.select(1, slot.index).copy_(tf);
        }
    }
    out.push_back(G->synthesize(ws, tls)[0].cpu());
  }
  return torch::cat(out);
}

}  // namespace

Command eval_command() {
  Command c;
  c.name = "eval";
  c.summary = "Measure a model package with the evaluator CLIP on a validation split: FD-CLIP, CLIP score, "
              "R-precision, style and mixing probes, with real-image ceiling and noise floor.";
  c.options = {
      {"model", "PKG", "model package folder (default: the shipped models/emoji)", ""},
      {"evaluator", "FILE", "evaluator CLIP .safetensors (tokenizer/ beside it, else the package's); default: the "
                            "package's evaluator", ""},
      {"data", "DIR", "dataset folder or manifest (required)", ""},
      {"split", "NAME", "split to evaluate on", "val"},
      {"seeds", "N", "generated images per validation caption", "2"},
      {"psi", "F", "truncation psi around the per-prompt mean w", "1"},
      {"seed", "N", "seed of z and of the R-precision candidates", "0"},
      {"coarse-max", "PX[,PX...]",
       "mixing probe: slots up to this resolution are coarse (a list: one probe per crossover; the first is the "
       "headline; 0 and the model's resolution are the controls: every layer from B, every layer from A)",
       "8"},
      {"noise", "MODE", "per-layer noise of the generators: const, random or none (default: the model's own)", ""},
      {"skip", "LIST", "comma-separated rows to skip: untrained, floor, upsampler, mix", ""},
      {"json", "FILE", "also write the results as JSON", ""},
      device_option(),
      threads_option(),
  };
  c.run = [](const Args& args, std::ostream& out) {
    if (!args.has("data")) throw UsageError("gigagan eval: --data DIR is required");
    const std::vector<int> coarse_maxes = args.get_int_list("coarse-max", 0);
    init_runtime(args.get_int("threads"));
    const torch::Device device = parse_device(args.get("device"));
    c10::InferenceMode inference;
    std::string model = args.get("model");
    if (model.empty()) {
      for (const auto& dir : resource_dirs())
        if (fs::exists(fs::path(dir) / "models/emoji/package.json")) {
          model = (fs::path(dir) / "models/emoji").string();
          break;
        }
      if (model.empty()) throw ConfigError("no shipped model found (models/emoji); pass --model PKG");
    }
    ModelPackage pkg = load_package(model, device);
    if (args.has("noise")) pkg.generator->synthesis->noise_mode = parse_noise_mode(args.get("noise"));
    Evaluator ev;
    ev.device = device;
    if (args.has("evaluator")) {
      const fs::path f = args.get("evaluator");
      ev.clip = load_network<ClipConfig, ClipModel>(f.string(), "clip", device);
      ev.clip->eval();
      const fs::path tok = f.parent_path() / "tokenizer";
      ev.tokenizer = fs::exists(tok / "vocab.json")
                         ? std::make_shared<const Tokenizer>(load_clip_tokenizer(tok.string(), ev.clip->config))
                         : pkg.tokenizer;
    } else if (pkg.evaluator) {
      ev.clip = pkg.evaluator;
      ev.tokenizer = pkg.tokenizer;
    } else {
      throw ConfigError("'" + model + "' has no evaluator CLIP; pass --evaluator FILE (never the training CLIP)");
    }
    for (int px : coarse_maxes)
      if (px > pkg.generator->config.resolution)
        throw UsageError("gigagan eval: --coarse-max " + std::to_string(px) + " is above the model's " +
                         std::to_string(pkg.generator->config.resolution) + " px");
    const std::string skip = "," + args.get("skip") + ",";
    auto skipped = [&](const std::string& row) { return skip.find("," + row + ",") != std::string::npos; };

    // Real images of the split (and, for the noise floor, as many of the train split).
    const int res = pkg.generator->config.resolution;
    DatasetOptions dopt;
    dopt.resolution = res;
    dopt.split = args.get("split");
    const bool up = pkg.upsampler && !skipped("upsampler");
    if (up) dopt.hr_resolution = pkg.upsampler->config.output_resolution;
    Dataset val(args.get("data"), dopt);
    std::vector<torch::Tensor> real, real_hr;
    std::vector<std::string> captions;
    for (int64_t i = 0; i < val.size(); ++i)
      if (auto s = val.load(i)) {
        real.push_back(s->image);
        if (up) real_hr.push_back(s->image_hr);
        captions.push_back(s->caption);
      }
    if (real.size() < 2) throw DatasetError("eval needs at least 2 readable images in split '" + dopt.split + "'");
    const torch::Tensor real_t = torch::stack(real);
    const int seeds = std::max(1, args.get_int("seeds"));
    std::vector<std::string> gen_captions;
    for (int k = 0; k < seeds; ++k) gen_captions.insert(gen_captions.end(), captions.begin(), captions.end());
    auto zgen = at::detail::createCPUGenerator(std::stoull(args.get("seed")));
    const torch::Tensor z = torch::randn({static_cast<int64_t>(gen_captions.size()), pkg.generator->config.z_dim}, zgen);
    const double psi = args.get_double("psi");
    const uint64_t seed = std::stoull(args.get("seed"));

    const torch::Tensor real_emb = ev.images(real_t);
    const torch::Tensor real_text = ev.texts(captions);
    const torch::Tensor gen_text = ev.texts(gen_captions);
    auto encode = [&](const std::vector<std::string>& t) { return ev.texts(t); };

    json result = {{"model", model}, {"hash", pkg.hash}, {"split", dopt.split}, {"real_images", real.size()},
                   {"generated_images", gen_captions.size()}, {"psi", psi}};
    out << "model " << model << " (" << pkg.hash << "), split '" << dopt.split << "': " << real.size()
        << " real images, " << gen_captions.size() << " generated (" << seeds << " per caption)\n";
    out << std::left << std::setw(28) << "images" << std::right << std::setw(10) << "FD-CLIP" << std::setw(12)
        << "CLIP score" << std::setw(14) << "R-precision" << "\n";
    auto row = [&](const std::string& name, const torch::Tensor& emb, const std::vector<std::string>& caps,
                   const torch::Tensor& text, const torch::Tensor& reference) {
      const double fd = frechet_distance(emb, reference);
      const double cs = clip_score(emb, text);
      const double rp = r_precision(emb, caps, captions, encode, 100, seed);
      out << std::left << std::setw(28) << name << std::right << std::fixed << std::setprecision(4) << std::setw(10)
          << fd << std::setprecision(2) << std::setw(12) << cs << std::setprecision(3) << std::setw(14) << rp << "\n";
      out.flush();
      result["rows"][name] = {{"fd_clip", fd}, {"clip_score", cs}, {"r_precision", rp}};
    };
    row("real (ceiling)", real_emb, captions, real_text, real_emb);
    if (!skipped("floor")) {
      DatasetOptions topt = dopt;
      topt.split = "train";
      topt.hr_resolution = 0;
      Dataset train(args.get("data"), topt);
      std::vector<torch::Tensor> other;
      std::vector<std::string> other_caps;
      for (int64_t k = 0; k < train.size() && static_cast<int64_t>(other.size()) < static_cast<int64_t>(real.size()) * seeds; ++k) {
        const int64_t i = (k * 7919) % train.size();
        if (auto s = train.load(i)) {
          other.push_back(s->image);
          other_caps.push_back(s->caption);
        }
      }
      const torch::Tensor other_emb = ev.images(torch::stack(other));
      const double fd = frechet_distance(other_emb, real_emb);
      out << std::left << std::setw(28) << "real train set (FD floor)" << std::right << std::fixed
          << std::setprecision(4) << std::setw(10) << fd << "\n";
      result["rows"]["real train set (FD floor)"] = {{"fd_clip", fd}};
    }
    const torch::Tensor gen = generate(pkg, pkg.generator, gen_captions, {}, z, psi, 0, device);
    const torch::Tensor gen_emb = ev.images(gen);
    row("model " + std::to_string(res) + " px", gen_emb, gen_captions, gen_text, real_emb);
    if (!skipped("untrained")) {
      torch::manual_seed(seed + 1);
      Generator untrained(pkg.generator->config);
      untrained->to(device);
      untrained->eval();
      untrained->synthesis->noise_mode = pkg.generator->synthesis->noise_mode;
      row("untrained generator", ev.images(generate(pkg, untrained, gen_captions, {}, z, 1.0, 0, device)),
          gen_captions, gen_text, real_emb);
    }
    if (up) {
      const int hr = pkg.upsampler->config.output_resolution;
      const torch::Tensor real_hr_emb = ev.images(torch::stack(real_hr));
      std::vector<torch::Tensor> ups;
      auto uz = at::detail::createCPUGenerator(seed + 2);
      for (int64_t a = 0; a < gen.size(0); a += 16) {
        const int64_t b = std::min<int64_t>(gen.size(0), a + 16);
        std::vector<std::string> caps(gen_captions.begin() + a, gen_captions.begin() + b);
        auto f = pkg.clip->text_features(pkg.tokenizer->encode_batch(caps).ids.to(device));
        auto low = gen.slice(0, a, b).to(device);
        auto zz = torch::randn({b - a, pkg.upsampler->config.z_dim}, uz).to(device);
        ups.push_back(pkg.upsampler->forward(low, zz, f.tokens, f.eot_index, true,
                                             UpsamplerImpl::make_input_noise(low, seed + 3 + a))[0].cpu());
      }
      const torch::Tensor up_t = torch::cat(ups);
      const torch::Tensor bic = torch::nn::functional::interpolate(
          gen, torch::nn::functional::InterpolateFuncOptions().size(std::vector<int64_t>{hr, hr}).mode(torch::kBicubic).align_corners(false)).clamp(-1, 1);
      row("real " + std::to_string(hr) + " px (ceiling)", real_hr_emb, captions, real_text, real_hr_emb);
      row("upsampler " + std::to_string(hr) + " px", ev.images(up_t), gen_captions, gen_text, real_hr_emb);
      row("bicubic " + std::to_string(hr) + " px", ev.images(bic), gen_captions, gen_text, real_hr_emb);
    }
    // Style probe: does the evaluator prefer the prompt's own style word?
    {
      const StyleProbe gen_style = style_accuracy(gen_emb, gen_captions, encode);
      if (gen_style.count > 0) {
        const double real_rate = style_accuracy(real_emb, captions, encode).rate;  // the same probe on real images (ceiling)
        out << "style follows the prompt: " << std::setprecision(3) << gen_style.rate << " of " << gen_style.count
            << " generations (real images: " << real_rate << ")\n";
        result["style_accuracy"] = gen_style.rate;
        result["style_accuracy_real"] = real_rate;
      }
    }
    // Mixing probe: coarse slots from a noto prompt, fine slots from a twemoji prompt (and vice versa).
    if (!skipped("mix")) {
      std::vector<std::string> noto, twemoji;
      for (const auto& cpt : captions) {
        const std::string s = caption_style(cpt);
        if (s == "noto") noto.push_back(cpt);
        if (s == "twemoji") twemoji.push_back(cpt);
      }
      const size_t n = std::min(noto.size(), twemoji.size());
      if (n > 0) {
        std::vector<std::string> coarse, fine;
        for (size_t i = 0; i < n; ++i) {
          coarse.push_back(noto[i]);
          fine.push_back(twemoji[(i + 1) % n]);
          coarse.push_back(twemoji[i]);
          fine.push_back(noto[(i + 1) % n]);
        }
        auto zm = torch::randn({static_cast<int64_t>(coarse.size()), pkg.generator->config.z_dim}, zgen);
        // Style assigned by the evaluator, probed with the coarse prompt's text in either style.
        std::vector<std::string> as_fine, as_coarse;
        for (size_t i = 0; i < coarse.size(); ++i) {
          as_coarse.push_back(coarse[i]);
          as_fine.push_back(with_style(coarse[i], caption_style(fine[i])));
        }
        const auto t_fine = ev.texts(as_fine), t_coarse = ev.texts(as_coarse);
        // One probe per crossover (the same z and prompt pairs): where the style lives.
        for (int coarse_max : coarse_maxes) {
          auto mixed = ev.images(generate(pkg, pkg.generator, coarse, fine, zm, psi, coarse_max, device));
          const double to_fine =
              ((mixed * t_fine).sum(1) > (mixed * t_coarse).sum(1)).to(torch::kDouble).mean().item<double>();
          // 0 and the full resolution are the probe's controls: every layer from B, every layer from A.
          const std::string what =
              coarse_max == 0 ? "control: every layer from B"
              : coarse_max >= pkg.generator->config.resolution
                  ? "control: every layer from A"
                  : "coarse <= " + std::to_string(coarse_max) + " px from A, fine from B";
          out << "style mixing (" << what << "): style of B in " << std::setprecision(3) << to_fine << " of "
              << coarse.size() << " images (A in " << 1 - to_fine << ")\n";
          if (coarse_max == coarse_maxes.front()) {
            result["mix_fine_style_rate"] = to_fine;
            result["mix_coarse_max"] = coarse_max;
          }
          result["mix_fine_style_rate_by_coarse_max"][std::to_string(coarse_max)] = to_fine;
        }
        result["mix_pairs"] = coarse.size();
      }
    }
    if (args.has("json")) write_file_atomic(args.get("json"), result.dump(2) + "\n");
    return 0;
  };
  return c;
}

}  // namespace gg::cli

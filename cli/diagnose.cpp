// `gigagan diagnose`: where a text-to-image model loses the prompt, stage by
// stage, on a dataset's validation split:
//   1. the encoder CLIP's own text -> image retrieval on real images (the
//      generator can only follow what its text features separate);
//   2. the mapping network: spread of w over z for one prompt against the
//      spread of the per-prompt mean w across prompts;
//   3. in image feature spaces (the frozen MobileNetV2 of the metrics, the
//      images' own pixels box-averaged to 16 x 16, and the evaluator CLIP's):
//      distance between seeds of one prompt and
//      between prompts at one seed, for the full captions and for short
//      prompts (the caption's label, "pizza", as users type them), against
//      real images of one emoji in different styles, of one label (its
//      styles and variants) and of different emoji;
//   4. fidelity to the training images by scale: each of N training
//      captions drawn once, its mean absolute error to its own real image
//      after box-averaging both to 4, 8, ..., 64 px, against two different
//      real emoji (chance): whether a miss is in layout and colour or in detail;
//   5. the inversion ceiling: real images through W and W+ (what the
//      synthesis network can draw at all).
// Ref: Karras et al. 2019 (StyleGAN: the mapping network and W); Abdal et al.
// 2019 (Image2StyleGAN: W+ inversion); Radford et al. 2021 (CLIP retrieval).
#include <iomanip>
#include <map>
#include <memory>
#include <set>

#include "cli.h"
#include "cli_engine.h"
#include "cli_metrics.h"
#include "clip_trainer.h"
#include "evaluate.h"
#include "inversion.h"
#include "model_io.h"
#include "package.h"
#include "runtime.h"
#include "safetensors.h"

namespace gg::cli {

namespace fs = std::filesystem;

namespace {

// The caption without its ", <style> style" clause: the emoji it names.
std::string content_of(const std::string& caption) {
  const std::string style = caption_style(caption);
  if (style.empty()) return caption;
  const size_t cut = caption.size() - style.size() - 6;  // " style"
  return caption.substr(0, cut >= 2 ? cut - 2 : 0);
}

// Mean L2 distance between rows i, j of unit-normalised features over pairs.
double mean_pair_distance(const torch::Tensor& f, const std::vector<std::pair<int64_t, int64_t>>& pairs) {
  if (pairs.empty()) return std::nan("");
  std::vector<int64_t> a, b;
  for (const auto& [i, j] : pairs) {
    a.push_back(i);
    b.push_back(j);
  }
  auto ia = torch::tensor(a), ib = torch::tensor(b);
  return (f.index_select(0, ia) - f.index_select(0, ib)).norm(2, 1).mean().item<double>();
}

}  // namespace

Command diagnose_command() {
  Command c;
  c.name = "diagnose";
  c.summary = "Where the prompt is lost: encoder CLIP retrieval, mapping-network spread over z and prompts, seed "
              "and prompt distances (full captions and short prompts; MobileNetV2 features) against real images, "
              "error to the training images by scale, inversion ceiling (W, W+).";
  c.options = {
      model_option(),
      {"data", "DIR", "dataset folder or manifest (required)", ""},
      {"split", "NAME", "split to diagnose on", "val"},
      {"seeds", "N", "seeds per prompt for the distances", "4"},
      {"prompts", "N", "at most this many validation captions (0: all)", "0"},
      {"z-samples", "N", "latents per prompt for the mapping spread", "64"},
      {"scale-images", "N", "captions of --scale-split whose drawings are compared with their own real images "
                            "at 4 ... 64 px (0: skip)", "256"},
      {"scale-split", "NAME", "split of --scale-images (the training images: what G was fitted to)", "train"},
      {"invert", "N", "real images to invert in W and in W+ (0: skip)", "8"},
      {"invert-steps", "N", "Adam steps per inversion", "200"},
      {"seed", "N", "seed of z", "0"},
      metrics_net_option(),
      feature_cache_option(),
      {"json", "FILE", "also write the results as JSON", ""},
      device_option(),
      threads_option(),
  };
  c.run = [](const Args& args, std::ostream& out) {
    if (!args.has("data")) throw UsageError("gigagan diagnose: --data DIR is required");
    const int seeds = args.get_int("seeds"), zs = args.get_int("z-samples"), n_inv = args.get_int("invert");
    if (seeds < 2 || seeds > 64) throw UsageError("gigagan diagnose: --seeds must be in [2, 64]");
    if (zs < 2 || zs > 4096) throw UsageError("gigagan diagnose: --z-samples must be in [2, 4096]");
    if (n_inv < 0 || n_inv > 4096) throw UsageError("gigagan diagnose: --invert must be in [0, 4096]");
    const int n_scale = args.get_int("scale-images");
    if (n_scale != 0 && (n_scale < 2 || n_scale > 4096))
      throw UsageError("gigagan diagnose: --scale-images must be 0 (skip) or in [2, 4096]");
    init_runtime(args.get_int("threads"));
    const torch::Device device = parse_device(args.get("device"));
    const std::string model = resolve_model_path(args);
    json result = {{"model", model}};
    std::string metrics_path;
    MobileNetV2 mnet = load_metrics_net(args, device, metrics_path);
    result["metrics_net"] = metrics_path;
    const uint64_t seed = std::stoull(args.get("seed"));
    std::vector<torch::Tensor> real;
    std::vector<std::string> captions, paths;
    {
      c10::InferenceMode inference;
      ModelPackage pkg = load_package(model, device);
      result["hash"] = pkg.hash;
      Generator& G = pkg.generator;
      DatasetOptions dopt;
      dopt.resolution = G->config.resolution;
      dopt.split = args.get("split");
      Dataset val(args.get("data"), dopt);
      const int limit = args.get_int("prompts");
      for (int64_t i = 0; i < val.size() && (limit <= 0 || static_cast<int>(captions.size()) < limit); ++i)
        if (auto s = val.load(i)) {
          real.push_back(s->image);
          captions.push_back(s->caption);
          paths.push_back(val.entry(i).image.string());
        }
      if (real.size() < 4) throw DatasetError("diagnose needs at least 4 readable images in split '" + dopt.split + "'");
      const torch::Tensor real_t = torch::stack(real);
      const int64_t n = real_t.size(0);
      out << "model " << model << " (" << pkg.hash << "), split '" << dopt.split << "': " << n << " real images\n";

      auto encode_texts = [&](ClipModel clip, const std::vector<std::string>& t) {
        return ClipEncoder{clip, pkg.tokenizer, device}.texts(t);
      };
      auto encode_images = [&](ClipModel clip, const torch::Tensor& x) {
        return ClipEncoder{clip, pkg.tokenizer, device}.images(x);
      };

      // 1. Retrieval with the encoder CLIP (and the evaluator's, for scale).
      out << "\n1. text -> image retrieval on " << n << " real images (top-1 / top-5 among all of them; chance "
          << std::setprecision(4) << 1.0 / static_cast<double>(n) << ")\n";
      auto retrieval = [&](const std::string& name, ClipModel clip) {
        auto ti = encode_texts(clip, captions), im = encode_images(clip, real_t);
        auto sim = torch::matmul(ti, im.t());  // [texts, images]
        auto own = sim.diagonal().unsqueeze(1);
        auto rank = (sim > own).sum(1);  // images scored above the own one
        const double top1 = (rank < 1).to(torch::kDouble).mean().item<double>();
        const double top5 = (rank < 5).to(torch::kDouble).mean().item<double>();
        // Style: does the own-emoji image of the caption's style beat the same emoji in another style?
        std::map<std::string, std::vector<int64_t>> by_content;
        for (int64_t i = 0; i < n; ++i) by_content[content_of(captions[static_cast<size_t>(i)])].push_back(i);
        int64_t style_ok = 0, style_n = 0;
        for (const auto& [k, idx] : by_content)
          for (int64_t i : idx)
            for (int64_t j : idx)
              if (i != j) {
                ++style_n;
                style_ok += sim[i][i].item<double>() > sim[i][j].item<double>();
              }
        const double style = style_n ? static_cast<double>(style_ok) / style_n : std::nan("");
        out << "  " << std::left << std::setw(22) << name << std::right << std::fixed << std::setprecision(3)
            << " top-1 " << top1 << "  top-5 " << top5 << "  own style over the other style " << style << " ("
            << style_n << " pairs)\n";
        result["retrieval"][name] = {{"top1", top1}, {"top5", top5}, {"style", style}, {"style_pairs", style_n}};
      };
      retrieval("encoder CLIP", pkg.clip);
      if (pkg.evaluator) retrieval("evaluator CLIP", pkg.evaluator);

      // 2. The mapping network: w over z (one prompt) against w across prompts.
      {
        auto gen = at::detail::createCPUGenerator(seed);
        const int64_t P = std::min<int64_t>(n, 64);
        std::vector<std::string> caps(captions.begin(), captions.begin() + P);
        auto f = pkg.clip->text_features(pkg.tokenizer->encode_batch(caps).ids.to(device));
        auto t = G->encode_text(f.tokens, f.eot_index);
        auto z = torch::randn({zs, G->config.z_dim}, gen).to(device);
        std::vector<torch::Tensor> ws;
        for (int64_t p = 0; p < P; ++p) ws.push_back(G->map(z, t.t_global.slice(0, p, p + 1).expand({zs, -1})).cpu());
        auto w = torch::stack(ws);  // [P, Z, D]
        const double within = w.var(1, false).mean().sqrt().item<double>();
        const double across = w.mean(1).var(0, false).mean().sqrt().item<double>();
        // The same with z's share removed from the text: how much does z move w at all?
        out << "\n2. mapping network over " << P << " prompts x " << zs << " z: RMS spread of w over z (one prompt) "
            << std::setprecision(4) << within << ", of the per-prompt mean w across prompts " << across
            << " (ratio " << std::setprecision(3) << within / across << ")\n";
        result["mapping"] = {{"within_prompt", within}, {"across_prompts", across}, {"ratio", within / across}};
      }

      // G's full-resolution images for captions and latents (rows paired), 32 at a time.
      auto generate = [&](const std::vector<std::string>& caps, const torch::Tensor& z) {
        std::vector<torch::Tensor> imgs;
        for (size_t a = 0; a < caps.size(); a += 32) {
          const size_t b = std::min(caps.size(), a + 32);
          std::vector<std::string> part(caps.begin() + a, caps.begin() + b);
          auto f = pkg.clip->text_features(pkg.tokenizer->encode_batch(part).ids.to(device));
          imgs.push_back(G->forward(z.slice(0, a, b).to(device), f.tokens, f.eot_index)[0].cpu());
        }
        return torch::cat(imgs);
      };

      // 3. Distances in unit-normalised image features: MobileNetV2's (the
      // metrics network) and, when the package has one, the evaluator CLIP's.
      {
        auto gen = at::detail::createCPUGenerator(seed + 1);
        // Full captions: row s * n + i. Short prompts (the label only, each once): row s * L + l.
        std::vector<std::string> labels;
        std::map<std::string, std::vector<int64_t>> by_label;  // label -> real images
        for (int64_t i = 0; i < n; ++i) {
          const std::string l = short_caption(captions[static_cast<size_t>(i)], false);
          if (by_label[l].empty()) labels.push_back(l);
          by_label[l].push_back(i);
        }
        const int64_t L = static_cast<int64_t>(labels.size());
        std::vector<std::string> gcaps, scaps;
        for (int s = 0; s < seeds; ++s) {
          gcaps.insert(gcaps.end(), captions.begin(), captions.end());
          scaps.insert(scaps.end(), labels.begin(), labels.end());
        }
        auto z = torch::randn({static_cast<int64_t>(gcaps.size()), G->config.z_dim}, gen);
        auto zs_short = torch::randn({static_cast<int64_t>(scaps.size()), G->config.z_dim}, gen);
        const torch::Tensor full_imgs = generate(gcaps, z), short_imgs = generate(scaps, zs_short);

        std::vector<std::pair<int64_t, int64_t>> seed_pairs, prompt_pairs, short_seed_pairs, short_prompt_pairs,
            style_pairs, label_pairs, emoji_pairs, other_label_pairs;
        for (int64_t i = 0; i < n; ++i) {
          for (int s = 0; s < seeds; ++s)
            for (int u = s + 1; u < seeds; ++u) seed_pairs.push_back({s * n + i, u * n + i});
          for (int s = 0; s < seeds; ++s) prompt_pairs.push_back({s * n + i, s * n + (i + 1) % n});
          emoji_pairs.push_back({i, (i + 1) % n});
        }
        for (int64_t l = 0; l < L; ++l) {
          for (int s = 0; s < seeds; ++s)
            for (int u = s + 1; u < seeds; ++u) short_seed_pairs.push_back({s * L + l, u * L + l});
          if (L > 1)
            for (int s = 0; s < seeds; ++s) short_prompt_pairs.push_back({s * L + l, s * L + (l + 1) % L});
          const auto& own = by_label.at(labels[static_cast<size_t>(l)]);
          for (size_t a = 0; a < own.size(); ++a)
            for (size_t b = a + 1; b < own.size(); ++b) label_pairs.push_back({own[a], own[b]});
          if (L > 1) {
            const auto& next = by_label.at(labels[static_cast<size_t>((l + 1) % L)]);
            for (size_t a = 0; a < own.size(); ++a) other_label_pairs.push_back({own[a], next[a % next.size()]});
          }
        }
        std::map<std::string, std::vector<int64_t>> by_content;
        for (int64_t i = 0; i < n; ++i) by_content[content_of(captions[static_cast<size_t>(i)])].push_back(i);
        for (const auto& [k, idx] : by_content)
          for (size_t a = 0; a < idx.size(); ++a)
            for (size_t b = a + 1; b < idx.size(); ++b) style_pairs.push_back({idx[a], idx[b]});

        struct Distances {
          double seed, prompt, short_seed, short_prompt, real_style, real_label, real_emoji, real_other_label;
        };
        namespace F = torch::nn::functional;
        auto unit = [](const torch::Tensor& f) { return F::normalize(f, F::NormalizeFuncOptions().dim(1)); };
        auto measure = [&](const torch::Tensor& generated, const torch::Tensor& generated_short, const torch::Tensor& reals,
                           bool normalise = true) {
          auto fg = normalise ? unit(generated) : generated, fs = normalise ? unit(generated_short) : generated_short,
               fr = normalise ? unit(reals) : reals;
          return Distances{mean_pair_distance(fg, seed_pairs),       mean_pair_distance(fg, prompt_pairs),
                           mean_pair_distance(fs, short_seed_pairs), mean_pair_distance(fs, short_prompt_pairs),
                           mean_pair_distance(fr, style_pairs),      mean_pair_distance(fr, label_pairs),
                           mean_pair_distance(fr, emoji_pairs),      mean_pair_distance(fr, other_label_pairs)};
        };
        std::vector<std::pair<std::string, Distances>> spaces;
        {
          auto mn = [&](const torch::Tensor& x) { return mobilenet_features(mnet, x, device, 2); };
          FeatureCache cache(feature_cache_dir(args));
          const auto real_mn = cache.get(metrics_path, G->config.resolution, paths, [&] { return mn(real_t); });
          spaces.push_back({"mobilenet", measure(mn(full_imgs), mn(short_imgs), real_mn)});
        }
        {
          // What a glance sees: layout and colour. RMS difference of the images
          // box-averaged to 16 x 16 px (values in [-1, 1]), blind to the
          // texture that moves MobileNetV2's features between look-alikes.
          auto pixels = [](const torch::Tensor& x) {
            auto p = torch::adaptive_avg_pool2d(x.to(torch::kFloat), {16, 16});
            return p.reshape({p.size(0), -1}) / std::sqrt(static_cast<double>(p[0].numel()));
          };
          spaces.push_back({"pixels_16px", measure(pixels(full_imgs), pixels(short_imgs), pixels(real_t), false)});
        }
        if (pkg.evaluator)
          spaces.push_back({"evaluator_clip", measure(encode_images(pkg.evaluator, full_imgs),
                                                      encode_images(pkg.evaluator, short_imgs),
                                                      encode_images(pkg.evaluator, real_t))});

        const std::string example = labels.empty() ? std::string() : labels.front();
        out << "\n3. distances between images in unit-normalised features (L2; " << seeds << " seeds per prompt; "
            << n << " full captions, " << L << " short prompts such as \"" << example << "\")\n"
            << std::left << std::setw(50) << "" << std::right << std::setw(13) << "MobileNetV2"
            << std::setw(16) << "pixels 16 px" << (pkg.evaluator ? "  evaluator CLIP" : "") << "\n";
        auto line = [&](const std::string& what, size_t pairs, double Distances::*field) {
          out << std::left << std::setw(50) << ("  " + what + " (" + std::to_string(pairs) + " pairs)") << std::right
              << std::fixed << std::setprecision(4);
          for (size_t k = 0; k < spaces.size(); ++k) out << std::setw(k == 0 ? 13 : 16) << spaces[k].second.*field;
          out << "\n";
        };
        line("generated, full: seeds of one prompt", seed_pairs.size(), &Distances::seed);
        line("generated, full: prompts at one seed", prompt_pairs.size(), &Distances::prompt);
        line("generated, short: seeds of one prompt", short_seed_pairs.size(), &Distances::short_seed);
        line("generated, short: prompts at one seed", short_prompt_pairs.size(), &Distances::short_prompt);
        line("real: one emoji in two styles", style_pairs.size(), &Distances::real_style);
        line("real: one label (styles, variants)", label_pairs.size(), &Distances::real_label);
        line("real: different emoji", emoji_pairs.size(), &Distances::real_emoji);
        line("real: different labels", other_label_pairs.size(), &Distances::real_other_label);
        const Distances& d = spaces.front().second;
        out << "  MobileNetV2 ratios: full seeds / (one emoji in two styles) " << std::setprecision(3)
            << d.seed / d.real_style << ", full prompts / different emoji " << d.prompt / d.real_emoji
            << "; short seeds / (one label, real) " << d.short_seed / d.real_label
            << ", short prompts / different labels " << d.short_prompt / d.real_other_label << "\n";
        const Distances& px = spaces[1].second;
        out << "  pixels 16 px ratios: full seeds / (one emoji in two styles) " << px.seed / px.real_style
            << ", short seeds / (one label, real) " << px.short_seed / px.real_label << "\n";
        for (const auto& [name, v] : spaces)
          result["distances"][name] = {{"seed", v.seed},
                                       {"prompt", v.prompt},
                                       {"short_seed", v.short_seed},
                                       {"short_prompt", v.short_prompt},
                                       {"real_style", v.real_style},
                                       {"real_label", v.real_label},
                                       {"real_emoji", v.real_emoji},
                                       {"real_other_label", v.real_other_label},
                                       {"seed_over_real_style", v.seed / v.real_style},
                                       {"prompt_over_real_emoji", v.prompt / v.real_emoji},
                                       {"short_seed_over_real_label", v.short_seed / v.real_label},
                                       {"short_prompt_over_real_other_label", v.short_prompt / v.real_other_label}};
        result["distances"]["short_prompts"] = L;
      }

      // 4. Fidelity to the training images, by scale: N captions spread over
      // the split, one drawing each (z from the seed), against its own image.
      if (n_scale > 0) {
        DatasetOptions topt = dopt;
        topt.split = args.get("scale-split");
        std::unique_ptr<Dataset> opened;
        try {
          opened = std::make_unique<Dataset>(args.get("data"), topt);
        } catch (const DatasetError& e) {
          throw DatasetError(std::string("diagnose, error by scale: ") + e.what() +
                             " (--scale-split names another split; --scale-images 0 skips this stage)");
        }
        const Dataset& train = *opened;
        std::vector<torch::Tensor> reals;
        std::vector<std::string> caps;
        const int64_t want = std::min<int64_t>(n_scale, train.size());
        for (int64_t i = 0; i < want; ++i)
          if (auto s = train.load(i * train.size() / want)) {
            reals.push_back(s->image);
            caps.push_back(s->caption);
          }
        if (reals.size() < 2)
          throw DatasetError("diagnose: split '" + topt.split + "' has " + std::to_string(reals.size()) +
                             " readable images of the " + std::to_string(want) +
                             " tried; the error by scale needs at least 2 (--scale-split, or --scale-images 0)");
        auto gen = at::detail::createCPUGenerator(seed + 2);
        const auto z = torch::randn({static_cast<int64_t>(caps.size()), G->config.z_dim}, gen);
        const auto errors = scale_errors(generate(caps, z), torch::stack(reals));
        out << "\n4. error to the training images by scale (" << reals.size() << " captions of split '"
            << topt.split << "', one drawing each; mean absolute difference on 0..1 after box-averaging both)\n"
            << "  size   model vs its own image   another real emoji (chance)   ratio\n";
        json rows = json::array();
        for (const auto& e : errors) {
          out << "  " << std::setw(3) << e.size << " px" << std::setprecision(4) << std::setw(21) << e.model
              << std::setw(30) << e.chance << std::setprecision(3) << std::setw(8) << e.model / e.chance << "\n";
          rows.push_back({{"size", e.size}, {"model", e.model}, {"chance", e.chance}, {"ratio", e.model / e.chance}});
        }
        result["scale_error"] = {{"split", topt.split}, {"images", reals.size()}, {"levels", rows}};
      }
    }

    // 5. Inversion ceiling (needs gradients: outside inference mode).
    if (n_inv > 0) {
      auto engine = Engine::open(model, device);
      const int m = std::min<int>(n_inv, static_cast<int>(real.size()));
      out << "\n5. inversion of " << m << " real images (" << args.get_int("invert-steps") << " steps, pixels + CLIP)\n";
      for (bool plus : {false, true}) {
        double psnr = 0, start = 0;
        for (int i = 0; i < m; ++i) {
          // Spread over the split: every (size / m)-th image.
          const size_t k = static_cast<size_t>(i) * real.size() / static_cast<size_t>(m);
          InversionOptions io;
          io.prompt = captions[k];
          io.w_plus = plus;
          io.steps = args.get_int("invert-steps");
          auto r = invert(*engine, real[k], io);
          psnr += r.psnr;
          start += 10.0 * std::log10(4.0 / std::max(1e-12, r.mean_w_mse));
        }
        psnr /= m;
        start /= m;
        const std::string name = plus ? "W+" : "W";
        out << "  " << std::left << std::setw(3) << name << std::right << " PSNR " << std::setprecision(2) << psnr
            << " dB (the prompt's mean w: " << start << " dB)\n";
        result["inversion"][name] = {{"psnr", psnr}, {"mean_w_psnr", start}, {"images", m}};
      }
    }
    if (args.has("json")) write_file_atomic(args.get("json"), result.dump(2) + "\n");
    return 0;
  };
  return c;
}

}  // namespace gg::cli

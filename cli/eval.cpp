// `gigagan eval`: the quality numbers of a model package on a dataset's
// validation split (training/evaluate.h), measured with the evaluator CLIP
// and with a frozen ImageNet-initialised MobileNetV2 (the metrics network,
// cli_metrics.h), neither of which ever served in a loss.
// Rows: real validation images (ceiling), a second set of real images (the
// noise floor), the model, an untrained generator of the same config, and
// with an upsampler its 256 px output against Lanczos upscaling (of the
// model's 64 px images, and of the real ones against their 256 px originals); each with
// FD-CLIP, CLIP score, R-precision, FD-MobileNetV2 and precision / recall
// against the real images (MobileNetV2 sees every image resized to 224 px,
// whatever its resolution). Probes: style follows the prompt; linear probes
// (style, group, subgroup) trained on MobileNetV2 features of real train
// images, read on real validation images and on generations for the same
// captions; coarse/fine style mixing.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <iomanip>
#include <limits>
#include <map>
#include <numeric>

#include "cli.h"
#include "cli_engine.h"
#include "cli_metrics.h"
#include "clip_trainer.h"
#include "evaluate.h"
#include "model_io.h"
#include "package.h"
#include "runtime.h"
#include "safetensors.h"

namespace gg::cli {

namespace fs = std::filesystem;

namespace {


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
  c.summary = "Measure a model package on a validation split: FD-CLIP, CLIP score, R-precision (evaluator CLIP), "
              "FD-MobileNetV2, precision and recall, linear probes (MobileNetV2 features), style and mixing probes, "
              "with real-image ceiling and noise floor.";
  c.options = {
      model_option(),
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
      {"skip", "LIST", "comma-separated rows to skip: untrained, floor, upsampler, mix, probes", ""},
      {"probe-train", "N",
       "real train images (at most; spread over the split, so over its styles, deterministically) whose MobileNetV2 "
       "features train the linear probes",
       "4000"},
      {"probe-l2", "F", "L2 penalty of the linear probes (on standardised features; loss: mean cross-entropy + F/2 |W|^2)",
       "0.01"},
      metrics_net_option(),
      feature_cache_option(),
      {"json", "FILE", "also write the results as JSON", ""},
      device_option(),
      threads_option(),
  };
  c.run = [](const Args& args, std::ostream& out) {
    if (!args.has("data")) throw UsageError("gigagan eval: --data DIR is required");
    const std::vector<int> coarse_maxes = args.get_int_list("coarse-max", 0);
    const int probe_train_arg = args.get_int("probe-train");
    if (probe_train_arg < 0 || probe_train_arg > 1000000)
      throw UsageError("gigagan eval: --probe-train must be in [0, 1000000]");
    const double probe_l2 = args.get_double("probe-l2");
    if (!(probe_l2 >= 0 && probe_l2 <= 1e6)) throw UsageError("gigagan eval: --probe-l2 must be in [0, 1e6]");
    init_runtime(args.get_int("threads"));
    const torch::Device device = parse_device(args.get("device"));
    c10::InferenceMode inference;
    const std::string model = resolve_model_path(args);
    ModelPackage pkg = load_package(model, device);
    std::string metrics_path;
    MobileNetV2 mnet = load_metrics_net(args, device, metrics_path);
    auto mn = [&](const torch::Tensor& x) { return mobilenet_features(mnet, x, device, 2); };
    FeatureCache cache(feature_cache_dir(args));
    if (args.has("noise")) pkg.generator->synthesis->noise_mode = parse_noise_mode(args.get("noise"));
    ClipEncoder ev;
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
    std::vector<std::string> captions, val_paths, val_hr_paths;
    for (int64_t i = 0; i < val.size(); ++i)
      if (auto s = val.load(i)) {
        real.push_back(s->image);
        if (up) real_hr.push_back(s->image_hr);
        captions.push_back(s->caption);
        val_paths.push_back(val.entry(i).image.string());
        if (up) val_hr_paths.push_back(val.entry(i).image_hr.string());
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
    const torch::Tensor real_mn = cache.get(metrics_path, res, val_paths, [&] { return mn(real_t); });
    const torch::Tensor real_text = ev.texts(captions);
    const torch::Tensor gen_text = ev.texts(gen_captions);
    auto encode = [&](const std::vector<std::string>& t) { return ev.texts(t); };

    json result = {{"model", model}, {"hash", pkg.hash}, {"split", dopt.split}, {"real_images", real.size()},
                   {"generated_images", gen_captions.size()}, {"psi", psi}, {"metrics_net", metrics_path}};
    out << "model " << model << " (" << pkg.hash << "), split '" << dopt.split << "': " << real.size()
        << " real images, " << gen_captions.size() << " generated (" << seeds << " per caption)\n"
        << "FD-CLIP, CLIP score, R-precision: evaluator CLIP; FD-MobileNetV2, precision, recall, coverage (k = 3, "
           "against the real images of the resolution): MobileNetV2 at 224 px\n";
    out << std::left << std::setw(28) << "images" << std::right << std::setw(10) << "FD-CLIP" << std::setw(12)
        << "CLIP score" << std::setw(14) << "R-precision" << std::setw(16) << "FD-MobileNetV2" << std::setw(11)
        << "precision" << std::setw(8) << "recall" << std::setw(10) << "coverage" << "\n";
    const double none = std::numeric_limits<double>::quiet_NaN();
    // One table row; NaN leaves a cell blank.
    auto print_row = [&](const std::string& name, double fd, double cs, double rp, double fd_mn, PrecisionRecall pr) {
      auto cell = [&](int width, int precision, double v) {
        if (std::isnan(v))
          out << std::setw(width) << "";
        else
          out << std::setw(width) << std::setprecision(precision) << v;
      };
      out << std::left << std::setw(28) << name << std::right << std::fixed;
      cell(10, 4, fd);
      cell(12, 2, cs);
      cell(14, 3, rp);
      cell(16, 2, fd_mn);
      cell(11, 3, pr.precision);
      cell(8, 3, pr.recall);
      cell(10, 3, pr.coverage);
      out << "\n";
      out.flush();
      json& r = result["rows"][name];
      r["fd_clip"] = fd;
      if (!std::isnan(cs)) r["clip_score"] = cs;
      if (!std::isnan(rp)) r["r_precision"] = rp;
      r["fd_mobilenet"] = fd_mn;
      r["precision"] = pr.precision;
      r["recall"] = pr.recall;
      r["coverage"] = pr.coverage;
    };
    auto row = [&](const std::string& name, const torch::Tensor& emb, const std::vector<std::string>& caps,
                   const torch::Tensor& text, const torch::Tensor& reference, const torch::Tensor& feat,
                   const torch::Tensor& feat_reference) {
      print_row(name, frechet_distance(emb, reference), clip_score(emb, text),
                r_precision(emb, caps, captions, encode, 100, seed), frechet_distance(feat, feat_reference),
                precision_recall(feat_reference, feat, 3));
    };
    row("real (ceiling)", real_emb, captions, real_text, real_emb, real_mn, real_mn);

    // Real train images, in one deterministic order spread over the split (a
    // stride coprime with its size; the manifest lists one style after the
    // other): the first real.size() * seeds make the noise floor (a second
    // sample of real images, as many as the generations), the first
    // --probe-train train the linear probes. MobileNetV2 sees each once.
    const int64_t floor_n = skipped("floor") ? 0 : static_cast<int64_t>(real.size()) * seeds;
    const int64_t probe_n = skipped("probes") ? 0 : probe_train_arg;
    torch::Tensor train_mn;
    std::vector<std::string> train_caps, train_paths;
    if (floor_n > 0 || probe_n > 0) {
      DatasetOptions topt = dopt;
      topt.split = "train";
      topt.hr_resolution = 0;
      Dataset train(args.get("data"), topt);
      const int64_t want = std::max(floor_n, probe_n), size = train.size();
      int64_t stride = 7919;
      while (std::gcd(stride, size) != 1) stride += 2;
      std::vector<torch::Tensor> floor_images;
      std::vector<int64_t> chosen;
      for (int64_t k = 0; k < size && static_cast<int64_t>(chosen.size()) < want; ++k) {
        const int64_t i = (k * stride) % size;
        if (auto s = train.load(i)) {
          if (static_cast<int64_t>(chosen.size()) < floor_n) floor_images.push_back(s->image);
          chosen.push_back(i);
          train_caps.push_back(s->caption);
          train_paths.push_back(train.entry(i).image.string());
        }
      }
      if (chosen.empty()) throw DatasetError("eval: no readable image in the train split of '" + args.get("data") + "'");
      train_mn = cache.get(metrics_path, res, train_paths, [&] {
        std::vector<torch::Tensor> feats, chunk;
        for (size_t k = 0; k < chosen.size(); ++k) {
          auto s = train.load(chosen[k]);
          if (!s) throw DatasetError("eval: '" + train.entry(chosen[k]).image.string() + "' became unreadable");
          chunk.push_back(s->image);
          if (chunk.size() == 256 || k + 1 == chosen.size()) {
            feats.push_back(mn(torch::stack(chunk)));
            chunk.clear();
          }
        }
        return torch::cat(feats);
      });
      if (floor_n > 0) {
        if (floor_images.size() < 2) throw DatasetError("eval: the noise floor needs at least 2 readable train images");
        const torch::Tensor floor_mn = train_mn.slice(0, 0, static_cast<int64_t>(floor_images.size()));
        print_row("real train set (floor)", frechet_distance(ev.images(torch::stack(floor_images)), real_emb), none,
                  none, frechet_distance(floor_mn, real_mn), precision_recall(real_mn, floor_mn, 3));
      }
    }
    const torch::Tensor gen = generate(pkg, pkg.generator, gen_captions, {}, z, psi, 0, device);
    const torch::Tensor gen_emb = ev.images(gen);
    const torch::Tensor gen_mn = mn(gen);
    row("model " + std::to_string(res) + " px", gen_emb, gen_captions, gen_text, real_emb, gen_mn, real_mn);
    torch::Tensor untrained_mn;
    if (!skipped("untrained")) {
      torch::manual_seed(seed + 1);
      Generator untrained(pkg.generator->config);
      untrained->to(device);
      untrained->eval();
      untrained->synthesis->noise_mode = pkg.generator->synthesis->noise_mode;
      const torch::Tensor images = generate(pkg, untrained, gen_captions, {}, z, 1.0, 0, device);
      untrained_mn = mn(images);
      row("untrained generator", ev.images(images), gen_captions, gen_text, real_emb, untrained_mn, real_mn);
    }
    if (up) {
      const int hr = pkg.upsampler->config.output_resolution;
      const torch::Tensor real_hr_t = torch::stack(real_hr);
      const torch::Tensor real_hr_emb = ev.images(real_hr_t);
      const torch::Tensor real_hr_mn = cache.get(metrics_path, hr, val_hr_paths, [&] { return mn(real_hr_t); });
      // The upsampler on 64 px images (row i for caption caps[i]), 16 at a time.
      auto upsample = [&](const torch::Tensor& lows, const std::vector<std::string>& caps, uint64_t z_seed,
                          uint64_t noise_seed) {
        std::vector<torch::Tensor> ups;
        auto uz = at::detail::createCPUGenerator(z_seed);
        for (int64_t a = 0; a < lows.size(0); a += 16) {
          const int64_t b = std::min<int64_t>(lows.size(0), a + 16);
          std::vector<std::string> part(caps.begin() + a, caps.begin() + b);
          auto f = pkg.clip->text_features(pkg.tokenizer->encode_batch(part).ids.to(device));
          auto low = lows.slice(0, a, b).to(device);
          auto zz = torch::randn({b - a, pkg.upsampler->config.z_dim}, uz).to(device);
          ups.push_back(pkg.upsampler->forward(low, zz, f.tokens, f.eot_index, true,
                                               UpsamplerImpl::make_input_noise(low, noise_seed + a))[0].cpu());
        }
        return torch::cat(ups);
      };
      const torch::Tensor up_t = upsample(gen, gen_captions, seed + 2, seed + 3);
      const torch::Tensor lanczos = lanczos_resize(gen, hr).clamp(-1, 1);
      row("real " + std::to_string(hr) + " px (ceiling)", real_hr_emb, captions, real_text, real_hr_emb, real_hr_mn,
          real_hr_mn);
      row("upsampler " + std::to_string(hr) + " px", ev.images(up_t), gen_captions, gen_text, real_hr_emb, mn(up_t),
          real_hr_mn);
      row("Lanczos " + std::to_string(hr) + " px", ev.images(lanczos), gen_captions, gen_text, real_hr_emb,
          mn(lanczos), real_hr_mn);
      // The same two on the real validation images' own 64 px versions, where
      // the answer is known: the real 256 px image. Sharper edges lower the
      // error to it (PSNR) as well as the Fréchet distance.
      const torch::Tensor real_up = upsample(real_t, captions, seed + 4, seed + 5);
      const torch::Tensor real_lanczos = lanczos_resize(real_t, hr).clamp(-1, 1);
      row("upsampler, real 64 px in", ev.images(real_up), captions, real_text, real_hr_emb, mn(real_up), real_hr_mn);
      row("Lanczos, real 64 px in", ev.images(real_lanczos), captions, real_text, real_hr_emb, mn(real_lanczos),
          real_hr_mn);
      const double psnr_up = psnr(real_up, real_hr_t), psnr_lanczos = psnr(real_lanczos, real_hr_t);
      out << "real 64 px upscaled to " << hr << " px, PSNR to the real " << hr << " px image: upsampler "
          << std::setprecision(2) << psnr_up << " dB, Lanczos " << psnr_lanczos << " dB\n";
      result["upscale_real_psnr"] = {{"upsampler", psnr_up}, {"lanczos", psnr_lanczos}};
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
    // Linear probes: what a classifier trained on real train images reads from
    // the generations of the validation captions.
    if (probe_n > 0 && train_mn.defined()) {
      const int64_t m = std::min<int64_t>(probe_n, train_mn.size(0));
      const auto fields = manifest_fields(args.get("data"), {"group", "subgroup"});
      out << "linear probes (logistic regression on MobileNetV2 features of " << m
          << " real train images; accuracy; the validation emoji are not in the train split, so group and subgroup "
             "measure generalisation)\n"
          << std::left << std::setw(12) << "  label" << std::right << std::setw(9) << "classes" << std::setw(12)
          << "real val" << std::setw(14) << ("model " + std::to_string(res) + " px") << std::setw(12) << "untrained"
          << std::setw(12) << "majority" << "\n";
      // label_of(caption, path): the label, "" when the image has none.
      auto probe = [&](const std::string& name, const std::function<std::string(size_t, bool)>& label_of) {
        std::map<std::string, int64_t> classes;
        std::vector<int64_t> rows;
        for (int64_t i = 0; i < m; ++i) {
          const std::string l = label_of(static_cast<size_t>(i), true);
          if (l.empty()) continue;
          classes.emplace(l, 0);
          rows.push_back(i);
        }
        if (classes.size() < 2) {
          out << "  " << name << ": skipped (fewer than 2 classes among the train images)\n";
          result["probes"][name] = {{"skipped", "fewer than 2 classes among the train images"}};
          return;
        }
        int64_t c = 0;
        for (auto& [l, index] : classes) index = c++;
        std::vector<int64_t> y;
        for (int64_t i : rows) y.push_back(classes.at(label_of(static_cast<size_t>(i), true)));
        LinearProbeOptions po;
        po.l2 = probe_l2;
        const LinearProbe p = train_linear_probe(train_mn.index_select(0, torch::tensor(rows)), torch::tensor(y), c, po);
        // Validation labels (-1: a class no train image has, always wrong); generation j has caption j % n.
        const int64_t n = static_cast<int64_t>(captions.size());
        std::vector<int64_t> val_rows, val_y, gen_rows, gen_y;
        int64_t unseen = 0;
        for (int64_t i = 0; i < n; ++i) {
          const std::string l = label_of(static_cast<size_t>(i), false);
          if (l.empty()) continue;
          auto it = classes.find(l);
          val_rows.push_back(i);
          val_y.push_back(it == classes.end() ? -1 : it->second);
          unseen += it == classes.end();
        }
        if (val_rows.empty()) {
          out << "  " << name << ": skipped (no validation image has this label)\n";
          result["probes"][name] = {{"skipped", "no validation image has this label"}};
          return;
        }
        for (int64_t j = 0; j < gen_mn.size(0); ++j) {
          auto it = std::lower_bound(val_rows.begin(), val_rows.end(), j % n);  // val_rows is sorted
          if (it != val_rows.end() && *it == j % n) {
            gen_rows.push_back(j);
            gen_y.push_back(val_y[static_cast<size_t>(it - val_rows.begin())]);
          }
        }
        const auto gen_rows_t = torch::tensor(gen_rows), gen_y_t = torch::tensor(gen_y);
        const double acc_real = p.accuracy(real_mn.index_select(0, torch::tensor(val_rows)), torch::tensor(val_y));
        const double acc_gen = p.accuracy(gen_mn.index_select(0, gen_rows_t), gen_y_t);
        const double acc_untrained =
            untrained_mn.defined() ? p.accuracy(untrained_mn.index_select(0, gen_rows_t), gen_y_t) : none;
        const double majority = majority_rate(val_y);
        out << std::left << std::setw(12) << ("  " + name) << std::right << std::setw(9) << c << std::fixed
            << std::setprecision(3) << std::setw(12) << acc_real << std::setw(14) << acc_gen << std::setw(12);
        if (std::isnan(acc_untrained))
          out << "";
        else
          out << acc_untrained;
        out << std::setw(12) << majority;
        if (unseen > 0) out << "  (" << unseen << " of " << val_rows.size() << " val images: a class no train image has)";
        out << "\n";
        json& r = result["probes"][name];
        r = {{"classes", c},           {"train_images", rows.size()}, {"val_images", val_rows.size()},
             {"real_accuracy", acc_real}, {"model_accuracy", acc_gen},  {"majority", majority},
             {"val_unseen_class", unseen}};
        if (!std::isnan(acc_untrained)) r["untrained_accuracy"] = acc_untrained;
      };
      probe("style", [&](size_t i, bool train) { return caption_style(train ? train_caps[i] : captions[i]); });
      for (const std::string field : {"group", "subgroup"}) {
        auto f = fields.find(field);
        if (f == fields.end()) {
          const std::string why = "the manifest has no \"" + field + "\" field" +
                                  (field == "subgroup" ? "; an older `gigagan data emoji` built it" : "");
          out << "  " << field << ": skipped (" << why << ")\n";
          result["probes"][field] = {{"skipped", why}};
          continue;
        }
        const auto& labels = f->second;
        probe(field, [&](size_t i, bool train) {
          auto it = labels.find(train ? train_paths[i] : val_paths[i]);
          return it == labels.end() ? std::string() : it->second;
        });
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
    if (!cache.dir().empty())
      out << "MobileNetV2 features of real images: " << cache.hits << " sets from the cache, " << cache.misses
          << " computed (" << cache.dir().string() << ")\n";
    if (args.has("json")) write_file_atomic(args.get("json"), result.dump(2) + "\n");
    return 0;
  };
  return c;
}

}  // namespace gg::cli

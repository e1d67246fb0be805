// GAN inversion into W / W+ with optional pivotal tuning (inversion.h).
#include "inversion.h"

#include <chrono>
#include <cmath>

#include "errors.h"

namespace gg {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// StyleGAN2 projector schedule: ramp up over the first 5%, cosine down over the last 25%.
double lr_at(double base, int step, int steps) {
  const double t = steps > 1 ? static_cast<double>(step) / (steps - 1) : 1.0;
  const double down = std::min(1.0, (1.0 - t) / 0.25);
  const double ramp = 0.5 - 0.5 * std::cos(down * M_PI);
  return base * ramp * std::min(1.0, t / 0.05 + 1e-3);
}

double psnr_of(double mse_pm1) {
  const double mse01 = mse_pm1 / 4.0;  // [-1, 1] -> [0, 1] scales errors by 1/2, squares by 1/4
  return mse01 > 0 ? 10.0 * std::log10(1.0 / mse01) : 99.0;
}

}  // namespace

InversionResult invert(Engine& engine, const torch::Tensor& target_in, const InversionOptions& o) {
  auto& G = engine.generator();
  const auto& g = G->config;
  if (target_in.dim() != 3 || target_in.size(0) != 3 || target_in.size(1) != g.resolution ||
      target_in.size(2) != g.resolution)
    throw ShapeError("invert: the target must be [3, " + std::to_string(g.resolution) + ", " +
                     std::to_string(g.resolution) + "] (resize it with read_image), got " +
                     c10::str(target_in.sizes()));
  if (o.steps < 1) throw ConfigError("invert: steps must be >= 1");
  // A normal tensor even when the caller rendered it under InferenceMode.
  const auto target = target_in.to(engine.device(), torch::kFloat32).clone().unsqueeze(0);
  const auto enc = engine.encode(o.prompt);  // PromptError for an empty prompt
  const auto w_avg = engine.mean_w(o.prompt, o.mean_w_samples);  // [1, w_dim]
  const auto t_locals = G->broadcast_t_local(enc.get()->g.t_local);
  ClipModel clip = engine.package().clip;  // a holder: shares the module
  const bool use_clip = o.clip_weight > 0;
  const auto saved_noise = G->synthesis->noise_mode;
  G->synthesis->noise_mode = NoiseMode::Const;

  torch::Tensor target_feat;
  if (use_clip) {
    torch::NoGradGuard no_grad;
    target_feat = clip->encode_image(target);
  }
  auto loss_of = [&](const torch::Tensor& img, torch::Tensor* mse_out) {
    auto mse = torch::mse_loss(img, target);
    if (mse_out) *mse_out = mse.detach();
    if (!use_clip) return mse;
    auto feat = clip->encode_image(img);
    return mse + o.clip_weight * (1 - (feat * target_feat).sum(-1).mean());
  };
  auto synth = [&](const torch::Tensor& w) {
    auto ws = o.w_plus ? w : G->broadcast_w(w);  // w: [1, num_ws, w_dim] or [1, w_dim]
    return G->synthesize(ws, t_locals)[0];
  };

  InversionResult res;
  {
    torch::NoGradGuard no_grad;
    res.mean_w_mse = torch::mse_loss(synth(o.w_plus ? G->broadcast_w(w_avg).contiguous() : w_avg), target).item<double>();
  }

  // Phase 1: the latent.
  auto t0 = Clock::now();
  torch::Tensor w = (o.w_plus ? G->broadcast_w(w_avg) : w_avg).detach().clone().set_requires_grad(true);
  torch::optim::Adam opt({w}, torch::optim::AdamOptions(o.lr).betas({0.9, 0.999}));
  torch::Tensor best = w.detach().clone();
  double best_loss = INFINITY;
  int step = 0;
  for (; step < o.steps; ++step) {
    for (auto& group : opt.param_groups())
      static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr_at(o.lr, step, o.steps));
    torch::Tensor mse;
    auto loss = loss_of(synth(w), &mse);
    const double lv = loss.item<double>();
    if (lv < best_loss) {
      best_loss = lv;
      best = w.detach().clone();
    }
    opt.zero_grad();
    loss.backward();
    opt.step();
    if (o.progress && !o.progress({"latent", step + 1, o.steps, lv, mse.item<double>()})) {
      ++step;
      break;
    }
  }
  {  // the last step's update has not been scored yet
    torch::NoGradGuard no_grad;
    const double lv = loss_of(synth(w), nullptr).item<double>();
    if (lv < best_loss) best = w.detach().clone();
  }
  res.steps = step;
  res.seconds_latent = seconds_since(t0);
  {
    torch::NoGradGuard no_grad;
    res.mse_before_pti = torch::mse_loss(synth(best), target).item<double>();
  }

  // Phase 2: pivotal tuning of the synthesis weights around the latent.
  if (o.pti_steps > 0) {
    t0 = Clock::now();
    engine.begin_weight_edit();
    auto params = G->synthesis->parameters();
    for (auto& p : params) p.set_requires_grad(true);
    torch::optim::Adam popt(params, torch::optim::AdamOptions(o.pti_lr));
    const auto pivot = best.detach();
    try {
      for (int s = 0; s < o.pti_steps; ++s) {
        torch::Tensor mse;
        auto loss = loss_of(synth(pivot), &mse);
        popt.zero_grad();
        loss.backward();
        popt.step();
        if (o.progress && !o.progress({"pti", s + 1, o.pti_steps, loss.item<double>(), mse.item<double>()})) break;
      }
    } catch (...) {
      for (auto& p : params) p.set_requires_grad(false);
      throw;
    }
    for (auto& p : params) p.set_requires_grad(false);
    engine.weights_changed();
    res.seconds_pti = seconds_since(t0);
  }
  G->synthesis->noise_mode = saved_noise;

  // The result as a source and a recipe; the error is measured on what the recipe renders.
  res.source.prompt = o.prompt;
  res.source.latent = Latent{o.w_plus, best.squeeze(0).to(torch::kCPU).contiguous()};
  res.recipe.sources = {res.source};
  engine.stamp(res.recipe);
  res.reconstruction = engine.render(res.recipe).image[0];
  res.mse = torch::mse_loss(res.reconstruction.unsqueeze(0), target).item<double>();
  res.psnr = psnr_of(res.mse);
  return res;
}

}  // namespace gg

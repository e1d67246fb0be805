// Sample-adaptive kernel selection + StyleGAN2 modulation/demodulation.
// Ref: GigaGAN (arXiv 2303.05511), "Sample-adaptive kernel selection" (g_adaconv):
// Kang et al. 2023, Sec. 3.2, Eq. (1)-(2); StyleGAN2 Sec. 2.2 (demodulation).
//
// Four exact formulations of the same function (see adaptive_conv2d.h):
//   Naive     per sample: K_n = sum_i a_ni K_i, modulate, demodulate, conv.
//   PerSample kernels for the whole batch in one GEMM [N, Nk] x [Nk, Co*Ci*k*k],
//             then one dense conv per sample (batch 1: a single conv).
//   Grouped   the same kernels, one conv with groups = N (StyleGAN2's fused
//             modconv; the fast path on CUDA).
//   Bank      by linearity: conv(x*s, sum_i a_i K_i) = sum_i a_i conv(x*s, K_i).
//             One dense conv of the modulated input with the stacked bank
//             [Nk*Co, Ci, k, k], a per-sample mix of the Nk outputs, then the
//             demodulation coefficients d_n[o] (computed from the selected kernel)
//             scale the output channels. Nk times the FLOPs, but one large GEMM;
//             for Nk == 1 it is StyleGAN2's non-fused modconv at the same FLOPs.
// up == 2 upsamples x bilinearly before the conv (layers.h upsample2x), as
// Conv2dLayer does; StyleGAN2 uses a transposed conv + FIR filter instead. The
// per-channel modulation commutes with the upsampling, so every formulation
// stays exact.
#include "adaptive_conv2d.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <vector>

namespace gg {

namespace {
std::atomic<AdaConvImpl> g_impl{AdaConvImpl::Auto};
constexpr double kDemodEps = 1e-8;  // StyleGAN2

// On the CPU, oneDNN's dense convolution runs faster with channels_last
// tensors (README "Speed and memory"). On CUDA the layout is left to cuDNN.
torch::Tensor conv_layout(const torch::Tensor& t) {
  if (t.device().is_cpu() && t.dim() == 4)
    return t.contiguous(at::MemoryFormat::ChannelsLast);
  return t;
}
}  // namespace

AdaConvImpl parse_adaconv_impl(const std::string& s) {
  if (s == "auto") return AdaConvImpl::Auto;
  if (s == "naive") return AdaConvImpl::Naive;
  if (s == "per_sample") return AdaConvImpl::PerSample;
  if (s == "grouped") return AdaConvImpl::Grouped;
  if (s == "bank") return AdaConvImpl::Bank;
  throw ConfigError("unknown adaptive conv implementation '" + s +
                    "' (expected auto, naive, per_sample, grouped or bank)");
}

const char* adaconv_impl_name(AdaConvImpl impl) {
  switch (impl) {
    case AdaConvImpl::Auto: return "auto";
    case AdaConvImpl::Naive: return "naive";
    case AdaConvImpl::PerSample: return "per_sample";
    case AdaConvImpl::Grouped: return "grouped";
    case AdaConvImpl::Bank: return "bank";
  }
  return "?";
}

void set_adaconv_impl(AdaConvImpl impl) { g_impl.store(impl); }
AdaConvImpl adaconv_impl() { return g_impl.load(); }

AdaptiveConv2dImpl::AdaptiveConv2dImpl(int64_t in, int64_t out, int64_t k, int64_t wd,
                                       int64_t nk, bool demod, int up_, Activation act,
                                       bool has_bias)
    : in_channels(in),
      out_channels(out),
      kernel_size(k),
      w_dim(wd),
      num_kernels(nk),
      demodulate(demod),
      up(up_),
      activation(act),
      weight_gain(1.0 / std::sqrt(static_cast<double>(in * k * k))) {
  if (in <= 0 || out <= 0 || wd <= 0 || nk <= 0)
    throw ConfigError("AdaptiveConv2d: channels, w_dim and num_kernels must be positive");
  if (k <= 0 || k % 2 == 0) throw ConfigError("AdaptiveConv2d: kernel_size must be odd");
  if (up != 1 && up != 2) throw ConfigError("AdaptiveConv2d: up must be 1 or 2");
  weight = register_parameter("weight", new_randn({nk, out, in, k, k}));
  if (has_bias) bias = register_parameter("bias", new_zeros({out}));
  // With a single kernel the selection is the constant 1: no `filter` layer
  // (it would be a parameter without gradient).
  if (nk > 1) filter = register_module("filter", FullyConnectedLayer(wd, nk));
  affine = register_module("affine", FullyConnectedLayer(wd, in, /*bias=*/true, Activation::Linear,
                                                         /*lr_multiplier=*/1.0, /*bias_init=*/1.0));
  styles_fused_ = nk > 1 ? std::make_unique<FusedProjection>(std::vector<FullyConnectedLayer>{affine, filter},
                                                             std::vector<double>{weight_gain, 1.0})
                         : std::make_unique<FusedProjection>(std::vector<FullyConnectedLayer>{affine},
                                                             std::vector<double>{weight_gain});
}

torch::Tensor AdaptiveConv2dImpl::forward(const torch::Tensor& x, const torch::Tensor& w) {
  return forward_with(adaconv_impl(), x, w);
}

torch::Tensor AdaptiveConv2dImpl::forward_scaled(const torch::Tensor& x, const torch::Tensor& w,
                                                 double out_gain) {
  return forward_with(adaconv_impl(), x, w, out_gain);
}

torch::Tensor AdaptiveConv2dImpl::forward_with(AdaConvImpl impl, const torch::Tensor& x_in,
                                               const torch::Tensor& w, double out_gain) {
  // x: [N, C_in, H, W], w: [N, w_dim] -> [N, C_out, H*up, W*up]
  check_shape(x_in, {-1, in_channels, -1, -1}, "AdaptiveConv2d x");
  const int64_t n = x_in.size(0);
  check_shape(w, {n, w_dim}, "AdaptiveConv2d w");
  TORCH_CHECK(out_gain > 0, "AdaptiveConv2d: out_gain must be positive");
  if (impl == AdaConvImpl::Auto) impl = choose_impl(x_in, w);
  // Useful work, whatever the formulation.
  count_conv_flops(n, out_channels, in_channels, kernel_size, x_in.size(2) * up, x_in.size(3) * up);

  if (impl == AdaConvImpl::Naive) return forward_naive(x_in, w, out_gain);
  if (impl == AdaConvImpl::PerSample && n == 1) {
    // Batch 1 without gradients on the CPU (the studio): from the cache.
    const bool wants_grad = torch::GradMode::is_enabled() && (weight.requires_grad() || w.requires_grad());
    if (!wants_grad && x_in.device().is_cpu()) {
      const InferenceCache cache = inference_cache(x_in);
      if (cache.bank.defined()) return forward_batch_one_cached(cache, x_in, w, out_gain);
    }
    return apply_activation(forward_batch_one(x_in, modulation(w, out_gain), out_gain), activation);
  }
  const Modulation m = modulation(w, out_gain);
  auto x = up == 2 ? upsample2x(x_in) : x_in;
  auto y = impl == AdaConvImpl::Bank ? forward_bank(x, m, out_gain) : forward_selected(impl, x, m, out_gain);
  return apply_activation(y, activation);
}

torch::Tensor AdaptiveConv2dImpl::forward_naive(const torch::Tensor& x_in, const torch::Tensor& w,
                                                double out_gain) {
  // The reference: every step of Eq. (1)-(2) spelled out per sample, the
  // gains applied where they are defined.
  const int64_t n = x_in.size(0), co = out_channels, ci = in_channels, k = kernel_size, nk = num_kernels;
  auto x = up == 2 ? upsample2x(x_in) : x_in;
  auto a = nk > 1 ? torch::softmax(filter->forward(w), 1) : torch::ones({n, 1}, w.options());
  auto s = affine->forward(w);
  std::vector<torch::Tensor> outs;
  outs.reserve(n);
  for (int64_t i = 0; i < n; ++i) {
    auto kern = torch::zeros({co, ci, k, k}, weight.options());
    for (int64_t j = 0; j < nk; ++j) kern = kern + a[i][j] * weight[j];
    kern = kern * weight_gain * s[i].view({1, ci, 1, 1});
    if (demodulate) kern = kern * torch::rsqrt(kern.square().sum({1, 2, 3}, true) + kDemodEps);
    outs.push_back(torch::conv2d(x.narrow(0, i, 1), kern, {}, 1, kernel_size / 2));
  }
  auto y = torch::cat(outs, 0);
  if (bias.defined()) y = y + bias.view({1, co, 1, 1});
  if (out_gain != 1.0) y = y * out_gain;
  return apply_activation(y, activation);
}

AdaptiveConv2dImpl::Modulation AdaptiveConv2dImpl::modulation(const torch::Tensor& w, double out_gain) {
  // The equalized-lr gain is folded into the styles (StyleGAN2 does the same
  // for toRGB): K_n * (s_n * g) == (g K_n) * s_n, one pass over [N, Ci]
  // instead of over the whole bank, and it is the affine layer's GEMM alpha.
  // out_gain goes to the demodulation coefficients (or, without
  // demodulation, to the styles) and to the bias: never a pass over the output.
  Modulation m;
  if (num_kernels > 1) m.a = torch::softmax(filter->forward(w), 1);
  m.s = affine->forward_scaled(w, weight_gain * (demodulate ? 1.0 : out_gain));
  if (bias.defined()) m.b = out_gain == 1.0 ? bias : bias * out_gain;
  return m;
}

torch::Tensor AdaptiveConv2dImpl::select_kernels(const Modulation& m) const {
  // Per-sample K_n = sum_i a_ni K_i, [N, Co, Ci, k, k]: a [N, Nk] x [Nk, Co*Ci*k*k] GEMM.
  const int64_t n = m.s.size(0), co = out_channels, ci = in_channels, k = kernel_size, nk = num_kernels;
  return nk > 1 ? torch::mm(m.a, weight.reshape({nk, -1})).view({n, co, ci, k, k})
                : weight.expand({n, co, ci, k, k});
}

torch::Tensor AdaptiveConv2dImpl::per_tap(const torch::Tensor& v) const {
  // Styles repeated over the kernel taps, [N, Ci] -> [N, Ci*k*k], so that a
  // kernel viewed as [.., Co, Ci*k*k] is modulated (and reduced) along a
  // contiguous inner dimension: TensorIterator broadcasts and reduces over an
  // inner dimension of 9 much more slowly than along 9*Ci contiguous values.
  const int64_t kk = kernel_size * kernel_size, n = v.size(0);
  return kk == 1 ? v : v.unsqueeze(2).expand({n, in_channels, kk}).reshape({n, in_channels * kk});
}

torch::Tensor AdaptiveConv2dImpl::demod_coef(torch::Tensor e, double out_gain) {
  // rsqrt(e + eps) * out_gain on small tensors. (e + eps in place: e is a fresh
  // tensor whose producer's backward does not need it; rsqrt's backward needs
  // its own result, so the gain multiply must not be in place.)
  auto d = e.add_(kDemodEps).rsqrt();
  return out_gain == 1.0 ? d : d * out_gain;
}

torch::Tensor AdaptiveConv2dImpl::forward_batch_one(const torch::Tensor& x_in, const Modulation& m,
                                                    double out_gain) {
  // Batch 1 with gradients or off the CPU: one dense conv, and the
  // modulation goes to whichever is smaller, the input or the kernel.
  const int64_t co = out_channels, ci = in_channels, k = kernel_size, nk = num_kernels, kk = k * k;
  auto kern = nk > 1 ? torch::mm(m.a, weight.view({nk, -1})).view({co, ci * kk}) : weight[0].view({co, ci * kk});
  auto as_weight = [&](const torch::Tensor& t) { return conv_layout(t.view({co, ci, k, k})); };
  if (x_in.numel() <= kern.numel()) {
    // Low resolution: modulate the (small) input, demodulate the output
    // (StyleGAN2's non-fused modconv): d[o] = rsqrt(sum_c s_c^2 sum_kk K[o,c,kk]^2).
    // s commutes with the bilinear upsampling, so it goes before it.
    auto xs = x_in * m.s.view({1, ci, 1, 1});
    if (up == 2) xs = upsample2x(xs);
    auto y = torch::conv2d(conv_layout(xs), as_weight(kern), demodulate ? torch::Tensor() : m.b, 1, k / 2);
    if (!demodulate) return y;
    auto d = demod_coef(torch::mv(kern.square(), per_tap(m.s.square()).view({ci * kk})), out_gain);  // [Co]
    return m.b.defined() ? torch::addcmul(m.b.view({1, co, 1, 1}), y, d.view({1, co, 1, 1}))
                         : y * d.view({1, co, 1, 1});
  }
  // High resolution: modulate and demodulate the (small) kernel.
  auto x = up == 2 ? upsample2x(x_in) : x_in;
  auto km = kern * per_tap(m.s).view({ci * kk});  // [Co, Ci*k*k]
  if (demodulate) km = km * demod_coef(at::linalg_vector_norm(km, 2, {1}).square(), out_gain).view({co, 1});
  return torch::conv2d(conv_layout(x), as_weight(km), m.b, 1, k / 2);
}

torch::Tensor AdaptiveConv2dImpl::forward_selected(AdaConvImpl impl, const torch::Tensor& x, const Modulation& m,
                                                   double out_gain) {
  // PerSample / Grouped: build each sample's modulated, demodulated kernel,
  // then convolve with it (a loop of dense convs, or one conv with groups = N).
  const int64_t n = x.size(0), co = out_channels, ci = in_channels, k = kernel_size, kk = k * k;
  const int64_t h = x.size(2), wd = x.size(3);
  auto kern = select_kernels(m).view({n, co, ci * kk}) * per_tap(m.s).unsqueeze(1);  // modulated
  if (demodulate) kern = kern * demod_coef(kern.square().sum(2, true), out_gain);
  kern = kern.view({n, co, ci, k, k});
  if (impl == AdaConvImpl::Grouped)
    return torch::conv2d(x.reshape({1, n * ci, h, wd}), kern.reshape({n * co, ci, k, k}),
                         m.b.defined() ? m.b.repeat({n}) : m.b, 1, k / 2, 1, n)
        .view({n, co, h, wd});
  std::vector<torch::Tensor> outs;
  outs.reserve(n);
  auto xl = conv_layout(x);
  for (int64_t i = 0; i < n; ++i) outs.push_back(torch::conv2d(xl.narrow(0, i, 1), conv_layout(kern[i]), m.b, 1, k / 2));
  return torch::cat(outs, 0);
}

torch::Tensor AdaptiveConv2dImpl::forward_bank(const torch::Tensor& x, const Modulation& m, double out_gain) {
  // By linearity, conv(x*s, sum_i a_i K_i) = sum_i a_i conv(x*s, K_i): one
  // dense conv of the modulated input with the whole stacked bank, then the
  // outputs mixed by a; demodulation scales the mix per output channel.
  const int64_t n = x.size(0), co = out_channels, ci = in_channels, k = kernel_size, nk = num_kernels, kk = k * k;
  const int64_t h = x.size(2), wd = x.size(3);
  auto xs = x * m.s.view({n, ci, 1, 1});
  auto yb = torch::conv2d(conv_layout(xs), conv_layout(weight.reshape({nk * co, ci, k, k})), {}, 1,
                          k / 2);  // [N, Nk*Co, H, W]
  // sum_i a_ni * yb[n, i]: a batched [1, Nk] x [Nk, Co*H*W] product.
  auto y = nk == 1 ? yb : torch::bmm(m.a.unsqueeze(1), yb.reshape({n, nk, co * h * wd})).view({n, co, h, wd});
  if (demodulate) {
    // d[n,o] = rsqrt(sum_c s_nc^2 sum_kk K_n[o,c,kk]^2), K_n the selected kernel.
    auto kern = select_kernels(m).reshape({n, co, ci * kk});
    auto e = torch::bmm(kern.square(), per_tap(m.s.square()).unsqueeze(2)).view({n, co});
    y = y * demod_coef(e, out_gain).view({n, co, 1, 1});
  }
  if (m.b.defined()) y = y + m.b.view({1, co, 1, 1});
  return y;
}

torch::Tensor AdaptiveConv2dImpl::forward_batch_one_cached(const InferenceCache& c, const torch::Tensor& x_in,
                                                           const torch::Tensor& w, double out_gain) {
  // x: [1, C_in, H, W], w: [1, w_dim] on the CPU, float32, no gradients.
  const int64_t co = out_channels, ci = in_channels, nk = num_kernels, k = kernel_size, kk = k * k, pad = k / 2;
  const auto opts = x_in.options();
  // [styles | kernel logits] in one GEMM; the styles carry this layer's weight gain.
  const auto sa = styles_fused_->forward_cat(w).reshape({-1});
  const float* s = sa.data_ptr<float>();
  std::vector<float> a(nk, 1.f);  // softmax of the logits
  if (nk > 1) {
    const float* logit = s + ci;
    const float top = *std::max_element(logit, logit + nk);
    double sum = 0;
    for (int64_t i = 0; i < nk; ++i) sum += (a[i] = std::exp(logit[i] - top));
    for (auto& v : a) v = static_cast<float>(v / sum);
  }
  // The selected kernel [C_out, k*k*C_in] in the bank's channels_last order.
  // (A GEMV over the bank viewed [len, Nk]: at batch 1 OpenBLAS's GEMM would
  // pack the whole bank first.)
  const auto kern = nk > 1 ? torch::mv(c.bank.t(), torch::from_blob(a.data(), {nk}, torch::kFloat))
                           : c.bank.view({-1});
  auto as_weight = [&](const torch::Tensor& t) { return t.view({co, k, k, ci}).permute({0, 3, 1, 2}); };
  // bias * out_gain, or undefined.
  torch::Tensor b;
  if (bias.defined()) {
    b = torch::empty({co}, opts);
    const auto bc = bias.contiguous();
    const float* src = bc.data_ptr<float>();
    float* dst = b.data_ptr<float>();
    for (int64_t o = 0; o < co; ++o) dst[o] = static_cast<float>(src[o] * out_gain);
  }
  const float style_gain = demodulate ? 1.f : static_cast<float>(out_gain);  // without demodulation, gain on the styles

  torch::Tensor y;
  if (x_in.numel() <= co * kk * ci) {
    // Low resolution: modulate the (small) input, demodulate the output
    // (StyleGAN2's non-fused modconv). s commutes with the upsampling.
    auto sv = sa.narrow(0, 0, ci);
    auto xs = x_in * (style_gain == 1.f ? sv : sv * style_gain).view({1, ci, 1, 1});
    if (up == 2) xs = upsample2x(xs);
    y = torch::conv2d(conv_layout(xs), as_weight(kern), demodulate ? torch::Tensor() : b, 1, pad);
    if (!demodulate) return apply_activation(y, activation);
    // d[o] = out_gain * rsqrt(e[o] + eps), e[o] = sum_{i<=j} m_ij a_i a_j (P_ij s^2)[o].
    auto s2 = torch::empty({ci}, opts);
    float* s2p = s2.data_ptr<float>();
    for (int64_t i = 0; i < ci; ++i) s2p[i] = s[i] * s[i];
    const auto ep = torch::mv(c.pair_energy, s2);  // [pairs * C_out]
    const float* e = ep.data_ptr<float>();
    auto d = torch::empty({co}, opts);
    float* dp = d.data_ptr<float>();
    std::vector<double> coef;
    for (const auto& [i, j] : c.pairs) coef.push_back((i == j ? 1.0 : 2.0) * a[i] * a[j]);
    for (int64_t o = 0; o < co; ++o) {
      double energy = 0;
      for (size_t p = 0; p < coef.size(); ++p) energy += coef[p] * e[p * co + o];
      dp[o] = static_cast<float>(out_gain / std::sqrt(std::max(energy, 0.0) + kDemodEps));  // >= 0 up to rounding
    }
    y = b.defined() ? torch::addcmul(b.view({1, co, 1, 1}), y, d.view({1, co, 1, 1})) : y * d.view({1, co, 1, 1});
    return apply_activation(y, activation);
  }
  // High resolution: modulate (and demodulate) the small kernel in one pass,
  // km[o, tap, c] = K[o, tap, c] * s[c] * d[o].
  auto km = torch::empty({co, kk * ci}, opts);
  const float* kp = kern.data_ptr<float>();
  float* mp = km.data_ptr<float>();
  for (int64_t o = 0; o < co; ++o) {
    const float* krow = kp + o * kk * ci;
    float* mrow = mp + o * kk * ci;
    double energy = 0;
    for (int64_t t = 0; t < kk; ++t)
      for (int64_t i = 0; i < ci; ++i) {
        const float v = krow[t * ci + i] * s[i] * style_gain;
        mrow[t * ci + i] = v;
        energy += static_cast<double>(v) * v;
      }
    if (demodulate) {
      const float d = static_cast<float>(out_gain / std::sqrt(energy + kDemodEps));
      for (int64_t t = 0; t < kk * ci; ++t) mrow[t] *= d;
    }
  }
  auto x = up == 2 ? upsample2x(x_in) : x_in;
  return apply_activation(torch::conv2d(conv_layout(x), as_weight(km), b, 1, pad), activation);
}

AdaptiveConv2dImpl::InferenceCache AdaptiveConv2dImpl::inference_cache(const torch::Tensor& x) {
  // Inference-mode tensors have no version counter to notice a change.
  if (weight.is_inference() || weight.scalar_type() != torch::kFloat || x.scalar_type() != torch::kFloat ||
      weight.device() != x.device())
    return {};
  const std::vector<int64_t> key = {weight._version(), reinterpret_cast<int64_t>(weight.data_ptr()),
                                    static_cast<int64_t>(weight.device().type()), weight.device().index()};
  std::lock_guard<std::mutex> lock(cl_mutex_);
  if (!cl_.bank.defined() || key != cl_key_) {
    torch::NoGradGuard no_grad;
    const int64_t nk = num_kernels, co = out_channels, ci = in_channels;
    InferenceCache c;
    // [Nk, Co, Ci, k, k] -> [Nk, Co, k, k, Ci], flattened per kernel.
    c.bank = weight.detach().permute({0, 1, 3, 4, 2}).contiguous().view({nk, -1});
    if (demodulate) {
      auto taps = weight.detach().reshape({nk, co, ci, -1});
      std::vector<torch::Tensor> energy;
      for (int64_t i = 0; i < nk; ++i)
        for (int64_t j = i; j < nk; ++j) {
          energy.push_back((taps[i] * taps[j]).sum(2));  // [Co, Ci]
          c.pairs.emplace_back(i, j);
        }
      c.pair_energy = torch::cat(energy).contiguous();  // [pairs * Co, Ci]
    }
    cl_ = c;
    cl_key_ = key;
  }
  return cl_;
}

AdaConvImpl AdaptiveConv2dImpl::choose_impl(const torch::Tensor& x, const torch::Tensor& w) const {
  // CUDA: the grouped conv is StyleGAN2's fused modconv and cuDNN runs it well.
  if (!x.device().is_cpu()) return AdaConvImpl::Grouped;
  // Batch 1: one dense conv (PerSample), modulating the smaller of input and kernel.
  if (x.size(0) == 1) return AdaConvImpl::PerSample;
  // Nk == 1 (toRGB): Bank is StyleGAN2's non-fused modconv at the same FLOPs.
  if (num_kernels == 1) return AdaConvImpl::Bank;
  // Training (gradients flow through the conv): the grouped conv's forward and
  // backward beat N per-sample convs at every resolution, 64 px included.
  const bool training = torch::GradMode::is_enabled() &&
                        (weight.requires_grad() || x.requires_grad() || (w.defined() && w.requires_grad()));
  if (training) return AdaConvImpl::Grouped;
  // CPU, batch > 1 (timings in README "Speed and memory"): oneDNN's grouped conv (groups = N) keeps up with N separate dense convs up
  // to 32 px, where each per-sample conv is too small to amortise its call
  // overhead; from 64 px the per-sample channels_last convs win. Bank (Nk x
  // the FLOPs) lost at every shape with Nk = 4, so it is only used for Nk == 1.
  const int64_t out_res = x.size(2) * up;
  return out_res <= kGroupedMaxResolution ? AdaConvImpl::Grouped : AdaConvImpl::PerSample;
}

}  // namespace gg

// Sample-adaptive kernel selection + StyleGAN2 modulation/demodulation.
// Ref: ../shared/GIGAGAN.md "Sample-adaptive kernel selection (g_adaconv)";
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

#include <atomic>
#include <cmath>

namespace gg {

namespace {
std::atomic<AdaConvImpl> g_impl{AdaConvImpl::Auto};
constexpr double kDemodEps = 1e-8;  // StyleGAN2

// On the CPU, oneDNN's dense convolution runs faster with channels_last
// tensors (lead's measurement ~80 vs ~140 GFLOP/s; ours at batch 1, 16-128
// channels, 4-64 px: 1.0-3.8x, never slower). On CUDA the layout is left to cuDNN.
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
  if (impl == AdaConvImpl::Auto) impl = choose_impl(x_in);

  const int64_t h = x_in.size(2) * up, wd = x_in.size(3) * up, k = kernel_size, pad = k / 2;
  const int64_t co = out_channels, ci = in_channels, nk = num_kernels;
  count_conv_flops(n, co, ci, k, h, wd);  // useful work, whatever the formulation
  const auto& bank = weight;              // [Nk, Co, Ci, k, k]

  if (impl == AdaConvImpl::Naive) {
    // The reference: every step spelled out, the gains applied where they are defined.
    auto x = up == 2 ? upsample2x(x_in) : x_in;
    auto a = nk > 1 ? torch::softmax(filter->forward(w), 1) : torch::ones({n, 1}, w.options());
    auto s = affine->forward(w);
    std::vector<torch::Tensor> outs;
    outs.reserve(n);
    for (int64_t i = 0; i < n; ++i) {
      auto kern = torch::zeros({co, ci, k, k}, bank.options());
      for (int64_t j = 0; j < nk; ++j) kern = kern + a[i][j] * bank[j];
      kern = kern * weight_gain * s[i].view({1, ci, 1, 1});
      if (demodulate) kern = kern * torch::rsqrt(kern.square().sum({1, 2, 3}, true) + kDemodEps);
      outs.push_back(torch::conv2d(x.narrow(0, i, 1), kern, {}, 1, pad));
    }
    auto y = torch::cat(outs, 0);
    if (bias.defined()) y = y + bias.view({1, co, 1, 1});
    if (out_gain != 1.0) y = y * out_gain;
    return apply_activation(y, activation);
  }

  // The equalized-lr gain is folded into the styles (StyleGAN2 does the same
  // for toRGB): K_n * (s_n * g) == (g K_n) * s_n, one pass over [N, Ci]
  // instead of over the whole bank, and it is the affine layer's GEMM alpha.
  // out_gain goes to the demodulation coefficients (or, without
  // demodulation, to the styles) and to the bias: never a pass over the output.
  auto a = nk > 1 ? torch::softmax(filter->forward(w), 1) : torch::Tensor();  // [N, Nk]
  auto s = affine->forward_scaled(w, weight_gain * (demodulate ? 1.0 : out_gain));  // [N, Ci]
  auto b = bias.defined() ? (out_gain == 1.0 ? bias : bias * out_gain) : torch::Tensor();  // [Co]
  // Per-sample selected kernels [N, Co, Ci, k, k]: a [N, Nk] x [Nk, Co*Ci*k*k] GEMM.
  auto select_kernels = [&] {
    return nk > 1 ? torch::mm(a, bank.reshape({nk, -1})).view({n, co, ci, k, k})
                  : bank.expand({n, co, ci, k, k});
  };
  // Styles repeated over the kernel taps, [N, Ci] -> [N, Ci*k*k], so that a
  // kernel viewed as [.., Co, Ci*k*k] is modulated (and reduced) along a
  // contiguous inner dimension: TensorIterator's broadcast over an inner
  // dimension of 9 (or a reduction over it) is 3-5x slower than the same
  // pass along 9*Ci contiguous values.
  const int64_t kk = k * k;
  auto per_tap = [&](const torch::Tensor& v) {  // [N, Ci] -> [N, Ci*k*k]
    return kk == 1 ? v : v.unsqueeze(2).expand({n, ci, kk}).reshape({n, ci * kk});
  };
  // rsqrt(e + eps) * out_gain on small tensors. (e + eps in place: e is a fresh
  // tensor whose producer's backward does not need it; rsqrt's backward needs
  // its own result, so the gain multiply must not be in place.)
  auto demod_coef = [&](torch::Tensor e) {
    auto d = e.add_(kDemodEps).rsqrt();
    return out_gain == 1.0 ? d : d * out_gain;
  };

  torch::Tensor y;
  if (impl == AdaConvImpl::PerSample && n == 1) {
    // Batch 1 (the interactive case): one dense conv, and the modulation goes
    // to whichever is smaller, the input or the kernel.
    // Without gradients the kernel comes from the cached channels_last bank:
    // its rows are K[o, ky, kx, c], a channels_last [Co, Ci, k, k] weight as it
    // leaves the GEMM, and per-input-channel values repeat over the taps as
    // [kk, Ci] (tiled) instead of [Ci, kk] (interleaved).
    const bool wants_grad = torch::GradMode::is_enabled() && (bank.requires_grad() || w.requires_grad());
    const InferenceCache cache = wants_grad || !x_in.device().is_cpu() ? InferenceCache{} : inference_cache();
    const bool cached = cache.bank.defined();
    torch::Tensor kern;  // [Co, Ci*k*k] in the tap order above
    if (cached) kern = nk > 1 ? torch::mm(a, cache.bank).view({co, kk * ci}) : cache.bank.view({co, kk * ci});
    else kern = nk > 1 ? torch::mm(a, bank.view({nk, -1})).view({co, ci * kk}) : bank[0].view({co, ci * kk});
    auto as_weight = [&](const torch::Tensor& t) {  // [Co, Ci*k*k] -> channels_last [Co, Ci, k, k]
      return cached ? t.view({co, k, k, ci}).permute({0, 3, 1, 2}) : conv_layout(t.view({co, ci, k, k}));
    };
    auto along_row = [&](const torch::Tensor& v) {  // [1, Ci] -> [Ci*k*k] in kern's tap order
      return cached ? v.view({ci}).repeat({kk}) : per_tap(v).view({ci * kk});
    };
    if (x_in.numel() <= kern.numel()) {
      // Low resolution: modulate the (small) input, demodulate the output
      // (StyleGAN2's non-fused modconv): d[o] = rsqrt(sum_c s_c^2 sum_kk K[o,c,kk]^2).
      // s commutes with the bilinear upsampling, so it goes before it.
      auto xs = x_in * s.view({1, ci, 1, 1});
      if (up == 2) xs = upsample2x(xs);
      if (demodulate) {
        torch::Tensor e;  // [Co]: e[o] = sum_{c,kk} K[o,c,kk]^2 s_c^2
        if (cached) {
          // From the cached pair energies: one GEMV over them, no pass over the kernel.
          auto e_pairs = torch::mv(cache.pair_energy, s.square().view({ci})).view({-1, co});  // [pairs, Co]
          auto coef = nk > 1 ? torch::outer(a.view({nk}), a.view({nk})).view({nk * nk}).index_select(0, cache.pair_index)
                                   .mul_(cache.pair_weight)
                             : cache.pair_weight;
          e = torch::mv(e_pairs.t(), coef).clamp_min_(0);  // >= 0 up to rounding
        } else {
          e = torch::mv(kern.square(), along_row(s.square()));  // one square pass and one GEMV
        }
        auto d = demod_coef(e);
        y = torch::conv2d(conv_layout(xs), as_weight(kern), {}, 1, pad);
        y = b.defined() ? torch::addcmul(b.view({1, co, 1, 1}), y, d.view({1, co, 1, 1}))
                        : y * d.view({1, co, 1, 1});
      } else {
        y = torch::conv2d(conv_layout(xs), as_weight(kern), b, 1, pad);
      }
    } else {
      // High resolution: modulate and demodulate the (small) kernel.
      auto x = up == 2 ? upsample2x(x_in) : x_in;
      auto km = kern * along_row(s);  // [Co, Ci*k*k]
      if (demodulate)
        km = km * demod_coef(at::linalg_vector_norm(km, 2, {1}).square()).view({co, 1});
      y = torch::conv2d(conv_layout(x), as_weight(km), b, 1, pad);
    }
    return apply_activation(y, activation);
  }

  auto x = up == 2 ? upsample2x(x_in) : x_in;
  if (impl == AdaConvImpl::PerSample || impl == AdaConvImpl::Grouped) {
    auto kern = select_kernels().view({n, co, ci * kk}) * per_tap(s).unsqueeze(1);  // modulated
    if (demodulate) kern = kern * demod_coef(kern.square().sum(2, true));
    kern = kern.view({n, co, ci, k, k});
    if (impl == AdaConvImpl::Grouped) {
      y = torch::conv2d(x.reshape({1, n * ci, h, wd}), kern.reshape({n * co, ci, k, k}),
                        b.defined() ? b.repeat({n}) : b, 1, pad, 1, n)
              .view({n, co, h, wd});
    } else {
      std::vector<torch::Tensor> outs;
      outs.reserve(n);
      auto xl = conv_layout(x);
      for (int64_t i = 0; i < n; ++i)
        outs.push_back(torch::conv2d(xl.narrow(0, i, 1), conv_layout(kern[i]), b, 1, pad));
      y = torch::cat(outs, 0);
    }
  } else {  // Bank
    auto xs = x * s.view({n, ci, 1, 1});
    auto yb = torch::conv2d(conv_layout(xs), conv_layout(bank.reshape({nk * co, ci, k, k})), {},
                            1, pad);  // [N, Nk*Co, H, W]
    if (nk == 1) {
      y = yb;
    } else {
      // sum_i a_ni * yb[n, i]: a batched [1, Nk] x [Nk, Co*H*W] product.
      y = torch::bmm(a.unsqueeze(1), yb.reshape({n, nk, co * h * wd})).view({n, co, h, wd});
    }
    if (demodulate) {
      // d[n,o] = rsqrt(sum_c s_nc^2 sum_kk K_n[o,c,kk]^2), K_n the selected kernel.
      auto kern = select_kernels().reshape({n, co, ci * kk});
      auto e = torch::bmm(kern.square(), per_tap(s.square()).unsqueeze(2)).view({n, co});
      y = y * demod_coef(e).view({n, co, 1, 1});
    }
    if (b.defined()) y = y + b.view({1, co, 1, 1});
  }
  return apply_activation(y, activation);
}

AdaptiveConv2dImpl::InferenceCache AdaptiveConv2dImpl::inference_cache() {
  if (weight.is_inference()) return {};  // no version counter to notice a change
  std::lock_guard<std::mutex> lock(cl_mutex_);
  const int64_t version = weight._version();
  const void* data = weight.data_ptr();
  if (!cl_.bank.defined() || version != cl_version_ || data != cl_data_ || cl_.bank.device() != weight.device()) {
    torch::NoGradGuard no_grad;
    const int64_t nk = num_kernels, co = out_channels, ci = in_channels;
    InferenceCache c;
    // [Nk, Co, Ci, k, k] -> [Nk, Co, k, k, Ci], flattened per kernel.
    c.bank = weight.detach().permute({0, 1, 3, 4, 2}).contiguous().view({nk, -1});
    if (demodulate) {
      auto taps = weight.detach().reshape({nk, co, ci, -1});
      std::vector<torch::Tensor> energy;
      std::vector<int64_t> index;
      std::vector<float> mult;
      for (int64_t i = 0; i < nk; ++i)
        for (int64_t j = i; j < nk; ++j) {
          energy.push_back((taps[i] * taps[j]).sum(2));  // [Co, Ci]
          index.push_back(i * nk + j);
          mult.push_back(i == j ? 1.f : 2.f);
        }
      c.pair_energy = torch::cat(energy).contiguous();  // [pairs * Co, Ci]
      c.pair_index = torch::tensor(index, torch::kLong).to(weight.device());
      c.pair_weight = torch::tensor(mult, torch::kFloat).to(weight.device());
    }
    cl_ = c;
    cl_version_ = version;
    cl_data_ = data;
  }
  return cl_;
}

AdaConvImpl AdaptiveConv2dImpl::choose_impl(const torch::Tensor& x) const {
  // CUDA: the grouped conv is StyleGAN2's fused modconv and cuDNN runs it well.
  if (!x.device().is_cpu()) return AdaConvImpl::Grouped;
  // Batch 1: one dense conv (PerSample), modulating the smaller of input and kernel.
  if (x.size(0) == 1) return AdaConvImpl::PerSample;
  // Nk == 1 (toRGB): Bank is StyleGAN2's non-fused modconv at the same FLOPs.
  if (num_kernels == 1) return AdaConvImpl::Bank;
  // CPU, batch > 1, measured with LibTorch 1.13 / oneDNN on this 2-core machine
  // (min over 25 interleaved rounds, Nk = 4, emoji64 shapes; the machine was
  // shared, so only the ranking is reliable), fwd ms PerSample / Grouped / Bank:
  //   C=64  r=16  N=4:  1.28 / 1.03 / 3.36     N=16:  5.17 /  4.24 / 13.5
  //   C=32  r=32  N=16: 4.52 / 4.04 / 16.0
  //   C=16  r=64  N=16: 5.42 / 7.44 / 31.4     C=32 r=64 N=4: 4.0 / 6.8 / 30.3
  // oneDNN's grouped conv (groups = N) keeps up with N separate dense convs up
  // to 32 px, where each per-sample conv is too small to amortise its call
  // overhead; from 64 px the per-sample channels_last convs win. Bank (Nk x
  // the FLOPs) lost at every shape with Nk = 4, so it is only used for Nk == 1.
  const int64_t out_res = x.size(2) * up;
  return out_res <= kGroupedMaxResolution ? AdaConvImpl::Grouped : AdaConvImpl::PerSample;
}

}  // namespace gg

// Attention layers of GigaGAN.
// Ref: GigaGAN, "Interleaving attention with convolution"; ViTGAN (Lee et al.
// 2022) L2-distance attention with tied W_q = W_k; Kang et al. 2023 Sec. 3.2.
//
// Choices where the paper is silent (StyleGAN2 / ViT conventions):
// - Every projection is an equalized-lr FullyConnectedLayer (unit-normal init,
//   runtime gain 1/sqrt(fan_in)), biases zero.
// - Pre-LN: LayerNorm over channels before attention and before the
//   feed-forward (FC -> lrelu -> FC); both residual branches are scaled by the
//   reduced `residual_gain`.
// - Weight decay: the projection weights of every attention layer (not biases,
//   not LayerNorm parameters); attention_weight_decay_parameters() collects
//   them for the trainer.
#include "attention.h"

#include <cmath>

namespace gg {

namespace {
// [N, C, H, W] -> [N, HW, C]
torch::Tensor to_tokens(const torch::Tensor& x) { return x.flatten(2).transpose(1, 2); }
// [N, HW, C] -> [N, C, H, W] as a channels_last view of the tokens, no copy:
// the convolutions after an attention layer want channels_last anyway (see
// adaptive_conv2d.cpp), and a channels_last input makes to_tokens a
// contiguous view.
torch::Tensor from_tokens(const torch::Tensor& t, int64_t h, int64_t w) {
  return t.contiguous().view({t.size(0), h, w, t.size(2)}).permute({0, 3, 1, 2});
}
// [N, T, heads*d] -> [N*heads, T, d] (one head: t itself)
torch::Tensor split_heads(const torch::Tensor& t, int64_t heads) {
  if (heads == 1) return t;
  const int64_t n = t.size(0), len = t.size(1), d = t.size(2) / heads;
  return t.reshape({n, len, heads, d}).transpose(1, 2).reshape({n * heads, len, d});
}
// [N*heads, T, d] -> [N, T, heads*d] (one head: t itself)
torch::Tensor merge_heads(const torch::Tensor& t, int64_t heads) {
  if (heads == 1) return t;
  const int64_t nh = t.size(0), len = t.size(1), d = t.size(2);
  return t.reshape({nh / heads, heads, len, d}).transpose(1, 2).reshape({nh / heads, len, heads * d});
}
// softmax(logits) @ v with FLOP counting. logits [B, Tq, Tk], v [B, Tk, d].
torch::Tensor attend(const torch::Tensor& logits, const torch::Tensor& v) {
  count_matmul_flops(logits.size(0), logits.size(1), logits.size(2), v.size(2));
  return torch::bmm(torch::softmax(logits, -1), v);
}
int64_t heads_for(int64_t channels, int64_t head_dim, const char* who) {
  if (channels <= 0 || head_dim <= 0 || channels % head_dim != 0)
    throw ConfigError(std::string(who) + ": head_dim (" + std::to_string(head_dim) +
                      ") must be positive and divide channels (" + std::to_string(channels) + ")");
  return channels / head_dim;
}
void push_weight(std::vector<torch::Tensor>& out, const FullyConnectedLayer& fc) {
  if (!fc.is_empty()) out.push_back(fc->weight);
}
}  // namespace

// ---------------------------------------------------------------------------
SelfAttentionImpl::SelfAttentionImpl(int64_t c, int64_t hd, int64_t extra_dim, double gain,
                                     int64_t ffn_mult)
    : channels(c),
      heads(heads_for(c, hd, "SelfAttention")),
      head_dim(hd),
      extra_token_dim(extra_dim),
      residual_gain(gain),
      // Logit scale. At init the LayerNorm output has unit-variance channels and
      // the equalized-lr projection keeps that, so q, k have ~N(0,1) components.
      // For one query i, over keys j: -|q_i - k_j|^2 = -|q_i|^2 + 2 q_i.k_j - |k_j|^2
      // where |q_i|^2 is constant in j (softmax ignores it), Var(2 q.k) = 4d and
      // Var(|k|^2) = 2d (chi-square), uncorrelated: spread sqrt(6d). Dividing by
      // sqrt(d_head) alone (ViTGAN) leaves logits with std ~2.4, so we divide by
      // sqrt(6 d_head) to get about unit-normal logits (checked in test_attention).
      logit_scale(1.0 / std::sqrt(6.0 * static_cast<double>(hd))) {
  norm = register_module("norm", LayerNorm(c));
  qk = register_module("qk", FullyConnectedLayer(c, c, /*bias=*/false));  // tied W_q = W_k
  v = register_module("v", FullyConnectedLayer(c, c));
  out = register_module("out", FullyConnectedLayer(c, c));
  if (extra_dim > 0) extra_proj = register_module("extra_proj", FullyConnectedLayer(extra_dim, c));
  ffn_norm = register_module("ffn_norm", LayerNorm(c));
  ffn1 = register_module("ffn1", FullyConnectedLayer(c, c * ffn_mult, true, Activation::LReLU));
  ffn2 = register_module("ffn2", FullyConnectedLayer(c * ffn_mult, c));
  qkv_fused = std::make_unique<FusedProjection>(std::vector<FullyConnectedLayer>{qk, v});
}

torch::Tensor SelfAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& extra) {
  // x: [N, C, H, W], extra: [N, extra_token_dim] (or undefined) -> [N, C, H, W]
  check_shape(x, {-1, channels, -1, -1}, "SelfAttention x");
  const int64_t n = x.size(0), h = x.size(2), wd = x.size(3);
  auto tokens = to_tokens(x);  // [N, HW, C]
  const int64_t hw = tokens.size(1);
  // Tied W_q = W_k: keys and values of the pixels (and the extra token) in
  // one projection, written side by side into kv; the queries are the first
  // HW rows of the keys.
  torch::Tensor kv;  // [N, HW(+1), 2C]: k | v
  if (extra_token_dim > 0) {
    check_shape(extra, {n, extra_token_dim}, "SelfAttention extra token");
    // The projected w joins the keys/values as one more token (normalized like
    // the pixels). Projected into kv's last row rather than concatenated
    // with the normalized pixels first: one copy of the tokens fewer.
    kv = torch::empty({n, hw + 1, 2 * channels}, tokens.options());
    qkv_fused->forward_cat(norm->forward(tokens), kv.narrow(1, 0, hw));
    qkv_fused->forward_cat(norm->forward(extra_proj->forward(extra).unsqueeze(1)), kv.narrow(1, hw, 1));
  } else {
    if (extra.defined()) throw ShapeError("SelfAttention: got an extra token but extra_token_dim == 0");
    kv = qkv_fused->forward_cat(norm->forward(tokens));
  }
  auto k = split_heads(kv.narrow(2, 0, channels), heads);           // [N*h, HW(+1), d]
  auto q = k.narrow(1, 0, hw);                                      // [N*h, HW, d]
  auto val = split_heads(kv.narrow(2, channels, channels), heads);  // [N*h, HW(+1), d]
  // -|q_i - k_j|^2 = 2 q_i.k_j - |k_j|^2 - |q_i|^2, one batched GEMM with the
  // logit scale folded into its alpha/beta. -|q_i|^2 is constant along a
  // softmax row, so the softmax never needs it: it is added only when the
  // logits are kept for inspection (the function is the same).
  count_matmul_flops(q.size(0), q.size(1), head_dim, k.size(1));
  auto k2 = k.square().sum(-1);                        // [B, Tk]; |q_i|^2 are its first HW
  auto logits = torch::baddbmm(k2.unsqueeze(1), q, k.transpose(1, 2), /*beta=*/-logit_scale,
                               /*alpha=*/2 * logit_scale);
  if (keep_logits)
    last_logits = (logits - logit_scale * k2.narrow(1, 0, hw).unsqueeze(2))
                      .view({n, heads, q.size(1), k.size(1)})
                      .select(1, 0)
                      .detach();
  auto a = merge_heads(attend(logits, val), heads);    // [N, HW, C]
  tokens = tokens + out->forward_scaled(a, residual_gain);
  tokens = tokens + ffn2->forward_scaled(ffn1->forward(ffn_norm->forward(tokens)), residual_gain);
  return from_tokens(tokens, h, wd);
}

std::vector<torch::Tensor> SelfAttentionImpl::weight_decay_parameters() const {
  std::vector<torch::Tensor> p;
  for (auto* fc : {&qk, &v, &out, &extra_proj, &ffn1, &ffn2}) push_weight(p, *fc);
  return p;
}

// ---------------------------------------------------------------------------
CrossAttentionImpl::CrossAttentionImpl(int64_t c, int64_t ctx, int64_t hd, double gain,
                                       int64_t ffn_mult)
    : channels(c),
      context_dim(ctx),
      heads(heads_for(c, hd, "CrossAttention")),
      head_dim(hd),
      residual_gain(gain) {
  norm = register_module("norm", LayerNorm(c));
  q = register_module("q", FullyConnectedLayer(c, c));
  k = register_module("k", FullyConnectedLayer(ctx, c));
  v = register_module("v", FullyConnectedLayer(ctx, c));
  out = register_module("out", FullyConnectedLayer(c, c));
  ffn_norm = register_module("ffn_norm", LayerNorm(c));
  ffn1 = register_module("ffn1", FullyConnectedLayer(c, c * ffn_mult, true, Activation::LReLU));
  ffn2 = register_module("ffn2", FullyConnectedLayer(c * ffn_mult, c));
  kv_fused = std::make_unique<FusedProjection>(std::vector<FullyConnectedLayer>{k, v});
}

torch::Tensor CrossAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& context) {
  // x: [N, C, H, W], context: [N, T, context_dim] -> [N, C, H, W]
  check_shape(x, {-1, channels, -1, -1}, "CrossAttention x");
  const int64_t n = x.size(0), h = x.size(2), wd = x.size(3);
  check_shape(context, {n, -1, context_dim}, "CrossAttention context");
  // t_local arrives already LayerNorm-ed by the text encoder T, so the keys and
  // values take it as is. Dot-product logits / sqrt(d_head): q, k ~ N(0,1)
  // components at init give unit-variance logits.
  auto tokens = to_tokens(x);
  // The 1/sqrt(d_head) logit scale is folded into the query projection's GEMM.
  auto qh = split_heads(q->forward_scaled(norm->forward(tokens),
                                          1.0 / std::sqrt(static_cast<double>(head_dim))),
                        heads);                                     // [N*h, HW, d]
  const auto kv = kv_fused->forward(context);
  auto kh = split_heads(kv[0], heads);                              // [N*h, T, d]
  auto vh = split_heads(kv[1], heads);
  count_matmul_flops(qh.size(0), qh.size(1), head_dim, kh.size(1));
  auto logits = torch::bmm(qh, kh.transpose(1, 2));
  auto a = merge_heads(attend(logits, vh), heads);
  tokens = tokens + out->forward_scaled(a, residual_gain);
  tokens = tokens + ffn2->forward_scaled(ffn1->forward(ffn_norm->forward(tokens)), residual_gain);
  return from_tokens(tokens, h, wd);
}

std::vector<torch::Tensor> CrossAttentionImpl::weight_decay_parameters() const {
  std::vector<torch::Tensor> p;
  for (auto* fc : {&q, &k, &v, &out, &ffn1, &ffn2}) push_weight(p, *fc);
  return p;
}

// ---------------------------------------------------------------------------
TokenTransformerLayerImpl::TokenTransformerLayerImpl(int64_t d, int64_t h, int64_t ffn_mult)
    : dim(d), heads(h) {
  if (d <= 0 || h <= 0 || d % h != 0)
    throw ConfigError("TokenTransformerLayer: heads (" + std::to_string(h) +
                      ") must be positive and divide dim (" + std::to_string(d) + ")");
  norm1 = register_module("norm1", LayerNorm(d));
  q = register_module("q", FullyConnectedLayer(d, d));
  k = register_module("k", FullyConnectedLayer(d, d));
  v = register_module("v", FullyConnectedLayer(d, d));
  out = register_module("out", FullyConnectedLayer(d, d));
  norm2 = register_module("norm2", LayerNorm(d));
  ffn1 = register_module("ffn1", FullyConnectedLayer(d, d * ffn_mult, true, Activation::GELU));
  ffn2 = register_module("ffn2", FullyConnectedLayer(d * ffn_mult, d));
  qkv_fused = std::make_unique<FusedProjection>(std::vector<FullyConnectedLayer>{q, k, v},
                                                std::vector<double>{1.0 / std::sqrt(static_cast<double>(d / h)), 1.0, 1.0});
}

torch::Tensor TokenTransformerLayerImpl::forward(const torch::Tensor& x) {
  // x: [N, T, dim] -> [N, T, dim]
  check_shape(x, {-1, -1, dim}, "TokenTransformerLayer x");
  const int64_t hd = dim / heads;
  auto hn = norm1->forward(x);
  const auto qkv = qkv_fused->forward(hn);  // q already scaled by 1/sqrt(d)
  auto qh = split_heads(qkv[0], heads);
  auto kh = split_heads(qkv[1], heads);
  auto vh = split_heads(qkv[2], heads);
  count_matmul_flops(qh.size(0), qh.size(1), hd, kh.size(1));
  auto logits = torch::bmm(qh, kh.transpose(1, 2));  // 1/sqrt(d) is in qh
  auto y = x + out->forward(merge_heads(attend(logits, vh), heads));
  return y + ffn2->forward(ffn1->forward(norm2->forward(y)));
}

std::vector<torch::Tensor> TokenTransformerLayerImpl::weight_decay_parameters() const {
  std::vector<torch::Tensor> p;
  for (auto* fc : {&q, &k, &v, &out, &ffn1, &ffn2}) push_weight(p, *fc);
  return p;
}

// ---------------------------------------------------------------------------
std::vector<torch::Tensor> attention_weight_decay_parameters(const torch::nn::Module& root) {
  std::vector<torch::Tensor> p;
  auto take = [&p](const std::vector<torch::Tensor>& v) { p.insert(p.end(), v.begin(), v.end()); };
  auto visit = [&take](const torch::nn::Module* m) {
    if (auto* a = dynamic_cast<const SelfAttentionImpl*>(m)) take(a->weight_decay_parameters());
    else if (auto* c = dynamic_cast<const CrossAttentionImpl*>(m)) take(c->weight_decay_parameters());
    else if (auto* t = dynamic_cast<const TokenTransformerLayerImpl*>(m))
      take(t->weight_decay_parameters());
  };
  visit(&root);  // (modules(include_self) needs a shared_ptr root)
  for (const auto& m : root.modules(/*include_self=*/false)) visit(m.get());
  return p;
}

}  // namespace gg

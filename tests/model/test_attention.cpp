// Tests of the attention layers: tied q/k and the L2 logit formula, logit
// scale at init, the w token, residual gain, cross-attention against a
// hand-written reference, shapes, FLOPs, weight-decay set.
// Ref: Kang et al. 2023 (GigaGAN), "Interleaving attention with convolution".
#include <QtTest/QtTest>

#include "attention.h"
#include "test_support.h"

using namespace gg;

namespace {
bool has_param(const torch::nn::Module& m, const std::string& name) {
  return m.named_parameters().contains(name);
}
}  // namespace

class TestAttention : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() { torch::manual_seed(7); }

  void self_attention_shapes_data() {
    QTest::addColumn<int>("batch");
    QTest::addColumn<int>("res");
    QTest::addColumn<int>("extra");
    QTest::newRow("n1/r4/w") << 1 << 4 << 6;
    QTest::newRow("n3/r8/w") << 3 << 8 << 6;
    QTest::newRow("n2/r4/no-w") << 2 << 4 << 0;
  }
  void self_attention_shapes() {
    QFETCH(int, batch);
    QFETCH(int, res);
    QFETCH(int, extra);
    SelfAttention a(16, 8, extra, 0.3);
    auto x = torch::randn({batch, 16, res, res});
    auto y = a->forward(x, extra ? torch::randn({batch, extra}) : torch::Tensor());
    QCOMPARE(y.sizes().vec(), x.sizes().vec());
    QVERIFY(torch::isfinite(y).all().item<bool>());
  }

  // One parameter serves as query and key weight; no separate key weight.
  void tied_query_key() {
    SelfAttention a(16, 8, 6, 0.3);
    QVERIFY(has_param(*a, "qk.weight"));
    for (const auto& p : a->named_parameters()) {
      const auto& n = p.key();
      QVERIFY2(n.rfind("k.", 0) != 0 && n.rfind("q.", 0) != 0 && n.find("key") == std::string::npos,
               n.c_str());
    }
  }

  // The kept logits equal -|q_i - k_j|^2 * logit_scale with q = k = qk(LN(x))
  // and the last key the projected, normalized w token.
  void l2_logits_formula() {
    const int64_t c = 16, hd = 8, ed = 6, n = 2, res = 4;
    SelfAttention a(c, hd, ed, 0.3);
    a->keep_logits = true;
    auto x = torch::randn({n, c, res, res});
    auto w = torch::randn({n, ed});
    a->forward(x, w);
    QCOMPARE(a->last_logits.sizes().vec(), (std::vector<int64_t>{n, res * res, res * res + 1}));
    torch::NoGradGuard ng;
    auto tok = x.flatten(2).transpose(1, 2);
    auto ln = [&](const torch::Tensor& t) {
      return torch::layer_norm(t, {c}, a->norm->weight, a->norm->bias, 1e-5);
    };
    auto wtok = ln(torch::matmul(w, (a->extra_proj->weight / std::sqrt(double(ed))).t()) +
                   a->extra_proj->bias).unsqueeze(1);
    auto kin = torch::cat({ln(tok), wtok}, 1);
    auto W = a->qk->weight / std::sqrt(double(c));
    auto q = torch::matmul(ln(tok), W.t()).narrow(2, 0, hd);  // head 0
    auto k = torch::matmul(kin, W.t()).narrow(2, 0, hd);
    auto d2 = (q.unsqueeze(2) - k.unsqueeze(1)).square().sum(-1);
    auto expect = -d2 / std::sqrt(6.0 * hd);
    QCOMPARE(a->logit_scale, 1.0 / std::sqrt(6.0 * hd));
    QVERIFY2(test::max_abs_diff(a->last_logits, expect) < 1e-4,
             std::to_string(test::max_abs_diff(a->last_logits, expect)).c_str());
  }

  // At init the logits are about unit normal: their spread over the keys of a
  // query (softmax ignores the per-query constant) has std close to 1.
  void logits_unit_normal_at_init() {
    SelfAttention a(128, 64, 0, 0.3);
    a->keep_logits = true;
    a->forward(torch::randn({4, 128, 16, 16}));
    auto l = a->last_logits;  // [N, HW, HW]
    // Exclude the diagonal (a token against itself has distance 0 with tied q/k).
    auto eye = torch::eye(l.size(1), torch::kBool).unsqueeze(0).expand_as(l);
    auto off = l.masked_select(~eye).view({l.size(0), l.size(1), -1});
    const double s = off.std(-1).mean().item<double>();
    QVERIFY2(s > 0.7 && s < 1.4, std::to_string(s).c_str());
  }

  // The w token matters, and with residual gain 0 the layer is the identity.
  void w_token_and_residual_gain() {
    SelfAttention a(16, 8, 6, 0.3);
    auto x = torch::randn({2, 16, 4, 4});
    auto w1 = torch::randn({2, 6}), w2 = torch::randn({2, 6});
    QVERIFY(test::max_abs_diff(a->forward(x, w1), a->forward(x, w2)) > 1e-4);
    SelfAttention id(16, 8, 6, 0.0);
    QCOMPARE(test::max_abs_diff(id->forward(x, w1), x), 0.0);
    GG_VERIFY_THROWS_WITH(a->forward(x), ShapeError, "extra token");
  }

  // Cross-attention against a direct formula with one head.
  void cross_attention_reference() {
    const int64_t c = 8, ctx = 5, t = 3, n = 2, res = 2;
    const double g = 0.5;
    CrossAttention a(c, ctx, /*head_dim=*/c, g, 2);
    torch::NoGradGuard ng;
    for (auto& p : a->parameters()) p.normal_();  // non-trivial biases and LN params too
    auto x = torch::randn({n, c, res, res});
    auto context = torch::randn({n, t, ctx});
    auto fc = [](const FullyConnectedLayer& l, const torch::Tensor& v) {
      return torch::matmul(v, (l->weight * l->weight_gain).t()) + l->bias;
    };
    auto tok = x.flatten(2).transpose(1, 2);
    auto q = fc(a->q, torch::layer_norm(tok, {c}, a->norm->weight, a->norm->bias));
    auto k = fc(a->k, context), v = fc(a->v, context);
    auto att = torch::softmax(torch::matmul(q, k.transpose(1, 2)) / std::sqrt(double(c)), -1);
    auto y = tok + g * fc(a->out, torch::matmul(att, v));
    auto h = torch::layer_norm(y, {c}, a->ffn_norm->weight, a->ffn_norm->bias);
    y = y + g * fc(a->ffn2, torch::leaky_relu(fc(a->ffn1, h), 0.2) * std::sqrt(2.0));
    auto expect = y.transpose(1, 2).reshape({n, c, res, res});
    QVERIFY(test::max_abs_diff(a->forward(x, context), expect) < 1e-4);
    GG_VERIFY_THROWS_WITH(a->forward(x, torch::randn({n, t, ctx + 1})), ShapeError,
                          "CrossAttention context");
  }

  void token_transformer() {
    TokenTransformerLayer l(16, 4);
    auto x = torch::randn({3, 7, 16});
    auto y = l->forward(x);
    QCOMPARE(y.sizes().vec(), x.sizes().vec());
    // Tokens interact: changing token 0 changes token 5's output.
    auto x2 = x.clone();
    x2[0][0] += torch::randn({16});  // (a constant shift would vanish in LayerNorm)
    QVERIFY(test::max_abs_diff(l->forward(x2)[0][5], y[0][5]) > 1e-5);
    GG_VERIFY_THROWS_WITH(TokenTransformerLayer(16, 5), ConfigError, "heads");
  }

  // Without gradients the key/value projections run as one fused GEMM from a
  // cached concatenated weight (FusedProjection); it must give what the
  // separate layers give (with gradients), also after the weights change in
  // place (the cache is keyed on their versions), and be really used.
  void fused_projections_match_separate_layers() {
    SelfAttention sa(16, 8, 6, 0.3);
    CrossAttention ca(16, 12, 8, 0.3);
    TokenTransformerLayer tt(16, 4);
    for (torch::nn::Module* m : std::initializer_list<torch::nn::Module*>{sa.get(), ca.get(), tt.get()}) {
      torch::NoGradGuard ng;
      for (auto& p : m->parameters()) p.normal_();  // non-zero biases
    }
    auto x = torch::randn({2, 16, 4, 4}), w = torch::randn({2, 6}), ctx = torch::randn({2, 5, 12}),
         tokens = torch::randn({2, 7, 16});
    auto run_all = [&] {
      return std::vector<torch::Tensor>{sa->forward(x, w), ca->forward(x, ctx), tt->forward(tokens)};
    };
    for (int round = 0; round < 2; ++round) {
      const auto separate = run_all();  // parameters require grad: the layers one by one
      for (const auto& y : separate) QVERIFY(y.requires_grad());
      std::vector<torch::Tensor> fused;
      {
        torch::NoGradGuard ng;
        fused = run_all();
        QVERIFY(test::max_abs_diff(run_all()[0], fused[0]) == 0);  // the cached weight, again
      }
      for (size_t i = 0; i < fused.size(); ++i)
        QVERIFY2(test::max_abs_diff(fused[i], separate[i].detach()) < 1e-4, qPrintable(QString::number(i)));
      torch::NoGradGuard ng;  // in-place changes bump the versions the cache is keyed on
      sa->v->bias.add_(1.0);
      sa->qk->weight.mul_(1.5);
      ca->k->weight.mul_(-1.0);
      ca->v->bias.add_(2.0);
      tt->q->weight.mul_(0.5);
      tt->v->bias.sub_(1.0);
    }
    // A cache built in InferenceMode serves a later call with gradients for
    // the input (inversion: frozen weights, x requires grad).
    SelfAttention sb(16, 8, 6, 0.3);
    for (auto& p : sb->parameters()) p.requires_grad_(false);
    {
      c10::InferenceMode im;
      sb->forward(x, w);
    }
    auto xg = x.clone().requires_grad_(true);
    sb->forward(xg, w).sum().backward();
    QVERIFY(xg.grad().defined() && xg.grad().abs().sum().item<double>() > 0);
    // Fused: the outputs are views of one GEMM's result.
    torch::NoGradGuard ng;
    const auto kv = ca->kv_fused->forward(torch::randn({2, 5, 12}));
    QVERIFY(kv[1].is_alias_of(kv[0]));
    QCOMPARE(kv[1].sizes().vec(), (std::vector<int64_t>{2, 5, 16}));
  }

  void flops_counted() {
    const int64_t c = 16, n = 2, hw = 16, ed = 6, m = 2;
    SelfAttention a(c, 8, ed, 0.3, m);
    FlopCounter fc;
    a->forward(torch::randn({n, c, 4, 4}), torch::randn({n, ed}));
    // q is not projected on its own: with W_q = W_k it is the first HW rows of k.
    const double proj = 2.0 * n * ((hw + 1) * c * c * 2  // k (tied with q), v
                                   + hw * c * c             // out
                                   + ed * c                 // w token
                                   + hw * c * c * m * 2);   // ffn
    const double attn = 2.0 * 2 * n * hw * (hw + 1) * c;  // logits + weighted sum, all heads
    QCOMPARE(fc.flops(), proj + attn);
  }

  void weight_decay_set() {
    torch::nn::Module root;
    root.register_module("sa", SelfAttention(16, 8, 6, 0.3));
    root.register_module("xa", CrossAttention(16, 5, 8, 0.3));
    root.register_module("tt", TokenTransformerLayer(16, 2));
    auto p = attention_weight_decay_parameters(root);
    QCOMPARE(p.size(), size_t(6 + 6 + 6));
    for (const auto& t : p) QCOMPARE(t.dim(), int64_t(2));  // weights only, no biases / LN
  }

  void meta_construction() {
    MetaScope meta;
    SelfAttention a(1024, 64, 1024, 0.3);
    for (const auto& p : a->parameters()) QVERIFY(p.is_meta());
    QVERIFY(count_parameters(*a) > 1024 * 1024 * 4);
  }
};

QTEST_GUILESS_MAIN(TestAttention)
#include "test_attention.moc"

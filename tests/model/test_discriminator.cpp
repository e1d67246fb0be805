// Tests of the GigaGAN discriminator (MS-I/O predictions, weight sharing, text conditioning).
#include <QtTest/QtTest>

#include <map>
#include <set>
#include <utility>

#include "discriminator.h"
#include "test_support.h"

using namespace gg;

namespace {

DiscriminatorConfig tiny_config(int resolution, int levels) {
  DiscriminatorConfig c;
  c.resolution = resolution;
  c.levels = levels;
  int layers = 0;
  while ((4 << layers) <= resolution) ++layers;  // log2(resolution) - 1
  c.channels.assign(layers + 1, 8);
  c.text_input_dim = 12;
  c.context_length = 6;
  c.text_dim = 16;
  c.text_layers = 1;
  c.text_heads = 2;
  c.attention_resolutions = {8, 16};
  c.attention_head_dim = 4;
  c.psi_channels = 0;
  return c;
}

// The paper-size configuration proposed for the `paper` preset.
DiscriminatorConfig paper_config() {
  DiscriminatorConfig c;
  c.resolution = 64;
  c.levels = 5;
  c.channels = {1024, 1536, 2048, 2048, 2048, 2048};
  c.text_input_dim = 768;
  c.context_length = 77;
  c.text_dim = 768;
  c.text_layers = 4;
  c.text_heads = 12;
  c.attention_resolutions = {8, 16, 32};
  c.attention_head_dim = 64;
  return c;
}

std::vector<torch::Tensor> random_pyramid(const DiscriminatorConfig& c, int64_t n) {
  std::vector<torch::Tensor> p;
  for (int i = 0; i < c.levels; ++i)
    p.push_back(torch::randn({n, 3, c.resolution >> i, c.resolution >> i}));
  return p;
}

using PairMap = std::map<std::pair<int, int>, torch::Tensor>;
PairMap by_pair(const std::vector<DiscriminatorPrediction>& preds) {
  PairMap m;
  for (const auto& p : preds) m[{p.i, p.j}] = p.logits;
  return m;
}

// Naive reference of D_ij: run phi from layer i to scale j for one level alone,
// using the module's own submodules.
torch::Tensor naive_dij(Discriminator& d, const torch::Tensor& x_i, int i, int j,
                        const torch::Tensor& t_d) {
  auto h = d->from_rgb[i]->as<Conv2dLayerImpl>()->forward(x_i);
  const int L = d->num_layers();
  for (int k = i; k < j; ++k) {
    if (d->attention[k]) h = d->attention[k]->forward(h);
    if (k + 1 < L)
      h = d->down[k]->forward(h);
    else
      h = d->last->forward(h.flatten(1)).view({h.size(0), -1, 1, 1});
  }
  return d->psi[j - 1]->as<DiscriminatorHeadImpl>()->forward(h, t_d) +
         d->exit_conv[j - 1]->as<Conv2dLayerImpl>()->forward(h);
}

}  // namespace

class TestDiscriminator : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void initTestCase() { torch::manual_seed(0); }

  void validateRejects_data() {
    QTest::addColumn<QString>("field");
    QTest::addColumn<QString>("needle");
    QTest::newRow("channels count") << "channels" << "channels: expected 5 entries";
    QTest::newRow("resolution pow2") << "resolution" << "resolution: must be a power of two";
    QTest::newRow("levels too many") << "levels" << "levels: must be in 1..4";
    QTest::newRow("attention res") << "attention_resolutions" << "attention_resolutions: entry 12";
    QTest::newRow("attention head dim") << "attention_head_dim" << "multiple of attention_head_dim";
    QTest::newRow("text heads") << "text_heads" << "text_heads: must be positive and divide";
  }
  void validateRejects() {
    QFETCH(QString, field);
    QFETCH(QString, needle);
    auto c = tiny_config(32, 4);
    c.validate();  // the baseline is valid
    if (field == "channels") c.channels = {8, 8, 8};
    if (field == "resolution") c.resolution = 48;
    if (field == "levels") c.levels = 5;
    if (field == "attention_resolutions") c.attention_resolutions = {12};
    if (field == "attention_head_dim") c.attention_head_dim = 3;
    if (field == "text_heads") c.text_heads = 3;
    GG_VERIFY_THROWS_WITH(c.validate(), ConfigError, needle.toStdString());
    GG_VERIFY_THROWS_WITH(Discriminator{c}, ConfigError, needle.toStdString());
  }

  void jsonRoundTrip() {
    const auto c = tiny_config(32, 4);
    const auto back = json(c).get<DiscriminatorConfig>();
    QCOMPARE(json(back), json(c));
    GG_VERIFY_THROWS_WITH(json::parse(R"({"resolutoin": 64})").get<DiscriminatorConfig>(),
                          ConfigError, "unknown field 'resolutoin'");
  }

  // Exactly one prediction per pair 0 <= i < levels, i < j <= num_layers, with r_j.
  void everyPairOnce_data() {
    QTest::addColumn<int>("resolution");
    QTest::addColumn<int>("levels");
    QTest::addColumn<int>("expected_pairs");
    QTest::newRow("16 px, 3 levels") << 16 << 3 << 6;
    QTest::newRow("32 px, 4 levels") << 32 << 4 << 10;
    QTest::newRow("64 px, 5 levels") << 64 << 5 << 15;
    QTest::newRow("32 px, 2 levels (upsampler-style)") << 32 << 2 << 7;
  }
  void everyPairOnce() {
    QFETCH(int, resolution);
    QFETCH(int, levels);
    QFETCH(int, expected_pairs);
    const auto c = tiny_config(resolution, levels);
    Discriminator d(c);
    const int64_t n = 2;
    const auto tokens = torch::randn({n, c.context_length, c.text_input_dim});
    const auto eot = torch::tensor({2, 5}, torch::kLong);
    const auto preds = d->forward(random_pyramid(c, n), tokens, eot);
    QCOMPARE(static_cast<int>(preds.size()), expected_pairs);
    QCOMPARE(d->num_predictions(), expected_pairs);
    std::set<std::pair<int, int>> seen;
    for (const auto& p : preds) {
      QVERIFY(p.i >= 0 && p.i < levels);
      QVERIFY(p.j > p.i && p.j <= d->num_layers());
      QVERIFY2(seen.insert({p.i, p.j}).second, "duplicate (i, j)");
      const int64_t r = p.j == d->num_layers() ? 1 : (resolution >> p.j);
      QCOMPARE(p.logits.sizes().vec(), (std::vector<int64_t>{n, 1, r, r}));
      QCOMPARE(d->scale_resolution(p.j), static_cast<int>(r));
    }
  }

  // The batched multi-stream forward equals running phi_{i->j} for each pair alone.
  void matchesNaivePerPair() {
    const auto c = tiny_config(32, 4);
    Discriminator d(c);
    const int64_t n = 3;
    const auto pyr = random_pyramid(c, n);
    const auto t_d = torch::randn({n, c.text_dim});
    torch::NoGradGuard ng;
    const auto preds = d->forward_with_text(pyr, t_d);
    for (const auto& p : preds) {
      const auto ref = naive_dij(d, pyr[p.i], p.i, p.j, t_d);
      const double diff = test::max_abs_diff(p.logits, ref);
      QVERIFY2(diff < 1e-4, qPrintable(QString("D_%1%2 differs by %3").arg(p.i).arg(p.j).arg(diff)));
    }
  }

  void forwardEqualsForwardWithText() {
    const auto c = tiny_config(16, 3);
    Discriminator d(c);
    const auto tokens = torch::randn({2, c.context_length, c.text_input_dim});
    const auto eot = torch::tensor({1, 4}, torch::kLong);
    const auto pyr = random_pyramid(c, 2);
    torch::NoGradGuard ng;
    const auto a = d->forward(pyr, tokens, eot);
    const auto b = d->forward_with_text(pyr, d->text_embedding(tokens, eot));
    QCOMPARE(a.size(), b.size());
    for (size_t k = 0; k < a.size(); ++k) QCOMPARE(test::max_abs_diff(a[k].logits, b[k].logits), 0.0);
    // t_D is read at each row's EOT position.
    const auto t_all = d->text_embedding(tokens, eot);
    const auto t_row0 = d->text_embedding(tokens.slice(0, 0, 1), torch::tensor({3}, torch::kLong));
    QVERIFY(test::max_abs_diff(t_all[0], t_row0[0]) > 1e-4);
  }

  // Late entry / early exit share one phi: perturbing fromRGB_0 changes only
  // i = 0; perturbing phi layer 3 changes the pairs with i <= 3 < j, nothing else.
  void weightsShared() {
    const auto c = tiny_config(64, 5);
    Discriminator d(c);
    const auto pyr = random_pyramid(c, 2);
    const auto t_d = torch::randn({2, c.text_dim});
    torch::NoGradGuard ng;
    const auto base = by_pair(d->forward_with_text(pyr, t_d));
    QCOMPARE(static_cast<int>(base.size()), 15);

    auto check = [&](const char* what, auto&& changed_expected) {
      const auto now = by_pair(d->forward_with_text(pyr, t_d));
      for (const auto& [ij, logits] : base) {
        const bool changed = test::max_abs_diff(now.at(ij), logits) > 1e-6;
        QVERIFY2(changed == changed_expected(ij.first, ij.second),
                 qPrintable(QString("%1: D_%2%3 changed=%4").arg(what).arg(ij.first).arg(ij.second).arg(changed)));
      }
    };
    auto& rgb0 = d->from_rgb[0]->as<Conv2dLayerImpl>()->weight;
    rgb0.add_(1.0);
    check("fromRGB_0", [](int i, int) { return i == 0; });
    rgb0.sub_(1.0);
    auto& w3 = d->down[3]->weight;  // layer 3: 8 px -> 4 px
    w3.add_(torch::randn_like(w3));
    check("phi layer 3", [](int i, int j) { return i <= 3 && j > 3; });
  }

  // psi_j depends on t_D; the Conv1x1 skip does not.
  void textConditioning() {
    const auto c = tiny_config(16, 3);
    Discriminator d(c);
    const auto pyr = random_pyramid(c, 2);
    const auto t1 = torch::randn({2, c.text_dim});
    const auto t2 = torch::randn({2, c.text_dim});
    torch::NoGradGuard ng;
    const auto a = d->forward_with_text(pyr, t1);
    const auto b = d->forward_with_text(pyr, t2);
    for (size_t k = 0; k < a.size(); ++k)
      QVERIFY2(test::max_abs_diff(a[k].logits, b[k].logits) > 1e-5, "text did not change D_ij");
    // Zero psi's last layer: psi == 0, so D_ij = Conv1x1_j(phi), independent of text.
    for (const auto& m : *d->psi) {
      auto last = m->as<DiscriminatorHeadImpl>()->layers[3]->as<TextModulatedConv2dImpl>();
      last->weight.zero_();
      last->bias.zero_();
    }
    const auto a0 = d->forward_with_text(pyr, t1);
    const auto b0 = d->forward_with_text(pyr, t2);
    for (size_t k = 0; k < a0.size(); ++k) {
      QCOMPARE(test::max_abs_diff(a0[k].logits, b0[k].logits), 0.0);
      QVERIFY(a0[k].logits.abs().max().item<double>() > 0);  // the skip branch is not zero
    }
  }

  // Several texts in one pass (phi once, heads per text) == one pass per text.
  void severalTextsMatchOnePassEach() {
    const auto c = tiny_config(16, 3);
    Discriminator d(c);
    const auto pyr = random_pyramid(c, 3);
    const auto t1 = torch::randn({3, c.text_dim});
    const auto t2 = torch::randn({3, c.text_dim});
    torch::NoGradGuard ng;
    const auto both = d->forward_with_texts(pyr, {t1, t2});
    QCOMPARE(both.size(), size_t(2));
    const auto a = d->forward_with_text(pyr, t1);
    const auto b = d->forward_with_text(pyr, t2);
    QCOMPARE(both[0].size(), a.size());
    QCOMPARE(both[1].size(), b.size());
    for (size_t k = 0; k < a.size(); ++k) {
      QCOMPARE(both[0][k].i, a[k].i);
      QCOMPARE(both[1][k].j, b[k].j);
      QVERIFY(test::max_abs_diff(both[0][k].logits, a[k].logits) < 1e-5);
      QVERIFY(test::max_abs_diff(both[1][k].logits, b[k].logits) < 1e-5);
    }
    QVERIFY(test::max_abs_diff(both[0][0].logits, both[1][0].logits) > 1e-5);
  }

  // Demodulated modulated conv equals the naive per-sample kernel formulation.
  void modulatedConvMatchesNaive() {
    TextModulatedConv2d m(5, 4, 3, 6, true, Activation::LReLU);
    const auto x = torch::randn({3, 5, 7, 7});
    const auto t = torch::randn({3, 6});
    torch::NoGradGuard ng;
    const auto y = m->forward(x, t);
    const auto s = m->affine->forward(t);
    for (int64_t n = 0; n < 3; ++n) {
      auto w = m->weight * m->weight_gain * s[n].view({1, -1, 1, 1});
      w = w * torch::rsqrt(w.square().sum({1, 2, 3}, true) + 1e-8);
      auto ref = torch::conv2d(x.slice(0, n, n + 1), w, m->bias, 1, 1);
      ref = torch::leaky_relu(ref, 0.2) * std::sqrt(2.0);
      QVERIFY(test::max_abs_diff(y.slice(0, n, n + 1), ref) < 1e-5);
    }
  }

  void gradientsReachEveryParameter() {
    const auto c = tiny_config(16, 3);
    Discriminator d(c);
    const auto tokens = torch::randn({2, c.context_length, c.text_input_dim});
    const auto eot = torch::tensor({2, 5}, torch::kLong);
    auto pyr = random_pyramid(c, 2);
    for (auto& x : pyr) x.requires_grad_(true);
    torch::Tensor loss = torch::zeros({});
    for (const auto& p : d->forward(pyr, tokens, eot)) loss = loss + torch::softplus(p.logits).mean();
    loss.backward();
    for (const auto& np : d->named_parameters()) {
      QVERIFY2(np.value().grad().defined(), qPrintable(QString::fromStdString(np.key())));
      QVERIFY2(np.value().grad().abs().sum().item<double>() > 0,
               qPrintable(QString::fromStdString("zero gradient: " + np.key())));
    }
    for (const auto& x : pyr) QVERIFY(x.grad().abs().sum().item<double>() > 0);
  }

  void shapeErrors() {
    const auto c = tiny_config(16, 3);
    Discriminator d(c);
    auto pyr = random_pyramid(c, 2);
    const auto t_d = torch::randn({2, c.text_dim});
    GG_VERIFY_THROWS_WITH(d->forward_with_text({pyr[0], pyr[1]}, t_d), ShapeError,
                          "expected a pyramid of 3 levels");
    pyr[1] = torch::randn({2, 3, 16, 16});
    GG_VERIFY_THROWS_WITH(d->forward_with_text(pyr, t_d), ShapeError, "pyramid[1]");
  }

  // The paper-size D builds on the meta device, allocates nothing, and has about
  // 381.4 M parameters (within 10%).
  void paperSizeOnMeta() {
    const auto c = paper_config();
    MetaScope meta;
    Discriminator d(c);
    for (const auto& p : d->parameters()) QVERIFY(p.device().is_meta());
    const double n = static_cast<double>(count_parameters(*d));
    qInfo("paper discriminator: %.1f M parameters", n / 1e6);
    QVERIFY2(std::abs(n - 381.4e6) < 0.1 * 381.4e6, qPrintable(QString::number(n)));
  }
};

QTEST_GUILESS_MAIN(TestDiscriminator)
#include "test_discriminator.moc"

// Tests of the generator: shapes of every module, t_local / t_global
// extraction, W+ equivalence and locality, gradients to every parameter, meta
// construction, noise modes, config validation messages.
// Ref: Kang et al. 2023 (GigaGAN), "Generator design".
#include <QtTest/QtTest>

#include "generator.h"
#include "test_support.h"
#include "widen.h"

using namespace gg;

namespace {
GeneratorConfig tiny_config(int resolution = 16) {
  GeneratorConfig c;
  c.z_dim = 16;
  c.text_input_dim = 24;
  c.context_length = 6;
  c.text_dim = 32;
  c.text_layers = 1;
  c.text_heads = 2;
  c.w_dim = 32;
  c.mapping_layers = 2;
  c.resolution = resolution;
  c.channels = resolution == 16 ? std::vector<int>{32, 32, 16} : std::vector<int>{16, 16, 16, 8, 8};
  c.blocks_per_level = 2;
  c.num_kernels = 4;
  c.attention_resolutions = {8};
  c.attention_head_dim = 16;
  return c;
}
struct Inputs {
  torch::Tensor z, tokens, eot;
};
Inputs make_inputs(const GeneratorConfig& c, int64_t n) {
  return {torch::randn({n, c.z_dim}), torch::randn({n, c.context_length, c.text_input_dim}),
          torch::randint(1, c.context_length, {n}, torch::kLong)};
}
}  // namespace

class TestGenerator : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() { torch::manual_seed(42); }

  void shapes() {
    const auto c = tiny_config();
    Generator G(c);
    const int64_t n = 3;
    auto in = make_inputs(c, n);
    auto text = G->encode_text(in.tokens, in.eot);
    QCOMPARE(text.t_local.sizes().vec(), (std::vector<int64_t>{n, c.context_length - 1, c.text_dim}));
    QCOMPARE(text.t_global.sizes().vec(), (std::vector<int64_t>{n, c.text_dim}));
    auto w = G->map(in.z, text.t_global);
    QCOMPARE(w.sizes().vec(), (std::vector<int64_t>{n, c.w_dim}));
    QCOMPARE(G->num_ws(), c.num_levels() * c.blocks_per_level);
    QCOMPARE(c.num_levels(), 3);
    auto pyr = G->forward(in.z, in.tokens, in.eot);
    QCOMPARE(int(pyr.size()), c.num_levels());
    for (size_t l = 0; l < pyr.size(); ++l) {
      const int64_t r = c.resolution >> l;
      QCOMPARE(pyr[l].sizes().vec(), (std::vector<int64_t>{n, 3, r, r}));
      QVERIFY(torch::isfinite(pyr[l]).all().item<bool>());
    }
    GG_VERIFY_THROWS_WITH(G->synthesize(G->broadcast_w(w).narrow(1, 0, 2),
                                        G->broadcast_t_local(text.t_local)),
                          ShapeError, "SynthesisNetwork ws");
    GG_VERIFY_THROWS_WITH(G->encode_text(in.tokens, torch::full({n}, c.context_length, torch::kLong)),
                          ShapeError, "eot_index");
  }

  void slot_metadata() {
    Generator G(tiny_config());
    const auto& s = G->slots();
    QCOMPARE(int(s.size()), 6);
    QCOMPARE(QString::fromStdString(s[0].name), QString("4px.b0"));
    QCOMPARE(QString::fromStdString(s[3].name), QString("8px.b1"));
    QCOMPARE(s[3].resolution, 8);
    QCOMPARE(s[5].index, 5);
    QCOMPARE(s[5].level, 2);
    QCOMPARE(s[5].block, 1);
    QVERIFY(G->named_parameters().contains("synthesis.b8.block1.attn.qk.weight"));
    QVERIFY(G->named_parameters().contains("synthesis.b16.torgb.weight"));
    QVERIFY(!G->named_parameters().contains("synthesis.b16.block0.attn.qk.weight"));  // no attn at 16
    QVERIFY(G->named_buffers().contains("synthesis.b4.block0.noise_const"));
  }

  // t_local = every token but EOT (order kept), t_global = the EOT token:
  // checked against the encoder's full output sequence recomputed by hand.
  void text_local_global_split() {
    const auto c = tiny_config();
    TextEncoder T(c);
    auto tokens = torch::randn({3, c.context_length, c.text_input_dim});
    auto eot = torch::tensor({0, 2, 5}, torch::kLong);
    auto out = T->forward(tokens, eot);
    auto full = T->input_proj->forward(tokens) + T->position_embedding;
    for (auto& l : T->layers) full = l->forward(full);
    full = T->final_norm->forward(full);
    for (int64_t i = 0; i < 3; ++i) {
      const int64_t e = eot[i].item<int64_t>();
      std::vector<torch::Tensor> keep;
      for (int64_t j = 0; j < c.context_length; ++j)
        if (j != e) keep.push_back(full[i][j]);
      QVERIFY(test::max_abs_diff(out.t_local[i], torch::stack(keep)) < 1e-6);
      QVERIFY(test::max_abs_diff(out.t_global[i], full[i][e]) < 1e-6);
    }
    // int32 indices are accepted too.
    QVERIFY(test::max_abs_diff(T->forward(tokens, eot.to(torch::kInt)).t_global, out.t_global) == 0);
  }

  // One w broadcast to every slot == the same w given per slot (materialised copies).
  void w_plus_equivalence() {
    const auto c = tiny_config();
    Generator G(c);
    auto in = make_inputs(c, 2);
    auto pyr = G->forward(in.z, in.tokens, in.eot);
    auto text = G->encode_text(in.tokens, in.eot);
    auto w = G->map(in.z, text.t_global);
    auto ws = torch::stack(std::vector<torch::Tensor>(G->num_ws(), w), 1);  // [N, num_ws, w_dim]
    auto ts = torch::stack(std::vector<torch::Tensor>(G->num_ws(), text.t_local), 1);
    QVERIFY(ws.is_contiguous());
    auto pyr2 = G->synthesize(ws, ts);
    for (size_t l = 0; l < pyr.size(); ++l) QVERIFY(test::max_abs_diff(pyr[l], pyr2[l]) < 1e-5);
  }

  // Changing the w (and t_local) of the 64 px slots only leaves 4..32 px unchanged.
  void w_plus_locality() {
    const auto c = tiny_config(64);
    Generator G(c);
    QCOMPARE(c.num_levels(), 5);
    torch::NoGradGuard ng;
    auto in = make_inputs(c, 2);
    auto text = G->encode_text(in.tokens, in.eot);
    auto ws = G->broadcast_w(G->map(in.z, text.t_global)).clone();
    auto ts = G->broadcast_t_local(text.t_local).clone();
    auto a = G->synthesize(ws, ts);
    for (const auto& s : G->slots())
      if (s.resolution == 64) {
        ws.select(1, s.index).normal_();
        ts.select(1, s.index).normal_();
      }
    auto b = G->synthesize(ws, ts);
    QVERIFY(test::max_abs_diff(a[0], b[0]) > 1e-3);  // the 64 px level changes
    for (size_t l = 1; l < a.size(); ++l) QCOMPARE(test::max_abs_diff(a[l], b[l]), 0.0);
  }

  // A loss on every pyramid level reaches every trainable parameter of G.
  void gradients_reach_every_parameter() {
    const auto c = tiny_config();
    Generator G(c);
    {
      torch::NoGradGuard ng;  // non-zero noise strengths so their own gradients flow as in training
      for (auto& p : G->named_parameters())
        if (p.key().find("noise_strength") != std::string::npos) p.value().fill_(0.1);
    }
    auto in = make_inputs(c, 2);
    auto pyr = G->forward(in.z, in.tokens, in.eot);
    auto loss = torch::zeros({});
    for (auto& x : pyr) loss = loss + (x * torch::randn_like(x)).sum();
    loss.backward();
    int checked = 0;
    for (const auto& p : G->named_parameters()) {
      QVERIFY2(p.value().grad().defined(), ("no gradient: " + p.key()).c_str());
      QVERIFY2(p.value().grad().abs().sum().item<double>() > 0, ("zero gradient: " + p.key()).c_str());
      ++checked;
    }
    QVERIFY(checked > 50);
  }

  // Meta construction allocates nothing and counts the same parameters.
  void meta_construction() {
    const auto c = tiny_config();
    int64_t real = count_parameters(*Generator(c));
    MetaScope meta;
    Generator G(c);
    for (const auto& p : G->parameters()) QVERIFY(p.is_meta());
    for (const auto& b : G->buffers()) QVERIFY(b.is_meta());
    QCOMPARE(count_parameters(*G), real);
    QVERIFY(real > 0);
  }

  void noise_modes() {
    const auto c = tiny_config();
    Generator G(c);
    torch::NoGradGuard ng;
    for (auto& p : G->named_parameters())
      if (p.key().find("noise_strength") != std::string::npos) p.value().fill_(0.5);
    auto in = make_inputs(c, 1);
    auto run = [&](NoiseMode m) {
      G->synthesis->noise_mode = m;
      return G->forward(in.z, in.tokens, in.eot)[0];
    };
    QCOMPARE(test::max_abs_diff(run(NoiseMode::Const), run(NoiseMode::Const)), 0.0);
    QVERIFY(test::max_abs_diff(run(NoiseMode::Random), run(NoiseMode::Random)) > 1e-4);
    QVERIFY(test::max_abs_diff(run(NoiseMode::None), run(NoiseMode::Const)) > 1e-4);
    QCOMPARE(parse_noise_mode(noise_mode_name(NoiseMode::Random)), NoiseMode::Random);
  }

  // Inference takes fast paths the training graph does not: the const-noise
  // term cached in the output's layout, and at batch 1 the adaptive convs'
  // cached bank/styles with the per-layer vector arithmetic in plain loops.
  // The whole generator agrees with its gradient-mode forward (the reference
  // ops) at batch 1 and 2, also after noise strengths change in place.
  void inference_paths_match_the_gradient_forward() {
    const auto c = tiny_config();
    Generator G(c);
    G->synthesis->noise_mode = NoiseMode::Const;
    for (int64_t n : {1, 2})
      for (int round = 0; round < 2; ++round) {
        {
          torch::NoGradGuard ng;
          for (auto& p : G->named_parameters())
            if (p.key().find("noise_strength") != std::string::npos) p.value().fill_(round == 0 ? 0.5 : -0.3);
        }
        auto in = make_inputs(c, n);
        const auto ref = G->forward(in.z, in.tokens, in.eot)[0].detach();  // gradients on: reference ops
        torch::Tensor got_nograd, got_inference;
        {
          torch::NoGradGuard ng;
          got_nograd = G->forward(in.z, in.tokens, in.eot)[0];
        }
        {
          c10::InferenceMode im;
          got_inference = G->forward(in.z, in.tokens, in.eot)[0].clone();
        }
        const std::string where = "round " + std::to_string(round) + " batch " + std::to_string(n);
        QVERIFY2(test::max_abs_diff(got_nograd, ref) < 1e-4, where.c_str());
        QVERIFY2(test::max_abs_diff(got_inference, ref) < 1e-4, where.c_str());
      }
  }

  void truncation() {
    const auto c = tiny_config();
    Generator G(c);
    torch::NoGradGuard ng;
    auto in = make_inputs(c, 2);
    auto t = G->encode_text(in.tokens, in.eot).t_global;
    auto avg = G->mean_w(t, 64);
    QCOMPARE(avg.sizes().vec(), (std::vector<int64_t>{2, c.w_dim}));
    auto w = G->map(in.z, t);
    QCOMPARE(test::max_abs_diff(Generator::Impl::truncate(w, avg, 0.0), avg), 0.0);
    QVERIFY(test::max_abs_diff(Generator::Impl::truncate(w, avg, 1.0), w) < 1e-6);
  }

  void validate_names_the_field_data() {
    QTest::addColumn<QString>("field");
    QTest::addColumn<QString>("needle");
    QTest::newRow("channels") << "channels" << "channels: expected 3 entries";
    QTest::newRow("resolution") << "resolution" << "resolution";
    QTest::newRow("attention_resolutions") << "attention_resolutions" << "attention_resolutions";
    QTest::newRow("attention_head_dim") << "attention_head_dim" << "attention_head_dim";
    QTest::newRow("noise_mode_default") << "noise_mode_default" << "noise_mode_default";
    QTest::newRow("w_dim") << "w_dim" << "w_dim";
    QTest::newRow("text_heads") << "text_heads" << "text_heads";
    QTest::newRow("num_kernels") << "num_kernels" << "num_kernels";
    QTest::newRow("blocks_per_level") << "blocks_per_level" << "blocks_per_level";
    QTest::newRow("context_length") << "context_length" << "context_length";
    QTest::newRow("channels_entry") << "channels_entry" << "channels[1]: must be in [1, 16384]";
  }
  void validate_names_the_field() {
    QFETCH(QString, field);
    QFETCH(QString, needle);
    auto c = tiny_config();
    c.validate();  // the base config is valid
    const auto f = field.toStdString();
    if (f == "channels") c.channels = {32, 32};
    if (f == "resolution") c.resolution = 24;
    if (f == "attention_resolutions") c.attention_resolutions = {32};
    if (f == "attention_head_dim") c.attention_head_dim = 12;
    if (f == "noise_mode_default") c.noise_mode_default = "loud";
    if (f == "w_dim") c.w_dim = 0;
    if (f == "text_heads") c.text_heads = 5;
    if (f == "num_kernels") c.num_kernels = 0;
    if (f == "blocks_per_level") c.blocks_per_level = 0;
    if (f == "context_length") c.context_length = 1;
    if (f == "channels_entry") c.channels[1] = 0;
    GG_VERIFY_THROWS_WITH(c.validate(), ConfigError, needle.toStdString());
    GG_VERIFY_THROWS_WITH(Generator{c}, ConfigError, needle.toStdString());
  }

  // Net2Net widening (widen.h): the wider G draws exactly what the narrow one
  // drew, its new channels get gradients, and what cannot be widened is refused.
  void widenKeepsTheFunctionAndLearns() {
    const auto c = tiny_config(64);  // levels 4..64 px, attention at 8 px only
    Generator narrow(c);
    {
      torch::NoGradGuard ng;  // move every weight off its initial value (zero biases would hide errors)
      for (auto& p : narrow->parameters()) p.add_(torch::randn_like(p) * 0.1);
    }
    auto wide_config = c;
    wide_config.channels = {16, 16, 24, 16, 12};  // 16, 32 and 64 px grow
    Generator wide(wide_config);
    widen_generator(wide, c, state_dict(*narrow), "narrow");
    auto in = make_inputs(c, 3);
    auto a = narrow->forward(in.z, in.tokens, in.eot);
    auto b = wide->forward(in.z, in.tokens, in.eot);
    QCOMPARE(a.size(), b.size());
    for (size_t l = 0; l < a.size(); ++l) QVERIFY2(test::max_abs_diff(a[l], b[l]) < 1e-5, std::to_string(l).c_str());
    // The narrow weights sit in the leading slices, scaled by sqrt(in_wide / in_narrow).
    auto nw = state_dict(*narrow).at("synthesis.b64.block1.conv.weight");  // [4, 8, 8, 3, 3]
    auto ww = state_dict(*wide).at("synthesis.b64.block1.conv.weight");    // [4, 12, 12, 3, 3]
    QCOMPARE(ww.sizes().vec(), (std::vector<int64_t>{4, 12, 12, 3, 3}));
    QVERIFY(test::max_abs_diff(ww.narrow(1, 0, 8).narrow(2, 0, 8), nw * std::sqrt(12.0 / 8.0)) < 1e-6);
    QCOMPARE(ww.narrow(2, 8, 4).abs().max().item<double>(), 0.0);  // nothing flows out of a new channel yet
    QVERIFY(ww.narrow(1, 8, 4).abs().max().item<double>() > 0.1);  // new channels compute something
    // Gradients reach the zero weights out of the new channels, so they learn.
    b[0].square().mean().backward();
    auto named = wide->named_parameters();
    QVERIFY(named["synthesis.b64.block1.conv.weight"].grad().narrow(2, 8, 4).abs().max().item<double>() > 0);
    QVERIFY(named["synthesis.b64.torgb.weight"].grad().narrow(2, 8, 4).abs().max().item<double>() > 0);

    // A level with attention mixes every channel: refused, naming it.
    auto attention_wider = c;
    attention_wider.channels = {16, 32, 16, 8, 8};
    Generator g2(attention_wider);
    GG_VERIFY_THROWS_WITH(widen_generator(g2, c, state_dict(*narrow), "narrow"), ConfigError, "8 px");
    // Anything but widths differing, or fewer channels: refused.
    auto other = wide_config;
    other.w_dim = 48;
    Generator g3(other);
    GG_VERIFY_THROWS_WITH(widen_generator(g3, c, state_dict(*narrow), "narrow"), ConfigError, "only channel widths");
    auto thinner = c;
    thinner.channels = {16, 16, 16, 8, 4};
    Generator g4(thinner);
    GG_VERIFY_THROWS_WITH(widen_generator(g4, c, state_dict(*narrow), "narrow"), ConfigError, "cannot remove");
  }

  void json_round_trip() {
    const auto c = tiny_config();
    json j = c;
    const auto back = j.get<GeneratorConfig>();
    QCOMPARE(json(back).dump(), j.dump());
    QCOMPARE(back.num_ws(), c.num_ws());
  }
};

QTEST_GUILESS_MAIN(TestGenerator)
#include "test_generator.moc"

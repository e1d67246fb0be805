// Tests of the CLIP text and vision towers (model/clip.h): HF key names and
// shapes, the ViT-L/14 parameter count, causal masking, EOT pooling, attention
// against a naive per-head loop, pre-LN layers with quick-GELU, batch
// independence, preprocessing against a naive antialiased resize, config
// validation and HF config.json parsing, and the strict HF safetensors loader.
// Ref: HF transformers modeling_clip.py / configuration_clip.py.
#include <QTemporaryDir>

#include <cmath>
#include <fstream>
#include <utility>

#include "checkpoint.h"
#include "clip.h"
#include "safetensors.h"
#include "test_support.h"

using gg::test::max_abs_diff;

namespace {

// Text: vocab 50, 7 positions, D 8, 2 layers, 2 heads. Vision: 8 px images,
// 4 px patches (2x2 grid + class = 5 tokens), D 12, 3 layers, 3 heads.
gg::ClipConfig tiny_config() {
  gg::ClipConfig c;
  auto& t = c.text_config;
  t.vocab_size = 50;
  t.max_position_embeddings = 7;
  t.hidden_size = 8;
  t.intermediate_size = 16;
  t.num_hidden_layers = 2;
  t.num_attention_heads = 2;
  t.bos_token_id = 48;
  t.eos_token_id = 49;
  t.pad_token_id = 49;
  auto& v = c.vision_config;
  v.image_size = 8;
  v.patch_size = 4;
  v.hidden_size = 12;
  v.intermediate_size = 20;
  v.num_hidden_layers = 3;
  v.num_attention_heads = 3;
  c.projection_dim = 6;
  return c;
}

// Rows of 7 tokens: BOS, random words, EOT at eot[i], EOT padding after it.
torch::Tensor make_ids(const std::vector<int64_t>& eot, int64_t len = 7) {
  auto ids = torch::randint(0, 48, {static_cast<int64_t>(eot.size()), len}, torch::kLong);
  for (size_t i = 0; i < eot.size(); ++i) {
    ids[i][0] = 48;
    ids[i].slice(0, eot[i]).fill_(49);
  }
  return ids;
}

// Naive multi-head attention, one sample and one head at a time.
torch::Tensor naive_attention(gg::ClipAttentionImpl& a, const torch::Tensor& x, const torch::Tensor& mask) {
  const int64_t n = x.size(0), t = x.size(1), d = a.dim, h = a.heads, hd = d / h;
  auto out = torch::zeros({n, t, d});
  for (int64_t i = 0; i < n; ++i) {
    std::vector<torch::Tensor> heads;
    for (int64_t j = 0; j < h; ++j) {
      auto rows = [&](const gg::Linear& l) {
        auto w = l->weight.slice(0, j * hd, (j + 1) * hd);
        auto b = l->bias.slice(0, j * hd, (j + 1) * hd);
        return torch::mm(x[i], w.t()) + b;  // [T, hd]
      };
      auto q = rows(a.q_proj), k = rows(a.k_proj), v = rows(a.v_proj);
      auto s = torch::mm(q, k.t()) / std::sqrt(static_cast<double>(hd));
      if (mask.defined()) s = s + mask;
      heads.push_back(torch::mm(torch::softmax(s, -1), v));
    }
    out[i] = torch::mm(torch::cat(heads, 1), a.out_proj->weight.t()) + a.out_proj->bias;
  }
  return out;
}

// PIL / torch antialiased bilinear resampling weights, [out, in], written
// from the definition: a triangle filter stretched by the scale when shrinking.
torch::Tensor aa_weights(int64_t in, int64_t out) {
  const double scale = static_cast<double>(in) / out;
  const double support = scale >= 1.0 ? scale : 1.0;
  const double inv = scale >= 1.0 ? 1.0 / scale : 1.0;
  auto w = torch::zeros({out, in}, torch::kDouble);
  for (int64_t i = 0; i < out; ++i) {
    const double center = scale * (i + 0.5);
    const int64_t lo = std::max<int64_t>(static_cast<int64_t>(center - support + 0.5), 0);
    const int64_t hi = std::min<int64_t>(static_cast<int64_t>(center + support + 0.5), in);
    double total = 0;
    for (int64_t j = lo; j < hi; ++j) {
      const double x = std::abs((j - center + 0.5) * inv);
      const double f = x < 1.0 ? 1.0 - x : 0.0;
      w[i][j] = f;
      total += f;
    }
    w[i] /= total;
  }
  return w;
}

const double kMean[3] = {0.48145466, 0.4578275, 0.40821073};
const double kStd[3] = {0.26862954, 0.26130258, 0.27577711};

torch::Tensor normalise_ref(const torch::Tensor& x01) {  // [N, 3, H, W] in [0, 1]
  auto m = torch::tensor({kMean[0], kMean[1], kMean[2]}, torch::kDouble).view({1, 3, 1, 1});
  auto s = torch::tensor({kStd[0], kStd[1], kStd[2]}, torch::kDouble).view({1, 3, 1, 1});
  return (x01.to(torch::kDouble) - m) / s;
}

// A hand-written HF-style config.json for tiny_config(), with the unrelated
// keys an HF file carries.
std::string tiny_hf_config_json() {
  return R"({
  "architectures": ["CLIPModel"],
  "initializer_factor": 1.0,
  "logit_scale_init_value": 2.6592,
  "model_type": "clip",
  "projection_dim": 6,
  "torch_dtype": "float32",
  "transformers_version": "4.21.3",
  "text_config": {
    "_name_or_path": "", "architectures": null, "attention_dropout": 0.0, "dropout": 0.0,
    "bos_token_id": 48, "eos_token_id": 49, "pad_token_id": 49,
    "hidden_act": "quick_gelu", "hidden_size": 8, "id2label": {"0": "LABEL_0"},
    "initializer_range": 0.02, "intermediate_size": 16, "layer_norm_eps": 1e-05,
    "max_position_embeddings": 7, "model_type": "clip_text_model",
    "num_attention_heads": 2, "num_hidden_layers": 2, "projection_dim": 6, "vocab_size": 50
  },
  "vision_config": {
    "attention_dropout": 0.0, "dropout": 0.0, "hidden_act": "quick_gelu", "hidden_size": 12,
    "image_size": 8, "initializer_range": 0.02, "intermediate_size": 20, "layer_norm_eps": 1e-05,
    "model_type": "clip_vision_model", "num_attention_heads": 3, "num_channels": 3,
    "num_hidden_layers": 3, "patch_size": 4, "projection_dim": 6
  }
})";
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
}

struct HfFolder {
  QTemporaryDir dir;
  std::string path() const { return dir.path().toStdString(); }
  std::string weights() const { return path() + "/model.safetensors"; }
};

// The model's state dict plus HF's position_ids buffers, as a real file has them.
gg::TensorMap hf_state_dict(gg::ClipModel& m) {
  auto sd = gg::state_dict(*m);
  sd["text_model.embeddings.position_ids"] = torch::arange(7, torch::kLong).view({1, 7});
  sd["vision_model.embeddings.position_ids"] = torch::arange(5, torch::kLong).view({1, 5});
  return sd;
}

}  // namespace

class TestClip : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void initTestCase() { torch::manual_seed(0); }

  // The full parameter list, in order, equals HF CLIPModel's state dict for
  // this config (written out by hand from modeling_clip.py).
  void keysAndShapesMatchHf() {
    gg::ClipModel m(tiny_config());
    std::vector<std::pair<std::string, std::vector<int64_t>>> want;
    auto add = [&](const std::string& k, std::vector<int64_t> s) { want.emplace_back(k, std::move(s)); };
    auto layers = [&](const std::string& p, int n, int64_t d, int64_t ff) {
      for (int i = 0; i < n; ++i) {
        const std::string l = p + ".encoder.layers." + std::to_string(i) + ".";
        for (const char* proj : {"k_proj", "v_proj", "q_proj", "out_proj"}) {
          add(l + "self_attn." + proj + ".weight", {d, d});
          add(l + "self_attn." + proj + ".bias", {d});
        }
        add(l + "layer_norm1.weight", {d});
        add(l + "layer_norm1.bias", {d});
        add(l + "mlp.fc1.weight", {ff, d});
        add(l + "mlp.fc1.bias", {ff});
        add(l + "mlp.fc2.weight", {d, ff});
        add(l + "mlp.fc2.bias", {d});
        add(l + "layer_norm2.weight", {d});
        add(l + "layer_norm2.bias", {d});
      }
    };
    // LibTorch lists a module's own parameters before its children's, so
    // CLIPModel's logit_scale (last in HF's state dict) comes first; the rest
    // is in HF's registration order.
    add("logit_scale", {});
    add("text_model.embeddings.token_embedding.weight", {50, 8});
    add("text_model.embeddings.position_embedding.weight", {7, 8});
    layers("text_model", 2, 8, 16);
    add("text_model.final_layer_norm.weight", {8});
    add("text_model.final_layer_norm.bias", {8});
    add("vision_model.embeddings.class_embedding", {12});
    add("vision_model.embeddings.patch_embedding.weight", {12, 3, 4, 4});
    add("vision_model.embeddings.position_embedding.weight", {5, 12});
    add("vision_model.pre_layrnorm.weight", {12});
    add("vision_model.pre_layrnorm.bias", {12});
    layers("vision_model", 3, 12, 20);
    add("vision_model.post_layernorm.weight", {12});
    add("vision_model.post_layernorm.bias", {12});
    add("visual_projection.weight", {6, 12});
    add("text_projection.weight", {6, 8});

    auto params = m->named_parameters(true);
    QCOMPARE(params.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      const auto& item = params[i];
      QCOMPARE(QString::fromStdString(item.key()), QString::fromStdString(want[i].first));
      QVERIFY2(item.value().sizes().vec() == want[i].second,
               (item.key() + ": got " + gg::shape_str(item.value().sizes())).c_str());
    }
    QCOMPARE(m->named_buffers(true).size(), size_t(0));
    QCOMPARE(m->logit_scale.item<float>(), 2.6592f);
  }

  // The default config is ViT-L/14; built on the meta device it allocates
  // nothing and has exactly HF openai/clip-vit-large-patch14's parameter count.
  void metaVitL14ParameterCount() {
    gg::ClipModel m{nullptr};
    {
      gg::MetaScope meta;
      m = gg::ClipModel(gg::ClipConfig{});
    }
    QCOMPARE(gg::count_parameters(*m), int64_t(427616513));
    for (const auto& p : m->parameters()) QVERIFY(p.is_meta());
    QCOMPARE(m->config.text_feature_layer, -2);
  }

  void outputShapes() {
    gg::ClipModel m(tiny_config());
    auto ids = make_ids({3, 6, 5});
    auto t = m->text_model(ids);
    QCOMPARE(t.hidden_states.size(), size_t(3));
    for (const auto& h : t.hidden_states) QCOMPARE(h.sizes().vec(), (std::vector<int64_t>{3, 7, 8}));
    QCOMPARE(t.last_hidden_state.sizes().vec(), (std::vector<int64_t>{3, 7, 8}));
    QCOMPARE(t.pooled.sizes().vec(), (std::vector<int64_t>{3, 8}));

    auto f = m->text_features(ids);
    QCOMPARE(f.tokens.sizes().vec(), (std::vector<int64_t>{3, 7, 8}));
    QCOMPARE(f.eot_index.sizes().vec(), (std::vector<int64_t>{3}));
    QVERIFY(f.eot_index.scalar_type() == torch::kLong);
    QCOMPARE(f.pooled.sizes().vec(), (std::vector<int64_t>{3, 8}));

    auto px = torch::randn({2, 3, 8, 8});
    auto v = m->vision_model(px);
    QCOMPARE(v.hidden_states.size(), size_t(4));
    for (const auto& h : v.hidden_states) QCOMPARE(h.sizes().vec(), (std::vector<int64_t>{2, 5, 12}));
    QCOMPARE(v.pooled.sizes().vec(), (std::vector<int64_t>{2, 12}));

    auto te = m->encode_text(ids);
    QCOMPARE(te.sizes().vec(), (std::vector<int64_t>{3, 6}));
    QVERIFY(max_abs_diff(te.norm(2, -1), torch::ones({3})) < 1e-5);
    auto ie = m->encode_image(torch::rand({2, 3, 20, 14}) * 2 - 1);  // any size
    QCOMPARE(ie.sizes().vec(), (std::vector<int64_t>{2, 6}));
    QVERIFY(max_abs_diff(ie.norm(2, -1), torch::ones({2})) < 1e-5);
    // encode_* are the normalised HF get_*_features.
    QVERIFY(max_abs_diff(te, m->text_embeds(ids) / m->text_embeds(ids).norm(2, -1, true)) < 1e-6);
  }

  void badInputsThrow() {
    gg::ClipModel m(tiny_config());
    GG_VERIFY_THROWS_WITH(m->vision_model(torch::randn({1, 3, 16, 16})), gg::ShapeError, "clip_preprocess");
    GG_VERIFY_THROWS_WITH(m->text_model(make_ids({3}, 8)), gg::PromptError, "max_position_embeddings");
    auto ids = make_ids({3});
    ids[0][1] = 50;
    GG_VERIFY_THROWS_WITH(m->text_model(ids), gg::PromptError, "token id 50");
    GG_VERIFY_THROWS_WITH(m->text_model(torch::zeros({1, 7})), gg::ShapeError, "integer");
  }

  // Changing the token at position t leaves every hidden state before t
  // unchanged and changes position t.
  void causalMask_data() {
    QTest::addColumn<int>("t");
    QTest::newRow("t=1") << 1;
    QTest::newRow("t=3") << 3;
    QTest::newRow("t=5") << 5;
  }
  void causalMask() {
    QFETCH(int, t);
    gg::ClipModel m(tiny_config());
    auto a = make_ids({6});
    auto b = a.clone();
    b[0][t] = (a[0][t].item<int64_t>() + 7) % 48;
    auto ha = m->text_model(a), hb = m->text_model(b);
    for (size_t l = 0; l < ha.hidden_states.size(); ++l) {
      if (t > 0)
        QVERIFY(max_abs_diff(ha.hidden_states[l].slice(1, 0, t), hb.hidden_states[l].slice(1, 0, t)) < 1e-6);
      QVERIFY(max_abs_diff(ha.hidden_states[l].select(1, t), hb.hidden_states[l].select(1, t)) > 1e-4);
    }
  }

  void eotPooling() {
    gg::ClipModel m(tiny_config());
    auto ids = make_ids({2, 6, 4});  // rows padded with EOT after the first one
    auto eot = m->text_model->eot_index(ids);
    QCOMPARE(eot.sizes().vec(), (std::vector<int64_t>{3}));
    QCOMPARE(eot[0].item<int64_t>(), int64_t(2));
    QCOMPARE(eot[1].item<int64_t>(), int64_t(6));
    QCOMPARE(eot[2].item<int64_t>(), int64_t(4));
    auto out = m->text_model(ids);
    for (int64_t i = 0; i < 3; ++i)
      QVERIFY(max_abs_diff(out.pooled[i], out.last_hidden_state[i][eot[i].item<int64_t>()]) == 0.0);
    // Tokens after the EOT (padding) cannot change the pooled output.
    auto other = ids.clone();
    other[0].slice(0, 3).fill_(7);
    auto out2 = m->text_model(other);
    QCOMPARE(m->text_model->eot_index(other)[0].item<int64_t>(), int64_t(2));
    QVERIFY(max_abs_diff(out.pooled[0], out2.pooled[0]) < 1e-6);
    // text_features pools at the same position.
    auto f = m->text_features(ids);
    for (int64_t i = 0; i < 3; ++i)
      QVERIFY(max_abs_diff(f.pooled[i], f.tokens[i][eot[i].item<int64_t>()]) == 0.0);
    // A row without an EOT is an error naming the row.
    auto bad = ids.clone();
    bad[1].fill_(5);
    GG_VERIFY_THROWS_WITH(m->text_model(bad), gg::PromptError, "row 1");
  }

  void attentionMatchesNaive_data() {
    QTest::addColumn<bool>("masked");
    QTest::newRow("causal") << true;
    QTest::newRow("unmasked") << false;
  }
  void attentionMatchesNaive() {
    QFETCH(bool, masked);
    gg::ClipAttention a(12, 3);
    auto x = torch::randn({2, 5, 12});
    auto mask = masked ? gg::ClipTextTransformerImpl::causal_mask(5, x.options()) : torch::Tensor();
    torch::NoGradGuard ng;
    QVERIFY(max_abs_diff(a(x, mask), naive_attention(*a, x, mask)) < 1e-5);
  }

  void attentionFlops() {
    gg::ClipAttention a(12, 3);
    auto x = torch::randn({2, 5, 12});
    gg::FlopCounter fc;
    a(x);
    const double linear = 4 * 2.0 * 2 * 5 * 12 * 12;
    const double attn = 2 * 2.0 * (2 * 3) * 5 * 5 * 4;
    QCOMPARE(fc.flops(), linear + attn);
  }

  // A layer is x + attn(ln1(x)), then + fc2(act(fc1(ln2(.)))), with the
  // activation the config names (quick_gelu: x * sigmoid(1.702 x)).
  void encoderLayerIsPreLn_data() {
    QTest::addColumn<QString>("act");
    QTest::newRow("quick_gelu") << "quick_gelu";
    QTest::newRow("gelu") << "gelu";
  }
  void encoderLayerIsPreLn() {
    QFETCH(QString, act);
    auto cfg = tiny_config();
    cfg.text_config.hidden_act = act.toStdString();
    gg::ClipTextTransformer tm(cfg.text_config);
    auto layer = tm->encoder->layers->ptr<gg::ClipEncoderLayerImpl>(0);
    {
      torch::NoGradGuard ng;  // large pre-activations so the two GELUs differ clearly
      layer->mlp->fc1->weight.mul_(8.0);
      layer->layer_norm1->weight.uniform_(0.5, 1.5);
      layer->layer_norm2->bias.uniform_(-0.5, 0.5);
    }
    auto x = torch::randn({2, 7, 8});
    auto mask = gg::ClipTextTransformerImpl::causal_mask(7, x.options());
    torch::NoGradGuard ng;
    auto ln = [](gg::LayerNorm& l, const torch::Tensor& v) {
      auto mu = v.mean(-1, true);
      auto var = (v - mu).pow(2).mean(-1, true);
      return (v - mu) / torch::sqrt(var + 1e-5) * l->weight + l->bias;
    };
    auto quick = [](const torch::Tensor& v) { return v * torch::sigmoid(1.702 * v); };
    auto gelu = [](const torch::Tensor& v) { return 0.5 * v * (1 + torch::erf(v / std::sqrt(2.0))); };
    auto h = x + naive_attention(*layer->self_attn, ln(layer->layer_norm1, x), mask);
    auto pre = torch::mm(ln(layer->layer_norm2, h).view({-1, 8}), layer->mlp->fc1->weight.t()) + layer->mlp->fc1->bias;
    auto mlp_out = [&](const torch::Tensor& a) {
      return (torch::mm(a, layer->mlp->fc2->weight.t()) + layer->mlp->fc2->bias).view({2, 7, 8});
    };
    auto want = h + mlp_out(act == "quick_gelu" ? quick(pre) : gelu(pre));
    auto other = h + mlp_out(act == "quick_gelu" ? gelu(pre) : quick(pre));
    auto got = layer->forward(x, mask);
    QVERIFY(max_abs_diff(got, want) < 1e-4);
    QVERIFY(max_abs_diff(got, other) > 1e-2);
  }

  // text_features = final_layer_norm(hidden_states[text_feature_layer]).
  void textFeatureLayer_data() {
    QTest::addColumn<int>("layer");
    QTest::addColumn<int>("index");  // into hidden_states (2 layers: 3 states)
    QTest::newRow("penultimate -2") << -2 << 1;
    QTest::newRow("last -1") << -1 << 2;
    QTest::newRow("embeddings 0") << 0 << 0;
    QTest::newRow("first 1") << 1 << 1;
    QTest::newRow("-3") << -3 << 0;
  }
  void textFeatureLayer() {
    QFETCH(int, layer);
    QFETCH(int, index);
    auto cfg = tiny_config();
    cfg.text_feature_layer = layer;
    gg::ClipModel m(cfg);
    auto ids = make_ids({4, 2});
    auto out = m->text_model(ids);
    auto f = m->text_features(ids);
    auto want = m->text_model->final_layer_norm(out.hidden_states[index]);
    QVERIFY(max_abs_diff(f.tokens, want) < 1e-6);
    if (layer == -1) QVERIFY(max_abs_diff(f.tokens, out.last_hidden_state) < 1e-6);
    QVERIFY(max_abs_diff(f.eot_index, torch::tensor({4, 2}, torch::kLong)) == 0.0);
  }

  void visionBatchEqualsPerSample() {
    gg::ClipModel m(tiny_config());
    auto px = torch::randn({3, 3, 8, 8});
    auto batch = m->vision_model(px);
    auto emb = m->image_embeds(px);
    for (int64_t i = 0; i < 3; ++i) {
      auto one = m->vision_model(px.slice(0, i, i + 1));
      QVERIFY(max_abs_diff(batch.last_hidden_state[i], one.last_hidden_state[0]) < 1e-5);
      QVERIFY(max_abs_diff(batch.pooled[i], one.pooled[0]) < 1e-5);
      QVERIFY(max_abs_diff(emb[i], m->image_embeds(px.slice(0, i, i + 1))[0]) < 1e-5);
    }
    // pooled is post_layernorm of the class token; last_hidden_state is not post-normed.
    QVERIFY(max_abs_diff(batch.pooled, m->vision_model->post_layernorm(batch.last_hidden_state.select(1, 0))) == 0.0);
  }

  void preprocessKnownValues() {
    // Constant images: -1 -> (0 - mean) / std, +1 -> (1 - mean) / std, at any size.
    for (double v : {-1.0, 1.0}) {
      auto out = gg::clip_preprocess(torch::full({2, 3, 11, 6}, v), 8);
      QCOMPARE(out.sizes().vec(), (std::vector<int64_t>{2, 3, 8, 8}));
      for (int c = 0; c < 3; ++c) {
        const double want = ((v + 1) / 2 - kMean[c]) / kStd[c];
        QVERIFY(max_abs_diff(out.select(1, c), torch::full({2, 8, 8}, want)) < 1e-5);
      }
    }
    // Same size: normalisation only.
    auto x = torch::rand({1, 3, 8, 8}) * 2 - 1;
    QVERIFY(max_abs_diff(gg::clip_preprocess(x, 8), normalise_ref((x + 1) / 2)) < 1e-5);
  }

  // Resizing equals a separable triangle filter written from its definition
  // (antialiased when shrinking, plain bilinear when enlarging).
  void preprocessResize_data() {
    QTest::addColumn<int>("h");
    QTest::addColumn<int>("w");
    QTest::addColumn<int>("size");
    QTest::newRow("shrink 2x") << 16 << 16 << 8;
    QTest::newRow("shrink 2.5x, 1.75x") << 20 << 14 << 8;
    QTest::newRow("enlarge") << 5 << 6 << 8;
  }
  void preprocessResize() {
    QFETCH(int, h);
    QFETCH(int, w);
    QFETCH(int, size);
    auto x = torch::rand({2, 3, h, w}) * 2 - 1;
    auto got = gg::clip_preprocess(x, size);
    auto x01 = ((x + 1) / 2).to(torch::kDouble);
    auto wh = aa_weights(h, size), ww = aa_weights(w, size);
    auto resized = torch::einsum("ih,nchw,jw->ncij", {wh, x01, ww});
    QVERIFY(max_abs_diff(got, normalise_ref(resized)) < 1e-4);
    if (size > h) {
      namespace F = torch::nn::functional;
      auto plain = F::interpolate(x01, F::InterpolateFuncOptions()
                                           .size(std::vector<int64_t>{size, size})
                                           .mode(torch::kBilinear)
                                           .align_corners(false));
      QVERIFY(max_abs_diff(got, normalise_ref(plain)) < 1e-4);
    }
  }

  void configValidation_data() {
    QTest::addColumn<int>("which");
    QTest::addColumn<QString>("needle");
    QTest::newRow("heads") << 0 << "ClipConfig.text_config.hidden_size";
    QTest::newRow("patch") << 1 << "ClipConfig.vision_config.image_size";
    QTest::newRow("act") << 2 << "ClipConfig.vision_config.hidden_act";
    QTest::newRow("feature layer") << 3 << "ClipConfig.text_feature_layer";
    QTest::newRow("eos") << 4 << "ClipConfig.text_config.eos_token_id";
    QTest::newRow("projection") << 5 << "ClipConfig.projection_dim";
    QTest::newRow("eps") << 6 << "ClipConfig.text_config.layer_norm_eps";
  }
  void configValidation() {
    QFETCH(int, which);
    QFETCH(QString, needle);
    auto c = tiny_config();
    c.validate();
    switch (which) {
      case 0: c.text_config.num_attention_heads = 3; break;
      case 1: c.vision_config.image_size = 10; break;
      case 2: c.vision_config.hidden_act = "relu"; break;
      case 3: c.text_feature_layer = -4; break;
      case 4: c.text_config.eos_token_id = 50; break;
      case 5: c.projection_dim = 0; break;
      case 6: c.text_config.layer_norm_eps = 0; break;
    }
    GG_VERIFY_THROWS_WITH(c.validate(), gg::ConfigError, needle.toStdString());
    GG_VERIFY_THROWS_WITH(gg::ClipModel{c}, gg::ConfigError, needle.toStdString());
    // The tower configs name themselves.
    if (which == 0) GG_VERIFY_THROWS_WITH(c.text_config.validate(), gg::ConfigError, "ClipTextConfig.hidden_size");
    if (which == 1)
      GG_VERIFY_THROWS_WITH(c.vision_config.validate(), gg::ConfigError, "ClipVisionConfig.image_size");
  }

  void configJsonRoundTrip() {
    auto c = tiny_config();
    gg::json j = c;
    auto back = j.get<gg::ClipConfig>();
    QCOMPARE(gg::json(back).dump(), j.dump());
    j["text_config"]["hiden_size"] = 3;
    GG_VERIFY_THROWS_WITH(j.get<gg::ClipConfig>(), gg::ConfigError, "hiden_size");
  }

  void fromHfJson() {
    // Tiny config: every field read, unrelated HF keys ignored.
    auto c = gg::ClipConfig::from_hf_json(gg::json::parse(tiny_hf_config_json()));
    QCOMPARE(gg::json(c).dump(), gg::json(tiny_config()).dump());
    // openai/clip-vit-large-patch14 style: legacy eos 2 / bos 0 / pad 1,
    // *_config_dict overriding *_config, omitted fields take HF defaults.
    auto j = gg::json::parse(R"({
      "projection_dim": 768,
      "text_config": {"bos_token_id": 0, "eos_token_id": 2, "pad_token_id": 1, "hidden_size": 512,
                      "intermediate_size": 3072, "num_attention_heads": 12, "num_hidden_layers": 12,
                      "vocab_size": 49408, "hidden_act": "quick_gelu", "task_specific_params": null},
      "text_config_dict": {"hidden_size": 768},
      "vision_config": {"hidden_size": 1024, "intermediate_size": 4096, "num_attention_heads": 16,
                        "num_hidden_layers": 24, "patch_size": 14},
      "vision_config_dict": {"image_size": 224}
    })");
    auto l = gg::ClipConfig::from_hf_json(j);
    QCOMPARE(l.text_config.hidden_size, 768);
    QCOMPARE(l.text_config.eos_token_id, 49407);
    QCOMPARE(l.text_config.bos_token_id, 49406);
    QCOMPARE(l.text_config.pad_token_id, 49407);
    QCOMPARE(l.text_config.max_position_embeddings, 77);
    QCOMPARE(l.vision_config.patch_size, 14);
    QCOMPARE(l.projection_dim, 768);
    QCOMPARE(gg::json(l).dump(), gg::json(gg::ClipConfig{}).dump());  // = our ViT-L/14 default
    // Omitted: HF's defaults (ViT-B/32 sizes), not ours.
    auto d = gg::ClipConfig::from_hf_json(gg::json::object());
    QCOMPARE(d.vision_config.patch_size, 32);
    QCOMPARE(d.text_config.hidden_size, 512);
    QCOMPARE(d.projection_dim, 512);
    // Errors name the field.
    auto bad = gg::json::parse(tiny_hf_config_json());
    bad["vision_config"]["hidden_size"] = "big";
    GG_VERIFY_THROWS_WITH(gg::ClipConfig::from_hf_json(bad), gg::ConfigError, "vision_config.hidden_size");
    bad = gg::json::parse(tiny_hf_config_json());
    bad["text_config"]["hidden_act"] = "gelu_new";
    GG_VERIFY_THROWS_WITH(gg::ClipConfig::from_hf_json(bad), gg::ConfigError, "hidden_act");
  }

  // Write an HF-style folder (config.json + model.safetensors with the
  // position_ids buffers), load it by folder and by file: same outputs.
  void hfLoaderRoundTrip_data() {
    QTest::addColumn<bool>("half");
    QTest::newRow("F32") << false;
    QTest::newRow("F16") << true;
  }
  void hfLoaderRoundTrip() {
    QFETCH(bool, half);
    gg::ClipModel m(tiny_config());
    auto sd = hf_state_dict(m);
    if (half) {
      torch::NoGradGuard ng;
      for (auto& p : m->parameters()) p.copy_(p.to(torch::kHalf).to(torch::kFloat));
      for (auto& [k, t] : sd)
        if (t.is_floating_point()) t = t.to(torch::kHalf);
    }
    HfFolder folder;
    QVERIFY(folder.dir.isValid());
    gg::write_safetensors(folder.weights(), sd, {{"format", "pt"}});
    write_text(folder.path() + "/config.json", tiny_hf_config_json());
    auto ids = make_ids({3, 6});
    auto img = torch::rand({2, 3, 8, 8}) * 2 - 1;
    for (const std::string& src : {folder.path(), folder.weights()}) {
      auto l = gg::load_hf_clip(src, torch::kCPU);
      QCOMPARE(gg::json(l->config).dump(), gg::json(m->config).dump());
      for (const auto& p : l->parameters()) QVERIFY(p.scalar_type() == torch::kFloat);
      QVERIFY(max_abs_diff(l->encode_text(ids), m->encode_text(ids)) < 1e-7);
      QVERIFY(max_abs_diff(l->encode_image(img), m->encode_image(img)) < 1e-7);
      QVERIFY(max_abs_diff(l->text_features(ids).tokens, m->text_features(ids).tokens) < 1e-7);
      QVERIFY(max_abs_diff(l->logit_scale, m->logit_scale) == 0.0);
    }
  }

  void hfLoaderErrors_data() {
    QTest::addColumn<int>("which");
    QTest::addColumn<QString>("needle");
    QTest::newRow("renamed key") << 0 << "text_model.final_layer_norm.weight";
    QTest::newRow("extra key") << 1 << "text_model.extra.weight";
    QTest::newRow("wrong shape") << 2 << "visual_projection.weight";
    QTest::newRow("missing key") << 3 << "vision_model.embeddings.class_embedding";
  }
  void hfLoaderErrors() {
    QFETCH(int, which);
    QFETCH(QString, needle);
    gg::ClipModel m(tiny_config());
    auto sd = hf_state_dict(m);
    switch (which) {
      case 0: {
        auto t = sd.at("text_model.final_layer_norm.weight");
        sd.erase("text_model.final_layer_norm.weight");
        sd["text_model.final_layer_norm.gamma"] = t;
        break;
      }
      case 1: sd["text_model.extra.weight"] = torch::zeros({2}); break;
      case 2: sd["visual_projection.weight"] = torch::zeros({6, 11}); break;
      case 3: sd.erase("vision_model.embeddings.class_embedding"); break;
    }
    HfFolder folder;
    gg::write_safetensors(folder.weights(), sd);
    write_text(folder.path() + "/config.json", tiny_hf_config_json());
    GG_VERIFY_THROWS_WITH(gg::load_hf_clip(folder.path(), torch::kCPU), gg::CheckpointError, needle.toStdString());
  }

  void hfLoaderMissingFiles() {
    gg::ClipModel m(tiny_config());
    HfFolder folder;
    GG_VERIFY_THROWS_WITH(gg::load_hf_clip(folder.path(), torch::kCPU), gg::CheckpointError, "model.safetensors");
    gg::write_safetensors(folder.weights(), hf_state_dict(m));
    GG_VERIFY_THROWS_WITH(gg::load_hf_clip(folder.path(), torch::kCPU), gg::CheckpointError, "config.json");
    auto j = gg::json::parse(tiny_hf_config_json());
    j["vision_config"]["patch_size"] = 3;  // 8 % 3 != 0
    write_text(folder.path() + "/config.json", j.dump());
    GG_VERIFY_THROWS_WITH(gg::load_hf_clip(folder.path(), torch::kCPU), gg::ConfigError, "image_size");
  }
};

QTEST_GUILESS_MAIN(TestClip)
#include "test_clip.moc"

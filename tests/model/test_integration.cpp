// The whole GigaGAN on the tiny preset: frozen CLIP -> G -> (D, vision-aided D,
// CLIP loss, upsampler -> upsampler D). Gradients must reach every trainable
// parameter of every network and never the frozen encoders, while still
// flowing THROUGH the frozen CLIP vision tower into the generator.
#include <QtTest/QtTest>

#include "clip.h"
#include "discriminator.h"
#include "generator.h"
#include "model_config.h"
#include "test_support.h"
#include "upsampler.h"
#include "vision_aided_discriminator.h"

namespace {

// Random prompts: bos, random tokens, eos at a per-row position, eos padding.
torch::Tensor random_ids(const gg::ClipTextConfig& t, int64_t n) {
  auto ids = torch::randint(0, t.vocab_size - 2, {n, t.max_position_embeddings}, torch::kLong);
  ids.select(1, 0).fill_(t.bos_token_id);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t eot = 2 + (i * 3) % (t.max_position_embeddings - 2);
    ids[i].narrow(0, eot, t.max_position_embeddings - eot).fill_(t.eos_token_id);
  }
  return ids;
}

void check_all_grads(torch::nn::Module& m, const char* what) {
  int checked = 0;
  for (const auto& p : m.named_parameters(true)) {
    if (!p.value().requires_grad()) continue;
    const auto& g = p.value().grad();
    const std::string name = std::string(what) + "." + p.key();
    QVERIFY2(g.defined(), (name + " got no gradient").c_str());
    QVERIFY2(torch::isfinite(g).all().item<bool>(), (name + " has a non-finite gradient").c_str());
    QVERIFY2(g.abs().sum().item<double>() > 0, (name + " has an all-zero gradient").c_str());
    ++checked;
  }
  QVERIFY2(checked > 0, what);
}

}  // namespace

class TestIntegration : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void gradientsReachEveryTrainableParameterAndNoFrozenOne() {
    torch::manual_seed(3);
    const auto c = gg::ModelConfig::load(gg::test::config_path("tiny"));
    gg::ClipModel clip(c.clip);
    clip->eval();
    for (auto& p : clip->parameters()) p.requires_grad_(false);  // the frozen E_txt / E_img

    gg::Generator G(c.generator);
    gg::Discriminator D(c.discriminator);
    gg::VisionAidedDiscriminator VA(c.vision_aided, clip->vision_model);
    gg::Upsampler U(c.upsampler);
    gg::Discriminator UD(c.upsampler_discriminator);

    const int64_t n = 3;
    const auto ids = random_ids(c.clip.text_config, n);
    const auto text = clip->text_features(ids);
    QVERIFY(!text.tokens.requires_grad());

    auto z = torch::randn({n, c.generator.z_dim});
    auto pyramid = G->forward(z, text.tokens, text.eot_index);
    QCOMPARE(static_cast<int>(pyramid.size()), c.generator.num_levels());

    torch::Tensor loss = torch::zeros({});
    const auto preds = D->forward(pyramid, text.tokens, text.eot_index);
    QCOMPARE(static_cast<int>(preds.size()), D->num_predictions());
    for (const auto& p : preds) loss = loss + torch::softplus(-p.logits).mean();
    for (const auto& l : VA->forward(pyramid[0], text.pooled)) loss = loss + torch::softplus(-l).mean();
    // CLIP contrastive loss through the frozen towers.
    auto img = clip->encode_image(pyramid[0]);
    auto txt = clip->encode_text(ids);
    loss = loss + torch::cross_entropy_loss(img.matmul(txt.t()) * 10, torch::arange(n));
    // Upsampler on the generator's output, judged by its own discriminator.
    auto up = U->forward(pyramid[0], torch::randn({n, c.upsampler.z_dim}), text.tokens, text.eot_index);
    for (const auto& p : UD->forward(up, text.tokens, text.eot_index)) loss = loss + torch::softplus(-p.logits).mean();
    loss.backward();

    check_all_grads(*G, "generator");
    check_all_grads(*D, "discriminator");
    check_all_grads(*VA, "vision_aided");
    check_all_grads(*U, "upsampler");
    check_all_grads(*UD, "upsampler_discriminator");
    for (const auto& p : clip->named_parameters(true))
      QVERIFY2(!p.value().grad().defined(), ("frozen CLIP parameter " + p.key() + " got a gradient").c_str());
    // The vision-aided head does not own CLIP's weights.
    for (const auto& p : VA->named_parameters(true))
      QVERIFY2(p.key().find("vision_model") == std::string::npos && p.key().find("encoder.layers") == std::string::npos,
               p.key().c_str());
  }

  void frozenVisionTowerStillPassesGradientToImages() {
    // The CLIP loss alone must move the generator although CLIP is frozen.
    torch::manual_seed(4);
    const auto c = gg::ModelConfig::load(gg::test::config_path("tiny"));
    gg::ClipModel clip(c.clip);
    for (auto& p : clip->parameters()) p.requires_grad_(false);
    gg::Generator G(c.generator);
    const auto ids = random_ids(c.clip.text_config, 2);
    const auto text = clip->text_features(ids);
    auto pyramid = G->forward(torch::randn({2, c.generator.z_dim}), text.tokens, text.eot_index);
    auto sim = (clip->encode_image(pyramid[0]) * clip->encode_text(ids)).sum();
    sim.backward();
    QVERIFY(G->synthesis->parameters().front().grad().defined());
    double total = 0;
    for (const auto& p : G->synthesis->parameters())
      if (p.grad().defined()) total += p.grad().abs().sum().item<double>();
    QVERIFY(total > 0);
  }
};

QTEST_GUILESS_MAIN(TestIntegration)
#include "test_integration.moc"

// Network checkpoints (model/model_io.h): every network of the tiny preset
// round-trips bit-exactly through a file that carries its own config; damaged
// files fail with errors that name the problem.
#include <QtTest/QtTest>

#include <filesystem>
#include <fstream>

#include "checkpoint.h"
#include "clip.h"
#include "discriminator.h"
#include "generator.h"
#include "model_config.h"
#include "model_io.h"
#include "safetensors.h"
#include "test_support.h"
#include "upsampler.h"

namespace fs = std::filesystem;
using gg::CheckpointError;

namespace {
std::string read_all(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}
void write_all(const std::string& p, const std::string& s) { std::ofstream(p, std::ios::binary | std::ios::trunc) << s; }

template <class Holder>
void expect_same_state(const Holder& a, const Holder& b) {
  const auto sa = gg::state_dict(*a), sb = gg::state_dict(*b);
  QCOMPARE(sa.size(), sb.size());
  for (const auto& [name, t] : sa) QVERIFY2(torch::equal(t, sb.at(name)), name.c_str());
}

gg::ModelConfig tiny() { return gg::ModelConfig::load(gg::test::config_path("tiny")); }
}  // namespace

class TestModelIo : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;
  std::string path(const std::string& name) { return (fs::path(dir_.path().toStdString()) / name).string(); }

 private Q_SLOTS:
  void generatorRoundTripIsBitExact() {
    torch::manual_seed(0);
    const auto c = tiny();
    gg::Generator G(c.generator);
    gg::save_network(path("g.safetensors"), "generator", c.generator, G);
    gg::GeneratorConfig loaded_config;
    auto G2 = gg::load_network<gg::GeneratorConfig, gg::Generator>(path("g.safetensors"), "generator",
                                                                    torch::kCPU, &loaded_config);
    QCOMPARE(gg::json(loaded_config), gg::json(c.generator));
    expect_same_state(G, G2);
    G->eval();
    G2->eval();
    torch::NoGradGuard ng;
    auto z = torch::randn({2, c.generator.z_dim});
    auto tokens = torch::randn({2, c.generator.context_length, c.generator.text_input_dim});
    auto eot = torch::tensor({3, 7}, torch::kLong);
    const auto a = G->forward(z, tokens, eot), b = G2->forward(z, tokens, eot);
    for (size_t l = 0; l < a.size(); ++l) QVERIFY(torch::equal(a[l], b[l]));
  }

  void otherNetworksRoundTrip() {
    torch::manual_seed(1);
    const auto c = tiny();
    gg::Discriminator D(c.discriminator);
    gg::save_network(path("d.safetensors"), "discriminator", c.discriminator, D);
    expect_same_state(D, gg::load_network<gg::DiscriminatorConfig, gg::Discriminator>(path("d.safetensors"), "discriminator"));
    gg::Upsampler U(c.upsampler);
    gg::save_network(path("u.safetensors"), "upsampler", c.upsampler, U);
    expect_same_state(U, gg::load_network<gg::UpsamplerConfig, gg::Upsampler>(path("u.safetensors"), "upsampler"));
    gg::ClipModel clip(c.clip);
    gg::save_network(path("c.safetensors"), "clip", c.clip, clip);
    expect_same_state(clip, gg::load_network<gg::ClipConfig, gg::ClipModel>(path("c.safetensors"), "clip"));
  }

  void halfPrecisionGeneratorStaysClose() {
    torch::manual_seed(2);
    const auto c = tiny();
    gg::Generator G(c.generator);
    gg::save_network(path("g16.safetensors"), "generator", c.generator, G, torch::kFloat16);
    auto G2 = gg::load_network<gg::GeneratorConfig, gg::Generator>(path("g16.safetensors"), "generator");
    G->eval();
    G2->eval();
    torch::NoGradGuard ng;
    auto z = torch::randn({2, c.generator.z_dim});
    auto tokens = torch::randn({2, c.generator.context_length, c.generator.text_input_dim});
    auto eot = torch::tensor({3, 7}, torch::kLong);
    QVERIFY(gg::test::max_abs_diff(G->forward(z, tokens, eot)[0], G2->forward(z, tokens, eot)[0]) < 2e-2);
  }

  void damagedGeneratorCheckpointsFail() {
    const auto c = tiny();
    gg::Generator G(c.generator);
    gg::save_network(path("ok.safetensors"), "generator", c.generator, G);
    const std::string bytes = read_all(path("ok.safetensors"));
    auto load = [&](const std::string& p) {
      return gg::load_network<gg::GeneratorConfig, gg::Generator>(p, "generator");
    };
    // Truncated.
    write_all(path("cut.safetensors"), bytes.substr(0, bytes.size() / 2));
    GG_VERIFY_THROWS_WITH(load(path("cut.safetensors")), CheckpointError, "truncated");
    // One flipped bit in the last tensor's data.
    std::string flipped = bytes;
    flipped[flipped.size() - 3] ^= 0x40;
    write_all(path("flip.safetensors"), flipped);
    GG_VERIFY_THROWS_WITH(load(path("flip.safetensors")), CheckpointError, "fails its CRC-32 check");
    // Tensors that do not match the file's own config.
    auto ck = gg::load_checkpoint(path("ok.safetensors"));
    ck.config["channels"] = {32, 32, 24};
    gg::save_checkpoint(path("shape.safetensors"), ck);
    GG_VERIFY_THROWS_WITH(load(path("shape.safetensors")), CheckpointError, "but the model expects");
    // A tensor the model does not have.
    ck = gg::load_checkpoint(path("ok.safetensors"));
    ck.tensors["synthesis.extra"] = torch::ones({1});
    gg::save_checkpoint(path("extra.safetensors"), ck);
    GG_VERIFY_THROWS_WITH(load(path("extra.safetensors")), CheckpointError, "'synthesis.extra'");
    // An invalid embedded config, and the wrong kind of network.
    ck = gg::load_checkpoint(path("ok.safetensors"));
    ck.config["resolution"] = 48;
    gg::save_checkpoint(path("badcfg.safetensors"), ck);
    GG_VERIFY_THROWS_WITH(load(path("badcfg.safetensors")), CheckpointError, "invalid generator config");
    GG_VERIFY_THROWS_WITH((gg::load_network<gg::DiscriminatorConfig, gg::Discriminator>(path("ok.safetensors"), "discriminator")),
                          CheckpointError, "holds a generator, not a discriminator");
  }
};

QTEST_GUILESS_MAIN(TestModelIo)
#include "test_model_io.moc"

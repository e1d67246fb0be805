// Tests of GigaGAN checkpoints (model/checkpoint.h): strict loading, CRC
// checks, version checks and half-precision storage, on a small network of
// gg_core layers (network-level round trips are in test_model_io.cpp).
#include <QtTest/QtTest>

#include <filesystem>
#include <fstream>

#include "checkpoint.h"
#include "errors.h"
#include "layers.h"
#include "safetensors.h"
#include "test_support.h"

namespace fs = std::filesystem;
using gg::CheckpointError;

namespace {
struct NetImpl : torch::nn::Module {
  explicit NetImpl(int width) {
    fc1 = register_module("fc1", gg::FullyConnectedLayer(8, width, true, gg::Activation::LReLU));
    fc2 = register_module("fc2", gg::FullyConnectedLayer(width, 4));
    conv = register_module("conv", gg::Conv2dLayer(3, width, 3));
    table = register_buffer("table", gg::new_randn({5}));
    steps = register_buffer("steps", torch::tensor(int64_t(7)));
  }
  gg::FullyConnectedLayer fc1{nullptr}, fc2{nullptr};
  gg::Conv2dLayer conv{nullptr};
  torch::Tensor table, steps;
};
TORCH_MODULE(Net);

std::string read_all(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}
void write_all(const std::string& p, const std::string& s) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f << s;
}
gg::Checkpoint make_ck(Net& net, int width) {
  gg::Checkpoint ck;
  ck.kind = "test-net";
  ck.config = {{"width", width}};
  ck.tensors = gg::state_dict(*net);
  ck.metadata["note"] = "hello";
  return ck;
}
}  // namespace

class TestCheckpoint : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;
  std::string path(const char* name) { return (fs::path(dir_.path().toStdString()) / name).string(); }

 private Q_SLOTS:
  void crc32KnownAnswer() {
    // The standard CRC-32 check value.
    const char* s = "123456789";
    QCOMPARE(gg::crc32(s, 9), 0xCBF43926u);
  }

  void roundTripIsBitExact() {
    torch::manual_seed(0);
    Net a(16);
    gg::save_checkpoint(path("a.safetensors"), make_ck(a, 16));
    auto ck = gg::load_checkpoint(path("a.safetensors"));
    QCOMPARE(ck.kind, std::string("test-net"));
    QCOMPARE(ck.metadata.at("note"), std::string("hello"));
    Net b(ck.config.at("width").get<int>());  // rebuilt from its own config
    gg::load_state_dict_strict(*b, ck.tensors, "a.safetensors");
    const auto sa = gg::state_dict(*a), sb = gg::state_dict(*b);
    QCOMPARE(sa.size(), sb.size());
    for (const auto& [name, t] : sa) QVERIFY2(torch::equal(t, sb.at(name)), name.c_str());
    auto x = torch::randn({2, 8});
    QVERIFY(torch::equal(a->fc2(a->fc1(x)), b->fc2(b->fc1(x))));
  }

  void halfStorageRoundTrip() {
    torch::manual_seed(0);
    Net a(16);
    gg::save_checkpoint(path("h.safetensors"), make_ck(a, 16), torch::kFloat16);
    QCOMPARE(gg::read_safetensors(path("h.safetensors")).tensors.at("fc1.weight").scalar_type(), torch::kFloat16);
    QCOMPARE(gg::read_safetensors(path("h.safetensors")).tensors.at("steps").scalar_type(), torch::kInt64);
    auto ck = gg::load_checkpoint(path("h.safetensors"));
    QCOMPARE(ck.tensors.at("fc1.weight").scalar_type(), torch::kFloat32);
    QVERIFY(gg::test::max_abs_diff(ck.tensors.at("fc1.weight"), a->fc1->weight) < 2e-3);
    QVERIFY(torch::equal(ck.tensors.at("steps"), a->steps));
    gg::save_checkpoint(path("f32.safetensors"), make_ck(a, 16));
    // Metadata (config, checksums) is a fixed cost; the weights halve.
    QVERIFY(fs::file_size(path("h.safetensors")) < fs::file_size(path("f32.safetensors")) * 0.75);
  }

  void truncatedCheckpointFails() {
    Net a(16);
    gg::save_checkpoint(path("t.safetensors"), make_ck(a, 16));
    const std::string full = read_all(path("t.safetensors"));
    write_all(path("t.safetensors"), full.substr(0, full.size() - 100));
    GG_VERIFY_THROWS_WITH(gg::load_checkpoint(path("t.safetensors")), CheckpointError, "truncated");
  }

  void bitFlipIsCaughtAndNamed() {
    Net a(16);
    gg::save_checkpoint(path("f.safetensors"), make_ck(a, 16));
    std::string bytes = read_all(path("f.safetensors"));
    // Flip one bit inside the data of one tensor: find which from the header.
    auto parsed = gg::parse_safetensors(bytes, "f");
    uint64_t hl = 0;
    std::memcpy(&hl, bytes.data(), 8);
    auto header = nlohmann::json::parse(bytes.substr(8, hl));
    const uint64_t off = header["fc2.weight"]["data_offsets"][0].get<uint64_t>();
    bytes[8 + hl + off + 5] ^= 0x10;
    write_all(path("f.safetensors"), bytes);
    GG_VERIFY_THROWS_WITH(gg::load_checkpoint(path("f.safetensors")), CheckpointError, "'fc2.weight' fails its CRC-32");
    // A flip in the header breaks its JSON or its checksums, never silently.
    bytes = read_all(path("f.safetensors"));
    bytes[8 + 3] ^= 0x01;
    write_all(path("f.safetensors"), bytes);
    QVERIFY_THROWS_EXCEPTION(CheckpointError, gg::load_checkpoint(path("f.safetensors")));
  }

  void everySingleBitFlipIsCaught() {
    // Exhaustive over the data section of a small checkpoint: no flipped bit
    // loads silently.
    Net a(2);
    gg::save_checkpoint(path("e.safetensors"), make_ck(a, 2));
    const std::string bytes = read_all(path("e.safetensors"));
    uint64_t hl = 0;
    std::memcpy(&hl, bytes.data(), 8);
    for (size_t i = 8 + hl; i < bytes.size(); ++i) {
      std::string b = bytes;
      b[i] ^= 0x01;
      write_all(path("e2.safetensors"), b);
      bool threw = false;
      try {
        gg::load_checkpoint(path("e2.safetensors"));
      } catch (const CheckpointError&) {
        threw = true;
      }
      QVERIFY2(threw, ("bit flip at byte " + std::to_string(i) + " not detected").c_str());
    }
  }

  void shapeMismatchIsNamed() {
    Net a(16);
    gg::save_checkpoint(path("s.safetensors"), make_ck(a, 16));
    auto ck = gg::load_checkpoint(path("s.safetensors"));
    Net wrong(32);
    GG_VERIFY_THROWS_WITH(gg::load_state_dict_strict(*wrong, ck.tensors, "s.safetensors"), CheckpointError,
                          "tensor 'conv.bias' has shape [16] but the model expects [32]");
  }

  void missingAndExtraTensorsAreNamed() {
    Net a(16);
    auto tensors = gg::state_dict(*a);
    auto missing = tensors;
    missing.erase("fc2.bias");
    GG_VERIFY_THROWS_WITH(gg::load_state_dict_strict(*a, missing, "m.safetensors"), CheckpointError,
                          "lacks tensor 'fc2.bias'");
    auto extra = tensors;
    extra["fc3.weight"] = torch::ones({1});
    GG_VERIFY_THROWS_WITH(gg::load_state_dict_strict(*a, extra, "x.safetensors"), CheckpointError,
                          "has tensor 'fc3.weight' that the model does not have");
    // Ignored names are skipped on both sides.
    gg::load_state_dict_strict(*a, extra, "x.safetensors", {"fc3.weight"});
  }

  void foreignAndNewerFilesAreRejected() {
    gg::write_safetensors(path("plain.safetensors"), {{"x", torch::ones({2})}});
    GG_VERIFY_THROWS_WITH(gg::load_checkpoint(path("plain.safetensors")), CheckpointError,
                          "not a GigaGAN checkpoint");
    gg::write_safetensors(path("newer.safetensors"), {{"x", torch::ones({2})}},
                          {{"gigagan.format", "gigagan"}, {"gigagan.format_version", "99"}});
    GG_VERIFY_THROWS_WITH(gg::load_checkpoint(path("newer.safetensors")), CheckpointError, "format version 99");
  }

  void failedSaveKeepsPreviousCheckpoint() {
    Net a(16);
    gg::save_checkpoint(path("k.safetensors"), make_ck(a, 16));
    auto ck = make_ck(a, 16);
    ck.tensors["broken"] = torch::Tensor();  // undefined: save must fail before touching the file
    QVERIFY_THROWS_EXCEPTION(CheckpointError, gg::save_checkpoint(path("k.safetensors"), ck));
    QCOMPARE(gg::load_checkpoint(path("k.safetensors")).tensors.size(), gg::state_dict(*a).size());
  }
};

QTEST_GUILESS_MAIN(TestCheckpoint)
#include "test_checkpoint.moc"

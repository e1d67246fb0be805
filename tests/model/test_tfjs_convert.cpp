// Tests of the TF.js model reader and converter (model/tfjs_convert.h) on
// small hand-made model.json files: raw float32 / int32 / bool weights,
// uint8 / uint16 / float16 quantization decoded as TF.js's decodeWeight does,
// groups split over several shards, Keras kernel layouts put into PyTorch
// layout (Conv2D, DepthwiseConv2D, SeparableConv2D, Dense; nested models), the
// safetensors file with its metadata, and every malformed input refused with
// a message that names the file and the weight.
// Ref: tfjs-core src/io/io_utils.ts (decodeWeight).
#include <QTemporaryDir>

#include <cmath>
#include <cstring>
#include <fstream>

#include "safetensors.h"
#include "test_support.h"
#include "tfjs_convert.h"

using gg::json;

namespace {

std::string bytes_of(const void* p, size_t n) { return std::string(static_cast<const char*>(p), n); }
std::string f32_bytes(const std::vector<float>& v) { return bytes_of(v.data(), v.size() * 4); }

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

json weight(const std::string& name, std::vector<int64_t> shape, const std::string& dtype = "float32") {
  return {{"name", name}, {"shape", shape}, {"dtype", dtype}};
}

std::vector<float> iota_f(int n, float scale = 1.0f) {
  std::vector<float> v(n);
  for (int i = 0; i < n; ++i) v[i] = scale * static_cast<float>(i) - 3.0f;
  return v;
}

// A Keras functional model: Conv2D "c" [3,3,2,4], DepthwiseConv2D "d"
// [3,3,4,2], SeparableConv2D "s" (depthwise [3,3,4,1], pointwise [1,1,4,3]),
// BatchNormalization "bn" (gamma [3]) and, inside a nested model "inner", Dense "f" [3,5] + bias.
json keras_topology(bool wrapped) {
  auto layer = [](const std::string& cls, const std::string& name) {
    return json{{"class_name", cls}, {"name", name}, {"config", {{"name", name}}}};
  };
  json inner = layer("Model", "inner");
  inner["config"]["layers"] = json::array({layer("Dense", "f")});
  json model = {{"class_name", "Model"},
                {"config",
                 {{"name", "m"},
                  {"layers", json::array({layer("InputLayer", "in"), layer("Conv2D", "c"),
                                          layer("DepthwiseConv2D", "d"), layer("SeparableConv2D", "s"),
                                          layer("BatchNormalization", "bn"), inner})}}}};
  if (!wrapped) return model;
  return {{"keras_version", "2.2.4"}, {"backend", "tensorflow"}, {"model_config", model}};
}

struct KerasFiles {
  QTemporaryDir dir;
  std::string model_json() const { return dir.path().toStdString() + "/model.json"; }
  std::string file(const std::string& name) const { return dir.path().toStdString() + "/" + name; }
  std::map<std::string, std::vector<int64_t>> shapes = {
      {"c/kernel", {3, 3, 2, 4}}, {"d/depthwise_kernel", {3, 3, 4, 2}}, {"s/depthwise_kernel", {3, 3, 4, 1}},
      {"s/pointwise_kernel", {1, 1, 4, 3}}, {"bn/gamma", {3}}, {"inner/f/kernel", {3, 5}}, {"inner/f/bias", {5}}};
  // One group over two shards (101 + 759 bytes: the split falls inside a weight).
  explicit KerasFiles(bool wrapped) {
    json weights = json::array();
    std::string data;
    int k = 0;
    for (const auto& [name, shape] : shapes) {
      weights.push_back(weight(name, shape));
      int64_t n = 1;
      for (auto s : shape) n *= s;
      data += f32_bytes(iota_f(static_cast<int>(n), 0.5f + static_cast<float>(k++)));
    }
    write_bytes(file("group1-shard1of2.bin"), data.substr(0, 101));
    write_bytes(file("group1-shard2of2.bin"), data.substr(101));
    json j = {{"format", "layers-model"},
              {"generatedBy", "keras v2.2.4"},
              {"convertedBy", "test"},
              {"modelTopology", keras_topology(wrapped)},
              {"weightsManifest", json::array({{{"paths", {"group1-shard1of2.bin", "group1-shard2of2.bin"}},
                                                {"weights", weights}}})}};
    write_bytes(model_json(), j.dump());
  }
};

}  // namespace

class TestTfjsConvert : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void rawWeightsAcrossShardsAndGroups() {
    QTemporaryDir dir;
    const std::string d = dir.path().toStdString();
    const auto a = iota_f(6), b = iota_f(5, 2.0f);
    const std::vector<int32_t> ints = {-7, 0, 2147483647};
    const std::vector<uint8_t> flags = {1, 0, 1, 1};
    // Group 1: a [2,3] float32 + ints [3] int32, split at byte 10 (inside a).
    const std::string g1 = f32_bytes(a) + bytes_of(ints.data(), 12);
    write_bytes(d + "/g1a", g1.substr(0, 10));
    write_bytes(d + "/g1b", g1.substr(10));
    // Group 2: b [5] float32, flags [2,2] bool, an empty [0] weight.
    write_bytes(d + "/g2", f32_bytes(b) + bytes_of(flags.data(), 4));
    json j = {{"weightsManifest",
               json::array({{{"paths", {"g1a", "g1b"}}, {"weights", {weight("a", {2, 3}), weight("ints", {3}, "int32")}}},
                            {{"paths", {"g2"}},
                             {"weights", {weight("b", {5}), weight("flags", {2, 2}, "bool"), weight("empty", {0})}}}})}};
    write_bytes(d + "/model.json", j.dump());
    const gg::TfjsModel m = gg::read_tfjs_model(d + "/model.json");
    QCOMPARE(m.names, (std::vector<std::string>{"a", "ints", "b", "flags", "empty"}));
    QVERIFY(m.tensors.at("a").equal(torch::tensor(a).view({2, 3})));
    QVERIFY(m.tensors.at("ints").equal(torch::tensor(std::vector<int32_t>(ints), torch::kInt32)));
    QVERIFY(m.tensors.at("b").equal(torch::tensor(b)));
    QVERIFY(m.tensors.at("flags").equal(torch::tensor({true, false, true, true}).view({2, 2})));
    QCOMPARE(m.tensors.at("empty").numel(), int64_t(0));
    QVERIFY(m.format.empty() && m.topology.is_null() && m.keras_class.empty());
  }

  void quantizedWeights() {
    QTemporaryDir dir;
    const std::string d = dir.path().toStdString();
    const std::vector<uint8_t> q8 = {0, 1, 128, 255};
    const std::vector<uint16_t> q16 = {0, 1, 40000, 65535};
    const std::vector<uint16_t> h = {0x3c00, 0xc000, 0x0001, 0x7bff};  // 1, -2, smallest subnormal, 65504
    const std::vector<uint8_t> qi = {0, 1, 2, 3};
    const double min8 = -0.87334511607301, scale8 = 0.006666756611244351;  // nsfwjs's Conv1/kernel
    const double min16 = -2.5, scale16 = 1.0 / 13107.0;
    std::string data = bytes_of(q8.data(), 4) + bytes_of(q16.data(), 8) + bytes_of(h.data(), 8) + bytes_of(qi.data(), 4);
    write_bytes(d + "/w", data);
    auto quant = [](json w, json q) { w["quantization"] = q; return w; };
    json j = {{"weightsManifest",
               json::array({{{"paths", {"w"}},
                             {"weights",
                              {quant(weight("u8", {4}), {{"dtype", "uint8"}, {"min", min8}, {"scale", scale8}}),
                               quant(weight("u16", {2, 2}), {{"dtype", "uint16"}, {"min", min16}, {"scale", scale16}}),
                               quant(weight("f16", {4}), {{"dtype", "float16"}}),
                               quant(weight("i", {4}, "int32"), {{"dtype", "uint8"}, {"min", -1.0}, {"scale", 0.5}})}}}})}};
    write_bytes(d + "/model.json", j.dump());
    const gg::TfjsModel m = gg::read_tfjs_model(d + "/model.json");
    const auto u8 = m.tensors.at("u8");
    QCOMPARE(u8.scalar_type(), torch::kFloat32);
    for (int i = 0; i < 4; ++i)  // Float32Array(v * scale + min): double arithmetic, then float
      QCOMPARE(u8[i].item<float>(), static_cast<float>(q8[i] * scale8 + min8));
    const auto u16 = m.tensors.at("u16").flatten();
    for (int i = 0; i < 4; ++i) QCOMPARE(u16[i].item<float>(), static_cast<float>(q16[i] * scale16 + min16));
    const auto f16 = m.tensors.at("f16");
    QCOMPARE(f16[0].item<float>(), 1.0f);
    QCOMPARE(f16[1].item<float>(), -2.0f);
    QCOMPARE(f16[2].item<float>(), std::ldexp(1.0f, -24));
    QCOMPARE(f16[3].item<float>(), 65504.0f);
    // Math.round: -1, -0.5 -> -0 (half up), 0, 0.5 -> 1
    QVERIFY(m.tensors.at("i").equal(torch::tensor({-1, 0, 0, 1}, torch::kInt32)));
  }

  // --quantized keeps uint8 codes + (min, scale); dequantize_tfjs gives back,
  // bit for bit, what the float32 conversion holds, in the same layout.
  void quantizedFileDequantizesExactly() {
    QTemporaryDir dir;
    const std::string d = dir.path().toStdString();
    std::vector<uint8_t> codes(3 * 3 * 2 * 4);
    for (size_t i = 0; i < codes.size(); ++i) codes[i] = static_cast<uint8_t>((i * 37 + 11) % 256);
    const std::vector<float> bias = {0.25f, -1.5f, 3.0f, 0.0f};
    write_bytes(d + "/w", bytes_of(codes.data(), codes.size()) + f32_bytes(bias));
    json kernel = weight("c/kernel", {3, 3, 2, 4});
    kernel["quantization"] = {{"dtype", "uint8"}, {"min", -0.87334511607301}, {"scale", 0.006666756611244351}};
    json j = {{"modelTopology", keras_topology(true)},
              {"weightsManifest", json::array({{{"paths", {"w"}}, {"weights", {kernel, weight("c/bias", {4})}}}})}};
    write_bytes(d + "/model.json", j.dump());
    const auto rf = gg::convert_tfjs(d + "/model.json", d + "/f.safetensors");
    const auto rq = gg::convert_tfjs(d + "/model.json", d + "/q.safetensors", false, /*quantized=*/true);
    QCOMPARE(rf.quantized, int64_t(0));
    QCOMPARE(rq.quantized, int64_t(1));
    const auto f = gg::read_safetensors(d + "/f.safetensors");
    const auto q = gg::read_safetensors(d + "/q.safetensors");
    QCOMPARE(q.tensors.at("c/kernel").scalar_type(), torch::kUInt8);
    QCOMPARE(q.tensors.at("c/kernel").sizes().vec(), (std::vector<int64_t>{4, 2, 3, 3}));
    QCOMPARE(q.tensors.at("c/kernel:quantization").scalar_type(), torch::kFloat64);
    const auto dq = gg::dequantize_tfjs(q.tensors, "q.safetensors");
    QCOMPARE(dq.size(), size_t(2));
    for (const auto& [name, t] : f.tensors) QVERIFY2(dq.at(name).equal(t), name.c_str());
    // A float file passes through unchanged.
    const auto same = gg::dequantize_tfjs(f.tensors, "f.safetensors");
    for (const auto& [name, t] : f.tensors) QVERIFY(same.at(name).is_same(t));
    // Codes without their (min, scale), or a (min, scale) without codes, are refused by name.
    auto lone = q.tensors;
    lone.erase("c/kernel:quantization");
    GG_VERIFY_THROWS_WITH(gg::dequantize_tfjs(lone, "x.safetensors"), gg::CheckpointError,
                          "'c/kernel' is uint8 without 'c/kernel:quantization'");
    auto orphan = q.tensors;
    orphan.erase("c/kernel");
    GG_VERIFY_THROWS_WITH(gg::dequantize_tfjs(orphan, "x.safetensors"), gg::CheckpointError,
                          "has no 'c/kernel' to dequantize");
    auto bad = q.tensors;
    bad["c/kernel:quantization"] = torch::tensor({0.0, std::nan("")}, torch::kFloat64);
    GG_VERIFY_THROWS_WITH(gg::dequantize_tfjs(bad, "x.safetensors"), gg::CheckpointError, "is not finite");
  }

  void kerasLayoutsToTorch_data() {
    QTest::addColumn<bool>("wrapped");
    QTest::newRow("keras export (model_config)") << true;
    QTest::newRow("tfjs-layers (bare)") << false;
  }
  void kerasLayoutsToTorch() {
    QFETCH(bool, wrapped);
    KerasFiles f(wrapped);
    const gg::TfjsModel m = gg::read_tfjs_model(f.model_json());
    QCOMPARE(m.keras_class.at("c/kernel"), std::string("Conv2D"));
    QCOMPARE(m.keras_class.at("inner/f/kernel"), std::string("Dense"));
    const auto t = gg::tfjs_torch_layout(m);
    const auto& c = m.tensors.at("c/kernel");  // [kh, kw, in, out]
    QCOMPARE(t.at("c/kernel").sizes().vec(), (std::vector<int64_t>{4, 2, 3, 3}));
    QCOMPARE(t.at("c/kernel")[3][1][2][0].item<float>(), c[2][0][1][3].item<float>());
    // Depthwise [kh, kw, in, m] -> [in * m, 1, kh, kw]; output channel i * m + j as TF.
    const auto& dw = m.tensors.at("d/depthwise_kernel");
    QCOMPARE(t.at("d/depthwise_kernel").sizes().vec(), (std::vector<int64_t>{8, 1, 3, 3}));
    QCOMPARE(t.at("d/depthwise_kernel")[2 * 2 + 1][0][0][2].item<float>(), dw[0][2][2][1].item<float>());
    QCOMPARE(t.at("s/depthwise_kernel").sizes().vec(), (std::vector<int64_t>{4, 1, 3, 3}));
    QCOMPARE(t.at("s/pointwise_kernel").sizes().vec(), (std::vector<int64_t>{3, 4, 1, 1}));
    QVERIFY(t.at("inner/f/kernel").equal(m.tensors.at("inner/f/kernel").t()));
    QVERIFY(t.at("inner/f/bias").equal(m.tensors.at("inner/f/bias")));
    QVERIFY(t.at("bn/gamma").equal(m.tensors.at("bn/gamma")));
    for (const auto& [name, x] : t) QVERIFY(x.is_contiguous());

    // The converted kernels compute what TF computes: NHWC conv with the TF
    // kernel (written as explicit sums) == torch conv2d with the converted one.
    auto x = torch::randn({1, 5, 5, 2});  // NHWC
    auto ref = torch::zeros({1, 3, 3, 4});
    for (int oy = 0; oy < 3; ++oy)
      for (int ox = 0; ox < 3; ++ox)
        ref[0][oy][ox] = torch::einsum("hwi,hwio->o", {x[0].slice(0, oy, oy + 3).slice(1, ox, ox + 3), c});
    auto y = torch::conv2d(x.permute({0, 3, 1, 2}), t.at("c/kernel")).permute({0, 2, 3, 1});
    QVERIFY(gg::test::max_abs_diff(y, ref) < 1e-5 * ref.abs().max().item<double>());
  }

  void convertWritesSafetensors() {
    KerasFiles f(true);
    const std::string out = f.file("out.safetensors");
    const auto r = gg::convert_tfjs(f.model_json(), out);
    QCOMPARE(r.tensors, int64_t(7));
    QCOMPARE(r.transposed, int64_t(5));  // c, d, s (both), inner/f
    QCOMPARE(r.values, int64_t(72 + 72 + 36 + 12 + 3 + 15 + 5));
    const auto s = gg::read_safetensors(out);
    QCOMPARE(s.metadata.at("tfjs.layout"), std::string("torch"));
    QCOMPARE(s.metadata.at("tfjs.format"), std::string("layers-model"));
    QCOMPARE(s.metadata.at("tfjs.generated_by"), std::string("keras v2.2.4"));
    QCOMPARE(s.metadata.at("tfjs.source"), std::string("model.json"));
    QCOMPARE(json::parse(s.metadata.at("tfjs.model_topology")), keras_topology(true));
    const auto t = gg::tfjs_torch_layout(gg::read_tfjs_model(f.model_json()));
    QCOMPARE(s.tensors.size(), t.size());
    for (const auto& [name, x] : t) QVERIFY2(s.tensors.at(name).equal(x), name.c_str());
    gg::convert_tfjs(f.model_json(), out, /*keep_layout=*/true);
    const auto k = gg::read_safetensors(out);
    QCOMPARE(k.metadata.at("tfjs.layout"), std::string("tfjs"));
    QCOMPARE(k.tensors.at("c/kernel").sizes().vec(), (std::vector<int64_t>{3, 3, 2, 4}));
  }

  void malformedInputs_data() {
    QTest::addColumn<int>("which");
    QTest::addColumn<QString>("needle");
    QTest::newRow("truncated shard") << 0 << "group1-shard2of2.bin) hold 859 bytes, but its 7 weights need 860";
    QTest::newRow("missing shard") << 1 << "cannot read weight shard";
    QTest::newRow("string dtype") << 2 << "weight 'c/kernel' has dtype 'string'";
    QTest::newRow("unknown quantization") << 3 << "weight 'c/kernel' has quantization dtype 'int4'";
    QTest::newRow("uint8 without scale") << 4 << "weight 'c/kernel' is quantized to uint8 without numeric min and scale";
    QTest::newRow("negative dim") << 5 << "weight 'c/kernel' has a shape entry that is not a non-negative integer";
    QTest::newRow("huge shape") << 6 << "weight 'c/kernel' is too large";
    QTest::newRow("path outside the folder") << 7 << "leaves the model's folder";
    QTest::newRow("absolute path") << 8 << "is absolute";
    QTest::newRow("duplicate name") << 9 << "weight 'c/kernel' is listed twice";
    QTest::newRow("no manifest") << 10 << "has no weightsManifest";
    QTest::newRow("not JSON") << 11 << "is not valid JSON";
    QTest::newRow("extra bytes") << 12 << "hold 861 bytes, but its 7 weights need 860";
    QTest::newRow("huge total") << 13 << "need more than 8 GiB";
    QTest::newRow("bad rank for a conv") << 14 << "weight 'c/kernel' of Conv2D layer has shape [9, 8]";
  }
  void malformedInputs() {
    QFETCH(int, which);
    QFETCH(QString, needle);
    KerasFiles f(true);
    json j = json::parse(std::ifstream(f.model_json()));
    json& ws = j["weightsManifest"][0]["weights"];
    json* ck = nullptr;  // c/kernel [3, 3, 2, 4]
    for (auto& w : ws)
      if (w["name"] == "c/kernel") ck = &w;
    QVERIFY(ck != nullptr);
    std::string text;
    switch (which) {
      case 0: write_bytes(f.file("group1-shard2of2.bin"), std::string(758, 'x')); break;
      case 1: std::remove(f.file("group1-shard2of2.bin").c_str()); break;
      case 2: (*ck)["dtype"] = "string"; break;
      case 3: (*ck)["quantization"] = {{"dtype", "int4"}}; break;
      case 4: (*ck)["quantization"] = {{"dtype", "uint8"}, {"min", 0.0}}; break;
      case 5: (*ck)["shape"] = {3, -3, 2, 4}; break;
      case 6: (*ck)["shape"] = {1 << 20, 1 << 20, 1 << 20, 4}; break;
      case 7: j["weightsManifest"][0]["paths"][0] = "../group1-shard1of2.bin"; break;
      case 8: j["weightsManifest"][0]["paths"][0] = "/etc/passwd"; break;
      case 9: ws.push_back(*ck); break;
      case 10: j.erase("weightsManifest"); break;
      case 11: text = "{\"weightsManifest\": ["; break;
      case 12: write_bytes(f.file("group1-shard2of2.bin"), std::string(760, 'x')); break;
      case 13: {
        json g = {{"paths", {"group1-shard1of2.bin"}}, {"weights", json::array()}};
        for (int i = 0; i < 3; ++i) g["weights"].push_back(weight("big" + std::to_string(i), {1 << 30}));
        j["weightsManifest"].push_back(g);
        break;
      }
      case 14: (*ck)["shape"] = {9, 8}; break;  // same byte count, rank 2
    }
    write_bytes(f.model_json(), text.empty() ? j.dump() : text);
    auto run = [&] { gg::convert_tfjs(f.model_json(), f.file("out.safetensors")); };
    GG_VERIFY_THROWS_WITH(run(), gg::CheckpointError, needle.toStdString());
    GG_VERIFY_THROWS_WITH(run(), gg::CheckpointError, f.model_json());
    QVERIFY(!QFile::exists(QString::fromStdString(f.file("out.safetensors"))));
  }

  void modelJsonSizeLimit() {
    QTemporaryDir dir;
    const std::string p = dir.path().toStdString() + "/model.json";
    {
      std::ofstream out(p, std::ios::binary);
      out.seekp(gg::kTfjsMaxModelJsonBytes);
      out.put('}');
    }
    GG_VERIFY_THROWS_WITH(gg::read_tfjs_model(p), gg::CheckpointError, "is refused");
    GG_VERIFY_THROWS_WITH(gg::read_tfjs_model(p + ".missing"), gg::CheckpointError, "cannot read it");
  }
};

QTEST_GUILESS_MAIN(TestTfjsConvert)
#include "test_tfjs_convert.moc"

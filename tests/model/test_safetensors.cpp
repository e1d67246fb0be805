// Tests of the safetensors reader/writer (model/safetensors.h).
#include <QtTest/QtTest>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sys/resource.h>

#include "errors.h"
#include "safetensors.h"
#include "test_support.h"

namespace fs = std::filesystem;
using gg::CheckpointError;

namespace {
std::string le64(uint64_t v) { return std::string(reinterpret_cast<const char*>(&v), 8); }
std::string file_with_header(const std::string& header, const std::string& data) {
  return le64(header.size()) + header + data;
}
}  // namespace

class TestSafetensors : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;
  std::string path(const char* name) { return (fs::path(dir_.path().toStdString()) / name).string(); }

 private Q_SLOTS:
  void roundTripIsBitExact_data() {
    QTest::addColumn<int>("dtype");
    QTest::newRow("F32") << int(torch::kFloat32);
    QTest::newRow("F16") << int(torch::kFloat16);
    QTest::newRow("BF16") << int(torch::kBFloat16);
    QTest::newRow("F64") << int(torch::kFloat64);
    QTest::newRow("I64") << int(torch::kInt64);
    QTest::newRow("U8") << int(torch::kUInt8);
    QTest::newRow("BOOL") << int(torch::kBool);
  }
  void roundTripIsBitExact() {
    QFETCH(int, dtype);
    const auto type = static_cast<c10::ScalarType>(dtype);
    torch::manual_seed(1);
    std::map<std::string, torch::Tensor> in{
        {"a.weight", (torch::randn({3, 5}) * 100).to(type)},
        {"b", (torch::randn({7}) * 100).to(type)},
        {"scalar", torch::tensor(3.0).to(type)},
        {"empty", torch::zeros({0, 4}).to(type)},
        {"strided", (torch::randn({4, 6}) * 10).to(type).t()},  // non-contiguous input
    };
    gg::write_safetensors(path("rt.safetensors"), in, {{"k", "v"}, {"json", "{\"x\": 1}"}});
    auto out = gg::read_safetensors(path("rt.safetensors"));
    QCOMPARE(out.metadata.at("k"), std::string("v"));
    QCOMPARE(out.metadata.at("json"), std::string("{\"x\": 1}"));
    QCOMPARE(out.tensors.size(), in.size());
    for (const auto& [name, t] : in) {
      const auto& r = out.tensors.at(name);
      QCOMPARE(r.scalar_type(), type);
      QCOMPARE(r.sizes().vec(), t.sizes().vec());
      QVERIFY2(torch::equal(r, t), name.c_str());
    }
    // The file starts with an 8-byte length and the data section is 8-aligned.
    std::ifstream f(path("rt.safetensors"), std::ios::binary);
    uint64_t hl = 0;
    f.read(reinterpret_cast<char*>(&hl), 8);
    QCOMPARE(hl % 8, uint64_t(0));
  }

  void rejectsMalformedFiles_data() {
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<QString>("needle");
    const std::string ok_header = R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
    const std::string data8(8, '\0');
    auto row = [](const char* name, const std::string& b, const char* needle) {
      QTest::newRow(name) << QByteArray(b.data(), int(b.size())) << QString(needle);
    };
    row("too short", "abc", "shorter than its 8-byte header");
    row("header past end", le64(1000) + "{}", "runs past the end");
    row("huge header", le64(1ull << 40), "exceeds 100 MiB");
    row("not json", file_with_header("{nope", data8), "not valid JSON");
    row("not object", file_with_header("[1,2]", ""), "not a JSON object");
    row("missing field", file_with_header(R"({"t":{"dtype":"F32","shape":[2]}})", data8), "lacks dtype, shape or data_offsets");
    row("bad dtype", file_with_header(R"({"t":{"dtype":"F128","shape":[2],"data_offsets":[0,8]}})", data8), "unsupported dtype");
    row("negative shape", file_with_header(R"({"t":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", data8), "non-negative");
    row("offsets out of range", file_with_header(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}})", data8), "outside the data section");
    row("truncated data", file_with_header(ok_header, std::string(5, '\0')), "outside the data section");
    row("size mismatch", file_with_header(R"({"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", data8), "bytes of data for 3 elements");
    row("gap", file_with_header(R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", data8), "overlap or leave a gap");
    row("overlap",
        file_with_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", data8),
        "overlap or leave a gap");
    row("trailing bytes", file_with_header(ok_header, data8 + "xx"), "tensors cover 8");
    row("bad metadata", file_with_header(R"({"__metadata__":{"a":1}})", ""), "__metadata__.a is not a string");
    row("overflowing shape",
        file_with_header(R"({"t":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,8]}})", data8),
        "overflows");
  }
  void rejectsMalformedFiles() {
    QFETCH(QByteArray, bytes);
    QFETCH(QString, needle);
    const std::string b(bytes.constData(), size_t(bytes.size()));
    GG_VERIFY_THROWS_WITH(gg::parse_safetensors(b, "bad.safetensors"), CheckpointError, needle.toStdString());
    GG_VERIFY_THROWS_WITH(gg::parse_safetensors(b, "bad.safetensors"), CheckpointError, "bad.safetensors");
  }

  void everyTruncationIsRejected() {
    // Cutting a valid file at any byte never crashes and always throws.
    std::map<std::string, torch::Tensor> in{{"w", torch::randn({3, 3})}, {"b", torch::randn({3})}};
    const std::string full = gg::serialize_safetensors(in, {{"m", "x"}});
    for (size_t n = 0; n < full.size(); ++n) {
      bool threw = false;
      try {
        gg::parse_safetensors(full.substr(0, n), "cut");
      } catch (const CheckpointError&) {
        threw = true;
      }
      QVERIFY2(threw, ("truncation at " + std::to_string(n) + " accepted").c_str());
    }
  }

  void missingFileNamesThePath() {
    GG_VERIFY_THROWS_WITH(gg::read_safetensors(path("nope.safetensors")), CheckpointError, "nope.safetensors");
  }

  void failedWriteKeepsThePreviousFile() {
    // A write that fails half-way (here: the file-size limit, as a full disk
    // would) leaves the previous file intact and no temporary file behind.
    const std::string p = path("keep.safetensors");
    std::map<std::string, torch::Tensor> small{{"x", torch::arange(4, torch::kFloat32)}};
    gg::write_safetensors(p, small);
    const auto before = fs::file_size(p);

    std::signal(SIGXFSZ, SIG_IGN);
    rlimit old{};
    getrlimit(RLIMIT_FSIZE, &old);
    rlimit lim = old;
    lim.rlim_cur = 4096;
    QCOMPARE(setrlimit(RLIMIT_FSIZE, &lim), 0);
    std::map<std::string, torch::Tensor> big{{"x", torch::randn({100000})}};
    bool threw = false;
    try {
      gg::write_safetensors(p, big);
    } catch (const CheckpointError& e) {
      threw = true;
      QVERIFY(std::string(e.what()).find("unchanged") != std::string::npos);
    }
    setrlimit(RLIMIT_FSIZE, &old);
    QVERIFY(threw);
    QCOMPARE(fs::file_size(p), before);
    QVERIFY(torch::equal(gg::read_safetensors(p).tensors.at("x"), small.at("x")));
    for (const auto& e : fs::directory_iterator(dir_.path().toStdString()))
      QVERIFY2(e.path().filename().string().find(".tmp.") == std::string::npos, "temporary file left behind");
  }

  void writeIntoMissingDirectoryFails() {
    GG_VERIFY_THROWS_WITH(gg::write_safetensors(path("no/such/dir/x.safetensors"), {{"x", torch::ones({1})}}),
                          CheckpointError, "cannot create");
  }
};

QTEST_GUILESS_MAIN(TestSafetensors)
#include "test_safetensors.moc"

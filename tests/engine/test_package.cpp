// Model packages (model/engine/package.h): round trips and clear errors.
#include <QtTest/QtTest>

#include <filesystem>
#include <fstream>

#include "package.h"
#include "test_support.h"
#include "tiny_package.h"

namespace fs = std::filesystem;

namespace {
void write(const fs::path& p, const std::string& s) {
  std::ofstream(p, std::ios::binary) << s;
}
std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
}  // namespace

class TestPackage : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void roundTripsEveryNetwork() {
    QTemporaryDir tmp;
    const std::string dir = tmp.filePath("pkg").toStdString();
    auto src = gg::test::tiny_package(true, true);
    gg::save_package(dir, src);
    auto pkg = gg::load_package(dir);
    QCOMPARE(pkg.name, std::string("tiny-test"));
    QCOMPARE(pkg.sample_prompts.size(), size_t(2));
    QCOMPARE(pkg.styles, (std::vector<std::string>{"noto", "twemoji"}));
    QVERIFY(pkg.upsampler && pkg.evaluator);
    QCOMPARE(pkg.hash.size(), size_t(16));
    for (auto& [a, b] : std::vector<std::pair<torch::nn::Module*, torch::nn::Module*>>{
             {src.generator.get(), pkg.generator.get()}, {src.clip.get(), pkg.clip.get()},
             {src.upsampler.get(), pkg.upsampler.get()}, {src.evaluator.get(), pkg.evaluator.get()}}) {
      auto pa = a->named_parameters(), pb = b->named_parameters();
      QCOMPARE(pa.size(), pb.size());
      for (const auto& item : pa) QVERIFY2(torch::equal(item.value(), pb[item.key()]), item.key().c_str());
    }
    for (const auto& p : pkg.generator->parameters()) QVERIFY(!p.requires_grad());
    QVERIFY(!pkg.generator->is_training());
    // The tokenizer follows the CLIP text config.
    const auto& text = pkg.clip->config.text_config;
    QCOMPARE(pkg.tokenizer->context_length(), int64_t(text.max_position_embeddings));
    QCOMPARE(pkg.tokenizer->eos_id(), int64_t(text.eos_token_id));
    const auto ids = pkg.tokenizer->encode("cat face, noto style");
    QCOMPARE(QString::fromStdString(pkg.tokenizer->decode(ids.ids)), QString("cat face , noto style"));
  }

  void hashFollowsTheWeights() {
    QTemporaryDir tmp;
    const std::string a = tmp.filePath("a").toStdString(), b = tmp.filePath("b").toStdString(),
                      c = tmp.filePath("c").toStdString();
    gg::test::write_tiny_package(a, false, false, 1);
    gg::test::write_tiny_package(b, false, false, 1);
    gg::test::write_tiny_package(c, false, false, 2);
    QCOMPARE(gg::package_hash(a), gg::package_hash(b));
    QVERIFY(gg::package_hash(a) != gg::package_hash(c));
  }

  void overwriteSwapsTheWholePackage() {
    QTemporaryDir tmp;
    const fs::path dir = tmp.filePath("pkg").toStdString();
    gg::test::write_tiny_package(dir.string(), true, false, 1);
    QVERIFY(fs::exists(dir / "upsampler.safetensors"));
    gg::test::write_tiny_package(dir.string(), false, false, 2);
    QVERIFY(!fs::exists(dir / "upsampler.safetensors"));  // nothing left over from the old package
    QCOMPARE(gg::package_hash(dir.string()), [&] {
      gg::test::write_tiny_package(tmp.filePath("ref").toStdString(), false, false, 2);
      return gg::package_hash(tmp.filePath("ref").toStdString());
    }());
    for (const auto& e : fs::directory_iterator(tmp.path().toStdString()))
      QVERIFY2(e.path().filename().string().find(".tmp-") == std::string::npos, e.path().c_str());
    // A non-package folder is never replaced.
    const fs::path other = tmp.filePath("other").toStdString();
    fs::create_directories(other);
    write(other / "notes.txt", "mine");
    GG_VERIFY_THROWS_WITH(gg::test::write_tiny_package(other.string()), gg::CheckpointError, "refusing to replace");
    QCOMPARE(read(other / "notes.txt"), std::string("mine"));
  }

  // Every part is checked against the others, on load and in memory
  // (gg::check_package_fit), and the message names the part that does not
  // fit and the part it does not fit.
  void partsThatDoNotFitAreRefused() {
    QTemporaryDir tmp;
    const gg::ModelConfig config = gg::ModelConfig::load(gg::test::config_path("tiny"));
    auto fresh = [] {
      auto pkg = gg::test::tiny_package(true, true);
      gg::prepare_package(pkg);
      return pkg;
    };
    gg::check_package_fit(fresh());  // the parts of a tiny package fit
    int k = 0;
    auto refused_on_load = [&](const gg::ModelPackage& pkg, const std::string& part, const std::string& other,
                               const std::string& what) {
      const fs::path dir = tmp.filePath(QString("bad%1").arg(k++)).toStdString();
      gg::save_package(dir.string(), pkg);  // written as given: save_package does not judge the fit
      GG_VERIFY_THROWS_WITH(gg::load_package(dir.string()), gg::CheckpointError, (dir / part).string() + "'");
      GG_VERIFY_THROWS_WITH(gg::load_package(dir.string()), gg::CheckpointError, (dir / other).string() + "'");
      GG_VERIFY_THROWS_WITH(gg::load_package(dir.string()), gg::CheckpointError, what);
    };
    const gg::ModelPackage base = fresh();
    const auto& text = base.clip->config.text_config;

    auto g = config.generator;  // a generator for a wider CLIP
    g.text_input_dim = text.hidden_size * 2;
    auto pkg = fresh();
    pkg.generator = gg::Generator(g);
    refused_on_load(pkg, "generator.safetensors", "clip.safetensors", "reads text features of width");
    GG_VERIFY_THROWS_WITH(gg::check_package_fit(pkg), gg::CheckpointError,
                          "the generator reads text features of width " + std::to_string(g.text_input_dim));

    auto u = config.upsampler;  // an upsampler for a longer context
    u.context_length = text.max_position_embeddings + 4;
    pkg = fresh();
    pkg.upsampler = gg::Upsampler(u);
    refused_on_load(pkg, "upsampler.safetensors", "clip.safetensors",
                    "context " + std::to_string(u.context_length) + ", but");

    auto c = base.clip->config;  // a CLIP whose eos id is not the tokenizer's
    c.text_config.eos_token_id = c.text_config.eos_token_id - 2;
    pkg = fresh();
    pkg.clip = gg::ClipModel(c);
    refused_on_load(pkg, "clip.safetensors", "tokenizer", "does not match");
    GG_VERIFY_THROWS_WITH(gg::check_package_fit(pkg), gg::CheckpointError, "eos " + std::to_string(c.text_config.eos_token_id));

    auto e = base.clip->config;  // an evaluator with fewer tokens than the tokenizer
    e.text_config.vocab_size = text.vocab_size - 10;
    e.text_config.bos_token_id = e.text_config.vocab_size - 2;
    e.text_config.eos_token_id = e.text_config.pad_token_id = e.text_config.vocab_size - 1;
    pkg = fresh();
    pkg.evaluator = gg::ClipModel(e);
    refused_on_load(pkg, "evaluator_clip.safetensors", "tokenizer", "cannot read the ids of");
  }

  void fp16StorageLoadsAsFloat32() {
    QTemporaryDir tmp;
    const std::string dir = tmp.filePath("pkg").toStdString();
    auto src = gg::test::tiny_package(false);
    gg::SavePackageOptions o;
    o.storage = torch::kFloat16;
    gg::save_package(dir, src, o);
    QVERIFY(fs::file_size(fs::path(dir) / "generator.safetensors") <
            fs::file_size(fs::path(dir) / "clip.safetensors") * 100);  // written
    auto pkg = gg::load_package(dir);
    const auto w = pkg.generator->parameters()[0];
    QCOMPARE(w.scalar_type(), torch::kFloat32);
    QVERIFY(gg::test::max_abs_diff(w, src.generator->parameters()[0]) < 1e-2);
  }

  void errorsNameTheFile() {
    QTemporaryDir tmp;
    const fs::path dir = tmp.filePath("pkg").toStdString();
    GG_VERIFY_THROWS_WITH(gg::load_package(dir.string()), gg::CheckpointError, dir.string());
    gg::test::write_tiny_package(dir.string());
    const std::string manifest = read(dir / "package.json");
    // Missing network file.
    fs::rename(dir / "generator.safetensors", dir / "g.bak");
    GG_VERIFY_THROWS_WITH(gg::load_package(dir.string()), gg::CheckpointError, "generator.safetensors' is missing");
    fs::rename(dir / "g.bak", dir / "generator.safetensors");
    // A file of the wrong kind.
    auto j = nlohmann::json::parse(manifest);
    j["generator"] = "clip.safetensors";
    write(dir / "package.json", j.dump());
    GG_VERIFY_THROWS_WITH(gg::load_package(dir.string()), gg::CheckpointError, "holds a clip, not a generator");
    // Not JSON; wrong format; missing entry.
    write(dir / "package.json", "{oops");
    GG_VERIFY_THROWS_WITH(gg::load_package(dir.string()), gg::CheckpointError, "package.json' is not valid JSON");
    j = nlohmann::json::parse(manifest);
    j["format"] = "zip";
    write(dir / "package.json", j.dump());
    GG_VERIFY_THROWS_WITH(gg::load_package(dir.string()), gg::CheckpointError, "\"format\" must be");
    j = nlohmann::json::parse(manifest);
    j.erase("clip");
    write(dir / "package.json", j.dump());
    GG_VERIFY_THROWS_WITH(gg::load_package(dir.string()), gg::CheckpointError, "no \"clip\" entry");
    // Styles: a list of distinct style words, bounded.
    for (const auto& [styles, message] : std::vector<std::pair<nlohmann::json, std::string>>{
             {"noto", "\"styles\" must be a list"},
             {{"noto", 3}, "\"styles\" must hold strings"},
             {{"noto", "Noto Style"}, "\"styles\": entry 1, 'Noto Style': a style word is 1-32 bytes"},
             {{"noto", "noto"}, "entry 1, 'noto': listed twice"},
             {std::vector<std::string>(65, "a"), "\"styles\" has 65 entries, at most 64"}}) {
      j = nlohmann::json::parse(manifest);
      j["styles"] = styles;
      write(dir / "package.json", j.dump());
      GG_VERIFY_THROWS_WITH(gg::load_package(dir.string()), gg::CheckpointError, message);
    }
    auto bad = gg::test::tiny_package();
    bad.styles = {"noto", ""};
    GG_VERIFY_THROWS_WITH(gg::save_package(tmp.filePath("y").toStdString(), bad), gg::CheckpointError,
                          "styles: entry 1, '': a style word");
    QVERIFY(!fs::exists(tmp.filePath("y").toStdString()));
    // A manifest over 1 MiB is refused before it is read.
    write(dir / "package.json", manifest + std::string((size_t(1) << 20) - manifest.size() + 1, ' '));
    GG_VERIFY_THROWS_WITH(gg::load_package(dir.string()), gg::CheckpointError,
                          "package.json' is 1048577 bytes, more than the 1048576 it may have");
    // Missing tokenizer file.
    write(dir / "package.json", manifest);
    fs::remove(dir / "tokenizer" / "merges.txt");
    GG_VERIFY_THROWS_WITH(gg::load_package(dir.string()), gg::CheckpointError, "merges.txt' is missing");
    // Nothing to save.
    gg::ModelPackage empty;
    GG_VERIFY_THROWS_WITH(gg::save_package(tmp.filePath("x").toStdString(), empty), gg::CheckpointError,
                          "no CLIP model");
  }
};

QTEST_GUILESS_MAIN(TestPackage)
#include "test_package.moc"

// Presets and config validation (model/model_config.h, model/json_config.h).
#include <QtTest/QtTest>

#include <fstream>

#include "model_config.h"
#include "test_support.h"

namespace {
gg::json preset_json(const std::string& name) {
  std::ifstream f(gg::test::config_path(name));
  return gg::json::parse(f);
}
}  // namespace

class TestModelConfig : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void presetsLoadAndValidate_data() {
    QTest::addColumn<QString>("preset");
    QTest::newRow("tiny") << "tiny";
    QTest::newRow("emoji64") << "emoji64";
    QTest::newRow("paper") << "paper";
  }
  void presetsLoadAndValidate() {
    QFETCH(QString, preset);
    const auto c = gg::ModelConfig::load(gg::test::config_path(preset.toStdString()));
    QCOMPARE(QString::fromStdString(c.name), preset);
    // Round trip through JSON keeps every field.
    const gg::json j = c;
    QCOMPARE(gg::json(j.get<gg::ModelConfig>()), j);
  }

  void paperUsesClipVitL14() {
    const auto c = gg::ModelConfig::load(gg::test::config_path("paper"));
    QCOMPARE(c.clip.text_config.hidden_size, 768);
    QCOMPARE(c.clip.vision_config.hidden_size, 1024);
    QCOMPARE(c.clip.vision_config.patch_size, 14);
    QCOMPARE(c.generator.resolution, 64);
    QCOMPARE(c.generator.num_levels(), 5);
    QCOMPARE(c.generator.z_dim, 128);
  }

  void errorsNameTheField_data() {
    QTest::addColumn<QString>("pointer");
    QTest::addColumn<QString>("value");
    QTest::addColumn<QString>("needle");
    QTest::newRow("unknown field") << "/generator/chanels" << "[1]" << "unknown field 'chanels'";
    QTest::newRow("wrong type") << "/generator/z_dim" << "\"big\"" << "z_dim";
    QTest::newRow("text width mismatch") << "/generator/text_input_dim" << "123"
                                         << "generator.text_input_dim (123) must equal clip.text_config.hidden_size";
    QTest::newRow("levels mismatch") << "/discriminator/levels" << "2" << "discriminator.levels (2) must equal the generator's pyramid levels (3)";
    QTest::newRow("bad activation") << "/clip/text_config/hidden_act" << "\"swish\"" << "hidden_act";
    QTest::newRow("negative size") << "/generator/w_dim" << "-4" << "w_dim";
  }
  void errorsNameTheField() {
    QFETCH(QString, pointer);
    QFETCH(QString, value);
    QFETCH(QString, needle);
    gg::json j = preset_json("tiny");
    j[gg::json::json_pointer(pointer.toStdString())] = gg::json::parse(value.toStdString());
    QTemporaryDir dir;
    const std::string path = dir.filePath("c.json").toStdString();
    std::ofstream(path) << j.dump();
    GG_VERIFY_THROWS_WITH(gg::ModelConfig::load(path), gg::ConfigError, needle.toStdString());
    GG_VERIFY_THROWS_WITH(gg::ModelConfig::load(path), gg::ConfigError, path);
  }

  void badJsonNamesTheFile() {
    QTemporaryDir dir;
    const std::string path = dir.filePath("broken.json").toStdString();
    std::ofstream(path) << "{ \"generator\": ";
    GG_VERIFY_THROWS_WITH(gg::ModelConfig::load(path), gg::ConfigError, "is not valid JSON");
    GG_VERIFY_THROWS_WITH(gg::ModelConfig::load(dir.filePath("missing.json").toStdString()), gg::ConfigError,
                          "cannot open");
  }
};

QTEST_GUILESS_MAIN(TestModelConfig)
#include "test_model_config.moc"

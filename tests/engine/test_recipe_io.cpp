// Recipes (recipe.h), PNG text chunks and images (image_io.h), video export (video.h).
#include <QtTest/QtTest>
#include <QBuffer>
#include <QImage>
#include <QImageReader>

#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/videoio.hpp>

#include "image_io.h"
#include "recipe.h"
#include "test_support.h"
#include "video.h"

namespace fs = std::filesystem;

namespace {

// GIF frames decoded by Qt's reader (an independent decoder), as BGR mats.
std::vector<cv::Mat> decode_gif(const std::string& bytes) {
  QByteArray data(bytes.data(), static_cast<qsizetype>(bytes.size()));
  QBuffer buf(&data);
  buf.open(QIODevice::ReadOnly);
  QImageReader r(&buf, "gif");
  std::vector<cv::Mat> frames;
  QImage img;
  while (r.read(&img)) {
    img = img.convertToFormat(QImage::Format_RGB888);
    cv::Mat m(img.height(), img.width(), CV_8UC3);
    for (int y = 0; y < img.height(); ++y)
      for (int x = 0; x < img.width(); ++x) {
        const QRgb p = img.pixel(x, y);
        m.at<cv::Vec3b>(y, x) = cv::Vec3b(qBlue(p), qGreen(p), qRed(p));
      }
    frames.push_back(m);
  }
  return frames;
}

cv::Mat test_frame(int i, int size = 64) {
  cv::Mat m(size, size, CV_8UC3);
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x) m.at<cv::Vec3b>(y, x) = cv::Vec3b((x * 4 + i * 9) % 256, (y * 4) % 256, ((x ^ y) * 3 + i) % 256);
  return m;
}

}  // namespace

class TestRecipeIo : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void recipeRoundTrips() {
    gg::Recipe r;
    r.model_name = "emoji";
    r.model_hash = "0123456789abcdef";
    r.sources = {gg::Source{"cat face", 18446744073709551615ull, 0.7, {}},
                 gg::Source{"dog", 2, 1.0, gg::Latent{true, torch::randn({5, 8})}}};
    r.blend = gg::BlendMode::Slerp;
    r.w_weights = {0.25, 0.75};
    r.layers = {{"coarse", {0, 1}, {}}, {"fine", {}, {1, 0}}};
    r.directions = {{"noto style", "twemoji style", -1, -1, 1.5, "middle"}};
    r.upsample = true;
    r.upsample_seed = 42;
    const auto back = gg::Recipe::parse(r.dump(), "test");
    QCOMPARE(back.dump(), r.dump());
    QVERIFY(torch::equal(back.sources[1].latent->w, r.sources[1].latent->w));  // bit-exact latent
    QCOMPARE(back.sources[0].seed, r.sources[0].seed);
    // A source index is shorthand for one-hot weights.
    auto j = r.to_json();
    j["w"] = 1;
    QCOMPARE(gg::Recipe::from_json(j).w_weights, (std::vector<double>{0, 1}));
    // Grids.
    gg::RecipeGrid g;
    g.columns = 2;
    g.cells = {r, back, r};
    const auto gb = gg::RecipeGrid::parse(g.to_json().dump(), "grid");
    QCOMPARE(gb.columns, 2);
    QCOMPARE(gb.cells.size(), size_t(3));
    QCOMPARE(gg::RecipeGrid::parse(r.dump(), "one").cells.size(), size_t(1));
  }

  void recipeErrorsNameTheField() {
    GG_VERIFY_THROWS_WITH(gg::Recipe::parse("{", "x.json"), gg::ConfigError, "x.json");
    GG_VERIFY_THROWS_WITH(gg::Recipe::parse("{\"sources\": []}", "x"), gg::ConfigError, "at least one source");
    GG_VERIFY_THROWS_WITH(gg::Recipe::parse("{\"sources\": [{\"prompt\": \"\"}]}", "x"), gg::PromptError,
                          "empty prompt");
    GG_VERIFY_THROWS_WITH(gg::Recipe::parse("{\"sources\": [{\"prompt\": \"a\", \"sed\": 1}]}", "x"), gg::ConfigError,
                          "unknown field 'sed'");
    GG_VERIFY_THROWS_WITH(gg::Recipe::parse("{\"sources\": [{\"prompt\": \"a\"}], \"w\": [1, 1]}", "x"),
                          gg::ConfigError, "recipe.w");
    GG_VERIFY_THROWS_WITH(gg::Recipe::parse("{\"sources\": [{\"prompt\": \"a\"}], \"noise\": \"random\"}", "x"),
                          gg::ConfigError, "recipe.noise");
  }

  void pngCarriesText() {
    QTemporaryDir tmp;
    const std::string path = tmp.filePath("a.png").toStdString();
    const cv::Mat img = test_frame(0, 16);
    const std::string text = "{\"prompt\": \"caf\xC3\xA9 \xF0\x9F\x98\xBA\"}";  // UTF-8 survives
    gg::write_png(path, img, {{gg::kRecipeChunkKey, text}});
    const auto chunks = gg::read_png_text(path);
    QCOMPARE(chunks.at(gg::kRecipeChunkKey), text);
    const cv::Mat back = cv::imread(path, cv::IMREAD_UNCHANGED);  // still a valid PNG for other readers
    QCOMPARE(cv::norm(back, img, cv::NORM_INF), 0.0);
    // Damage a byte inside the text: the CRC catches it.
    std::string bytes;
    {
      std::ifstream in(path, std::ios::binary);
      bytes.assign(std::istreambuf_iterator<char>(in), {});
    }
    bytes[bytes.find("prompt")] = 'P';
    GG_VERIFY_THROWS_WITH(gg::parse_png_text(bytes, "x.png"), gg::ImageError, "CRC mismatch");
    GG_VERIFY_THROWS_WITH(gg::read_png_text(tmp.filePath("none.png").toStdString()), gg::ImageError, "none.png");
  }

  void imagesConvert() {
    QTemporaryDir tmp;
    const auto t = torch::rand({3, 8, 8}) * 2 - 1;
    const cv::Mat m = gg::to_bgr8(t);
    QVERIFY(gg::test::max_abs_diff(gg::from_mat(m), t) <= 1.0 / 127.5 + 1e-6);
    // Alpha is composited on white; resizing reaches the asked resolution.
    cv::Mat rgba(4, 4, CV_8UC4, cv::Scalar(0, 0, 0, 0));
    const std::string p = tmp.filePath("t.png").toStdString();
    cv::imwrite(p, rgba);
    const auto x = gg::read_image(p, 16);
    QCOMPARE(x.sizes().vec(), (std::vector<int64_t>{3, 16, 16}));
    QVERIFY(x.min().item<float>() > 0.99f);
    const std::string junk = tmp.filePath("junk.png").toStdString();
    std::ofstream(junk) << "not an image";
    GG_VERIFY_THROWS_WITH(gg::read_image(junk), gg::ImageError, "junk.png");
    GG_VERIFY_THROWS_WITH(gg::read_image(tmp.filePath("missing.png").toStdString()), gg::ImageError, "missing.png");
  }

  void gifDecodesToTheFrames() {
    std::vector<cv::Mat> frames;
    for (int i = 0; i < 3; ++i) frames.push_back(test_frame(i));
    const auto frames_back = decode_gif(gg::encode_gif(frames, 5));
    QCOMPARE(frames_back.size(), frames.size());
    for (size_t i = 0; i < frames.size(); ++i) {
      // 256 median-cut colours for a smooth 3-channel gradient: small error per pixel.
      cv::Mat diff;
      cv::absdiff(frames[i], frames_back[i], diff);
      QVERIFY2(cv::mean(diff)[0] < 12 && cv::mean(diff)[2] < 12, std::to_string(cv::mean(diff)[0]).c_str());
    }
    // Few colours are reproduced exactly.
    cv::Mat flat(64, 64, CV_8UC3, cv::Scalar(10, 200, 30));
    flat(cv::Rect(8, 8, 20, 20)) = cv::Scalar(250, 0, 5);
    QCOMPARE(cv::norm(decode_gif(gg::encode_gif({flat}, 10))[0], flat, cv::NORM_INF), 0.0);
  }

  void videoFiles() {
    QTemporaryDir tmp;
    std::vector<cv::Mat> frames;
    for (int i = 0; i < 6; ++i) frames.push_back(test_frame(i));
    const fs::path dir = tmp.filePath("frames").toStdString();
    gg::write_video(dir.string(), frames, 12, 1, {"{\"a\": 1}"});
    QVERIFY(fs::exists(dir / "frame_0005.png"));
    QCOMPARE(gg::read_png_text((dir / "frame_0000.png").string()).at(gg::kRecipeChunkKey), std::string("{\"a\": 1}"));
    const std::string gif = tmp.filePath("a.gif").toStdString();
    gg::write_video(gif, frames, 12, 2);
    std::ifstream in(gif, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), {});
    const auto back = decode_gif(bytes);
    QCOMPARE(back.size(), size_t(6));
    QCOMPARE(back[0].cols, 128);
    const std::string mp4 = tmp.filePath("a.mp4").toStdString();
    gg::write_video(mp4, frames, 12, 2);
    cv::VideoCapture cap(mp4);
    QVERIFY(cap.isOpened());
    int n = 0;
    cv::Mat f;
    int cols = 0;
    while (cap.read(f)) ++n, cols = f.cols;
    QCOMPARE(n, 6);
    QCOMPARE(cols, 128);
  }
};

QTEST_GUILESS_MAIN(TestRecipeIo)
#include "test_recipe_io.moc"

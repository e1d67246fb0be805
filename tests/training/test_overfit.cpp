// A `tiny` run overfits 8 images: through the real `gigagan train` command,
// the discriminator's real/fake losses move as a GAN's do and the EMA
// generator's image for each training caption approaches that caption's image
// (per-caption error well below the untrained generator's and a mean-colour
// baseline). Slow (a minute or two): CTest label "slow".
#include <QtTest/QtTest>

#include <fstream>
#include <sstream>

#include <opencv2/imgcodecs.hpp>

#include "cli.h"
#include "dataset.h"
#include "package.h"
#include "test_support.h"

namespace fs = std::filesystem;

class TestOverfit : public QObject {
  Q_OBJECT
  QTemporaryDir tmp_;
  fs::path root() const { return fs::path(tmp_.path().toStdString()); }

  // Mean squared error (in [-1, 1] units) between G_ema(caption) and the caption's image, over captions and 4 seeds.
  double error(const fs::path& package, const std::vector<std::string>& captions, const torch::Tensor& images) {
    gg::ModelPackage pkg = gg::load_package(package.string());
    torch::NoGradGuard ng;
    auto ids = pkg.tokenizer->encode_batch(captions).ids;
    auto f = pkg.clip->text_features(ids);
    double total = 0;
    for (int seed = 0; seed < 4; ++seed) {
      torch::manual_seed(100 + seed);
      auto z = torch::randn({static_cast<int64_t>(captions.size()), pkg.generator->config.z_dim});
      auto out = pkg.generator->forward(z, f.tokens, f.eot_index)[0];
      total += (out - images).pow(2).mean().item<double>();
    }
    return total / 4;
  }

 private Q_SLOTS:
  void overfitsEightImages() {
    QVERIFY(tmp_.isValid());
    const fs::path data = root() / "data";
    fs::create_directories(data);
    const char* names[] = {"red", "green", "blue", "yellow", "cyan", "magenta", "white", "black"};
    std::vector<std::string> captions;
    std::vector<torch::Tensor> images;
    for (int i = 0; i < 8; ++i) {
      cv::Mat img(16, 16, CV_8UC3, cv::Scalar(255 * ((i >> 2) & 1), 255 * ((i >> 1) & 1), 255 * (i & 1)));
      img(cv::Rect(2 + i, 4, 6, 8)).setTo(cv::Scalar(128, 128, 128));
      cv::imwrite((data / ("img" + std::to_string(i) + ".png")).string(), img);
      captions.push_back(std::string(names[i]) + " square with a grey block");
      std::ofstream(data / ("img" + std::to_string(i) + ".txt")) << captions.back();
    }
    gg::DatasetOptions dopt;
    dopt.resolution = 16;
    gg::Dataset ds(data.string(), dopt);
    for (const auto& c : captions)
      for (int64_t i = 0; i < ds.size(); ++i)
        if (ds.entry(i).caption == c) images.push_back(ds.load(i)->image);
    const torch::Tensor target = torch::stack(images);
    const double mean_colour = (target - target.mean(0, true)).pow(2).mean().item<double>();

    std::ostringstream out, err;
    const std::vector<std::string> args = {"train", "--data", data.string(), "--config", "tiny", "--clip", "random",
                                           "--out", (root() / "run").string(), "--batch", "8", "--augment", "",
                                           "--ema", "200", "--threads", "1", "--tick", "400", "--progress", "json",
                                           "--checkpoint-every", "400", "--keep", "20"};
    auto with_images = [&](int n) {
      auto a = args;
      a.insert(a.end(), {"--images", std::to_string(n)});
      return a;
    };
    QCOMPARE(gg::cli::run(with_images(8), out, err), 0);
    const double start = error(root() / "run/package", captions, target);
    QCOMPARE(gg::cli::run(with_images(4000), out, err), 0);
    const double end = error(root() / "run/package", captions, target);
    qInfo("per-caption MSE: untrained %.4f, after 4000 images %.4f, mean-colour baseline %.4f", start, end,
          mean_colour);
    QVERIFY2(end < 0.5 * start, qPrintable(QString("%1 -> %2").arg(start).arg(end)));
    QVERIFY2(end < mean_colour, qPrintable(QString("%1 vs mean colour %2").arg(end).arg(mean_colour)));
  }
};

QTEST_GUILESS_MAIN(TestOverfit)
#include "test_overfit.moc"

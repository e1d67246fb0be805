// The dataset layer (training/dataset.h) on fixtures written at test time with
// OpenCV into a QTemporaryDir: every manifest form and kohya sidecars, broken
// files counted and listed, pixels (white composite, RGB order, [-1, 1]),
// crop/resize sizes, exact box-average pairs, the empty-dataset error, sampler
// determinism / resume / weights, caption sampling and the prefetching loader.
#include <QtTest/QtTest>

#include <opencv2/imgcodecs.hpp>

#include <fstream>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "dataset.h"
#include "errors.h"
#include "test_support.h"

namespace fs = std::filesystem;

namespace {

void write_text(const fs::path& p, const std::string& s) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << s;
}

void write_image(const fs::path& p, const cv::Mat& m, const std::vector<int>& params = {}) {
  fs::create_directories(p.parent_path());
  if (!cv::imwrite(p.string(), m, params)) throw std::runtime_error("cannot write " + p.string());
}

// A deterministic noisy 8-bit BGR image (noise so that PNGs do not compress to nothing).
cv::Mat noise_image(int w, int h, int seed) {
  cv::Mat m(h, w, CV_8UC3);
  cv::RNG rng(static_cast<uint64_t>(seed) + 1);
  rng.fill(m, cv::RNG::UNIFORM, 0, 256);
  return m;
}

double px(const torch::Tensor& img, int c, int y, int x) { return img[c][y][x].item<double>(); }
double v(int byte) { return byte / 127.5 - 1.0; }

// The mixed fixture: good images of every kind and every sort of broken entry.
struct Fixture {
  fs::path dir;
  bool webp = false;
  int good = 0;  // decodable, captioned, train split
};

Fixture make_mixed(const fs::path& dir) {
  Fixture f{dir};
  // 8x8 BGRA: left half opaque red, right half transparent black, (1, 6) blue at alpha 128.
  cv::Mat alpha(8, 8, CV_8UC4, cv::Scalar(0, 0, 0, 0));
  alpha(cv::Rect(0, 0, 4, 8)).setTo(cv::Scalar(0, 0, 255, 255));
  alpha.at<cv::Vec4b>(6, 1) = cv::Vec4b(255, 0, 0, 128);
  write_image(dir / "img/alpha.png", alpha);
  write_image(dir / "img/photo.jpg", cv::Mat(8, 8, CV_8UC3, cv::Scalar(40, 120, 200)), {cv::IMWRITE_JPEG_QUALITY, 100});
  write_image(dir / "img/deep.png", cv::Mat(8, 8, CV_16UC3, cv::Scalar(0, 128 * 257, 65535)));  // RGB 255,128,0
  write_image(dir / "img/grey.png", cv::Mat(8, 8, CV_8UC1, cv::Scalar(77)));
  f.webp = cv::haveImageWriter(".webp");
  if (f.webp)
    write_image(dir / "img/green.webp", cv::Mat(8, 8, CV_8UC3, cv::Scalar(0, 200, 0)), {cv::IMWRITE_WEBP_QUALITY, 101});
  write_image(dir / "img/whole.png", noise_image(64, 64, 1));
  {  // truncated: the first half of a valid noisy PNG
    std::vector<uchar> buf;
    cv::imencode(".png", noise_image(64, 64, 2), buf);
    write_text(dir / "img/truncated.png", std::string(buf.begin(), buf.begin() + buf.size() / 2));
  }
  write_text(dir / "img/fake.png", "this is a text file, not a PNG\n");
  write_image(dir / "img/nocap.png", noise_image(8, 8, 3));
  write_image(dir / "img/val.png", noise_image(8, 8, 4));
  f.good = 5 + (f.webp ? 1 : 0);
  return f;
}

std::string jsonl_for(const Fixture& f) {
  std::string s;
  s += R"({"image": "img/alpha.png", "caption": "a red half"})" "\n";
  s += R"({"image": "img/photo.jpg", "caption": "a photo", "split": "train", "weight": 2})" "\n";
  s += R"({"image": "img/deep.png", "caption": "sixteen bits"})" "\n";
  s += R"({"image": "img/grey.png", "caption": "  grey  "})" "\n";
  if (f.webp) s += R"({"image": "img/green.webp", "caption": "green"})" "\n";
  s += R"({"image": "img/whole.png", "caption": "noise"})" "\n";
  s += R"({"image": "img/truncated.png", "caption": "cut short"})" "\n";
  s += R"({"image": "img/fake.png", "caption": "not an image"})" "\n";
  s += R"({"image": "img/nocap.png"})" "\n";
  s += R"({"image": "img/nocap.png", "caption": "   "})" "\n";
  s += "{\"image\": \"img/broken.png\", \"caption\": \n";  // bad JSON
  s += R"({"image": "img/gone.png", "caption": "missing"})" "\n";
  s += R"({"image": "img/val.png", "caption": "validation", "split": "val"})" "\n";
  s += "\n";
  return s;
}

// A folder of n distinct noisy 8x8 images with captions "image k" (JSONL).
fs::path make_plain(const fs::path& dir, int n, const std::vector<double>& weights = {}) {
  std::string s;
  for (int k = 0; k < n; ++k) {
    write_image(dir / ("i" + std::to_string(k) + ".png"), noise_image(8, 8, 100 + k));
    s += "{\"image\": \"i" + std::to_string(k) + ".png\", \"caption\": \"image " + std::to_string(k) + "\"";
    if (!weights.empty()) s += ", \"weight\": " + std::to_string(weights[k]);
    s += "}\n";
  }
  write_text(dir / "manifest.jsonl", s);
  return dir;
}

int64_t find_entry(const gg::Dataset& ds, const std::string& file) {
  for (int64_t i = 0; i < ds.size(); ++i)
    if (ds.entry(i).image.filename() == file) return i;
  return -1;
}

bool same_batch(const gg::Batch& a, const gg::Batch& b) {
  return a.indices == b.indices && a.captions == b.captions && a.captions_hat == b.captions_hat &&
         a.position_begin == b.position_begin && a.position_end == b.position_end && torch::equal(a.images, b.images);
}

}  // namespace

class TestDataset : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void jsonlReportVerify() {
    QTemporaryDir tmp;
    const auto f = make_mixed(tmp.path().toStdString());
    write_text(f.dir / "manifest.jsonl", jsonl_for(f));
    gg::DatasetOptions o;
    o.resolution = 8;
    o.verify = true;
    o.max_listed = 3;
    gg::Dataset ds(f.dir, o);
    const auto r = ds.report();
    QCOMPARE(r.format, std::string("jsonl"));
    QCOMPARE(r.entries, int64_t(12 + (f.webp ? 1 : 0)));
    QCOMPARE(r.usable, int64_t(f.good));
    QCOMPARE(r.other_split, int64_t(1));
    QCOMPARE(r.skipped.at(gg::skip_reason::kUnreadable), int64_t(2));
    QCOMPARE(r.skipped.at(gg::skip_reason::kNoCaption), int64_t(2));
    QCOMPARE(r.skipped.at(gg::skip_reason::kBadLine), int64_t(1));
    QCOMPARE(r.skipped.at(gg::skip_reason::kMissing), int64_t(1));
    QCOMPARE(r.total_skipped(), int64_t(6));
    QCOMPARE(r.listed.size(), size_t(3));  // max_listed
    QCOMPARE(r.skipped_summary(),
             std::string("1 bad manifest line, 1 missing file, 2 unreadable, 2 without caption"));
    // Verified bad entries are never handed out.
    int bad = 0;
    for (int64_t i = 0; i < ds.size(); ++i) bad += ds.is_bad(i) ? 1 : 0;
    QCOMPARE(bad, 2);
    QVERIFY(!ds.load(find_entry(ds, "fake.png")).has_value());
    QCOMPARE(ds.report().skipped.at(gg::skip_reason::kUnreadable), int64_t(2));  // not counted twice
    QCOMPARE(ds.entry(find_entry(ds, "grey.png")).caption, std::string("grey"));  // trimmed
    QCOMPARE(ds.entry(find_entry(ds, "photo.jpg")).weight, 2.0);
    const auto js = nlohmann::json::parse(r.to_json());
    QCOMPARE(js["usable"].get<int64_t>(), int64_t(f.good));
  }

  void lazyValidation() {
    QTemporaryDir tmp;
    const auto f = make_mixed(tmp.path().toStdString());
    write_text(f.dir / "manifest.jsonl", jsonl_for(f));
    gg::DatasetOptions o;
    o.resolution = 8;
    gg::Dataset ds(f.dir, o);
    QCOMPARE(ds.report().usable, int64_t(f.good + 2));  // not decoded yet
    QVERIFY(!ds.report().skipped.count(gg::skip_reason::kUnreadable));
    for (int64_t i = 0; i < ds.size(); ++i) ds.load(i);
    for (int64_t i = 0; i < ds.size(); ++i) ds.load(i);  // again: counted once
    const auto r = ds.report();
    QCOMPARE(r.usable, int64_t(f.good));
    QCOMPARE(r.skipped.at(gg::skip_reason::kUnreadable), int64_t(2));
    std::set<std::string> listed;
    for (const auto& p : r.listed)
      if (p.reason == gg::skip_reason::kUnreadable) listed.insert(fs::path(p.path).filename().string());
    QCOMPARE(listed, (std::set<std::string>{"fake.png", "truncated.png"}));
  }

  void pixels() {
    QTemporaryDir tmp;
    const auto f = make_mixed(tmp.path().toStdString());
    write_text(f.dir / "manifest.jsonl", jsonl_for(f));
    gg::DatasetOptions o;
    o.resolution = 8;
    gg::Dataset ds(f.dir, o);
    auto load = [&](const std::string& file) {
      const auto s = ds.load(find_entry(ds, file));
      if (!s) throw std::runtime_error(file + " did not load");
      return s->image;
    };
    const auto a = load("alpha.png");
    QCOMPARE(a.sizes(), (torch::IntArrayRef{3, 8, 8}));
    QCOMPARE(a.scalar_type(), torch::kFloat32);
    // Opaque red (RGB order), transparent -> white, blue at alpha 128 over white.
    QCOMPARE(px(a, 0, 0, 0), 1.0);
    QCOMPARE(px(a, 1, 0, 0), -1.0);
    QCOMPARE(px(a, 2, 0, 0), -1.0);
    for (int c = 0; c < 3; ++c) QCOMPARE(px(a, c, 3, 6), 1.0);
    // 255 * 128/255 + 255 * (1 - 128/255) = 255 for blue; 127 for red/green.
    QVERIFY(std::abs(px(a, 0, 6, 1) - v(127)) < 1e-6);
    QVERIFY(std::abs(px(a, 2, 6, 1) - 1.0) < 1e-6);
    const auto d = load("deep.png");
    QVERIFY(std::abs(px(d, 0, 4, 4) - 1.0) < 1e-6);
    QVERIFY(std::abs(px(d, 1, 4, 4) - v(128)) < 1e-6);
    QVERIFY(std::abs(px(d, 2, 4, 4) + 1.0) < 1e-6);
    const auto g = load("grey.png");
    QVERIFY(gg::test::max_abs_diff(g, torch::full({3, 8, 8}, v(77))) < 1e-6);
    const auto j = load("photo.jpg");  // lossy: within a few levels of RGB (200, 120, 40)
    QVERIFY(std::abs(px(j, 0, 4, 4) - v(200)) < 4 / 127.5);
    QVERIFY(std::abs(px(j, 2, 4, 4) - v(40)) < 4 / 127.5);
    if (f.webp) {
      const auto w = load("green.webp");  // lossless
      QVERIFY(gg::test::max_abs_diff(w[1], torch::full({8, 8}, v(200))) < 1e-6);
      QVERIFY(gg::test::max_abs_diff(w[0], torch::full({8, 8}, -1.0)) < 1e-6);
    } else {
      qWarning("OpenCV here has no WebP writer; WebP case skipped");
    }
    const auto n = load("whole.png");  // 64 -> 8: exact 8x8 box mean, full range kept
    QVERIFY(n.min().item<double>() >= -1.0 && n.max().item<double>() <= 1.0);
  }

  void cropResize_data() {
    QTest::addColumn<int>("w");
    QTest::addColumn<int>("h");
    QTest::addColumn<int>("size");
    QTest::newRow("wide exact 2x") << 12 << 8 << 4;
    QTest::newRow("tall exact 1x") << 8 << 13 << 8;
    QTest::newRow("shrink area") << 12 << 12 << 5;
    QTest::newRow("enlarge bicubic") << 8 << 6 << 11;
  }
  void cropResize() {
    QFETCH(int, w);
    QFETCH(int, h);
    QFETCH(int, size);
    QTemporaryDir tmp;
    const fs::path dir = tmp.path().toStdString();
    const cv::Mat img = noise_image(w, h, 7);
    write_image(dir / "x.png", img);
    write_text(dir / "x.txt", "noise");
    gg::DatasetOptions o;
    o.resolution = size;
    gg::Dataset ds(dir, o);
    const auto s = ds.load(0);
    QVERIFY(s.has_value());
    QCOMPARE(s->image.sizes(), (torch::IntArrayRef{3, size, size}));
    const int side = std::min(w, h), x0 = (w - side) / 2, y0 = (h - side) / 2;
    if (side % size == 0) {  // exact: rounded mean of each block of the central square, RGB order
      const int k = side / size;
      for (int y = 0; y < size; ++y)
        for (int x = 0; x < size; ++x)
          for (int c = 0; c < 3; ++c) {
            int sum = 0;
            for (int dy = 0; dy < k; ++dy)
              for (int dx = 0; dx < k; ++dx) sum += img.at<cv::Vec3b>(y0 + y * k + dy, x0 + x * k + dx)[2 - c];
            const int mean = (sum * 2 + k * k) / (2 * k * k);
            QVERIFY2(std::abs(px(s->image, c, y, x) - v(mean)) < 1e-6, "box mean of the central square");
          }
    }
  }

  void upsamplerPairs() {
    QTemporaryDir tmp;
    const fs::path dir = tmp.path().toStdString();
    const cv::Mat hr = noise_image(16, 16, 9);
    write_image(dir / "hr.png", hr);
    write_image(dir / "lr.png", cv::Mat(4, 4, CV_8UC3, cv::Scalar(0, 0, 0)));  // ignored in pair mode
    write_text(dir / "manifest.jsonl", R"({"image": "lr.png", "image_256": "hr.png", "caption": "pair"})" "\n");
    gg::DatasetOptions o;
    o.resolution = 4;
    o.hr_resolution = 16;
    gg::Dataset ds(dir, o);
    const auto s = ds.load(0);
    QVERIFY(s.has_value());
    QCOMPARE(s->image_hr.sizes(), (torch::IntArrayRef{3, 16, 16}));
    QCOMPARE(s->image.sizes(), (torch::IntArrayRef{3, 4, 4}));
    for (int y = 0; y < 16; ++y)
      for (int x = 0; x < 16; ++x)
        for (int c = 0; c < 3; ++c) QVERIFY(std::abs(px(s->image_hr, c, y, x) - v(hr.at<cv::Vec3b>(y, x)[2 - c])) < 1e-6);
    for (int y = 0; y < 4; ++y)
      for (int x = 0; x < 4; ++x)
        for (int c = 0; c < 3; ++c) {
          int sum = 0;
          for (int dy = 0; dy < 4; ++dy)
            for (int dx = 0; dx < 4; ++dx) sum += hr.at<cv::Vec3b>(y * 4 + dy, x * 4 + dx)[2 - c];
          QVERIFY(std::abs(px(s->image, c, y, x) - v((sum * 2 + 16) / 32)) < 1e-6);  // rounded mean, halves up
        }
    // Pairs through the loader too.
    gg::LoaderOptions lo;
    lo.batch_size = 2;
    lo.prefetch = 0;
    gg::BatchLoader loader(std::make_shared<gg::Dataset>(dir, o), lo);
    const auto b = loader.next();
    QCOMPARE(b.images_hr.sizes(), (torch::IntArrayRef{2, 3, 16, 16}));
    QVERIFY(torch::equal(b.images[0], s->image));
    QVERIFY(torch::equal(b.images_hr[1], s->image_hr));
  }

  void emojiPairsMatchStoredFiles() {
    // The real emoji data, when built: a low image made from image_256 is
    // bit-identical to the builder's 64 px file.
    const fs::path emoji = gg::test::source_path("data/emoji");
    if (!fs::exists(emoji / "manifest.jsonl")) QSKIP("data/emoji not built (gigagan data emoji)");
    gg::DatasetOptions base, pair;
    base.split = pair.split = "all";
    pair.hr_resolution = 256;
    gg::Dataset a(emoji, base), b(emoji, pair);
    for (int64_t i = 0; i < 5; ++i) {
      const auto sa = a.load(i * 997 % a.size()), sb = b.load(i * 997 % b.size());
      QVERIFY(sa && sb);
      QVERIFY(torch::equal(sa->image, sb->image));
    }
  }

  void tsvManifest() {
    QTemporaryDir tmp;
    const fs::path dir = tmp.path().toStdString();
    write_image(dir / "a.png", noise_image(8, 8, 1));
    write_image(dir / "b b.png", noise_image(8, 8, 2));
    write_image(dir / "c.png", noise_image(8, 8, 3));
    write_image(dir / "d.png", noise_image(8, 8, 4));
    write_text(dir / "manifest.tsv",
               "image\tcaption\tsplit\r\na.png\tfirst, with comma\r\nb b.png\tsecond\ttrain\nc.png\t\n"
               "d.png\tfourth\tval\nmissing.png\tgone\n");
    gg::DatasetOptions o;
    o.resolution = 8;
    gg::Dataset ds(dir, o);
    const auto r = ds.report();
    QCOMPARE(r.format, std::string("tsv"));
    QCOMPARE(r.entries, int64_t(5));
    QCOMPARE(ds.size(), int64_t(2));
    QCOMPARE(ds.entry(0).caption, std::string("first, with comma"));
    QCOMPARE(ds.entry(1).image.filename().string(), std::string("b b.png"));
    QCOMPARE(r.skipped.at(gg::skip_reason::kNoCaption), int64_t(1));
    QCOMPARE(r.skipped.at(gg::skip_reason::kMissing), int64_t(1));
    QCOMPARE(r.other_split, int64_t(1));
    o.split = "val";
    gg::Dataset val(dir / "manifest.tsv", o);  // a manifest path works too
    QCOMPARE(val.size(), int64_t(1));
    QCOMPARE(val.entry(0).caption, std::string("fourth"));
  }

  // A refused manifest line says why (report detail, and the error when no
  // line is usable): invalid JSON with the parser's words, a missing or
  // non-string "image", a non-string "caption", a TSV line without a tab.
  void badManifestLinesSayWhy() {
    QTemporaryDir tmp;
    const fs::path dir = tmp.path().toStdString();
    write_image(dir / "ok.png", noise_image(8, 8, 1));
    write_text(dir / "manifest.jsonl",
               "{\"image\": \"ok.png\", \"caption\": \"fine\"}\n"
               "{\"image\": \"ok.png\", \"caption\": \n"
               "[\"ok.png\", \"fine\"]\n"
               "{\"file\": \"ok.png\", \"caption\": \"fine\"}\n"
               "{\"image\": 7, \"caption\": \"fine\"}\n"
               "{\"image\": \"ok.png\", \"caption\": [\"fine\"]}\n");
    gg::DatasetOptions o;
    o.resolution = 8;
    gg::Dataset ds(dir, o);
    const auto r = ds.report();
    QCOMPARE(r.skipped.at(gg::skip_reason::kBadLine), int64_t(5));
    QCOMPARE(r.listed.size(), size_t(5));
    const auto detail = [&](const std::string& where) {
      for (const auto& p : r.listed)
        if (p.path == where) return p.reason + ": " + p.detail;
      return std::string("(not listed)");
    };
    QVERIFY2(detail("manifest.jsonl:2").rfind("bad manifest line: invalid JSON: ", 0) == 0, detail("manifest.jsonl:2").c_str());
    QVERIFY2(detail("manifest.jsonl:2").find("unexpected end of input") != std::string::npos, detail("manifest.jsonl:2").c_str());
    QVERIFY2(detail("manifest.jsonl:3").find("not a JSON object") != std::string::npos, detail("manifest.jsonl:3").c_str());
    QCOMPARE(detail("manifest.jsonl:4"), std::string("bad manifest line: no \"image\" field"));
    QCOMPARE(detail("manifest.jsonl:5"), std::string("bad manifest line: \"image\" is not a string"));
    QCOMPARE(detail("manifest.jsonl:6"), std::string("bad manifest line: \"caption\" is not a string"));
    // With no usable line, the error names the lines and why.
    write_text(dir / "all_bad/manifest.jsonl", "{\"file\": \"ok.png\"}\n[]\n");
    GG_VERIFY_THROWS_WITH(gg::Dataset(dir / "all_bad", o), gg::DatasetError,
                          "2 bad manifest lines; manifest.jsonl:1 (bad manifest line: no \"image\" field)");
    // TSV: spaces instead of a tab.
    write_image(dir / "tsv/a.png", noise_image(8, 8, 2));
    write_text(dir / "tsv/manifest.tsv", "a.png\tfirst\na.png second\n");
    gg::Dataset tsv(dir / "tsv", o);
    QCOMPARE(tsv.size(), int64_t(1));
    QCOMPARE(tsv.report().listed.size(), size_t(1));
    QCOMPARE(tsv.report().listed[0].path, std::string("manifest.tsv:2"));
    QVERIFY2(tsv.report().listed[0].detail.find("a TSV line needs two tab-separated fields") != std::string::npos,
             tsv.report().listed[0].detail.c_str());
  }

  void sidecars() {
    QTemporaryDir tmp;
    const fs::path dir = tmp.path().toStdString();
    write_image(dir / "a.png", noise_image(8, 8, 1));
    write_text(dir / "a.txt", "a cat,\nsitting\n");
    write_image(dir / "sub/deeper/b.jpg", noise_image(8, 8, 2));
    write_text(dir / "sub/deeper/b.txt", "a dog");
    write_image(dir / "c.png", noise_image(8, 8, 3));  // no caption file
    write_image(dir / "sub/d.PNG", noise_image(8, 8, 4));
    write_text(dir / "sub/d.txt", "  \n");  // empty caption
    write_text(dir / "notes.txt", "not a caption of anything");
    gg::DatasetOptions o;
    o.resolution = 8;
    o.verify = true;
    gg::Dataset ds(dir, o);
    const auto r = ds.report();
    QCOMPARE(r.format, std::string("sidecar"));
    QCOMPARE(r.entries, int64_t(4));
    QCOMPARE(ds.size(), int64_t(2));
    QCOMPARE(ds.entry(0).caption, std::string("a cat, sitting"));
    QCOMPARE(ds.entry(1).caption, std::string("a dog"));
    QCOMPARE(r.skipped.at(gg::skip_reason::kNoCaption), int64_t(2));
  }

  void detectionOrder() {
    QTemporaryDir tmp;
    const fs::path dir = make_plain(tmp.path().toStdString(), 3);
    write_text(dir / "manifest.tsv", "i0.png\tfrom tsv\n");
    write_text(dir / "i0.txt", "from sidecar");
    gg::DatasetOptions o;
    o.resolution = 8;
    QCOMPARE(gg::Dataset(dir, o).report().format, std::string("jsonl"));
    fs::remove(dir / "manifest.jsonl");
    QCOMPARE(gg::Dataset(dir, o).entry(0).caption, std::string("from tsv"));
    fs::remove(dir / "manifest.tsv");
    gg::Dataset side(dir, o);
    QCOMPARE(side.report().format, std::string("sidecar"));
    QCOMPARE(side.size(), int64_t(1));
  }

  void emptyDatasetErrors() {
    QTemporaryDir tmp;
    const fs::path dir = tmp.path().toStdString();
    gg::DatasetOptions o;
    o.resolution = 8;
    o.verify = true;
    GG_VERIFY_THROWS_WITH(gg::Dataset(dir / "nowhere", o), gg::DatasetError, "dataset not found");
    fs::create_directories(dir / "empty");
    GG_VERIFY_THROWS_WITH(gg::Dataset(dir / "empty", o), gg::DatasetError, "no usable image in");
    GG_VERIFY_THROWS_WITH(gg::Dataset(dir / "empty", o), gg::DatasetError, "no entries");
    write_text(dir / "bad/x.png", "text");
    write_text(dir / "bad/x.txt", "caption");
    write_text(dir / "bad/y.png", "text");
    write_text(dir / "bad/y.txt", "caption");
    write_image(dir / "bad/z.png", noise_image(8, 8, 1));
    GG_VERIFY_THROWS_WITH(gg::Dataset(dir / "bad", o), gg::DatasetError, "2 unreadable, 1 without caption");
    make_plain(dir / "valonly", 2);
    o.split = "val";
    GG_VERIFY_THROWS_WITH(gg::Dataset(dir / "valonly", o), gg::DatasetError, "2 in other splits");
    // Lazy: the loader finds out while training and says so instead of spinning.
    o.split = "train";
    o.verify = false;
    auto lazy = std::make_shared<gg::Dataset>(dir / "bad", o);
    gg::LoaderOptions lo;
    lo.batch_size = 2;
    for (int prefetch : {0, 2}) {
      lo.prefetch = prefetch;
      gg::BatchLoader loader(lazy, lo);
      GG_VERIFY_THROWS_WITH(loader.next(), gg::DatasetError, "no usable image left");
    }
  }

  void samplerDeterministic() {
    std::vector<double> w(37, 1.0);
    gg::Sampler a(w, 5), b(w, 5), c(w, 6);
    std::vector<int64_t> sa, sc;
    for (int64_t p = 0; p < 37 * 3; ++p) {
      sa.push_back(a.index_at(p));
      sc.push_back(c.index_at(p));
    }
    QVERIFY(sa != sc);
    // Random access in any order gives the same indices (resume at any position).
    for (int64_t p : {100, 3, 77, 36, 37, 0, 110, 50}) QCOMPARE(b.index_at(p), sa[static_cast<size_t>(p)]);
    // Equal weights: each epoch is a permutation, and epochs differ.
    for (int e = 0; e < 3; ++e) {
      std::set<int64_t> seen(sa.begin() + e * 37, sa.begin() + (e + 1) * 37);
      QCOMPARE(seen.size(), size_t(37));
    }
    QVERIFY(!std::equal(sa.begin(), sa.begin() + 37, sa.begin() + 37));
    gg::Sampler seq(w, 5, false);
    QCOMPARE(seq.index_at(40), int64_t(3));
  }

  void samplerWeights() {
    const std::vector<double> w = {1, 2, 4, 0, 1, 0.5};
    gg::Sampler s(w, 11);
    std::vector<int> count(w.size(), 0);
    const int draws = 8500;
    for (int p = 0; p < draws; ++p) ++count[static_cast<size_t>(s.index_at(p))];
    const double total = 8.5;
    for (size_t i = 0; i < w.size(); ++i) {
      const double expected = draws * w[i] / total;
      QVERIFY2(std::abs(count[i] - expected) <= 0.02 * draws,
               (std::to_string(i) + ": " + std::to_string(count[i]) + " vs " + std::to_string(expected)).c_str());
    }
    QCOMPARE(count[3], 0);
    GG_VERIFY_THROWS_WITH(gg::Sampler({0.0, 0.0}, 1), gg::DatasetError, "sum to 0");
  }

  void loaderResumeAndPrefetch() {
    QTemporaryDir tmp;
    const fs::path dir = make_plain(tmp.path().toStdString(), 13);
    write_text(dir / "i5.png", "broken now");  // met lazily: skipped, batches stay full
    gg::DatasetOptions o;
    o.resolution = 8;
    auto ds = std::make_shared<gg::Dataset>(dir, o);
    gg::LoaderOptions lo;
    lo.batch_size = 5;
    lo.seed = 42;
    lo.prefetch = 0;
    std::vector<gg::Batch> sync;
    {
      gg::BatchLoader loader(ds, lo);
      for (int k = 0; k < 8; ++k) {
        sync.push_back(loader.next());
        QCOMPARE(loader.position(), sync.back().position_end);
      }
    }
    QCOMPARE(ds->report().skipped.at(gg::skip_reason::kUnreadable), int64_t(1));
    for (const auto& b : sync) {
      QCOMPARE(b.images.sizes(), (torch::IntArrayRef{5, 3, 8, 8}));
      QCOMPARE(b.indices.size(), size_t(5));
      for (size_t k = 0; k < b.indices.size(); ++k) {
        QVERIFY(b.captions[k] != "image 5");
        QVERIFY(b.captions_hat[k] != b.captions[k]);
      }
    }
    QVERIFY(sync.back().position_end > 8 * 5);  // the broken image cost positions
    // Prefetching gives the same batches.
    lo.prefetch = 3;
    {
      gg::BatchLoader loader(ds, lo);
      for (int k = 0; k < 8; ++k) QVERIFY2(same_batch(loader.next(), sync[k]), "prefetch batch differs");
    }
    // Resume from a checkpointed position, with and without prefetch.
    for (int prefetch : {0, 2}) {
      lo.prefetch = prefetch;
      lo.position = sync[2].position_end;
      gg::BatchLoader loader(ds, lo);
      for (int k = 3; k < 8; ++k) QVERIFY2(same_batch(loader.next(), sync[k]), "resumed batch differs");
    }
    // A fresh dataset object (new process) resumes identically too.
    lo.position = sync[4].position_end;
    gg::BatchLoader fresh(std::make_shared<gg::Dataset>(dir, o), lo);
    QVERIFY(same_batch(fresh.next(), sync[5]));
  }

  void loaderStopsCleanly() {
    QTemporaryDir tmp;
    const fs::path dir = make_plain(tmp.path().toStdString(), 6);
    gg::DatasetOptions o;
    o.resolution = 8;
    auto ds = std::make_shared<gg::Dataset>(dir, o);
    gg::LoaderOptions lo;
    lo.batch_size = 4;
    lo.prefetch = 2;
    {
      gg::BatchLoader idle(ds, lo);  // destroyed while its producer waits on a full queue
      QTest::qWait(50);
    }
    gg::BatchLoader loader(ds, lo);
    loader.next();
    loader.stop();
    loader.stop();  // idempotent
    GG_VERIFY_THROWS_WITH(loader.next(), gg::DatasetError, "stopped");
  }

  void captionSampler() {
    QTemporaryDir tmp;
    const fs::path dir = make_plain(tmp.path().toStdString(), 4);
    gg::DatasetOptions o;
    o.resolution = 8;
    gg::Dataset ds(dir, o);
    gg::CaptionSampler cs(ds, 3);
    std::map<std::string, int> used;
    for (int64_t pos = 0; pos < 200; ++pos) {
      const std::vector<int64_t> own = {0, 1, 2, 3};
      const auto hat = cs.sample(own, pos);
      QCOMPARE(hat, cs.sample(own, pos));  // deterministic
      for (size_t b = 0; b < own.size(); ++b) {
        QVERIFY(hat[b] != ds.entry(own[b]).caption);
        ++used[hat[b]];
      }
    }
    QCOMPARE(used.size(), size_t(4));  // every caption shows up as someone's c_hat
    // A one-entry dataset can only return its own caption.
    QTemporaryDir tmp1;
    gg::Dataset one(make_plain(tmp1.path().toStdString(), 1), o);
    QCOMPARE(gg::CaptionSampler(one, 1).sample({0}, 0), std::vector<std::string>{"image 0"});
  }

  // Hard negatives for the matching-aware loss: with share p, c_hat is the
  // image's own caption with only the style word changed (to another style of
  // the set); captions without a style word keep random negatives; p = 0 is
  // the paper's sampler, draw for draw.
  void shortCaptions() {
    QCOMPARE(gg::short_caption("pizza, cheese, food, noto style", false), std::string("pizza"));
    QCOMPARE(gg::short_caption("pizza, cheese, food, noto style", true), std::string("pizza, noto style"));
    QCOMPARE(gg::short_caption("waving hand, medium skin tone, wave, twemoji style", true),
             std::string("waving hand, twemoji style"));
    QCOMPARE(gg::short_caption("plain caption", true), std::string("plain caption"));
    QCOMPARE(gg::short_caption("red square, bar", true), std::string("red square"));
    QCOMPARE(gg::short_caption("noto style", false), std::string("noto style"));
  }

  void captionSamplerStyleNegatives() {
    QTemporaryDir tmp;
    const fs::path dir = tmp.path().toStdString();
    const std::vector<std::string> captions = {"cat face, animal, noto style", "cat face, animal, twemoji style",
                                               "red heart, love, noto style", "red heart, love, openmoji style",
                                               "fire, twemoji style", "plain caption"};
    std::string manifest;
    for (size_t k = 0; k < captions.size(); ++k) {
      write_image(dir / ("i" + std::to_string(k) + ".png"), noise_image(8, 8, 200 + static_cast<int>(k)));
      manifest += "{\"image\": \"i" + std::to_string(k) + ".png\", \"caption\": \"" + captions[k] + "\"}\n";
    }
    write_text(dir / "manifest.jsonl", manifest);
    gg::DatasetOptions o;
    o.resolution = 8;
    gg::Dataset ds(dir, o);
    const std::vector<int64_t> own = {0, 1, 2, 3, 4, 5};
    QCOMPARE(gg::caption_style(captions[3]), std::string("openmoji"));
    // What a package made from this set lists: most images first, ties alphabetical.
    QCOMPARE(gg::dataset_styles(ds), (std::vector<std::string>{"noto", "twemoji", "openmoji"}));

    gg::CaptionSampler plain(ds, 5), zero(ds, 5, 0.0), all(ds, 5, 1.0), half(ds, 5, 0.5);
    std::map<std::string, std::set<std::string>> styles_used;  // own style -> negatives' styles
    int hard = 0, styled = 0;
    for (int64_t pos = 0; pos < 300; ++pos) {
      QCOMPARE(zero.sample(own, pos), plain.sample(own, pos));
      const auto a = all.sample(own, pos);
      QCOMPARE(a, all.sample(own, pos));  // deterministic in (seed, position, slot)
      const auto h = half.sample(own, pos);
      for (size_t b = 0; b < own.size(); ++b) {
        const std::string& mine = captions[b];
        const std::string style = gg::caption_style(mine);
        QVERIFY(a[b] != mine);
        QVERIFY(h[b] != mine);
        if (style.empty()) {
          QVERIFY(a[b] != gg::with_style(mine, gg::caption_style(a[b])));  // a random other caption
          continue;
        }
        // Share 1: the same caption, another style word of the set.
        const std::string other = gg::caption_style(a[b]);
        QVERIFY2(a[b] == gg::with_style(mine, other) && other != style && !other.empty(), a[b].c_str());
        styles_used[style].insert(other);
        ++styled;
        hard += h[b] == gg::with_style(mine, gg::caption_style(h[b]));
      }
    }
    // Every other style is drawn, none of the set's captions' own.
    QCOMPARE(styles_used["noto"], (std::set<std::string>{"openmoji", "twemoji"}));
    QCOMPARE(styles_used["twemoji"], (std::set<std::string>{"noto", "openmoji"}));
    QCOMPARE(styles_used["openmoji"], (std::set<std::string>{"noto", "twemoji"}));
    // Share 0.5: about half of the styled slots are hard negatives (a random
    // caption is almost never the same words in another style here: 1 of 5).
    const double rate = static_cast<double>(hard) / styled;
    QVERIFY2(rate > 0.45 && rate < 0.65, std::to_string(rate).c_str());
    GG_VERIFY_THROWS_WITH(gg::CaptionSampler(ds, 5, 1.5), gg::DatasetError, "[0, 1]");
    // The loader hands them out as the batch's c_hat (what the GAN trainer's
    // --match-style-negatives sets).
    auto shared = std::make_shared<gg::Dataset>(dir, o);
    gg::LoaderOptions lo;
    lo.batch_size = 6;
    lo.style_negatives = 1;
    gg::BatchLoader loader(shared, lo);
    const gg::Batch batch = loader.next();
    for (size_t b = 0; b < batch.captions.size(); ++b)
      if (!gg::caption_style(batch.captions[b]).empty())
        QCOMPARE(batch.captions_hat[b], gg::with_style(batch.captions[b], gg::caption_style(batch.captions_hat[b])));
  }
};

QTEST_GUILESS_MAIN(TestDataset)
#include "test_dataset.moc"

// Ref: dataset.h.
#include "dataset.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "errors.h"
#include "image_io.h"  // image_header_size
#include "utf8.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include "svg_render.h"  // downsample_box: the emoji builder's exact box average

namespace gg {

namespace fs = std::filesystem;
using nlohmann::json;

// ---------------------------------------------------------------------------
// Report

int64_t DatasetReport::total_skipped() const {
  int64_t n = 0;
  for (const auto& [reason, count] : skipped) n += count;
  return n;
}

std::string DatasetReport::skipped_summary() const {
  std::string s;
  for (const auto& [reason, count] : skipped) {
    if (count == 0) continue;
    if (!s.empty()) s += ", ";
    s += std::to_string(count) + " " + reason;
    if (count > 1 && reason == skip_reason::kBadLine) s += "s";  // "2 bad manifest lines"
  }
  return s;
}

std::string DatasetReport::to_json() const {
  json j;
  j["format"] = format;
  j["root"] = root.string();
  j["entries"] = entries;
  j["usable"] = usable;
  j["other_split"] = other_split;
  j["skipped"] = skipped;
  j["listed"] = json::array();
  for (const auto& p : listed) j["listed"].push_back({{"path", p.path}, {"reason", p.reason}, {"detail", p.detail}});
  return j.dump();
}

// ---------------------------------------------------------------------------
// Images

namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

constexpr int64_t kMaxDatasetImagePixels = 8192LL * 8192;  // 67 megapixels
constexpr int64_t kMaxDatasetImageBytes = 512LL << 20;

bool is_image_extension(const fs::path& p) {
  const std::string e = lower(p.extension().string());
  return e == ".png" || e == ".jpg" || e == ".jpeg" || e == ".webp" || e == ".bmp";
}

}  // namespace

std::vector<uint8_t> load_rgb8(const fs::path& path, int& width, int& height) {
  // The size in the header is checked before decoding (a few bytes may claim
  // 100000^2 pixels); a FIFO or device is refused without blocking.
  std::string bytes;
  {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) throw DatasetError(std::string("cannot open it: ") + std::strerror(errno));
    struct stat st {};
    const bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    if (!regular || st.st_size > kMaxDatasetImageBytes) {
      ::close(fd);
      throw DatasetError(regular ? "file of " + std::to_string(st.st_size) + " bytes, over the limit of " +
                                       std::to_string(kMaxDatasetImageBytes)
                                 : std::string("not a regular file"));
    }
    bytes.resize(static_cast<size_t>(st.st_size));
    size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::read(fd, &bytes[done], bytes.size() - done);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    ::close(fd);
    bytes.resize(done);
  }
  const auto [hw, hh] = image_header_size(bytes);
  if (hw > 0 && hh > 0 && (hw > kMaxDatasetImagePixels || hh > kMaxDatasetImagePixels || hw * hh > kMaxDatasetImagePixels))
    throw DatasetError(std::to_string(hw) + " x " + std::to_string(hh) + " px, over the limit of " +
                       std::to_string(kMaxDatasetImagePixels) + " pixels");
  cv::Mat m;
  try {
    m = cv::imdecode(cv::Mat(1, static_cast<int>(bytes.size()), CV_8U, bytes.data()), cv::IMREAD_UNCHANGED);
  } catch (const cv::Exception& e) {
    throw DatasetError("OpenCV cannot decode it: " + std::string(e.what()));
  }
  if (m.empty() || m.rows <= 0 || m.cols <= 0) throw DatasetError("not a decodable image (OpenCV)");
  const int ch = m.channels();
  if (ch != 1 && ch != 2 && ch != 3 && ch != 4)
    throw DatasetError("unsupported channel count " + std::to_string(ch));
  // To float in [0, 1] whatever the depth: 8-bit /255, 16-bit /65535, float as is.
  cv::Mat f;
  double scale = 1.0;
  switch (m.depth()) {
    case CV_8U: scale = 1.0 / 255.0; break;
    case CV_16U: scale = 1.0 / 65535.0; break;
    case CV_32F: case CV_64F: scale = 1.0; break;
    default: throw DatasetError("unsupported pixel depth");
  }
  m.convertTo(f, CV_MAKETYPE(CV_32F, ch), scale);
  std::vector<cv::Mat> planes;
  cv::split(f, planes);
  cv::Mat r, g, b, a;
  if (ch <= 2) {
    r = g = b = planes[0];
  } else {  // OpenCV's order is BGR(A)
    b = planes[0], g = planes[1], r = planes[2];
  }
  if (ch == 2 || ch == 4) a = planes[ch - 1];
  width = m.cols;
  height = m.rows;
  std::vector<uint8_t> out(static_cast<size_t>(width) * height * 3);
  for (int y = 0; y < height; ++y) {
    const float* pr = r.ptr<float>(y);
    const float* pg = g.ptr<float>(y);
    const float* pb = b.ptr<float>(y);
    const float* pa = a.empty() ? nullptr : a.ptr<float>(y);
    uint8_t* o = out.data() + static_cast<size_t>(y) * width * 3;
    for (int x = 0; x < width; ++x) {
      float rgb[3] = {pr[x], pg[x], pb[x]};
      const float alpha = pa ? std::clamp(pa[x], 0.0f, 1.0f) : 1.0f;
      for (int c = 0; c < 3; ++c) {
        // Alpha over white (straight, not premultiplied, as PNG stores it).
        const float v = std::clamp(rgb[c], 0.0f, 1.0f) * alpha + (1.0f - alpha);
        o[x * 3 + c] = static_cast<uint8_t>(std::lround(v * 255.0f));
      }
    }
  }
  return out;
}

std::vector<uint8_t> crop_resize_rgb8(const std::vector<uint8_t>& rgb, int width, int height, int size) {
  if (size <= 0) throw DatasetError("crop_resize_rgb8: size must be positive");
  const int side = std::min(width, height);
  const int x0 = (width - side) / 2, y0 = (height - side) / 2;
  cv::Mat full(height, width, CV_8UC3, const_cast<uint8_t*>(rgb.data()));
  cv::Mat square = full(cv::Rect(x0, y0, side, side));
  cv::Mat out;
  if (side == size) {
    out = square.clone();
  } else if (side % size == 0) {
    out = downsample_box(square.clone(), side / size);  // exact box mean, as the emoji builder
  } else if (side > size) {
    cv::resize(square, out, cv::Size(size, size), 0, 0, cv::INTER_AREA);
  } else {
    cv::resize(square, out, cv::Size(size, size), 0, 0, cv::INTER_CUBIC);  // saturates to 8-bit
  }
  if (!out.isContinuous()) out = out.clone();
  return std::vector<uint8_t>(out.data, out.data + static_cast<size_t>(size) * size * 3);
}

torch::Tensor rgb8_to_tensor(const uint8_t* rgb, int width, int height) {
  auto t = torch::from_blob(const_cast<uint8_t*>(rgb), {height, width, 3}, torch::kUInt8);
  return t.permute({2, 0, 1}).to(torch::kFloat32).div_(127.5).sub_(1.0).contiguous();
}

// ---------------------------------------------------------------------------
// Dataset

namespace {

struct Parsed {
  std::vector<DatasetEntry> entries;
  std::vector<DatasetReport::Problem> problems;
  int64_t seen = 0;
};

// A caption that is not valid UTF-8 would pass as usable and then fail every
// run at its first checkpoint (the package's JSON cannot hold it): it is
// skipped and reported here, like any other bad file.
bool caption_not_utf8(const std::string& image, const std::string& caption, const std::string& where, Parsed& p) {
  const size_t bad = utf8_invalid_at(caption);
  if (bad == std::string::npos) return false;
  p.problems.push_back({image, skip_reason::kBadCaption, where + ": invalid UTF-8 at byte " + std::to_string(bad)});
  return true;
}

// nlohmann's message without its "[json.exception.parse_error.101] " prefix.
std::string json_error_text(const json::exception& e) {
  std::string s = e.what();
  if (!s.empty() && s[0] == '[') {
    const size_t close = s.find("] ");
    if (close != std::string::npos) s = s.substr(close + 2);
  }
  return s;
}

void read_jsonl(const fs::path& manifest, const std::string& hr_key, Parsed& p) {
  std::ifstream in(manifest);
  if (!in) throw DatasetError("cannot read '" + manifest.string() + "'");
  const fs::path base = manifest.parent_path();
  const std::string name = manifest.filename().string();
  int line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (trim(line).empty()) continue;
    ++p.seen;
    const std::string where = name + ":" + std::to_string(line_no);
    json j;
    try {
      j = json::parse(line);
    } catch (const json::exception& e) {
      p.problems.push_back({where, skip_reason::kBadLine, "invalid JSON: " + json_error_text(e)});
      continue;
    }
    std::string why;  // the reason a line is refused, for the report
    if (!j.is_object())
      why = std::string("not a JSON object but ") + (j.is_array() ? "an array" : j.is_string() ? "a string" : "a value");
    else if (!j.contains("image"))
      why = "no \"image\" field";
    else if (!j["image"].is_string())
      why = "\"image\" is not a string";
    else if (j["image"].get<std::string>().empty())
      why = "\"image\" is empty";
    else if (j.contains("caption") && !j["caption"].is_string() && !j["caption"].is_null())
      why = "\"caption\" is not a string";
    if (!why.empty()) {
      p.problems.push_back({where, skip_reason::kBadLine, why});
      continue;
    }
    DatasetEntry e;
    e.image = base / j["image"].get<std::string>();
    for (const std::string& key : {hr_key, std::string("image_hr")}) {
      if (e.image_hr.empty() && !key.empty() && j.contains(key) && j[key].is_string() &&
          !j[key].get<std::string>().empty())
        e.image_hr = base / j[key].get<std::string>();
    }
    if (j.contains("split")) {
      if (!j["split"].is_string()) {
        p.problems.push_back({where, skip_reason::kBadLine, "\"split\" is not a string"});
        continue;
      }
      e.split = j["split"].get<std::string>();
    }
    if (j.contains("weight")) {
      if (!j["weight"].is_number() || !std::isfinite(j["weight"].get<double>()) || j["weight"].get<double>() < 0) {
        p.problems.push_back({where, skip_reason::kBadLine, "\"weight\" is not a number >= 0"});
        continue;
      }
      e.weight = j["weight"].get<double>();
    }
    if (j.contains("caption") && j["caption"].is_string()) e.caption = trim(j["caption"].get<std::string>());
    if (e.caption.empty()) {
      p.problems.push_back({e.image.string(), skip_reason::kNoCaption, where});
      continue;
    }
    if (caption_not_utf8(e.image.string(), e.caption, where, p)) continue;
    p.entries.push_back(std::move(e));
  }
}

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> f;
  size_t start = 0;
  while (true) {
    const size_t tab = line.find('\t', start);
    f.push_back(line.substr(start, tab == std::string::npos ? std::string::npos : tab - start));
    if (tab == std::string::npos) break;
    start = tab + 1;
  }
  return f;
}

void read_tsv(const fs::path& manifest, Parsed& p) {
  std::ifstream in(manifest);
  if (!in) throw DatasetError("cannot read '" + manifest.string() + "'");
  const fs::path base = manifest.parent_path();
  const std::string name = manifest.filename().string();
  int line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (trim(line).empty()) continue;
    const auto f = split_tabs(line);
    const std::string first = lower(trim(f[0]));
    if (line_no == 1 && (first == "image" || first == "path" || first == "file") && !fs::exists(base / trim(f[0])))
      continue;  // header
    ++p.seen;
    const std::string where = name + ":" + std::to_string(line_no);
    if (f.size() < 2) {
      p.problems.push_back({where, skip_reason::kBadLine,
                            "a TSV line needs two tab-separated fields (image, caption); this one has no tab"});
      continue;
    }
    if (trim(f[0]).empty()) {
      p.problems.push_back({where, skip_reason::kBadLine, "empty image field"});
      continue;
    }
    DatasetEntry e;
    e.image = base / trim(f[0]);
    e.caption = f.size() > 1 ? trim(f[1]) : "";
    if (f.size() > 2 && !trim(f[2]).empty()) e.split = trim(f[2]);
    if (e.caption.empty()) {
      p.problems.push_back({e.image.string(), skip_reason::kNoCaption, where});
      continue;
    }
    if (caption_not_utf8(e.image.string(), e.caption, where, p)) continue;
    p.entries.push_back(std::move(e));
  }
}

void scan_sidecars(const fs::path& dir, Parsed& p) {
  std::vector<fs::path> images;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec) && is_image_extension(it->path())) images.push_back(it->path());
  }
  std::sort(images.begin(), images.end());
  for (const auto& img : images) {
    ++p.seen;
    fs::path txt = img;
    txt.replace_extension(".txt");
    std::string caption;
    if (std::ifstream in{txt}) {
      std::ostringstream ss;
      ss << in.rdbuf();
      caption = ss.str();
      std::replace(caption.begin(), caption.end(), '\n', ' ');
      std::replace(caption.begin(), caption.end(), '\r', ' ');
      caption = trim(caption);
    }
    if (caption.empty()) {
      p.problems.push_back({img.string(), skip_reason::kNoCaption, fs::exists(txt) ? "empty " + txt.filename().string()
                                                                                 : "no " + txt.filename().string()});
      continue;
    }
    if (caption_not_utf8(img.string(), caption, txt.filename().string(), p)) continue;
    DatasetEntry e;
    e.image = img;
    e.caption = std::move(caption);
    p.entries.push_back(std::move(e));
  }
}

}  // namespace

Dataset::Dataset(const fs::path& path, const DatasetOptions& options) : options_(options) {
  if (options.resolution <= 0) throw DatasetError("dataset resolution must be positive");
  if (options.hr_resolution < 0) throw DatasetError("dataset hr_resolution must be >= 0");
  std::error_code ec;
  if (!fs::exists(path, ec)) throw DatasetError("dataset not found: '" + path.string() + "'");
  Parsed parsed;
  fs::path root = path;
  if (fs::is_directory(path)) {
    if (fs::exists(path / "manifest.jsonl")) {
      report_.format = "jsonl";
      read_jsonl(path / "manifest.jsonl", options.hr_key, parsed);
    } else if (fs::exists(path / "manifest.tsv")) {
      report_.format = "tsv";
      read_tsv(path / "manifest.tsv", parsed);
    } else {
      report_.format = "sidecar";
      scan_sidecars(path, parsed);
    }
  } else {
    root = path.parent_path();
    const std::string ext = lower(path.extension().string());
    if (ext == ".jsonl") {
      report_.format = "jsonl";
      read_jsonl(path, options.hr_key, parsed);
    } else if (ext == ".tsv") {
      report_.format = "tsv";
      read_tsv(path, parsed);
    } else {
      throw DatasetError("'" + path.string() + "' is neither a folder nor a manifest (.jsonl or .tsv)");
    }
  }
  report_.root = root;
  report_.entries = parsed.seen;
  for (const auto& pr : parsed.problems) skip(pr.path, pr.reason, pr.detail);

  const bool all = options.split.empty() || options.split == "all";
  const bool pairs = options.hr_resolution > 0;
  for (auto& e : parsed.entries) {
    if (!all && e.split != options.split) {
      ++report_.other_split;
      continue;
    }
    const fs::path& needed = pairs && !e.image_hr.empty() ? e.image_hr : e.image;
    if (!fs::is_regular_file(needed, ec)) {
      skip(needed.string(), skip_reason::kMissing, "");
      continue;
    }
    entries_.push_back(std::move(e));
  }
  bad_.reset(new std::atomic<bool>[entries_.size()]);
  for (size_t i = 0; i < entries_.size(); ++i) bad_[i] = false;

  if (options.verify && !entries_.empty()) {
    const int threads = std::max(1, options.verify_threads > 0 ? options.verify_threads
                                                               : static_cast<int>(std::thread::hardware_concurrency()));
    std::atomic<int64_t> next{0};
    auto work = [&] {
      const int r = options_.resolution, hr = options_.hr_resolution;
      std::vector<uint8_t> a(static_cast<size_t>(r) * r * 3), b(static_cast<size_t>(hr) * hr * 3);
      for (int64_t i; (i = next++) < size();) load_into(i, a.data(), hr > 0 ? b.data() : nullptr);
    };
    std::vector<std::thread> pool;
    for (int t = 1; t < threads; ++t) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
  }
  report_.usable = size() - bad_count();
  if (report_.usable == 0) {
    std::string why = report_.skipped_summary();
    if (why.empty()) why = parsed.seen == 0 ? "no entries" : "no entries in this split";
    // Say why, for the first few: "manifest.jsonl:3 (bad manifest line: no "image" field)".
    for (size_t i = 0; i < report_.listed.size() && i < 3; ++i) {
      const auto& pr = report_.listed[i];
      why += (i == 0 ? "; " : ", ") + pr.path + " (" + pr.reason + (pr.detail.empty() ? "" : ": " + pr.detail) + ")";
    }
    const std::string split = all ? "" : " (split '" + options.split + "')";
    throw DatasetError("no usable image in '" + path.string() + "'" + split + ": " + why +
                       (report_.other_split > 0 ? "; " + std::to_string(report_.other_split) + " in other splits" : ""));
  }
  double total = 0;
  for (const auto& e : entries_) total += e.weight;
  if (!(total > 0))
    throw DatasetError("every usable entry of '" + path.string() + "' has weight 0; give some a positive weight");
}

std::vector<double> Dataset::weights() const {
  std::vector<double> w;
  w.reserve(entries_.size());
  for (const auto& e : entries_) w.push_back(e.weight);
  return w;
}

void Dataset::skip(const std::string& path, const std::string& reason, const std::string& detail) const {
  std::lock_guard<std::mutex> lock(report_mutex_);
  ++report_.skipped[reason];
  if (static_cast<int>(report_.listed.size()) < options_.max_listed) report_.listed.push_back({path, reason, detail});
}

DatasetReport Dataset::report() const {
  std::lock_guard<std::mutex> lock(report_mutex_);
  DatasetReport r = report_;
  r.usable = size() - bad_count();
  return r;
}

bool Dataset::decode(int64_t i, uint8_t* rgb, uint8_t* rgb_hr, std::string& error) const {
  const DatasetEntry& e = entry(i);
  const int r = options_.resolution, hr = options_.hr_resolution;
  try {
    int w = 0, h = 0;
    if (hr > 0) {
      const fs::path& src = e.image_hr.empty() ? e.image : e.image_hr;
      const auto decoded = load_rgb8(src, w, h);  // sets w, h: a statement of its own
      const auto high = crop_resize_rgb8(decoded, w, h, hr);
      std::memcpy(rgb_hr, high.data(), high.size());
      if (hr == r) {
        std::memcpy(rgb, high.data(), high.size());
      } else if (hr % r == 0) {
        cv::Mat hm(hr, hr, CV_8UC3, const_cast<uint8_t*>(high.data()));
        const cv::Mat low = downsample_box(hm, hr / r);  // exact box mean (emoji builder)
        std::memcpy(rgb, low.data, static_cast<size_t>(r) * r * 3);
      } else {
        const auto low = crop_resize_rgb8(high, hr, hr, r);
        std::memcpy(rgb, low.data(), low.size());
      }
    } else {
      const auto decoded = load_rgb8(e.image, w, h);
      const auto img = crop_resize_rgb8(decoded, w, h, r);
      std::memcpy(rgb, img.data(), img.size());
    }
    return true;
  } catch (const std::exception& ex) {
    error = ex.what();
    return false;
  }
}

bool Dataset::load_into(int64_t i, uint8_t* rgb, uint8_t* rgb_hr) const {
  if (is_bad(i)) return false;
  std::string error;
  if (decode(i, rgb, rgb_hr, error)) return true;
  // First failure of this entry: mark and report it exactly once.
  if (!bad_[static_cast<size_t>(i)].exchange(true)) {
    ++bad_total_;
    const DatasetEntry& e = entry(i);
    const bool pairs = options_.hr_resolution > 0 && !e.image_hr.empty();
    skip((pairs ? e.image_hr : e.image).string(), skip_reason::kUnreadable, error);
  }
  return false;
}

std::optional<Sample> Dataset::load(int64_t i) const {
  const int r = options_.resolution, hr = options_.hr_resolution;
  std::vector<uint8_t> a(static_cast<size_t>(r) * r * 3), b(static_cast<size_t>(hr) * hr * 3);
  if (!load_into(i, a.data(), hr > 0 ? b.data() : nullptr)) return std::nullopt;
  Sample s;
  s.image = rgb8_to_tensor(a.data(), r, r);
  if (hr > 0) s.image_hr = rgb8_to_tensor(b.data(), hr, hr);
  s.caption = entry(i).caption;
  s.index = i;
  return s;
}

// ---------------------------------------------------------------------------
// Sampling

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

namespace {

// A SplitMix64 stream: state advances by the golden gamma, output mixed.
struct SplitMix {
  uint64_t state;
  uint64_t next() {
    const uint64_t out = splitmix64(state);
    state += 0x9e3779b97f4a7c15ULL;
    return out;
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
  uint64_t below(uint64_t n) {  // unbiased in [0, n) (Lemire's multiply-shift with rejection)
    uint64_t x = next();
    unsigned __int128 m = static_cast<unsigned __int128>(x) * n;
    uint64_t l = static_cast<uint64_t>(m);
    if (l < n) {
      const uint64_t t = (0 - n) % n;
      while (l < t) {
        x = next();
        m = static_cast<unsigned __int128>(x) * n;
        l = static_cast<uint64_t>(m);
      }
    }
    return static_cast<uint64_t>(m >> 64);
  }
};

uint64_t key(uint64_t a, uint64_t b, uint64_t c = 0) {
  return splitmix64(splitmix64(splitmix64(a) ^ b) ^ c);
}

std::vector<double> normalised_prefix(const std::vector<double>& w) {
  double total = 0;
  for (double x : w) {
    if (!(x >= 0) || !std::isfinite(x)) throw DatasetError("sampling weights must be finite and >= 0");
    total += x;
  }
  if (!(total > 0)) throw DatasetError("sampling weights sum to 0");
  std::vector<double> c(w.size());
  double acc = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    acc += w[i];
    c[i] = acc / total;
  }
  c.back() = 1.0;
  return c;
}

int64_t draw(const std::vector<double>& cumulative, double u) {
  // First i with cumulative[i] > u; zero-weight entries have an empty interval.
  const auto it = std::upper_bound(cumulative.begin(), cumulative.end(), u);
  return std::min<int64_t>(it - cumulative.begin(), static_cast<int64_t>(cumulative.size()) - 1);
}

}  // namespace

Sampler::Sampler(std::vector<double> weights, uint64_t seed, bool shuffle) : seed_(seed), shuffle_(shuffle) {
  if (weights.empty()) throw DatasetError("sampler: no entries");
  cumulative_ = normalised_prefix(weights);
  n_ = static_cast<int64_t>(weights.size());
}

std::vector<int64_t> Sampler::make_epoch(int64_t epoch) const {
  SplitMix rng{key(seed_, static_cast<uint64_t>(epoch), 0x5eed)};
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(n_));
  // Systematic resampling: points u, u+1, ..., u+n-1 over [0, n) against the
  // cumulative weights scaled to n; entry i gets the points in its interval.
  const double u = rng.uniform();
  double prev = 0;
  for (int64_t i = 0; i < n_; ++i) {
    const double c = static_cast<double>(n_) * cumulative_[static_cast<size_t>(i)];
    const int64_t k = static_cast<int64_t>(std::ceil(c - u)) - static_cast<int64_t>(std::ceil(prev - u));
    for (int64_t t = 0; t < k; ++t) out.push_back(i);
    prev = c;
  }
  out.resize(static_cast<size_t>(n_), out.empty() ? 0 : out.back());  // guards rounding; normally a no-op
  for (int64_t i = n_ - 1; i > 0; --i) std::swap(out[i], out[rng.below(static_cast<uint64_t>(i + 1))]);
  return out;
}

int64_t Sampler::index_at(int64_t position) const {
  if (position < 0) throw DatasetError("sampler position must be >= 0");
  if (!shuffle_) return position % n_;
  const int64_t epoch = position / n_;
  std::lock_guard<std::mutex> lock(mutex_);
  if (epoch != cached_epoch_) {
    cached_ = make_epoch(epoch);
    cached_epoch_ = epoch;
  }
  return cached_[static_cast<size_t>(position % n_)];
}

std::vector<std::string> dataset_styles(const Dataset& dataset) {
  std::map<std::string, int64_t> counts;
  for (int64_t i = 0; i < dataset.size(); ++i) {
    std::string s = caption_style(dataset.entry(i).caption);
    if (is_style_word(s)) ++counts[s];
  }
  std::vector<std::pair<std::string, int64_t>> order(counts.begin(), counts.end());
  std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  std::vector<std::string> out;
  for (const auto& [s, n] : order)
    if (out.size() < kMaxPackageStyles) out.push_back(s);
  return out;
}

std::string short_caption(const std::string& caption, bool keep_style) {
  const size_t comma = caption.find(", ");
  std::string label = caption.substr(0, comma);
  const std::string style = caption_style(caption);
  if (style.empty() || label == caption) return label;
  if (label == style + " style") return label;  // the caption is only its style clause
  return keep_style ? label + ", " + style + " style" : label;
}

CaptionSampler::CaptionSampler(const Dataset& dataset, uint64_t seed, double style_negatives)
    : dataset_(dataset),
      cumulative_(normalised_prefix(dataset.weights())),
      seed_(seed),
      style_negatives_(style_negatives) {
  if (!(style_negatives >= 0 && style_negatives <= 1))
    throw DatasetError("style negatives: the share must be in [0, 1], got " + std::to_string(style_negatives));
  std::set<std::string> styles;
  for (int64_t i = 0; i < dataset.size(); ++i) {
    std::string s = caption_style(dataset.entry(i).caption);
    if (!s.empty()) styles.insert(std::move(s));
  }
  styles_.assign(styles.begin(), styles.end());
}

std::vector<std::string> CaptionSampler::sample(const std::vector<int64_t>& own, int64_t position) const {
  std::vector<std::string> out;
  out.reserve(own.size());
  for (size_t b = 0; b < own.size(); ++b) {
    SplitMix rng{key(seed_ ^ 0xc4a7ULL, static_cast<uint64_t>(position), b)};
    const std::string& mine = dataset_.entry(own[b]).caption;
    // A hard negative: the image's own caption in another style of the set.
    // Its own stream, so a share of 0 draws exactly the captions it always did.
    if (style_negatives_ > 0 && styles_.size() > 1) {
      SplitMix coin{key(seed_ ^ 0x57e1ULL, static_cast<uint64_t>(position), b)};
      const std::string style = caption_style(mine);
      if (!style.empty() && coin.uniform() < style_negatives_) {
        std::vector<const std::string*> others;
        for (const auto& s : styles_)
          if (s != style) others.push_back(&s);
        out.push_back(with_style(mine, *others[coin.below(others.size())]));
        continue;
      }
    }
    int64_t pick = -1, fallback = -1;
    // Redraw while it is the image's own entry or caption (bounded: a dataset
    // of one caption keeps the best it found).
    for (int attempt = 0; attempt < 16; ++attempt) {
      const int64_t j = draw(cumulative_, rng.uniform());
      if (j == own[b]) continue;
      if (fallback < 0) fallback = j;
      if (dataset_.entry(j).caption != mine) {
        pick = j;
        break;
      }
    }
    if (pick < 0) pick = fallback >= 0 ? fallback : own[b];
    out.push_back(dataset_.entry(pick).caption);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Loader

BatchLoader::BatchLoader(std::shared_ptr<const Dataset> dataset, const LoaderOptions& options)
    : dataset_(std::move(dataset)),
      options_(options),
      sampler_(dataset_->weights(), options.seed, options.shuffle),
      captions_(*dataset_, options.seed, options.style_negatives),
      position_(options.position),
      cursor_(options.position) {
  if (options.batch_size <= 0) throw DatasetError("batch size must be positive");
  if (options.position < 0) throw DatasetError("loader position must be >= 0");
  if (options_.prefetch > 0) thread_ = std::thread([this] { producer(); });
}

BatchLoader::~BatchLoader() { stop(); }

void BatchLoader::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Batch BatchLoader::make_batch(int64_t& cursor) const {
  const Dataset& ds = *dataset_;
  const int B = options_.batch_size, r = ds.options().resolution, hr = ds.options().hr_resolution;
  auto images = torch::empty({B, r, r, 3}, torch::kUInt8);
  torch::Tensor images_hr;
  if (hr > 0) images_hr = torch::empty({B, hr, hr, 3}, torch::kUInt8);
  Batch batch;
  batch.position_begin = cursor;
  int64_t misses = 0;
  for (int b = 0; b < B;) {
    const int64_t i = sampler_.index_at(cursor++);
    uint8_t* dst = images.data_ptr<uint8_t>() + static_cast<size_t>(b) * r * r * 3;
    uint8_t* dst_hr = hr > 0 ? images_hr.data_ptr<uint8_t>() + static_cast<size_t>(b) * hr * hr * 3 : nullptr;
    if (ds.load_into(i, dst, dst_hr)) {
      batch.indices.push_back(i);
      batch.captions.push_back(ds.entry(i).caption);
      ++b;
      misses = 0;
    } else if (ds.bad_count() >= ds.size() || ++misses > 4 * ds.size() + 64) {
      const auto rep = ds.report();
      throw DatasetError("no usable image left in '" + rep.root.string() + "': " + rep.skipped_summary());
    }
  }
  batch.position_end = cursor;
  batch.images = images.permute({0, 3, 1, 2}).to(torch::kFloat32).div_(127.5).sub_(1.0).contiguous();
  if (hr > 0) batch.images_hr = images_hr.permute({0, 3, 1, 2}).to(torch::kFloat32).div_(127.5).sub_(1.0).contiguous();
  batch.captions_hat = captions_.sample(batch.indices, batch.position_begin);
  if (options_.short_captions > 0) {
    for (size_t b = 0; b < batch.captions.size(); ++b) {
      SplitMix coin{key(options_.seed ^ 0x5407ULL, static_cast<uint64_t>(batch.position_begin), b)};
      if (coin.uniform() < options_.short_captions) batch.captions[b] = short_caption(batch.captions[b], coin.uniform() < 0.5);
    }
  }
  return batch;
}

void BatchLoader::producer() {
  int64_t cursor = cursor_;
  try {
    while (true) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        cv_.wait(lock, [&] { return stopping_ || static_cast<int>(queue_.size()) < options_.prefetch; });
        if (stopping_) return;
      }
      Batch b = make_batch(cursor);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stopping_) return;
        queue_.push_back(std::move(b));
      }
      cv_.notify_all();
    }
  } catch (...) {
    std::lock_guard<std::mutex> lock(mutex_);
    error_ = std::current_exception();
    cv_.notify_all();
  }
}

Batch BatchLoader::next() {
  if (options_.prefetch <= 0) {
    Batch b = make_batch(cursor_);
    position_ = b.position_end;
    return b;
  }
  std::unique_lock<std::mutex> lock(mutex_);
  cv_.wait(lock, [&] { return !queue_.empty() || error_ || stopping_; });
  // A stopped loader hands out nothing, not even batches prefetched before stop().
  if (stopping_) throw DatasetError("batch loader stopped");
  if (queue_.empty()) std::rethrow_exception(error_);
  Batch b = std::move(queue_.front());
  queue_.pop_front();
  lock.unlock();
  cv_.notify_all();
  position_ = b.position_end;
  return b;
}

}  // namespace gg

// GIF encoder and frame-sequence writers (video.h).
#include "video.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "image_io.h"
#include "safetensors.h"

namespace gg {

namespace fs = std::filesystem;

namespace {

struct Rgb {
  uint8_t b, g, r;
};

// Median cut over sampled pixels: up to 256 colours.
std::vector<Rgb> median_cut(std::vector<Rgb> px) {
  struct Box {
    size_t lo, hi;
  };
  std::vector<Box> boxes{{0, px.size()}};
  auto range = [&](const Box& b, int ch) {
    uint8_t mn = 255, mx = 0;
    for (size_t i = b.lo; i < b.hi; ++i) {
      const uint8_t v = ch == 0 ? px[i].b : ch == 1 ? px[i].g : px[i].r;
      mn = std::min(mn, v);
      mx = std::max(mx, v);
    }
    return mx - mn;
  };
  while (boxes.size() < 256) {
    int best = -1, best_ch = 0, best_range = 0;
    for (size_t k = 0; k < boxes.size(); ++k) {
      if (boxes[k].hi - boxes[k].lo < 2) continue;
      for (int ch = 0; ch < 3; ++ch) {
        const int r = range(boxes[k], ch);
        if (r > best_range) best_range = r, best = static_cast<int>(k), best_ch = ch;
      }
    }
    if (best < 0) break;
    Box b = boxes[best];
    auto key = [best_ch](const Rgb& c) { return best_ch == 0 ? c.b : best_ch == 1 ? c.g : c.r; };
    const size_t mid = b.lo + (b.hi - b.lo) / 2;
    std::nth_element(px.begin() + b.lo, px.begin() + mid, px.begin() + b.hi,
                     [&](const Rgb& a, const Rgb& c) { return key(a) < key(c); });
    boxes[best] = {b.lo, mid};
    boxes.push_back({mid, b.hi});
  }
  std::vector<Rgb> pal;
  for (const auto& b : boxes) {
    if (b.hi == b.lo) continue;
    uint64_t s[3] = {0, 0, 0};
    for (size_t i = b.lo; i < b.hi; ++i) s[0] += px[i].b, s[1] += px[i].g, s[2] += px[i].r;
    const uint64_t n = b.hi - b.lo;
    pal.push_back({static_cast<uint8_t>((s[0] + n / 2) / n), static_cast<uint8_t>((s[1] + n / 2) / n),
                   static_cast<uint8_t>((s[2] + n / 2) / n)});
  }
  if (pal.empty()) pal.push_back({0, 0, 0});
  return pal;
}

struct BitWriter {
  std::string out;
  std::string block;
  uint32_t acc = 0;
  int bits = 0;
  void put(uint32_t code, int size) {
    acc |= code << bits;
    bits += size;
    while (bits >= 8) {
      byte(static_cast<uint8_t>(acc & 0xff));
      acc >>= 8;
      bits -= 8;
    }
  }
  void byte(uint8_t b) {
    block.push_back(static_cast<char>(b));
    if (block.size() == 255) flush_block();
  }
  void flush_block() {
    if (block.empty()) return;
    out.push_back(static_cast<char>(block.size()));
    out += block;
    block.clear();
  }
  void finish() {
    if (bits > 0) byte(static_cast<uint8_t>(acc & 0xff));
    acc = 0;
    bits = 0;
    flush_block();
    out.push_back('\0');
  }
};

// GIF LZW with 8-bit minimum code size (as Charlie Tangora's public-domain gif.h).
std::string lzw(const std::vector<uint8_t>& idx) {
  const int min_code = 8, clear = 1 << min_code;
  std::vector<std::array<uint16_t, 256>> dict(4096);
  auto reset = [&] {
    for (auto& d : dict) d.fill(0);
  };
  reset();
  BitWriter w;
  int code_size = min_code + 1, max_code = clear + 1;
  w.put(clear, code_size);
  int cur = -1;
  for (uint8_t v : idx) {
    if (cur < 0) {
      cur = v;
    } else if (dict[cur][v]) {
      cur = dict[cur][v];
    } else {
      w.put(cur, code_size);
      dict[cur][v] = static_cast<uint16_t>(++max_code);
      if (max_code >= (1 << code_size)) ++code_size;
      if (max_code == 4095) {
        w.put(clear, code_size);
        reset();
        code_size = min_code + 1;
        max_code = clear + 1;
      }
      cur = v;
    }
  }
  w.put(cur, code_size);
  w.put(clear, code_size);
  w.put(clear + 1, min_code + 1);
  w.finish();
  return std::string(1, static_cast<char>(min_code)) + w.out;
}

void put16(std::string& s, int v) {
  s.push_back(static_cast<char>(v & 0xff));
  s.push_back(static_cast<char>((v >> 8) & 0xff));
}

cv::Mat enlarge(const cv::Mat& m, int scale) {
  if (scale <= 1) return m;
  cv::Mat r;
  cv::resize(m, r, cv::Size(m.cols * scale, m.rows * scale), 0, 0, cv::INTER_NEAREST);
  return r;
}

}  // namespace

std::string encode_gif(const std::vector<cv::Mat>& frames, int delay_cs, bool loop) {
  if (frames.empty()) throw ImageError("encode_gif: no frames");
  const int W = frames[0].cols, H = frames[0].rows;
  if (W > 65535 || H > 65535) throw ImageError("encode_gif: frames too large for GIF");
  for (const auto& f : frames)
    if (f.cols != W || f.rows != H || f.type() != CV_8UC3) throw ImageError("encode_gif: frames must be BGR8 of one size");
  // Palette from up to ~64k sampled pixels of all frames.
  std::vector<Rgb> sample;
  const size_t total = frames.size() * static_cast<size_t>(W) * H;
  const size_t stride = std::max<size_t>(1, total / 65536);
  size_t k = 0;
  for (const auto& f : frames)
    for (int y = 0; y < H; ++y)
      for (int x = 0; x < W; ++x, ++k)
        if (k % stride == 0) {
          const auto p = f.at<cv::Vec3b>(y, x);
          sample.push_back({p[0], p[1], p[2]});
        }
  const auto pal = median_cut(std::move(sample));
  // Nearest palette entry, memoised per exact colour (a 16 M entry table would
  // be wasteful; frames hold few distinct colours).
  std::vector<int16_t> memo(1 << 18, -1);  // 6 bits per channel key for the cache slot
  std::vector<uint32_t> memo_key(1 << 18, 0xffffffff);
  auto nearest = [&](uint8_t b, uint8_t g, uint8_t r) -> uint8_t {
    const uint32_t full = (uint32_t(b) << 16) | (uint32_t(g) << 8) | r;
    const uint32_t slot = ((b >> 2) << 12) | ((g >> 2) << 6) | (r >> 2);
    if (memo_key[slot] == full) return static_cast<uint8_t>(memo[slot]);
    int best = 0, best_d = INT32_MAX;
    for (size_t i = 0; i < pal.size(); ++i) {
      const int db = int(pal[i].b) - b, dg = int(pal[i].g) - g, dr = int(pal[i].r) - r;
      const int d = 2 * dr * dr + 4 * dg * dg + 3 * db * db;
      if (d < best_d) best_d = d, best = static_cast<int>(i);
    }
    memo_key[slot] = full;
    memo[slot] = static_cast<int16_t>(best);
    return static_cast<uint8_t>(best);
  };

  std::string s = "GIF89a";
  put16(s, W);
  put16(s, H);
  s.push_back(static_cast<char>(0xF7));  // global colour table, 8 bits, 256 entries
  s.push_back('\0');
  s.push_back('\0');
  for (int i = 0; i < 256; ++i) {
    const Rgb c = i < static_cast<int>(pal.size()) ? pal[i] : Rgb{0, 0, 0};
    s.push_back(static_cast<char>(c.r));
    s.push_back(static_cast<char>(c.g));
    s.push_back(static_cast<char>(c.b));
  }
  if (loop) {
    s += std::string("\x21\xFF\x0BNETSCAPE2.0\x03\x01", 16);
    put16(s, 0);  // forever
    s.push_back('\0');
  }
  std::vector<uint8_t> idx(static_cast<size_t>(W) * H);
  for (const auto& f : frames) {
    s += std::string("\x21\xF9\x04\x00", 4);
    put16(s, std::max(1, delay_cs));
    s.push_back('\0');
    s.push_back('\0');
    s.push_back(static_cast<char>(0x2C));
    put16(s, 0);
    put16(s, 0);
    put16(s, W);
    put16(s, H);
    s.push_back('\0');
    size_t i = 0;
    for (int y = 0; y < H; ++y)
      for (int x = 0; x < W; ++x) {
        const auto p = f.at<cv::Vec3b>(y, x);
        idx[i++] = nearest(p[0], p[1], p[2]);
      }
    s += lzw(idx);
  }
  s.push_back(';');
  return s;
}

VideoKind video_kind(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  if (ext == ".gif") return VideoKind::Gif;
  if (ext == ".mp4" || ext == ".avi" || ext == ".mkv") return VideoKind::Mp4;
  return VideoKind::PngFrames;
}

void write_video(const std::string& path, const std::vector<cv::Mat>& frames_in, double fps, int scale,
                 const std::vector<std::string>& texts) {
  if (frames_in.empty()) throw ImageError("'" + path + "': no frames to write");
  if (!(fps > 0)) throw ImageError("'" + path + "': frames per second must be positive");
  std::vector<cv::Mat> frames;
  for (const auto& f : frames_in) frames.push_back(enlarge(f, scale));
  switch (video_kind(path)) {
    case VideoKind::Gif:
      try {
        write_file_atomic(path, encode_gif(frames, static_cast<int>(std::lround(100.0 / fps))));
      } catch (const ImageError&) {
        throw;
      } catch (const Error& e) {
        throw ImageError("cannot write '" + path + "': " + e.what());
      }
      return;
    case VideoKind::Mp4: {
      const fs::path p(path);
      fs::path tmp = p;
      tmp.replace_filename(".tmp-" + p.filename().string());
      const std::string ext = p.extension().string();
      const int fourcc = ext == ".avi" ? cv::VideoWriter::fourcc('M', 'J', 'P', 'G')
                                       : cv::VideoWriter::fourcc('m', 'p', '4', 'v');
      cv::VideoWriter vw(tmp.string(), cv::CAP_FFMPEG, fourcc, fps, frames[0].size());
      if (!vw.isOpened())
        throw ImageError("cannot write '" + path +
                         "': OpenCV's VideoWriter could not open an encoder (OpenCV built without FFmpeg?); "
                         "write a .gif or a folder of PNG frames instead");
      for (const auto& f : frames) vw.write(f);
      vw.release();
      std::error_code ec;
      fs::rename(tmp, p, ec);
      if (ec) {
        fs::remove(tmp, ec);
        throw ImageError("cannot write '" + path + "': " + ec.message());
      }
      return;
    }
    case VideoKind::PngFrames: {
      std::error_code ec;
      fs::create_directories(path, ec);
      if (ec) throw ImageError("cannot create the folder '" + path + "': " + ec.message());
      for (size_t i = 0; i < frames.size(); ++i) {
        char name[32];
        std::snprintf(name, sizeof name, "frame_%04zu.png", i);
        std::map<std::string, std::string> text;
        if (i < texts.size() && !texts[i].empty()) text[kRecipeChunkKey] = texts[i];
        write_png((fs::path(path) / name).string(), frames[i], text);
      }
      return;
    }
  }
}

}  // namespace gg

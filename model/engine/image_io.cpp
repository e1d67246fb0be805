// Images in and out of the engine (image_io.h).
#include "image_io.h"

#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <sstream>

#include "checkpoint.h"
#include "safetensors.h"

namespace gg {

cv::Mat to_bgr8(const torch::Tensor& image) {
  // image: [3, H, W] in [-1, 1] -> H x W CV_8UC3, BGR
  TORCH_CHECK(image.dim() == 3 && image.size(0) == 3, "to_bgr8: expected [3, H, W], got ", image.sizes());
  auto hwc = ((image.detach().to(torch::kCPU, torch::kFloat32) + 1) * 127.5)
                 .round_()
                 .clamp_(0, 255)
                 .to(torch::kUInt8)
                 .flip({0})
                 .permute({1, 2, 0})
                 .contiguous();
  cv::Mat m(static_cast<int>(hwc.size(0)), static_cast<int>(hwc.size(1)), CV_8UC3, hwc.data_ptr<uint8_t>());
  return m.clone();
}

torch::Tensor from_mat(const cv::Mat& in) {
  cv::Mat m;
  if (in.depth() == CV_16U)
    in.convertTo(m, CV_8U, 1.0 / 257.0);
  else if (in.depth() == CV_8U)
    m = in;
  else
    throw ImageError("unsupported image depth (expected 8 or 16 bits per channel)");
  cv::Mat bgr;
  if (m.channels() == 1) {
    cv::cvtColor(m, bgr, cv::COLOR_GRAY2BGR);
  } else if (m.channels() == 4) {
    // Composite on white: c = a * c + (1 - a) * 255.
    cv::Mat f;
    m.convertTo(f, CV_32F, 1.0 / 255.0);
    std::vector<cv::Mat> ch;
    cv::split(f, ch);
    for (int i = 0; i < 3; ++i) ch[i] = ch[i].mul(ch[3]) + (1.0f - ch[3]);
    cv::Mat merged;
    cv::merge(std::vector<cv::Mat>{ch[0], ch[1], ch[2]}, merged);
    merged.convertTo(bgr, CV_8U, 255.0);
  } else if (m.channels() == 3) {
    bgr = m;
  } else {
    throw ImageError("unsupported channel count " + std::to_string(m.channels()));
  }
  cv::Mat c = bgr.isContinuous() ? bgr : bgr.clone();
  auto t = torch::from_blob(c.data, {c.rows, c.cols, 3}, torch::kUInt8)
               .permute({2, 0, 1})
               .flip({0})
               .to(torch::kFloat32)
               .div_(127.5)
               .sub_(1.0);
  return t.contiguous();
}

torch::Tensor read_image(const std::string& path, int resolution) {
  cv::Mat m = cv::imread(path, cv::IMREAD_UNCHANGED);
  if (m.empty()) {
    std::ifstream probe(path);
    throw ImageError(probe ? "'" + path + "' is not an image OpenCV can decode (PNG, JPEG, WebP, BMP, ...)"
                           : "image '" + path + "' cannot be read (missing or no permission)");
  }
  torch::Tensor t;
  try {
    t = from_mat(m);
  } catch (const ImageError& e) {
    throw ImageError("'" + path + "': " + e.what());
  }
  if (resolution > 0 && (t.size(1) != resolution || t.size(2) != resolution)) {
    cv::Mat bgr = to_bgr8(t), r;
    const bool down = bgr.rows > resolution || bgr.cols > resolution;
    cv::resize(bgr, r, cv::Size(resolution, resolution), 0, 0, down ? cv::INTER_AREA : cv::INTER_CUBIC);
    t = from_mat(r);
  }
  return t;
}

namespace {

void put_u32(std::string& s, uint32_t v) {
  for (int i = 3; i >= 0; --i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint32_t get_u32(const std::string& s, size_t at) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(s[at + i]);
  return v;
}
const std::string kSignature("\x89PNG\r\n\x1a\n", 8);

std::string chunk(const std::string& type, const std::string& data) {
  std::string c;
  put_u32(c, static_cast<uint32_t>(data.size()));
  const std::string td = type + data;
  c += td;
  put_u32(c, crc32(td.data(), td.size()));
  return c;
}

}  // namespace

std::string encode_png(const cv::Mat& bgr, const std::map<std::string, std::string>& text) {
  std::vector<uchar> buf;
  if (!cv::imencode(".png", bgr, buf)) throw ImageError("cannot encode a PNG image");
  std::string png(buf.begin(), buf.end());
  if (text.empty()) return png;
  // Signature (8) + IHDR chunk (4 + 4 + 13 + 4 = 25): insert right after it.
  const size_t after_ihdr = 8 + 25;
  if (png.size() < after_ihdr || png.compare(12, 4, "IHDR") != 0) throw ImageError("unexpected PNG layout");
  std::string chunks;
  for (const auto& [key, value] : text) {
    if (key.empty() || key.size() > 79) throw ImageError("PNG text keyword must have 1-79 bytes");
    // iTXt: keyword \0, compression flag 0, method 0, language "" \0, translated keyword "" \0, text.
    std::string data = key;
    data.push_back('\0');
    data.push_back('\0');
    data.push_back('\0');
    data.push_back('\0');
    data.push_back('\0');
    data += value;
    chunks += chunk("iTXt", data);
  }
  return png.substr(0, after_ihdr) + chunks + png.substr(after_ihdr);
}

void write_png(const std::string& path, const cv::Mat& bgr, const std::map<std::string, std::string>& text) {
  try {
    write_file_atomic(path, encode_png(bgr, text));
  } catch (const ImageError&) {
    throw;
  } catch (const Error& e) {
    throw ImageError("cannot write '" + path + "': " + e.what());
  }
}

std::map<std::string, std::string> parse_png_text(const std::string& png, const std::string& source) {
  if (png.size() < 8 || png.compare(0, 8, kSignature) != 0) throw ImageError("'" + source + "' is not a PNG file");
  std::map<std::string, std::string> out;
  size_t at = 8;
  while (at + 12 <= png.size()) {
    const uint32_t len = get_u32(png, at);
    if (at + 12 + static_cast<size_t>(len) > png.size())
      throw ImageError("'" + source + "' is truncated (a PNG chunk runs past the end of the file)");
    const std::string type = png.substr(at + 4, 4);
    const std::string data = png.substr(at + 8, len);
    if (crc32(png.data() + at + 4, 4 + len) != get_u32(png, at + 8 + len))
      throw ImageError("'" + source + "' is damaged (CRC mismatch in its " + type + " chunk)");
    if (type == "tEXt") {
      const auto nul = data.find('\0');
      if (nul != std::string::npos) out[data.substr(0, nul)] = data.substr(nul + 1);
    } else if (type == "iTXt") {
      const auto nul = data.find('\0');
      if (nul != std::string::npos && nul + 2 < data.size() && data[nul + 1] == 0) {  // uncompressed only
        const auto lang_end = data.find('\0', nul + 3);
        const auto tkey_end = lang_end == std::string::npos ? lang_end : data.find('\0', lang_end + 1);
        if (tkey_end != std::string::npos) out[data.substr(0, nul)] = data.substr(tkey_end + 1);
      }
    } else if (type == "IEND") {
      break;
    }
    at += 12 + len;
  }
  return out;
}

std::map<std::string, std::string> read_png_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ImageError("image '" + path + "' cannot be read (missing or no permission)");
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_png_text(ss.str(), path);
}

}  // namespace gg

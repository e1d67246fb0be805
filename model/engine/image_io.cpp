// Images in and out of the engine (image_io.h).
#include "image_io.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <sstream>

#include "checkpoint.h"
#include "safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace gg {

cv::Mat to_bgr8(const torch::Tensor& image) {
  // image: [3, H, W] in [-1, 1] -> H x W CV_8UC3, BGR
  TORCH_CHECK(image.dim() == 3 && image.size(0) == 3, "to_bgr8: expected [3, H, W], got ", image.sizes());
  // The last check before pixels leave the program: a NaN would be written as
  // black with exit 0.
  if (!torch::isfinite(image).all().item<bool>())
    throw ImageError("the image holds non-finite values (NaN or Inf) and is not written; its latent, "
                     "truncation or direction strength overflowed, or the model's weights are corrupt");
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

namespace {

uint32_t be16(const std::string& s, size_t at) {
  return (static_cast<uint32_t>(static_cast<unsigned char>(s[at])) << 8) | static_cast<unsigned char>(s[at + 1]);
}
uint32_t be32(const std::string& s, size_t at) { return (be16(s, at) << 16) | be16(s, at + 2); }
uint32_t le16(const std::string& s, size_t at) {
  return static_cast<uint32_t>(static_cast<unsigned char>(s[at])) |
         (static_cast<uint32_t>(static_cast<unsigned char>(s[at + 1])) << 8);
}
uint32_t le24(const std::string& s, size_t at) {
  return le16(s, at) | (static_cast<uint32_t>(static_cast<unsigned char>(s[at + 2])) << 16);
}
uint32_t le32(const std::string& s, size_t at) { return le16(s, at) | (le16(s, at + 2) << 16); }

std::pair<int64_t, int64_t> jpeg_size(const std::string& b) {
  size_t at = 2;
  while (at + 4 <= b.size()) {
    if (static_cast<unsigned char>(b[at]) != 0xFF) return {-1, -1};
    const unsigned char m = static_cast<unsigned char>(b[at + 1]);
    if (m == 0xFF) {  // fill byte
      ++at;
      continue;
    }
    if (m == 0x01 || (m >= 0xD0 && m <= 0xD7)) {  // standalone markers
      at += 2;
      continue;
    }
    if (m == 0xD9 || m == 0xDA) return {-1, -1};  // end of image / start of scan before any frame
    const uint32_t len = be16(b, at + 2);
    const bool sof = m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
    if (sof) {
      if (len < 7 || at + 9 > b.size()) return {-1, -1};
      return {be16(b, at + 7), be16(b, at + 5)};
    }
    if (len < 2) return {-1, -1};
    at += 2 + len;
  }
  return {-1, -1};
}

std::pair<int64_t, int64_t> pnm_size(const std::string& b) {
  size_t at = 2;
  int64_t v[2] = {-1, -1};
  for (int k = 0; k < 2; ++k) {
    while (at < b.size()) {  // whitespace and comments
      if (b[at] == '#') {
        while (at < b.size() && b[at] != '\n') ++at;
      } else if (std::isspace(static_cast<unsigned char>(b[at]))) {
        ++at;
      } else {
        break;
      }
    }
    int64_t x = 0;
    size_t digits = 0;
    while (at < b.size() && std::isdigit(static_cast<unsigned char>(b[at]))) {
      if (++digits > 12) return {-1, -1};
      x = x * 10 + (b[at++] - '0');
    }
    if (digits == 0) return {-1, -1};
    v[k] = x;
  }
  return {v[0], v[1]};
}

}  // namespace

std::pair<int64_t, int64_t> image_header_size(const std::string& b) {
  if (b.size() >= 24 && b.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0 && b.compare(12, 4, "IHDR") == 0)
    return {be32(b, 16), be32(b, 20)};
  if (b.size() >= 4 && static_cast<unsigned char>(b[0]) == 0xFF && static_cast<unsigned char>(b[1]) == 0xD8)
    return jpeg_size(b);
  if (b.size() >= 30 && b.compare(0, 4, "RIFF") == 0 && b.compare(8, 4, "WEBP") == 0) {
    const std::string chunk = b.substr(12, 4);
    if (chunk == "VP8 ") return {le16(b, 26) & 0x3FFF, le16(b, 28) & 0x3FFF};
    if (chunk == "VP8L") {
      const uint32_t bits = le32(b, 21);
      return {(bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1};
    }
    if (chunk == "VP8X") return {static_cast<int64_t>(le24(b, 24)) + 1, static_cast<int64_t>(le24(b, 27)) + 1};
    return {-1, -1};
  }
  if (b.size() >= 26 && b[0] == 'B' && b[1] == 'M') {
    if (le32(b, 14) == 12) return {le16(b, 18), le16(b, 20)};  // BITMAPCOREHEADER
    const int64_t w = static_cast<int32_t>(le32(b, 18)), h = static_cast<int32_t>(le32(b, 22));
    return {w < 0 ? -w : w, h < 0 ? -h : h};
  }
  if (b.size() >= 3 && b[0] == 'P' && b[1] >= '1' && b[1] <= '6') return pnm_size(b);
  return {-1, -1};
}

torch::Tensor decode_image(const std::string& bytes, const std::string& source, int resolution) {
  const auto [w, h] = image_header_size(bytes);
  if (w < 0 || h < 0)
    throw ImageError("'" + source + "' is not an image this build reads (PNG, JPEG, WebP, BMP or PNM with a " +
                     "readable header)");
  if (w == 0 || h == 0) throw ImageError("'" + source + "' is an empty image (" + std::to_string(w) + " x " +
                                         std::to_string(h) + " px)");
  if (w > kMaxImagePixels || h > kMaxImagePixels || w * h > kMaxImagePixels)
    throw ImageError("'" + source + "' is " + std::to_string(w) + " x " + std::to_string(h) +
                     " px, over the limit of " + std::to_string(kMaxImagePixels) +
                     " pixels (4096 x 4096); scale it down first");  // no w * h: it may overflow (fuzz_image)
  cv::Mat m;
  try {
    m = cv::imdecode(cv::Mat(1, static_cast<int>(bytes.size()), CV_8U, const_cast<char*>(bytes.data())),
                     cv::IMREAD_UNCHANGED);
  } catch (const cv::Exception& e) {
    throw ImageError("'" + source + "' cannot be decoded: " + e.what());
  }
  if (m.empty())
    throw ImageError("'" + source + "' is not an image OpenCV can decode (PNG, JPEG, WebP, BMP, ...)");
  if (static_cast<int64_t>(m.rows) * m.cols > kMaxImagePixels)
    throw ImageError("'" + source + "' decodes to " + std::to_string(m.cols) + " x " + std::to_string(m.rows) +
                     " px, over the limit of " + std::to_string(kMaxImagePixels) + " pixels");
  torch::Tensor t;
  try {
    t = from_mat(m);
  } catch (const ImageError& e) {
    throw ImageError("'" + source + "': " + e.what());
  }
  if (resolution > 0 && (t.size(1) != resolution || t.size(2) != resolution)) {
    cv::Mat bgr = to_bgr8(t), r;
    const bool down = bgr.rows > resolution || bgr.cols > resolution;
    cv::resize(bgr, r, cv::Size(resolution, resolution), 0, 0, down ? cv::INTER_AREA : cv::INTER_CUBIC);
    t = from_mat(r);
  }
  return t;
}

torch::Tensor read_image(const std::string& path, int resolution) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0)
    throw ImageError("image '" + path + "' cannot be read (" + std::strerror(errno) + ")");
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
    throw ImageError("image '" + path + "' is not a regular file (a FIFO, device or directory is refused)");
  if (st.st_size > kMaxImageFileBytes)
    throw ImageError("image '" + path + "' is " + std::to_string(st.st_size) + " bytes, over the limit of " +
                     std::to_string(kMaxImageFileBytes) + " bytes (256 MiB)");
  std::string bytes(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::read(fd, &bytes[done], bytes.size() - done);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) throw ImageError("image '" + path + "' cannot be read (" + std::strerror(errno) + ")");
    done += static_cast<size_t>(n);
  }
  return decode_image(bytes, path, resolution);
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

namespace {

std::map<std::string, std::string> walk_png_text(const std::string& png, const std::string& source,
                                                 std::vector<std::string>* compressed) {
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
      } else if (nul != std::string::npos && nul + 1 < data.size() && compressed) {
        compressed->push_back(data.substr(0, nul));
      }
    } else if (type == "zTXt") {
      const auto nul = data.find('\0');
      if (nul != std::string::npos && compressed) compressed->push_back(data.substr(0, nul));
    } else if (type == "IEND") {
      break;
    }
    at += 12 + len;
  }
  return out;
}

}  // namespace

std::map<std::string, std::string> parse_png_text(const std::string& png, const std::string& source) {
  return walk_png_text(png, source, nullptr);
}

std::vector<std::string> png_compressed_text_keys(const std::string& png) {
  std::vector<std::string> keys;
  try {
    walk_png_text(png, "", &keys);
  } catch (const ImageError&) {
  }
  return keys;
}

std::map<std::string, std::string> read_png_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ImageError("image '" + path + "' cannot be read (missing or no permission)");
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_png_text(ss.str(), path);
}

}  // namespace gg

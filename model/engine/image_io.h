// Images in and out of the engine: tensors <-> 8-bit pictures, reading a
// user's image for inversion or upsampling, and PNG files that carry text
// (the recipe) in iTXt chunks, so an image dropped back into the studio
// restores how it was made. OpenCV encodes and decodes the pixels; the text
// chunks are spliced in and read back here (PNG spec Sec. 11.3.4, iTXt
// uncompressed; tEXt is read too).
// Ref: PNG (Third Edition) Sec. 5 "Datastream structure", Sec. 11.3.4.
#pragma once
#include <torch/torch.h>

#include <map>
#include <opencv2/core.hpp>
#include <string>
#include <utility>
#include <vector>

#include "errors.h"

namespace gg {

// An image file cannot be read, decoded or written (the message names it).
struct ImageError : Error {
  using Error::Error;
};

// image: [3, H, W] float in [-1, 1] (any device) -> 8-bit BGR cv::Mat (H x W).
cv::Mat to_bgr8(const torch::Tensor& image);
// 8-bit BGR (or BGRA / gray) cv::Mat -> [3, H, W] float32 in [-1, 1] (CPU).
// Alpha is composited on white (as the emoji dataset is).
torch::Tensor from_mat(const cv::Mat& mat);

// Limits on a user's image, checked before decoding: a 3 MB PNG may claim
// 32768 x 32768 pixels (>= 9.7 GB decoded).
constexpr int64_t kMaxImagePixels = 4096LL * 4096;  // 16.8 megapixels
constexpr int64_t kMaxImageFileBytes = 256LL << 20;  // 256 MiB

// Width and height from the header of a PNG, JPEG, WebP, BMP or PNM image,
// without decoding it; {-1, -1} when the format or header is not recognised.
std::pair<int64_t, int64_t> image_header_size(const std::string& bytes);

// Decodes an image file's bytes (PNG, JPEG, WebP, BMP, PNM), composites alpha
// on white and resizes it to `resolution` px square (area filter down, cubic
// up; 0 keeps the size): [3, R, R] in [-1, 1]. The pixel count is read from
// the header and checked against kMaxImagePixels before decoding. Throws
// ImageError naming `source`.
torch::Tensor decode_image(const std::string& bytes, const std::string& source, int resolution = 0);
// Reads a regular file (a FIFO, device or directory is refused without
// blocking; files over kMaxImageFileBytes too) and decode_image()s it.
torch::Tensor read_image(const std::string& path, int resolution = 0);

// PNG bytes of a BGR image with the given text chunks (keyword -> UTF-8 text,
// written as uncompressed iTXt right after IHDR).
std::string encode_png(const cv::Mat& bgr, const std::map<std::string, std::string>& text = {});
// Writes encode_png atomically. Throws ImageError naming the file.
void write_png(const std::string& path, const cv::Mat& bgr, const std::map<std::string, std::string>& text = {});
// The tEXt and uncompressed iTXt chunks of a PNG file (keyword -> text); an
// empty map for a PNG without them. Throws ImageError when the file cannot be
// read or is not a PNG.
std::map<std::string, std::string> read_png_text(const std::string& path);
// A compressed iTXt or zTXt chunk is not read; asking for its keyword with
// png_text_value() says so instead of "no such chunk".
std::map<std::string, std::string> parse_png_text(const std::string& bytes, const std::string& source);
// The keywords of compressed text chunks (iTXt with compression, zTXt).
std::vector<std::string> png_compressed_text_keys(const std::string& bytes);

// The keyword under which PNGs carry their recipe.
constexpr const char* kRecipeChunkKey = "gigagan-recipe";

}  // namespace gg

// SVG to image, in-process: librsvg + cairo render, exact box downsampling and
// splitting of sprite sheets (one SVG holding many emoji) into standalone SVGs.
// Used by the emoji dataset builder (emoji_dataset.h). No Qt, no LibTorch.
#pragma once
#include <opencv2/core.hpp>

#include <string>
#include <vector>

namespace gg {

// Renders an SVG document into a size x size 8-bit BGR image (OpenCV's order).
// The drawing keeps its aspect ratio (taken from the viewBox, else from the
// intrinsic width/height), is scaled to fit and centred, and its alpha is
// composited over white. Throws DatasetError naming `what` when librsvg cannot
// parse the document or it has no usable size. Safe to call from several
// threads at once: every call creates its own librsvg handle and cairo surface.
cv::Mat render_svg(const std::string& svg, int size, const std::string& what = "SVG");

// Exact box average of factor x factor blocks (the mean of the block, rounded
// to nearest, halves up), per channel. `image` is 8-bit with any channel count;
// its sides must be multiples of `factor`. Unlike cv::resize(INTER_AREA), the
// result is by definition the mean, so a 64 px image is exactly the 4x4 mean
// of its 256 px pair.
cv::Mat downsample_box(const cv::Mat& image, int factor);

// One drawing cut out of a sprite sheet.
struct SpriteItem {
  std::string id;   // the element's id attribute, e.g. "1F431" or "0023-FE0F-20E3"
  std::string svg;  // a standalone SVG document
};

// Splits a sprite sheet: every child of the root element that is an <svg> or a
// <symbol> with an id becomes a standalone SVG document (a <symbol> is renamed
// <svg>). The child keeps its own attributes (viewBox, preserveAspectRatio...);
// the namespace declarations of the root that the child lacks are copied onto
// it, and <defs> that are children of the root are copied into every item, so
// each item renders as it does inside the sheet. Sheet-only CSS (the root's
// <style>) is dropped. Throws DatasetError when the text is not a well-formed
// sheet (unterminated tag, comment or element).
std::vector<SpriteItem> split_svg_sprite(const std::string& sprite);

}  // namespace gg

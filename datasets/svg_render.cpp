// SVG rendering (librsvg + cairo), exact box downsampling, sprite splitting.
#include "svg_render.h"

#include <cairo.h>
#include <librsvg/rsvg.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <utility>

#include "errors.h"

namespace gg {

namespace {

struct GObjectUnref {
  void operator()(void* p) const { g_object_unref(p); }
};
struct SurfaceDestroy {
  void operator()(cairo_surface_t* s) const { cairo_surface_destroy(s); }
};
struct CairoDestroy {
  void operator()(cairo_t* c) const { cairo_destroy(c); }
};

std::string take_error(GError* error) {
  if (!error) return "unknown error";
  std::string msg = error->message ? error->message : "unknown error";
  g_error_free(error);
  return msg;
}

}  // namespace

cv::Mat render_svg(const std::string& svg, int size, const std::string& what) {
  if (size <= 0) throw DatasetError("render_svg: size must be positive, got " + std::to_string(size));
  GError* error = nullptr;
  std::unique_ptr<RsvgHandle, GObjectUnref> handle(
      rsvg_handle_new_from_data(reinterpret_cast<const guint8*>(svg.data()), svg.size(), &error));
  if (!handle) throw DatasetError(what + ": librsvg cannot parse it: " + take_error(error));
  rsvg_handle_set_dpi(handle.get(), 96.0);

  // The drawing's own extent in user units: the viewBox when there is one
  // (emoji always have one), else the intrinsic size in pixels.
  gboolean has_w = FALSE, has_h = FALSE, has_vb = FALSE;
  RsvgLength w_len, h_len;
  RsvgRectangle vb{0, 0, 0, 0};
  rsvg_handle_get_intrinsic_dimensions(handle.get(), &has_w, &w_len, &has_h, &h_len, &has_vb, &vb);
  double doc_w = 0, doc_h = 0;
  if (has_vb && vb.width > 0 && vb.height > 0) {
    doc_w = vb.width;
    doc_h = vb.height;
  } else if (!rsvg_handle_get_intrinsic_size_in_pixels(handle.get(), &doc_w, &doc_h)) {
    doc_w = doc_h = 0;
  }
  if (!(doc_w > 0 && doc_h > 0) || !std::isfinite(doc_w) || !std::isfinite(doc_h))
    throw DatasetError(what + ": the SVG has neither a viewBox nor an absolute width and height");

  std::unique_ptr<cairo_surface_t, SurfaceDestroy> surface(
      cairo_image_surface_create(CAIRO_FORMAT_ARGB32, size, size));
  if (cairo_surface_status(surface.get()) != CAIRO_STATUS_SUCCESS)
    throw DatasetError(what + ": cannot create a " + std::to_string(size) + " px cairo surface");
  std::unique_ptr<cairo_t, CairoDestroy> cr(cairo_create(surface.get()));
  // White first; the drawing is composited over it (cairo OVER), so the
  // result is opaque and its premultiplied pixels are plain RGB.
  cairo_set_source_rgb(cr.get(), 1.0, 1.0, 1.0);
  cairo_paint(cr.get());
  // Fit the longer side, keep the aspect ratio, centre. The viewport has the
  // drawing's own aspect, so a preserveAspectRatio="none" cannot stretch it.
  const double scale = size / std::max(doc_w, doc_h);
  cairo_translate(cr.get(), (size - doc_w * scale) / 2.0, (size - doc_h * scale) / 2.0);
  cairo_scale(cr.get(), scale, scale);
  const RsvgRectangle viewport{0, 0, doc_w, doc_h};
  if (!rsvg_handle_render_document(handle.get(), cr.get(), &viewport, &error))
    throw DatasetError(what + ": librsvg cannot render it: " + take_error(error));
  cairo_surface_flush(surface.get());
  if (cairo_status(cr.get()) != CAIRO_STATUS_SUCCESS)
    throw DatasetError(what + ": cairo error: " + cairo_status_to_string(cairo_status(cr.get())));

  // CAIRO_FORMAT_ARGB32 is a native-endian 32-bit word 0xAARRGGBB: on a
  // little-endian machine the bytes are B, G, R, A, which is OpenCV's order.
  const unsigned char* data = cairo_image_surface_get_data(surface.get());
  const int stride = cairo_image_surface_get_stride(surface.get());
  cv::Mat out(size, size, CV_8UC3);
  for (int y = 0; y < size; ++y) {
    const auto* row = reinterpret_cast<const uint32_t*>(data + static_cast<size_t>(y) * stride);
    auto* dst = out.ptr<uint8_t>(y);
    for (int x = 0; x < size; ++x) {
      const uint32_t p = row[x];
      dst[3 * x + 0] = static_cast<uint8_t>(p & 0xff);
      dst[3 * x + 1] = static_cast<uint8_t>((p >> 8) & 0xff);
      dst[3 * x + 2] = static_cast<uint8_t>((p >> 16) & 0xff);
    }
  }
  return out;
}

cv::Mat downsample_box(const cv::Mat& image, int factor) {
  if (image.depth() != CV_8U) throw DatasetError("downsample_box: expects an 8-bit image");
  if (factor <= 0 || image.rows % factor != 0 || image.cols % factor != 0)
    throw DatasetError("downsample_box: " + std::to_string(image.cols) + "x" + std::to_string(image.rows) +
                       " is not a multiple of " + std::to_string(factor));
  const int ch = image.channels();
  const int oh = image.rows / factor, ow = image.cols / factor;
  const int n = factor * factor;
  cv::Mat out(oh, ow, CV_MAKETYPE(CV_8U, ch));
  std::vector<int> acc(static_cast<size_t>(ow) * ch);
  for (int oy = 0; oy < oh; ++oy) {
    std::fill(acc.begin(), acc.end(), 0);
    for (int dy = 0; dy < factor; ++dy) {
      const uint8_t* row = image.ptr<uint8_t>(oy * factor + dy);
      for (int x = 0; x < image.cols; ++x)
        for (int c = 0; c < ch; ++c) acc[static_cast<size_t>(x / factor) * ch + c] += row[x * ch + c];
    }
    uint8_t* dst = out.ptr<uint8_t>(oy);
    for (size_t i = 0; i < acc.size(); ++i) dst[i] = static_cast<uint8_t>((acc[i] * 2 + n) / (2 * n));
  }
  return out;
}

// ---------------------------------------------------------------------------
// Sprite splitting: a small XML scanner. It only needs element boundaries and
// start-tag attributes, so it skips comments, CDATA, processing instructions
// and DOCTYPE, honours quotes inside tags and counts depth.

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::vector<std::pair<std::string, std::string>> parse_attributes(const std::string& tag) {
  // tag: "<name a='1' b=\"2\">" or ".../>"
  std::vector<std::pair<std::string, std::string>> attrs;
  size_t i = 1;
  while (i < tag.size() && !is_space(tag[i]) && tag[i] != '>' && tag[i] != '/') ++i;
  while (i < tag.size()) {
    while (i < tag.size() && (is_space(tag[i]) || tag[i] == '/')) ++i;
    if (i >= tag.size() || tag[i] == '>') break;
    const size_t name_start = i;
    while (i < tag.size() && !is_space(tag[i]) && tag[i] != '=' && tag[i] != '>' && tag[i] != '/') ++i;
    std::string name = tag.substr(name_start, i - name_start);
    while (i < tag.size() && is_space(tag[i])) ++i;
    std::string value;
    if (i < tag.size() && tag[i] == '=') {
      ++i;
      while (i < tag.size() && is_space(tag[i])) ++i;
      if (i < tag.size() && (tag[i] == '"' || tag[i] == '\'')) {
        const char q = tag[i++];
        const size_t v0 = i;
        while (i < tag.size() && tag[i] != q) ++i;
        value = tag.substr(v0, i - v0);
        if (i < tag.size()) ++i;
      }
    }
    if (!name.empty()) attrs.emplace_back(std::move(name), std::move(value));
  }
  return attrs;
}

std::string element_name(const std::string& s, size_t lt) {
  size_t i = lt + 1;
  while (i < s.size() && !is_space(s[i]) && s[i] != '>' && s[i] != '/') ++i;
  return s.substr(lt + 1, i - lt - 1);
}

// Index of the '>' closing the tag that starts at `lt`, honouring quotes.
size_t tag_end(const std::string& s, size_t lt) {
  char quote = 0;
  for (size_t i = lt + 1; i < s.size(); ++i) {
    const char c = s[i];
    if (quote) {
      if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '>') {
      return i;
    }
  }
  return std::string::npos;
}

struct Child {
  std::string name;
  size_t start = 0, start_tag_end = 0;  // '<' and '>' of the start tag
  size_t end_tag = 0, end = 0;          // '<' of the end tag, one past its '>'
  bool self_closing = false;
};

std::string escape_attr(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '"') out += "&quot;";
    else out += c;
  }
  return out;
}

}  // namespace

std::vector<SpriteItem> split_svg_sprite(const std::string& s) {
  auto fail = [](const std::string& why, size_t at) {
    throw DatasetError("sprite SVG is malformed: " + why + " at byte " + std::to_string(at));
  };
  std::string root_tag;
  std::vector<Child> children;
  int depth = 0;
  bool root_closed = false;
  Child current;
  size_t pos = 0;
  while (true) {
    const size_t lt = s.find('<', pos);
    if (lt == std::string::npos) break;
    if (s.compare(lt, 4, "<!--") == 0) {
      const size_t e = s.find("-->", lt + 4);
      if (e == std::string::npos) fail("unterminated comment", lt);
      pos = e + 3;
    } else if (s.compare(lt, 9, "<![CDATA[") == 0) {
      const size_t e = s.find("]]>", lt + 9);
      if (e == std::string::npos) fail("unterminated CDATA section", lt);
      pos = e + 3;
    } else if (s.compare(lt, 2, "<?") == 0) {
      const size_t e = s.find("?>", lt + 2);
      if (e == std::string::npos) fail("unterminated processing instruction", lt);
      pos = e + 2;
    } else if (s.compare(lt, 2, "<!") == 0) {
      const size_t e = s.find('>', lt + 2);
      if (e == std::string::npos) fail("unterminated declaration", lt);
      pos = e + 1;
    } else if (s.compare(lt, 2, "</") == 0) {
      const size_t e = s.find('>', lt + 2);
      if (e == std::string::npos) fail("unterminated end tag", lt);
      if (depth <= 0) fail("end tag without a start tag", lt);
      --depth;
      if (depth == 1) {
        current.end_tag = lt;
        current.end = e + 1;
        children.push_back(current);
      } else if (depth == 0) {
        root_closed = true;
      }
      pos = e + 1;
    } else {
      const size_t e = tag_end(s, lt);
      if (e == std::string::npos) fail("unterminated start tag", lt);
      const bool self_closing = s[e - 1] == '/';
      if (depth == 0) {
        if (root_closed) fail("a second root element", lt);
        root_tag = s.substr(lt, e + 1 - lt);
      } else if (depth == 1) {
        current = Child{};
        current.name = element_name(s, lt);
        current.start = lt;
        current.start_tag_end = e;
        current.self_closing = self_closing;
        if (self_closing) {
          current.end_tag = current.end = e + 1;
          children.push_back(current);
        }
      }
      if (!self_closing) ++depth;
      pos = e + 1;
    }
  }
  if (root_tag.empty()) fail("no root element", 0);
  if (depth != 0) fail("unclosed element(s), " + std::to_string(depth) + " level(s) deep,", s.size());

  // Namespace declarations of the root, and the root's <defs>.
  std::vector<std::pair<std::string, std::string>> namespaces;
  for (const auto& [name, value] : parse_attributes(root_tag))
    if (name == "xmlns" || name.rfind("xmlns:", 0) == 0) namespaces.emplace_back(name, value);
  if (std::none_of(namespaces.begin(), namespaces.end(), [](const auto& a) { return a.first == "xmlns"; }))
    namespaces.emplace_back("xmlns", "http://www.w3.org/2000/svg");
  std::string root_defs;
  for (const Child& c : children)
    if (c.name == "defs") root_defs += s.substr(c.start, c.end - c.start);

  std::vector<SpriteItem> items;
  for (const Child& c : children) {
    if (c.name != "svg" && c.name != "symbol") continue;
    const std::string start_tag = s.substr(c.start, c.start_tag_end + 1 - c.start);
    const auto attrs = parse_attributes(start_tag);
    std::string id;
    for (const auto& [name, value] : attrs)
      if (name == "id") id = value;
    if (id.empty()) continue;
    // Rebuild the start tag as <svg ...> with the missing namespaces added.
    std::string tag = "<svg" + start_tag.substr(1 + c.name.size());
    const size_t close = tag.size() - (c.self_closing ? 2 : 1);
    std::string extra;
    for (const auto& [name, value] : namespaces)
      if (std::none_of(attrs.begin(), attrs.end(), [&](const auto& a) { return a.first == name; }))
        extra += " " + name + "=\"" + escape_attr(value) + "\"";
    tag.insert(close, extra);
    if (c.self_closing) {
      tag.replace(tag.size() - 2, 2, ">");
    }
    std::string body = c.self_closing ? std::string() : s.substr(c.start_tag_end + 1, c.end_tag - c.start_tag_end - 1);
    SpriteItem item;
    item.id = id;
    item.svg = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + tag + root_defs + body + "</svg>\n";
    items.push_back(std::move(item));
  }
  return items;
}

}  // namespace gg

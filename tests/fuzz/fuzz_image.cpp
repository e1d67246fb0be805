// libFuzzer target: image decoding for invert / upsample / drag masks: the
// header size check (PNG, JPEG, WebP, BMP, PNM) before OpenCV decodes, then
// the decode and resize.
#include <opencv2/core.hpp>

#include "errors.h"
#include "fuzz_target.h"
#include "image_io.h"

GG_FUZZ_TARGET(image) {
  try {
    (void)gg::decode_image(gg::fuzz::bytes(data, size), "fuzz.img", 16);
  } catch (const gg::Error&) {
  } catch (const cv::Exception&) {  // OpenCV's own decoders may still refuse a corrupt body
  }
  return 0;
}

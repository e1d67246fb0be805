// libFuzzer target: the safetensors reader and the checkpoint layer on top
// (header length, JSON header, dtypes, shapes, offsets, CRC metadata,
// non-finite values).
#include "checkpoint.h"
#include "errors.h"
#include "fuzz_target.h"
#include "safetensors.h"

GG_FUZZ_TARGET(safetensors) {
  const std::string in = gg::fuzz::bytes(data, size);
  try {
    gg::SafeTensorsFile f = gg::parse_safetensors(in, "fuzz.safetensors");
    // What the reader returns must serialize and read back.
    const std::string again = gg::serialize_safetensors(f.tensors, f.metadata);
    (void)gg::parse_safetensors(again, "fuzz-again.safetensors");
  } catch (const gg::Error&) {
  }
  return 0;
}

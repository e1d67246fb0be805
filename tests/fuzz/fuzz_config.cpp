// libFuzzer target: package / model config JSON (ModelConfig and each
// network's config: strict field reads, then validate() with its limits).
// Building nothing: a config that validates must only have sizes within the
// limits, which the target asserts.
#include <cstdlib>

#include "errors.h"
#include "fuzz_target.h"
#include "model_config.h"

GG_FUZZ_TARGET(config) {
  gg::json j = gg::json::parse(gg::fuzz::bytes(data, size), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  try {
    gg::ModelConfig c = j.get<gg::ModelConfig>();
    c.validate();
    if (c.generator.resolution > gg::kMaxConfigResolution || c.generator.num_ws() > 64 * 16 ||
        c.upsampler.output_resolution > gg::kMaxConfigResolution)
      std::abort();  // validate() let a size past its limit through
  } catch (const gg::Error&) {
  } catch (const gg::json::exception&) {
  }
  // Each part alone too (the files of a package carry one config each).
  try {
    j.get<gg::GeneratorConfig>().validate();
  } catch (const gg::Error&) {
  } catch (const gg::json::exception&) {
  }
  try {
    j.get<gg::UpsamplerConfig>().validate();
  } catch (const gg::Error&) {
  } catch (const gg::json::exception&) {
  }
  return 0;
}

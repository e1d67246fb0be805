// Widening a trained generator: more channels at some levels, the same function.
// Ref: Chen, Goodfellow, Shlens, "Net2Net: Accelerating Learning via Knowledge
// Transfer" (ICLR 2016), function-preserving widening; here by the "zero
// outgoing weights" variant, which suits weight demodulation (StyleGAN2): a new
// channel's weights into the next layer start at zero, so it adds nothing to
// any sum and nothing to a demodulation norm, while its own incoming weights
// keep their fresh random initialisation, so gradients reach both at once.
#pragma once
#include <torch/torch.h>

#include <string>

#include "checkpoint.h"
#include "generator.h"

namespace gg {

// Copies `narrow` (the weights of a generator built from `narrow_config`) into
// `wide`, whose config may differ from `narrow_config` only in `channels`, each
// at least as large. Every tensor goes into the leading slices of the wide one;
// an adaptive convolution's weights [N, out, in, k, k] get zeros for the new
// input channels and their old slice scaled by sqrt(in_wide / in_narrow) (the
// equalized-lr gain 1/sqrt(in k k) shrinks as `in` grows); everything else new
// keeps `wide`'s initialisation. Then both generators render the same inputs
// and the result must agree to 1e-4 of its scale; a level whose width cannot
// grow this way (one with attention, whose layers mix every channel) fails
// this check and is refused naming the level. Throws ConfigError / CheckpointError
// naming `source`.
void widen_generator(Generator& wide, const GeneratorConfig& narrow_config, const TensorMap& narrow,
                     const std::string& source);

}  // namespace gg

// Layer sets for W-space style swapping: which synthesis slots (and the
// upsampler) take their w and t_local from which source.
// Names, for a generator whose slots are "<res>px.b<block>":
//   coarse      4-8 px slots        middle   16-32 px slots
//   fine        64 px and above, plus the upsampler
//   upsampler   the upsampler only  all      every slot and the upsampler
//   16px        every block of the 16 px level   8px.b1   one slot
//   3           a slot by index     2-5      a range of indices
// combined with commas: "coarse,16px.b0". Ref: Kang et al. 2023 Sec. 4.5
// (style mixing: coarse layers set layout, fine layers texture); StyleGAN's
// per-layer W+ style mixing.
#pragma once
#include <string>
#include <vector>

#include "synthesis_network.h"

namespace gg {

// The editable layers of a model: its synthesis slots, then (when the package
// has an upsampler) one more entry, index num_ws, named "upsampler".
struct LayerTable {
  std::vector<SynthesisSlot> slots;
  bool has_upsampler = false;
  int size() const { return static_cast<int>(slots.size()) + (has_upsampler ? 1 : 0); }
  int upsampler_index() const { return static_cast<int>(slots.size()); }
  std::string name(int index) const;  // "8px.b1" or "upsampler"
  // Every name parse() accepts, for help texts and error messages.
  std::string describe() const;
  // Spec -> sorted, unique layer indices. Throws ConfigError naming the
  // unknown part and listing the accepted names; an empty spec is an error.
  // A named range with no layer in this model (e.g. "fine" for a 16 px model
  // without upsampler) is an error too, so a typo never silently does nothing.
  std::vector<int> parse(const std::string& spec) const;
};

}  // namespace gg

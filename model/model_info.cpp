#include "model_info.h"

#include "clip.h"
#include "discriminator.h"
#include "generator.h"
#include "layers.h"
#include "upsampler.h"
#include "vision_aided_discriminator.h"

namespace gg {

namespace {
void add(std::vector<NetworkParameters>& out, const std::string& name, const torch::nn::Module& m,
         bool frozen = false) {
  out.push_back({name, count_parameters(m), frozen, 0});
  for (const auto& child : m.named_children())
    out.push_back({name + "." + child.key(), count_parameters(*child.value()), frozen, 1});
}
}  // namespace

std::vector<NetworkParameters> count_network_parameters(const ModelConfig& c) {
  MetaScope meta;
  std::vector<NetworkParameters> out;
  ClipModel clip(c.clip);
  out.push_back({"clip.text_model", count_parameters(*clip->text_model), true, 0});
  out.push_back({"clip.vision_model", count_parameters(*clip->vision_model), true, 0});
  add(out, "generator", *Generator(c.generator));
  add(out, "discriminator", *Discriminator(c.discriminator));
  if (c.vision_aided.enabled && c.vision_aided.backbone == "inception_v3")
    add(out, "vision_aided_head", *VisionAidedDiscriminator(c.vision_aided, InceptionV3(false)));
  else if (c.vision_aided.enabled)
    add(out, "vision_aided_head", *VisionAidedDiscriminator(c.vision_aided, clip->vision_model));
  add(out, "upsampler", *Upsampler(c.upsampler));
  add(out, "upsampler_discriminator", *Discriminator(c.upsampler_discriminator));
  return out;
}

}  // namespace gg

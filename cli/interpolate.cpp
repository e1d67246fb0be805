// `gigagan interpolate`: prompt interpolation between 2-4 prompts (the
// studio's Interpolate panel): one image at barycentric --weights, or a path of
// --frames through the prompts in order, written as PNG frames, a GIF or an MP4.
#include <cmath>
#include <sstream>

#include "cli_engine.h"
#include "image_io.h"
#include "video.h"

namespace gg::cli {

namespace {

std::vector<double> parse_weights(const std::string& s) {
  std::vector<double> w;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    try {
      size_t used = 0;
      w.push_back(std::stod(item, &used));
      if (used != item.size()) throw std::invalid_argument(item);
    } catch (const std::exception&) {
      throw UsageError("gigagan interpolate: --weights expects comma-separated numbers, got '" + s + "'");
    }
  }
  return w;
}

}  // namespace

Command interpolate_command() {
  Command c;
  c.name = "interpolate";
  c.summary = "Interpolate between 2-4 prompts in t, w or both (one image, or a path as PNGs, GIF or MP4).";
  c.options = {
      {"prompt", "TEXT", "a prompt (2 to 4 of them, in path order)", "", true},
      {"seed", "N", "seed (once for all prompts, or once per prompt)", "0", true},
      {"psi", "X", "truncation around each prompt's mean w", "0.8"},
      {"space", "WHAT", "what is interpolated: t (text), w (style) or both", "both"},
      {"mode", "MODE", "lerp or slerp", "lerp"},
      {"weights", "W1,W2,..", "one image at these barycentric weights (one per prompt)", ""},
      {"frames", "N", "frames of the path (without --weights)", "24"},
      {"loop", "", "the path returns to the first prompt", ""},
      {"fps", "X", "frames per second of a GIF or MP4", "12"},
      {"scale", "N", "enlarge video frames N times (pixel repetition)", "1"},
      {"upsample", "", "run the upsampler on every frame", ""},
      {"out", "PATH", "PNG (with --weights); .gif, .mp4 or a folder of PNG frames (a path)", "interpolation.gif"},
      model_option(),
      device_option(),
      threads_option(),
  };
  c.run = [](const Args& args, std::ostream& out) {
    const auto prompts = args.get_all("prompt");
    if (prompts.size() < 2 || prompts.size() > 4)
      throw UsageError("gigagan interpolate: give 2 to 4 --prompt (got " + std::to_string(prompts.size()) + ")");
    const auto seeds = args.get_all("seed");
    if (seeds.size() != 1 && seeds.size() != prompts.size())
      throw UsageError("gigagan interpolate: give one --seed, or one per --prompt");
    const std::string space = args.get("space");
    if (space != "t" && space != "w" && space != "both")
      throw UsageError("gigagan interpolate: --space expects t, w or both, got '" + space + "'");
    Recipe base;
    for (size_t i = 0; i < prompts.size(); ++i)
      base.sources.push_back(
          Source{prompts[i], parse_seed(seeds.size() == 1 ? seeds[0] : seeds[i], "--seed"), args.get_double("psi"), {}});
    base.blend = parse_blend_mode(args.get("mode"));
    base.upsample = args.flag("upsample");
    const size_t n = prompts.size();
    auto with_weights = [&](const std::vector<double>& w) {
      Recipe r = base;
      std::vector<double> first(n, 0.0);
      first[0] = 1.0;
      r.w_weights = space == "t" ? first : w;
      r.t_weights = space == "w" ? first : w;
      return r;
    };
    auto engine = open_engine(args);
    if (args.has("weights")) {
      const auto w = normalize_weights(parse_weights(args.get("weights")), n, "--weights");
      const std::string path = args.has("out") ? args.get("out") : "interpolation.png";
      render_and_save(*engine, {with_weights(w)}, 1, path, out);
      return 0;
    }
    const int frames = args.get_int("frames");
    if (frames < 2 || frames > 10000) throw UsageError("gigagan interpolate: --frames must be 2..10000");
    const bool loop = args.flag("loop");
    const int segments = static_cast<int>(loop ? n : n - 1);
    std::vector<cv::Mat> images;
    std::vector<std::string> recipes;
    for (int f = 0; f < frames; ++f) {
      const double pos = loop ? static_cast<double>(f) * segments / frames
                              : static_cast<double>(f) * segments / (frames - 1);
      const int seg = std::min(static_cast<int>(std::floor(pos)), segments - 1);
      const double t = pos - seg;
      std::vector<double> w(n, 0.0);
      w[seg] += 1 - t;
      w[(seg + 1) % n] += t;
      Recipe r = with_weights(w);
      engine->stamp(r);
      const Rendered img = engine->render(r);
      images.push_back(to_bgr8((img.upsampled.defined() ? img.upsampled : img.image)[0]));
      recipes.push_back(r.dump());
    }
    const std::string path = args.get("out");
    write_video(path, images, args.get_double("fps"), std::max(1, args.get_int("scale")), recipes);
    out << "wrote " << path << " (" << frames << " frames, " << images[0].cols << " px)\n";
    return 0;
  };
  return c;
}

}  // namespace gg::cli

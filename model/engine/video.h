// Frame sequences out of the engine (interpolation paths): numbered PNGs (each
// carrying its frame's recipe), an animated GIF (own encoder: one global
// median-cut palette, LZW, looping) or an MP4 through OpenCV's VideoWriter.
// Ref: GIF89a specification (W3C, 1990): logical screen, Graphic Control
// Extension, LZW with variable code size; NETSCAPE2.0 looping extension.
#pragma once
#include <opencv2/core.hpp>
#include <string>
#include <vector>

namespace gg {

// frames: BGR 8-bit, all the same size. delay in 1/100 s; loop = repeat forever.
std::string encode_gif(const std::vector<cv::Mat>& frames, int delay_cs, bool loop = true);

enum class VideoKind { PngFrames, Gif, Mp4 };
// ".gif" -> Gif, ".mp4" (or ".avi", ".mkv") -> Mp4, anything else (a folder) -> PngFrames.
VideoKind video_kind(const std::string& path);

// Writes `frames` to `path` by its kind, atomically per file (temporary +
// rename). PngFrames: <path>/frame_0000.png ... with texts[i] (a recipe) in
// each PNG when given. scale > 1 enlarges frames by pixel repetition (64 px
// frames are tiny in a video player). Throws ImageError naming the file.
void write_video(const std::string& path, const std::vector<cv::Mat>& frames, double fps, int scale = 1,
                 const std::vector<std::string>& texts = {});

}  // namespace gg

#include "throughput_estimate.h"

#include <algorithm>
#include <cmath>

namespace gg::ui {

namespace {
constexpr double kEmaAlpha = 0.2;  // weight of a new tick's rate before the window fills
}  // namespace

ThroughputEstimate::ThroughputEstimate(double window_s, double min_span_s)
    : window_s_(window_s), min_span_s_(min_span_s) {}

void ThroughputEstimate::reset() {
  samples_.clear();
  ema_ = 0.0;
  has_ema_ = false;
}

void ThroughputEstimate::add(double time_s, qint64 images, double reported_rate) {
  if (!samples_.empty() && (time_s < samples_.back().first || images < samples_.back().second)) reset();
  samples_.emplace_back(time_s, images);
  // Keep one sample at or before the window's start, so the window spans it all.
  while (samples_.size() > 2 && samples_[1].first <= time_s - window_s_) samples_.pop_front();
  if (std::isfinite(reported_rate) && reported_rate > 0) {
    ema_ = has_ema_ ? ema_ + kEmaAlpha * (reported_rate - ema_) : reported_rate;
    has_ema_ = true;
  }
}

double ThroughputEstimate::rate() const {
  if (samples_.size() >= 2) {
    const double span = samples_.back().first - samples_.front().first;
    if (span >= min_span_s_) return double(samples_.back().second - samples_.front().second) / span;
  }
  return has_ema_ ? ema_ : 0.0;
}

double ThroughputEstimate::secondsLeft(qint64 images_left) const {
  const double r = rate();
  if (!(r > 0)) return -1.0;
  return double(std::max<qint64>(0, images_left)) / r;
}

}  // namespace gg::ui

// Images per second and the time left of a training run, smoothed. The
// trainer's own rate is per tick and jumps (a tick that also writes a sample
// grid, runs metrics or saves a checkpoint is many times slower than the
// others), so an ETA from it leaps between minutes and an hour. This one is
// the images seen over a sliding window of wall time (the last five minutes);
// until the window holds enough time, an exponential moving average of the
// trainer's rates stands in.
#pragma once
#include <QtGlobal>
#include <deque>
#include <utility>

namespace gg::ui {

class ThroughputEstimate {
 public:
  explicit ThroughputEstimate(double window_s = 300.0, double min_span_s = 20.0);
  void reset();  // a new run, or a pause (its idle time is no throughput)
  // A progress report: wall time in seconds (any origin), images seen so
  // far, and the rate the trainer reported for its last tick.
  void add(double time_s, qint64 images, double reported_rate);
  double rate() const;  // images/s; 0 while unknown
  double secondsLeft(qint64 images_left) const;  // -1 while unknown

 private:
  double window_s_, min_span_s_;
  std::deque<std::pair<double, qint64>> samples_;  // (time, images), oldest first
  double ema_ = 0.0;
  bool has_ema_ = false;
};

}  // namespace gg::ui

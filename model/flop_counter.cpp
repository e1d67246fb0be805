#include "flop_counter.h"

namespace gg {

namespace {
thread_local FlopCounter* t_counter = nullptr;
}  // namespace

FlopCounter::FlopCounter() : previous_(t_counter) { t_counter = this; }
FlopCounter::~FlopCounter() { t_counter = previous_; }
void FlopCounter::add(double f) {
  for (FlopCounter* c = t_counter; c; c = c->previous_) c->flops_ += f;
}
void count_conv_flops(int64_t n, int64_t c_out, int64_t c_in, int64_t k, int64_t h_out,
                      int64_t w_out) {
  if (t_counter) FlopCounter::add(2.0 * n * c_out * c_in * k * k * h_out * w_out);
}
void count_matmul_flops(int64_t batch, int64_t m, int64_t k, int64_t n) {
  if (t_counter) FlopCounter::add(2.0 * batch * m * k * n);
}

}  // namespace gg

// FLOP counter: layers add the multiply-adds x2 they perform while a
// FlopCounter is alive on this thread. Used by `gigagan bench`.
#pragma once
#include <cstdint>

namespace gg {

class FlopCounter {
 public:
  FlopCounter();
  ~FlopCounter();
  FlopCounter(const FlopCounter&) = delete;
  FlopCounter& operator=(const FlopCounter&) = delete;
  double flops() const { return flops_; }
  static void add(double f);  // no-op unless a counter is active

 private:
  double flops_ = 0;
  FlopCounter* previous_;
};
// conv: 2 * N * C_out * C_in/groups * k*k * H_out * W_out
void count_conv_flops(int64_t n, int64_t c_out, int64_t c_in, int64_t k, int64_t h_out,
                      int64_t w_out);
void count_matmul_flops(int64_t batch, int64_t m, int64_t k, int64_t n);

}  // namespace gg

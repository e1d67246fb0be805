// Helpers shared by the test suites.
#pragma once
#include <QtTest/QtTest>
#include <torch/torch.h>

#include <string>

namespace gg::test {

inline std::string source_path(const std::string& rel) {
  return std::string(GIGAGAN_SOURCE_DIR) + "/" + rel;
}
inline std::string config_path(const std::string& preset) {
  return source_path("resources/configs/" + preset + ".json");
}

// Maximum absolute difference, for tolerance checks with a readable failure.
inline double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max().item<double>();
}

}  // namespace gg::test

// QVERIFY-style check that `expr` throws an exception of type `E` whose
// message contains `needle`.
#define GG_VERIFY_THROWS_WITH(expr, E, needle)                                           \
  do {                                                                                   \
    bool gg_thrown_ = false;                                                             \
    try {                                                                                \
      expr;                                                                              \
    } catch (const E& gg_e_) {                                                           \
      gg_thrown_ = true;                                                                 \
      const std::string gg_msg_ = gg_e_.what();                                          \
      QVERIFY2(gg_msg_.find(needle) != std::string::npos,                                \
               ("message '" + gg_msg_ + "' lacks '" + std::string(needle) + "'").c_str()); \
    }                                                                                    \
    QVERIFY2(gg_thrown_, "expected " #E " from " #expr);                                 \
  } while (0)

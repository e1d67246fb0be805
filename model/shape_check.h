// Shape checks at module boundaries (StyleGAN's misc.assert_shape).
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <initializer_list>
#include <string>

#include "errors.h"

namespace gg {

// -1 in `expected` matches any size. Throws ShapeError naming `what`.
void check_shape(const torch::Tensor& t, std::initializer_list<int64_t> expected,
                 const char* what);
void check_dim(const torch::Tensor& t, int64_t dim, const char* what);
std::string shape_str(at::IntArrayRef s);

}  // namespace gg

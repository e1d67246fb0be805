// The test images and fixture reading shared by test_mobilenet and
// test_inception: the images scripts/make_nsfwjs_fixture.js feeds the original
// nsfwjs networks under TF.js, made the same way here.
#pragma once
#include <torch/torch.h>

#include <vector>

#include "json_config.h"

namespace gg::test {

// fixturePixel of scripts/make_nsfwjs_fixture.js: integers 0..255.
inline int nsfwjs_fixture_pixel(int n, int y, int x, int c) {
  if (n == 0) return (x * (c + 1) + 2 * y + ((x ^ y) & 31) + 40 * c) % 256;
  const int checker = (((x >> 4) + (y >> 4)) & 1) * 96;
  return (checker + ((x * y) >> 6) + 53 * c + 3 * (x >> 2) * (c == 1 ? 1 : 0)) % 256;
}

// [2, 3, size, size] float32 pixels / 255, as nsfwjs's infer().
inline torch::Tensor nsfwjs_fixture_images(int size) {
  auto t = torch::empty({2, 3, size, size});
  auto a = t.accessor<float, 4>();
  for (int n = 0; n < 2; ++n)
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < size; ++y)
        for (int x = 0; x < size; ++x) a[n][c][y][x] = static_cast<float>(nsfwjs_fixture_pixel(n, y, x, c));
  return t / 255.0f;
}

// A JSON list of rows of numbers as a [rows, columns] float tensor.
inline torch::Tensor fixture_rows(const json& j) {
  std::vector<torch::Tensor> r;
  for (const auto& row : j) r.push_back(torch::tensor(row.get<std::vector<float>>()));
  return torch::stack(r);
}

}  // namespace gg::test

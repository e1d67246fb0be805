#include "shape_check.h"

#include <sstream>

namespace gg {

std::string shape_str(at::IntArrayRef s) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << "]";
  return os.str();
}

void check_shape(const torch::Tensor& t, std::initializer_list<int64_t> expected,
                 const char* what) {
  bool ok = t.defined() && t.dim() == static_cast<int64_t>(expected.size());
  if (ok) {
    int64_t i = 0;
    for (int64_t e : expected) {
      if (e >= 0 && t.size(i) != e) ok = false;
      ++i;
    }
  }
  if (!ok) {
    std::ostringstream os;
    os << what << ": expected shape [";
    int64_t i = 0;
    for (int64_t e : expected) os << (i++ ? ", " : "") << (e < 0 ? std::string("*") : std::to_string(e));
    os << "], got " << (t.defined() ? shape_str(t.sizes()) : std::string("an undefined tensor"));
    throw ShapeError(os.str());
  }
}

void check_dim(const torch::Tensor& t, int64_t dim, const char* what) {
  if (!t.defined() || t.dim() != dim)
    throw ShapeError(std::string(what) + ": expected a " + std::to_string(dim) + "-D tensor, got " +
                     (t.defined() ? shape_str(t.sizes()) : std::string("an undefined tensor")));
}

}  // namespace gg

// Typed errors of the core.
// Messages say what went wrong, where, and what to do about it. They are caught
// only in worker slots (ui/) and in main() (app/).
#pragma once
#include <stdexcept>
#include <string>

namespace gg {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// A config file or field is invalid (names the field).
struct ConfigError : Error {
  using Error::Error;
};
// A checkpoint or safetensors file cannot be read or does not match the model.
struct CheckpointError : Error {
  using Error::Error;
};
// A dataset is empty, unreadable or malformed.
struct DatasetError : Error {
  using Error::Error;
};
// A prompt cannot be tokenized or encoded.
struct PromptError : Error {
  using Error::Error;
};
// A tensor reached a module with the wrong shape (a programming or input error).
struct ShapeError : Error {
  using Error::Error;
};

}  // namespace gg

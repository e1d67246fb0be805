// Reader and writer for the safetensors format (huggingface/safetensors):
//   [u64 little-endian header length N][N bytes JSON header][tensor data]
// The header maps tensor names to {dtype, shape, data_offsets} and may hold
// "__metadata__" (string -> string). Loading executes no code; every size and
// offset is bounds-checked, and the data offsets must tile the data section
// exactly (no gaps, no overlap), as the reference implementation requires.
// Ref: https://github.com/huggingface/safetensors (format description).
#pragma once
#include <torch/torch.h>

#include <map>
#include <string>

namespace gg {

struct SafeTensorsFile {
  std::map<std::string, torch::Tensor> tensors;   // CPU tensors in their stored dtype
  std::map<std::string, std::string> metadata;    // "__metadata__"
};

// Supported dtypes: F32, F16, BF16 (model weights) and F64, I64, I32, I16, I8,
// U8, BOOL (training state such as RNG states and counters).
// Throws CheckpointError naming the file and the offending tensor or field.
SafeTensorsFile read_safetensors(const std::string& path);
SafeTensorsFile parse_safetensors(const std::string& bytes, const std::string& source);

// Writes atomically: a temporary file beside `path`, flushed and fsync'ed,
// then renamed over it. On any failure (e.g. a full disk) the temporary file
// is removed, `path` keeps its previous content, and CheckpointError is thrown.
void write_safetensors(const std::string& path, const std::map<std::string, torch::Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});
std::string serialize_safetensors(const std::map<std::string, torch::Tensor>& tensors,
                                  const std::map<std::string, std::string>& metadata = {});

// Writes `bytes` to `path` atomically (temp file + fsync + rename).
void write_file_atomic(const std::string& path, const std::string& bytes);

}  // namespace gg

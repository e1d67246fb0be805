#include "safetensors.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errors.h"

namespace gg {

namespace {

using json = nlohmann::json;

constexpr uint64_t kMaxHeaderBytes = 100ull << 20;  // the reference implementation's limit

struct DTypeInfo {
  const char* name;
  c10::ScalarType type;
  size_t size;
};
const DTypeInfo kDTypes[] = {
    {"F32", torch::kFloat32, 4}, {"F16", torch::kFloat16, 2}, {"BF16", torch::kBFloat16, 2},
    {"F64", torch::kFloat64, 8}, {"I64", torch::kInt64, 8},   {"I32", torch::kInt32, 4},
    {"I16", torch::kInt16, 2},   {"I8", torch::kInt8, 1},     {"U8", torch::kUInt8, 1},
    {"BOOL", torch::kBool, 1},
};

const DTypeInfo* dtype_by_name(const std::string& s) {
  for (const auto& d : kDTypes)
    if (s == d.name) return &d;
  return nullptr;
}
const DTypeInfo* dtype_by_type(c10::ScalarType t) {
  for (const auto& d : kDTypes)
    if (t == d.type) return &d;
  return nullptr;
}

[[noreturn]] void fail(const std::string& source, const std::string& what) {
  throw CheckpointError("'" + source + "' is not a valid safetensors file: " + what);
}

bool host_is_little_endian() {
  const uint16_t one = 1;
  uint8_t b;
  std::memcpy(&b, &one, 1);
  return b == 1;
}

}  // namespace

SafeTensorsFile parse_safetensors(const std::string& bytes, const std::string& source) {
  if (!host_is_little_endian()) fail(source, "big-endian hosts are not supported");
  if (bytes.size() < 8) fail(source, "file is " + std::to_string(bytes.size()) + " bytes, shorter than its 8-byte header length");
  uint64_t header_len = 0;
  std::memcpy(&header_len, bytes.data(), 8);
  if (header_len > kMaxHeaderBytes)
    fail(source, "header length " + std::to_string(header_len) + " exceeds 100 MiB, the limit");
  if (header_len > bytes.size() - 8)
    fail(source, "header length " + std::to_string(header_len) + " runs past the end of the file (" +
                     std::to_string(bytes.size()) + " bytes); the file may be truncated");
  json header;
  try {
    header = json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(header_len));
  } catch (const json::exception& e) {
    fail(source, std::string("header is not valid JSON (") + e.what() + ")");
  }
  if (!header.is_object()) fail(source, "header is not a JSON object");

  const uint64_t data_len = bytes.size() - 8 - header_len;
  const char* data = bytes.data() + 8 + header_len;
  SafeTensorsFile out;
  struct Span {
    uint64_t begin, end;
    std::string name;
  };
  std::vector<Span> spans;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const json& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) fail(source, "__metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) fail(source, "__metadata__." + m.key() + " is not a string");
        out.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string where = "tensor '" + name + "'";
    if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets"))
      fail(source, where + " lacks dtype, shape or data_offsets");
    if (!v["dtype"].is_string()) fail(source, where + ": dtype is not a string");
    const DTypeInfo* dt = dtype_by_name(v["dtype"].get<std::string>());
    if (!dt) fail(source, where + ": unsupported dtype '" + v["dtype"].get<std::string>() + "'");
    const json& shape_j = v["shape"];
    const json& off_j = v["data_offsets"];
    if (!shape_j.is_array()) fail(source, where + ": shape is not an array");
    if (!off_j.is_array() || off_j.size() != 2 || !off_j[0].is_number_unsigned() || !off_j[1].is_number_unsigned())
      fail(source, where + ": data_offsets must be two non-negative integers");
    std::vector<int64_t> shape;
    uint64_t numel = 1;
    for (const auto& d : shape_j) {
      if (!d.is_number_unsigned()) fail(source, where + ": shape entries must be non-negative integers");
      const uint64_t n = d.get<uint64_t>();
      if (n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
          (n != 0 && numel > std::numeric_limits<uint64_t>::max() / n))
        fail(source, where + ": shape overflows");
      numel *= n;
      shape.push_back(static_cast<int64_t>(n));
    }
    const uint64_t begin = off_j[0].get<uint64_t>(), end = off_j[1].get<uint64_t>();
    if (begin > end || end > data_len)
      fail(source, where + ": data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                       "] lie outside the data section of " + std::to_string(data_len) +
                       " bytes; the file may be truncated");
    if (numel > std::numeric_limits<uint64_t>::max() / dt->size || end - begin != numel * dt->size)
      fail(source, where + ": " + std::to_string(end - begin) + " bytes of data for " +
                       std::to_string(numel) + " elements of " + dt->name);
    spans.push_back({begin, end, name});
    auto t = torch::empty(shape, torch::TensorOptions().dtype(dt->type));
    if (end > begin) std::memcpy(t.data_ptr(), data + begin, end - begin);
    out.tensors[name] = t;
  }
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t pos = 0;
  for (const auto& s : spans) {
    if (s.begin != pos)
      fail(source, "tensor '" + s.name + "' starts at byte " + std::to_string(s.begin) + ", expected " +
                       std::to_string(pos) + " (tensors overlap or leave a gap)");
    pos = s.end;
  }
  if (pos != data_len)
    fail(source, "data section is " + std::to_string(data_len) + " bytes but tensors cover " + std::to_string(pos));
  return out;
}

SafeTensorsFile read_safetensors(const std::string& path) {
  // O_NONBLOCK: a FIFO must not block the open; it is refused just below.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw CheckpointError("cannot open '" + path + "': " + std::strerror(errno));
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw CheckpointError("cannot stat '" + path + "': " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) fail(path, "not a regular file (a directory, FIFO or device)");
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  auto read_at = [&](char* dst, uint64_t n, uint64_t offset) {
    uint64_t done = 0;
    while (done < n) {
      const ssize_t r = ::pread(fd, dst + done, n - done, static_cast<off_t>(offset + done));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) throw CheckpointError("cannot read '" + path + "': " + std::strerror(errno));
      if (r == 0) fail(path, "file shrank while being read (" + std::to_string(offset + done) + " of " +
                                 std::to_string(size) + " bytes)");
      done += static_cast<uint64_t>(r);
    }
  };
  // The header length is checked against the limit and the file's size
  // before anything else is read: a header claiming 2^60 bytes costs nothing.
  if (size < 8) fail(path, "file is " + std::to_string(size) + " bytes, shorter than its 8-byte header length");
  uint64_t header_len = 0;
  read_at(reinterpret_cast<char*>(&header_len), 8, 0);
  if (header_len > kMaxHeaderBytes)
    fail(path, "header length " + std::to_string(header_len) + " exceeds 100 MiB, the limit");
  if (header_len > size - 8)
    fail(path, "header length " + std::to_string(header_len) + " runs past the end of the file (" +
                   std::to_string(size) + " bytes); the file may be truncated");
  std::string bytes(size, '\0');
  std::memcpy(&bytes[0], &header_len, 8);
  read_at(&bytes[8], size - 8, 8);
  return parse_safetensors(bytes, path);
}

std::string serialize_safetensors(const std::map<std::string, torch::Tensor>& tensors,
                                  const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<torch::Tensor> blobs;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    if (name == "__metadata__") throw CheckpointError("a tensor cannot be named __metadata__");
    if (!tensor.defined()) throw CheckpointError("tensor '" + name + "' is undefined");
    const DTypeInfo* dt = dtype_by_type(tensor.scalar_type());
    if (!dt) throw CheckpointError("tensor '" + name + "' has unsupported dtype " + std::string(c10::toString(tensor.scalar_type())));
    auto t = tensor.detach().to(torch::kCPU).contiguous();
    const uint64_t nbytes = static_cast<uint64_t>(t.numel()) * dt->size;
    header[name] = {{"dtype", dt->name}, {"shape", t.sizes().vec()}, {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
    blobs.push_back(t);
  }
  std::string h = header.dump();
  while (h.size() % 8) h.push_back(' ');  // align the data section to 8 bytes
  std::string out;
  out.reserve(8 + h.size() + offset);
  const uint64_t hl = h.size();
  out.append(reinterpret_cast<const char*>(&hl), 8);
  out += h;
  for (const auto& t : blobs) out.append(static_cast<const char*>(t.data_ptr()), t.numel() * t.element_size());
  return out;
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw CheckpointError("cannot create '" + tmp + "': " + std::strerror(errno));
  auto fail_io = [&](const char* what) {
    const int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    throw CheckpointError(std::string("cannot ") + what + " '" + path + "': " + std::strerror(err) +
                          " (the previous file, if any, is unchanged)");
  };
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail_io("write");
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) fail_io("sync");
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw CheckpointError("cannot close '" + path + "': " + std::strerror(err));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw CheckpointError("cannot rename '" + tmp + "' to '" + path + "': " + std::strerror(err));
  }
}

void write_safetensors(const std::string& path, const std::map<std::string, torch::Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  write_file_atomic(path, serialize_safetensors(tensors, metadata));
}

}  // namespace gg

// Data-parallel training over PyTorch's own distributed engine (c10d): a
// TCPStore rendezvous, then ProcessGroupGloo on CPU (or ProcessGroupNCCL
// where LibTorch has it). Gradients are averaged with one all-reduce per
// optimiser step over a flattened buffer; rank 0's weights, optimiser state
// and RNG are broadcast at start so every rank begins identical (resume
// included); the ranks may run on several machines. No home-made protocol.
// Ref: PyTorch DistributedDataParallel (gradient averaging), c10d.
#pragma once
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

namespace gg {

struct DistributedOptions {
  int rank = 0;
  int world_size = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  std::string backend = "gloo";  // "gloo" (CPU tensors) or "nccl" (CUDA tensors)
  int timeout_s = 1800;          // a rank that waits longer (e.g. rank 0 paused) fails with a clear error
};

// True when this build has c10d (GIGAGAN_DISTRIBUTED and the Gloo headers).
bool distributed_available();

class ProcessGroup {
 public:
  // Joins the group (blocks until every rank arrived). Throws ConfigError when
  // this build has no c10d or the backend is unknown, Error on rendezvous failure.
  explicit ProcessGroup(const DistributedOptions& options);
  ~ProcessGroup();
  int rank() const { return options_.rank; }
  int world_size() const { return options_.world_size; }

  // Averages the .grad of `params` over ranks (undefined grads count as zero).
  void average_gradients(const std::vector<torch::Tensor>& params);
  // Copies rank 0's values into `tensors` on every rank.
  void broadcast(const std::vector<torch::Tensor>& tensors);
  // True on every rank when `flag` is true on any rank.
  bool any(bool flag);
  void barrier();

 private:
  struct Impl;
  DistributedOptions options_;
  std::unique_ptr<Impl> impl_;
};

// A free TCP port on this machine (for --nproc's local rendezvous).
int free_tcp_port();

}  // namespace gg

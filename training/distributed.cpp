#include "distributed.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "errors.h"

#if GIGAGAN_HAVE_C10D
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#if defined(USE_C10D_NCCL)
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#endif

namespace gg {

bool distributed_available() { return GIGAGAN_HAVE_C10D != 0; }

#if GIGAGAN_HAVE_C10D
struct ProcessGroup::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroup> pg;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo;
#if defined(USE_C10D_NCCL)
  c10::intrusive_ptr<c10d::ProcessGroupNCCL> nccl;
#endif
  void allreduce(std::vector<at::Tensor>& t) {
#if defined(USE_C10D_NCCL)
    if (nccl) return nccl->allreduce(t)->wait(), void();
#endif
    gloo->allreduce(t)->wait();
  }
  void broadcast(std::vector<at::Tensor>& t) {
#if defined(USE_C10D_NCCL)
    if (nccl) return nccl->broadcast(t)->wait(), void();
#endif
    gloo->broadcast(t)->wait();
  }
  void barrier() {
#if defined(USE_C10D_NCCL)
    if (nccl) return nccl->barrier()->wait(), void();
#endif
    gloo->barrier()->wait();
  }
};
#else
struct ProcessGroup::Impl {};
#endif

ProcessGroup::ProcessGroup(const DistributedOptions& options) : options_(options) {
  if (options.world_size < 1 || options.rank < 0 || options.rank >= options.world_size)
    throw ConfigError("distributed: rank " + std::to_string(options.rank) + " is not in [0, world size " +
                      std::to_string(options.world_size) + ")");
#if GIGAGAN_HAVE_C10D
  impl_ = std::make_unique<Impl>();
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(options.timeout_s) * 1000);
  try {
    c10d::TCPStoreOptions so;
    so.port = static_cast<std::uint16_t>(options.master_port);
    so.isServer = options.rank == 0;
    so.numWorkers = options.world_size;
    so.waitWorkers = true;
    so.timeout = timeout;
    impl_->store = c10::make_intrusive<c10d::TCPStore>(options.master_addr, so);
    if (options.backend == "gloo") {
      auto go = c10d::ProcessGroupGloo::Options::create();
      go->timeout = timeout;
      go->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      impl_->gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(impl_->store, options.rank, options.world_size, go);
    } else if (options.backend == "nccl") {
#if defined(USE_C10D_NCCL)
      auto no = c10d::ProcessGroupNCCL::Options::create();
      no->timeout = timeout;
      impl_->nccl = c10::make_intrusive<c10d::ProcessGroupNCCL>(impl_->store, options.rank, options.world_size, no);
#else
      throw ConfigError("distributed: this LibTorch has no NCCL; use --backend gloo (CPU)");
#endif
    } else {
      throw ConfigError("distributed: unknown backend '" + options.backend + "' (gloo or nccl)");
    }
  } catch (const c10::Error& e) {
    throw Error("distributed: cannot join " + options.master_addr + ":" + std::to_string(options.master_port) +
                " as rank " + std::to_string(options.rank) + " of " + std::to_string(options.world_size) + ": " +
                e.what_without_backtrace());
  }
#else
  throw ConfigError("distributed training is not in this build (configure with -DGIGAGAN_DISTRIBUTED=ON and "
                    "libgloo-dev installed)");
#endif
}

ProcessGroup::~ProcessGroup() = default;

void ProcessGroup::average_gradients(const std::vector<torch::Tensor>& params) {
#if GIGAGAN_HAVE_C10D
  if (params.empty()) return;
  torch::NoGradGuard ng;
  std::vector<torch::Tensor> grads;
  for (const auto& p : params) grads.push_back(p.grad().defined() ? p.grad().reshape(-1) : torch::zeros({p.numel()}, p.options()));
  std::vector<at::Tensor> flat = {torch::cat(grads)};
  impl_->allreduce(flat);
  flat[0].div_(options_.world_size);
  int64_t offset = 0;
  for (const auto& p : params) {
    auto part = flat[0].slice(0, offset, offset + p.numel()).view_as(p);
    offset += p.numel();
    if (p.grad().defined()) p.mutable_grad().copy_(part);
    else p.mutable_grad() = part.clone();
  }
#else
  (void)params;
#endif
}

void ProcessGroup::broadcast(const std::vector<torch::Tensor>& tensors) {
#if GIGAGAN_HAVE_C10D
  torch::NoGradGuard ng;
  for (const auto& t : tensors) {
    std::vector<at::Tensor> one = {t.is_contiguous() ? t : t.contiguous()};
    impl_->broadcast(one);
    if (!t.is_contiguous()) t.copy_(one[0]);
  }
#else
  (void)tensors;
#endif
}

bool ProcessGroup::any(bool flag) {
#if GIGAGAN_HAVE_C10D
  std::vector<at::Tensor> t = {torch::full({1}, flag ? 1.0f : 0.0f)};
  impl_->allreduce(t);
  return t[0].item<float>() > 0;
#else
  return flag;
#endif
}

void ProcessGroup::barrier() {
#if GIGAGAN_HAVE_C10D
  impl_->barrier();
#endif
}

int free_tcp_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw Error("cannot open a socket to find a free port");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw Error("cannot find a free TCP port on 127.0.0.1");
  }
  const int port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

}  // namespace gg

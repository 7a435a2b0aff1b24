// C ABI of liblocalfeat_gloo.so for LocalFeat.Train's GlooProcessGroup (P/Invoke). Every call returns 0 on
// success, or non-zero with a one-line reason in err (Gloo's exception text); nothing throws across the ABI
// and every collective has a timeout, so a dead or hung peer becomes an error, never a crash or a hang.
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include <unistd.h>

#include "gloo/allgather.h"
#include "gloo/allreduce.h"
#include "gloo/barrier.h"
#include "gloo/broadcast.h"
#include "gloo/math.h"
#include "gloo/rendezvous/context.h"
#include "gloo/rendezvous/file_store.h"
#include "gloo/rendezvous/prefix_store.h"
#include "gloo/transport/tcp/device.h"
#include "tcp_store.h"

namespace {

struct Group {
  std::unique_ptr<localfeat::TcpStoreServer> server;  // rank 0 of a tcp: rendezvous
  std::unique_ptr<gloo::rendezvous::Store> store;
  std::shared_ptr<gloo::transport::Device> device;
  std::shared_ptr<gloo::rendezvous::Context> context;
  uint32_t tag = 0;  // one per collective, in call order (the same on every rank)
};

int Fail(char* err, int errlen, const std::string& what) {
  if (err != nullptr && errlen > 0) {
    std::string line = what;
    for (char& c : line) if (c == '\n' || c == '\r') c = ' ';
    std::strncpy(err, line.c_str(), static_cast<size_t>(errlen) - 1);
    err[errlen - 1] = '\0';
  }
  return 1;
}

template <typename F>
int Guarded(char* err, int errlen, F&& body) {
  try {
    body();
    return 0;
  } catch (const std::exception& e) {
    return Fail(err, errlen, e.what());
  } catch (...) {
    return Fail(err, errlen, "unknown native exception");
  }
}

std::chrono::milliseconds Ms(int64_t ms) { return std::chrono::milliseconds(ms); }

}  // namespace

extern "C" {

// kind "file": where = a folder shared by all ranks; kind "tcp": where = host of rank 0's store, port its port.
// host / iface: the address (or interface) this rank's transport listens on; empty = the machine's hostname.
int lfg_create(int rank, int size, const char* kind, const char* where, int port, const char* prefix, const char* host,
               const char* iface, int64_t timeout_ms, void** out, char* err, int errlen) {
  *out = nullptr;
  auto group = std::make_unique<Group>();
  int rc = Guarded(err, errlen, [&] {
    std::unique_ptr<gloo::rendezvous::Store> base;
    if (std::strcmp(kind, "file") == 0) {
      base = std::make_unique<gloo::rendezvous::FileStore>(where);
    } else if (std::strcmp(kind, "tcp") == 0) {
      if (rank == 0) group->server = std::make_unique<localfeat::TcpStoreServer>(where, port);
      base = std::make_unique<localfeat::TcpStore>(where, port, Ms(timeout_ms));
    } else {
      throw std::runtime_error(std::string("rendezvous: expected file or tcp, got '") + kind + "'");
    }
    // The prefix keeps runs that share a store (or a folder) apart.
    struct Owned : gloo::rendezvous::PrefixStore {
      Owned(const std::string& p, std::unique_ptr<gloo::rendezvous::Store> s) : PrefixStore(p, *s), owned(std::move(s)) {}
      std::unique_ptr<gloo::rendezvous::Store> owned;
    };
    group->store = std::make_unique<Owned>(prefix, std::move(base));
    gloo::transport::tcp::attr attr;
    if (iface != nullptr && *iface) attr.iface = iface;
    else if (host != nullptr && *host) attr.hostname = host;
    else { char name[256] = {0}; gethostname(name, sizeof name - 1); attr.hostname = name; }
    group->device = gloo::transport::tcp::CreateDevice(attr);
    group->context = std::make_shared<gloo::rendezvous::Context>(rank, size);
    group->context->setTimeout(Ms(timeout_ms));
    group->context->connectFullMesh(*group->store, group->device);
  });
  if (rc == 0) *out = group.release();
  return rc;
}

void lfg_destroy(void* g) { delete static_cast<Group*>(g); }

// In place: data[i] = sum over ranks of data[i] (Gloo's ring allreduce).
int lfg_allreduce_f32(void* g, float* data, int64_t count, int64_t timeout_ms, char* err, int errlen) {
  auto* group = static_cast<Group*>(g);
  return Guarded(err, errlen, [&] {
    gloo::AllreduceOptions opts(group->context);
    opts.setOutput(data, static_cast<size_t>(count));
    opts.setReduceFunction(static_cast<void (*)(void*, const void*, const void*, size_t)>(&gloo::sum<float>));
    opts.setAlgorithm(gloo::AllreduceOptions::Algorithm::RING);
    opts.setTag(group->tag++);
    opts.setTimeout(Ms(timeout_ms));
    gloo::allreduce(opts);
  });
}

// In place: every rank's data becomes root's.
int lfg_broadcast(void* g, void* data, int64_t bytes, int root, int64_t timeout_ms, char* err, int errlen) {
  auto* group = static_cast<Group*>(g);
  return Guarded(err, errlen, [&] {
    gloo::BroadcastOptions opts(group->context);
    opts.setOutput(static_cast<uint8_t*>(data), static_cast<size_t>(bytes));
    opts.setRoot(root);
    opts.setTag(group->tag++);
    opts.setTimeout(Ms(timeout_ms));
    gloo::broadcast(opts);
  });
}

int lfg_barrier(void* g, int64_t timeout_ms, char* err, int errlen) {
  auto* group = static_cast<Group*>(g);
  return Guarded(err, errlen, [&] {
    gloo::BarrierOptions opts(group->context);
    opts.setTag(group->tag++);
    opts.setTimeout(Ms(timeout_ms));
    gloo::barrier(opts);
  });
}

// out[r*bytes .. (r+1)*bytes) = rank r's in (every rank gives the same number of bytes).
int lfg_allgather(void* g, const void* in, int64_t bytes, void* out, int64_t timeout_ms, char* err, int errlen) {
  auto* group = static_cast<Group*>(g);
  return Guarded(err, errlen, [&] {
    gloo::AllgatherOptions opts(group->context);
    opts.setInput(const_cast<uint8_t*>(static_cast<const uint8_t*>(in)), static_cast<size_t>(bytes));
    opts.setOutput(static_cast<uint8_t*>(out), static_cast<size_t>(bytes) * group->context->size);
    opts.setTag(group->tag++);
    opts.setTimeout(Ms(timeout_ms));
    gloo::allgather(opts);
  });
}

}  // extern "C"

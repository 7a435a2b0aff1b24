// Host emulation of CUDA's execution model: the interface between kernel code (through
// kernels/lf_prelude.cuh) and the runtime (lfk_runtime.cpp). Not part of the public C ABI
// (that is lfk_api.h); kernel sources never include this file directly.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lfk {

struct uint3 { unsigned x, y, z; };

struct dim3 {
    unsigned x, y, z;
    constexpr dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
    constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
    constexpr operator uint3() const { return uint3{x, y, z}; }
};

namespace rt {

// Kinds of warp collective; the lanes of one group may use different kinds
// (e.g. __syncwarp at two call sites), each lane gets the result of its own kind.
enum WarpOp : int {
    kWarpSync = 0,
    kShflIdx,
    kShflUp,
    kShflDown,
    kShflXor,
    kBallot,
    kAny,
    kAll,
    kReduceAdd,
    kReduceMinU,
    kReduceMaxU,
    kReduceMinI,
    kReduceMaxI,
    kReduceAnd,
    kReduceOr,
    kReduceXor,
    kMatchAny,
};

// What kernel code sees of the emulated thread it runs as. Set by the scheduler before
// every switch into a fiber; read through the threadIdx/blockIdx/... macros.
struct ThreadView {
    uint3 threadIdx;
};

struct BlockView {
    uint3 blockIdx;
    dim3 blockDim;
    dim3 gridDim;
};

// __thread (not thread_local): no TLS wrapper functions, a plain TLS load per access.
extern __thread const ThreadView* tl_thread;
extern __thread const BlockView* tl_block;

// Block barrier; pred is summed over the block (for __syncthreads_count/and/or).
int syncthreads(int pred, int kind);
enum BarrierKind : int { kBarrierPlain = 0, kBarrierCount, kBarrierAnd, kBarrierOr };

// Lane-synchronous warp collective: every lane of (mask ∩ lanes that exist) must arrive;
// value is the lane's contribution as raw bits, b/c the PTX shfl operands (lane or delta,
// and clamp/segment mask). Returns the lane's result as raw bits.
std::uint64_t warp_collective(int op, unsigned mask, std::uint64_t value, int b, int c);

// Lanes of the calling thread's warp that exist and have not exited.
unsigned activemask();

// Base of the calling block's dynamic (extern __shared__) shared memory. Stable for the
// lifetime of a worker thread, so kernels may cache it in a thread_local pointer.
unsigned char* dynamic_shared();

// Raises a kernel error (C++ exception caught by the runtime, reported by lfk_launch).
[[noreturn]] void kernel_error(const char* what);

// Kernel registry: every LF_REGISTER_KERNEL adds one entry at load time.
using Invoker = void (*)(void** params);
struct Registrar {
    Registrar(const char* name, Invoker invoker, int arity) noexcept;
};

}  // namespace rt
}  // namespace lfk

// Test-only kernels for the native emulator tests: behaviour that only the host build has
// (C++ exceptions) or deliberately broken collectives. Compiled like kernels/*.cu, through
// lf_prelude.cuh, and registered in the test executable's kernel registry.
#include "lf_prelude.cuh"

#include <stdexcept>

namespace lfk_test_kernels {

// Thread (5,0,0) of block (1,0,0) throws; every other thread writes 1.
extern "C" __global__ void test_throw(int* out) {
    if (blockIdx.x == 1 && threadIdx.x == 5) throw std::runtime_error("boom");
    __syncthreads();
    out[blockIdx.x * blockDim.x + threadIdx.x] = 1;
}
LF_REGISTER_KERNEL(test_throw)

// Thread (3,0,0) fails a device assert.
extern "C" __global__ void test_assert(const int* x) {
    assert(x[threadIdx.x] >= 0);
}
LF_REGISTER_KERNEL(test_assert)

// A shuffle whose mask leaves out the calling lane.
extern "C" __global__ void test_mask_without_self(int* out) {
    out[threadIdx.x] = __shfl_sync(0x1u, (int)threadIdx.x, 0);
}
LF_REGISTER_KERNEL(test_mask_without_self)

// Lanes 16..31 exit; lanes 0..15 shuffle with a full mask: they would wait forever.
extern "C" __global__ void test_warp_exited_lane(int* out) {
    if (threadIdx.x >= 16) return;
    out[threadIdx.x] = __shfl_down_sync(0xffffffffu, (int)threadIdx.x, 1);
}
LF_REGISTER_KERNEL(test_warp_exited_lane)

// Lane 0 waits at __syncthreads() while the others wait in __syncwarp(): a deadlock.
extern "C" __global__ void test_warp_vs_barrier(int* out) {
    if (threadIdx.x == 0) __syncthreads();
    else __syncwarp();
    out[threadIdx.x] = 1;
}
LF_REGISTER_KERNEL(test_warp_vs_barrier)

// Static shared memory is per block: every block fills s with its index, then checks that
// no other block's value shows up after many barriers. out[block] = number of mismatches.
extern "C" __global__ void test_shared_isolation(int* out, int rounds) {
    __shared__ int s[256];
    int bad = 0;
    for (int r = 0; r < rounds; ++r) {
        s[threadIdx.x] = (int)blockIdx.x * 1000 + r;
        __syncthreads();
        if (s[(threadIdx.x + 1) % blockDim.x] != (int)blockIdx.x * 1000 + r) ++bad;
        __syncthreads();
    }
    atomicAdd(&out[blockIdx.x], bad);
}
LF_REGISTER_KERNEL(test_shared_isolation)

// __syncthreads_count/_and/_or and the sm_80 warp reductions and __match_any_sync.
extern "C" __global__ void test_block_votes_and_reductions(const int* x, int* out) {
    const unsigned t = threadIdx.x;
    const int v = x[blockIdx.x * blockDim.x + t];
    const int c = __syncthreads_count(v > 0);
    const int a = __syncthreads_and(v > -100);
    const int o = __syncthreads_or(v > 1000);
    int* r = out + 8 * (blockIdx.x * blockDim.x + t);
    r[0] = c;
    r[1] = a;
    r[2] = o;
    r[3] = __reduce_add_sync(0xffffffffu, v);
    r[4] = __reduce_min_sync(0xffffffffu, v);
    r[5] = __reduce_max_sync(0xffffffffu, v);
    r[6] = (int)__reduce_xor_sync(0xffffffffu, (unsigned)v);
    r[7] = (int)__match_any_sync(0xffffffffu, v & 3);
}
LF_REGISTER_KERNEL(test_block_votes_and_reductions)

// A large local array across a barrier: the fiber stacks must hold it.
extern "C" __global__ void test_big_stack(float* out) {
    float local[16384];  // 64 KiB
    for (int k = 0; k < 16384; ++k) local[k] = (float)(k + threadIdx.x);
    __syncthreads();
    float s = 0.0f;
    for (int k = 0; k < 16384; k += 1024) s += local[k];
    out[blockIdx.x * blockDim.x + threadIdx.x] = s;
}
LF_REGISTER_KERNEL(test_big_stack)

// A barrier in a loop: the cost of a fiber switch dominates (a throughput check).
extern "C" __global__ void test_barrier_loop(float* out, int iters) {
    __shared__ float s[1024];
    float acc = 0.0f;
    for (int k = 0; k < iters; ++k) {
        s[threadIdx.x] = (float)(k + threadIdx.x);
        __syncthreads();
        acc += s[(threadIdx.x + 1) % blockDim.x];
        __syncthreads();
    }
    out[blockIdx.x * blockDim.x + threadIdx.x] = acc;
}
LF_REGISTER_KERNEL(test_barrier_loop)

// Warp shuffles in a loop: the cost of lane-synchronous collectives.
extern "C" __global__ void test_warp_loop(float* out, int iters) {
    float v = (float)threadIdx.x;
    for (int k = 0; k < iters; ++k)
        for (int o = 16; o > 0; o /= 2) v += 1e-3f * __shfl_xor_sync(0xffffffffu, v, o);
    out[blockIdx.x * blockDim.x + threadIdx.x] = v;
}
LF_REGISTER_KERNEL(test_warp_loop)

// No barrier at all: the whole block runs as a plain loop in one fiber.
extern "C" __global__ void test_axpy(const float* x, float* y, float a, int n) {
    const int i = (int)(blockIdx.x * blockDim.x + threadIdx.x);
    if (i < n) y[i] = a * x[i] + y[i];
}
LF_REGISTER_KERNEL(test_axpy)

}  // namespace lfk_test_kernels

// emulator_selftest.cu — purpose-written kernels that check the host emulation of CUDA's
// execution model (tests/LocalFeat.Tests/Cuda/Emulator*.cs, kernels/host/tests). They are
// portable CUDA and compile under NVRTC as well; no op uses them. 1-D kernels index
// i = blockIdx.x·blockDim.x + threadIdx.x and assume blockDim.y = blockDim.z = 1.
//
// selftest_block_sum(x[n], blockSums[gridDim.x], n)
//   block (B) with B a power of two ≤ 1024, grid (ceil(n/B)); static shared float[1024].
//   blockSums[b] = Σ x over the block's B elements (missing ones count 0): a shared-memory
//   tree reduction with __syncthreads() between levels.
// selftest_warp_sum(x[n], warpSums[n/32], n)
//   block (multiple of 32), n = total threads. warpSums[w] = Σ of the 32 elements of global
//   warp w by a __shfl_xor_sync butterfly (every lane ends with the total; lane 0 writes).
// selftest_warp_shuffles(x[n] int, out[5n] int, outD[n] double, n)
//   block (multiple of 32), n = total threads; lane l = i mod 32, w = width:
//   out[5i+0] inclusive warp scan of x by __shfl_up_sync (Hillis–Steele);
//   out[5i+1] sum over the lane's 8-lane segment by __shfl_xor_sync with width 8;
//   out[5i+2] x of lane (3l+5) mod 32 by __shfl_sync (a source lane above 31 wraps);
//   out[5i+3] __shfl_down_sync(x, 5, width 16): x of lane l+5, or own x when l mod 16 ≥ 11;
//   out[5i+4] __shfl_sync(x, 2, width 8): x of lane 8·⌊l/8⌋ + 2;
//   outD[i]   __shfl_up_sync((double)x + 0.25, 1): lane l−1's value, own at lane 0.
// selftest_ballot(pred[n], ballot[n], anyAll[2n], active[n], blockCount[gridDim.x], n)
//   any block size (a partial last warp when blockDim.x mod 32 ≠ 0), n = total threads.
//   mask = the lanes of the thread's warp that exist; ballot[i] = __ballot_sync(mask, p),
//   anyAll = (__any_sync, __all_sync), active[i] = __activemask(),
//   blockCount[b] = __syncthreads_count(p).
// selftest_atomics(x[n], n, accI, accU64, accF, accD, extrema[2], casCount, exchSlot, exchSum)
//   any 1-D shape, many blocks. Over i < n, v = x[i]: atomicAdd of v into accI (int),
//   accU64 (unsigned long long, v ≥ 0 expected), accF (float), accD (double);
//   atomicMax(extrema[0], v), atomicMin(extrema[1], v); casCount += 1 by an atomicCAS loop;
//   prev = atomicExch(exchSlot, i) and exchSum += prev + 1 (so with exchSlot starting at −1,
//   exchSum + final exchSlot + 1 = Σ (i + 1)).
// selftest_dynamic_shared(x[n], y[n], n)
//   block (B ≤ 1024), grid (ceil(n/B)), dynamic shared 2·B floats (extern __shared__).
//   With the block's tile X (missing elements 0): y[i] = X[B−1−t] + 2·X[(t+1) mod B].
// selftest_indices(out[12 · total threads])
//   any 3-D grid and block. Thread with block-linear index L (x fastest) writes
//   threadIdx, blockIdx, blockDim, gridDim (x,y,z each) to out[12L .. 12L+11].
// selftest_race_neighbor_sum(x[n], y[n], n)
//   block (B ≤ 1024), grid (ceil(n/B)). Meant to compute y[i] = x[i] + x[i−1] within a block
//   (x[i] for the first thread) through static shared memory, but the __syncthreads() between
//   the write and the read is MISSING ON PURPOSE: correct when threads run in index order,
//   wrong under the emulator's shuffled schedule (and on a GPU across warps).
// selftest_diverged_barrier(y[gridDim.x·B], exitFrom)
//   block (B), any grid. Threads t ≥ exitFrom return before a __syncthreads() that the others
//   wait at (a DELIBERATE barrier divergence when exitFrom < B); with exitFrom ≥ B it is valid
//   and writes y[blockIdx.x·B + t] = t + 1 (read back from shared memory after the barrier).
#include "lf_prelude.cuh"

extern "C" __global__ void selftest_block_sum(const float* __restrict__ x, float* __restrict__ blockSums, int n) {
    __shared__ float s[1024];
    const unsigned t = threadIdx.x;
    const int i = (int)(blockIdx.x * blockDim.x + t);
    s[t] = i < n ? x[i] : 0.0f;
    __syncthreads();
    for (unsigned stride = blockDim.x / 2; stride > 0; stride /= 2) {
        if (t < stride) s[t] += s[t + stride];
        __syncthreads();
    }
    if (t == 0) blockSums[blockIdx.x] = s[0];
}
LF_REGISTER_KERNEL(selftest_block_sum)

extern "C" __global__ void selftest_warp_sum(const float* __restrict__ x, float* __restrict__ warpSums, int n) {
    const int i = (int)(blockIdx.x * blockDim.x + threadIdx.x);
    float v = i < n ? x[i] : 0.0f;
    for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
    if ((threadIdx.x & 31) == 0 && i < n) warpSums[i / 32] = v;
}
LF_REGISTER_KERNEL(selftest_warp_sum)

extern "C" __global__ void selftest_warp_shuffles(const int* __restrict__ x, int* __restrict__ out,
                                                  double* __restrict__ outD, int n) {
    const int i = (int)(blockIdx.x * blockDim.x + threadIdx.x);
    const int lane = (int)(threadIdx.x & 31);
    const int v = i < n ? x[i] : 0;
    const unsigned all = 0xffffffffu;

    int scan = v;
    for (int d = 1; d < 32; d *= 2) {
        const int up = __shfl_up_sync(all, scan, (unsigned)d);
        if (lane >= d) scan += up;
    }
    int seg = v;
    for (int m = 4; m > 0; m /= 2) seg += __shfl_xor_sync(all, seg, m, 8);
    const int gathered = __shfl_sync(all, v, 3 * lane + 5);
    const int down16 = __shfl_down_sync(all, v, 5u, 16);
    const int bcast8 = __shfl_sync(all, v, 2, 8);
    const double dv = __shfl_up_sync(all, (double)v + 0.25, 1u);
    if (i < n) {
        out[5 * i + 0] = scan;
        out[5 * i + 1] = seg;
        out[5 * i + 2] = gathered;
        out[5 * i + 3] = down16;
        out[5 * i + 4] = bcast8;
        outD[i] = dv;
    }
}
LF_REGISTER_KERNEL(selftest_warp_shuffles)

extern "C" __global__ void selftest_ballot(const int* __restrict__ pred, unsigned* __restrict__ ballot,
                                           int* __restrict__ anyAll, unsigned* __restrict__ active,
                                           int* __restrict__ blockCount, int n) {
    const int i = (int)(blockIdx.x * blockDim.x + threadIdx.x);
    const unsigned warpBase = threadIdx.x & ~31u;
    const unsigned lanes = min(32u, blockDim.x - warpBase);
    const unsigned mask = lanes == 32u ? 0xffffffffu : (1u << lanes) - 1u;
    const int p = i < n ? pred[i] != 0 : 0;
    const unsigned b = __ballot_sync(mask, p);
    const int any = __any_sync(mask, p);
    const int all = __all_sync(mask, p);
    const unsigned act = __activemask();
    const int count = __syncthreads_count(p);
    if (i < n) {
        ballot[i] = b;
        anyAll[2 * i] = any;
        anyAll[2 * i + 1] = all;
        active[i] = act;
    }
    if (threadIdx.x == 0) blockCount[blockIdx.x] = count;
}
LF_REGISTER_KERNEL(selftest_ballot)

extern "C" __global__ void selftest_atomics(const int* __restrict__ x, int n, int* accI, unsigned long long* accU64,
                                            float* accF, double* accD, int* extrema, unsigned* casCount,
                                            int* exchSlot, unsigned long long* exchSum) {
    const int i = (int)(blockIdx.x * blockDim.x + threadIdx.x);
    if (i >= n) return;
    const int v = x[i];
    atomicAdd(accI, v);
    atomicAdd(accU64, (unsigned long long)v);
    atomicAdd(accF, (float)v);
    atomicAdd(accD, (double)v);
    atomicMax(&extrema[0], v);
    atomicMin(&extrema[1], v);
    unsigned old = *casCount, assumed;
    do {
        assumed = old;
        old = atomicCAS(casCount, assumed, assumed + 1u);
    } while (old != assumed);
    const int prev = atomicExch(exchSlot, i);
    atomicAdd(exchSum, (unsigned long long)(prev + 1));
}
LF_REGISTER_KERNEL(selftest_atomics)

extern "C" __global__ void selftest_dynamic_shared(const float* __restrict__ x, float* __restrict__ y, int n) {
    extern __shared__ float tile[];  // 2 · blockDim.x floats
    const unsigned t = threadIdx.x, B = blockDim.x;
    const int i = (int)(blockIdx.x * B + t);
    tile[t] = i < n ? x[i] : 0.0f;
    tile[B + t] = 2.0f * tile[t];
    __syncthreads();
    if (i < n) y[i] = tile[B - 1 - t] + tile[B + (t + 1) % B];
}
LF_REGISTER_KERNEL(selftest_dynamic_shared)

extern "C" __global__ void selftest_indices(unsigned* __restrict__ out) {
    const unsigned perBlock = blockDim.x * blockDim.y * blockDim.z;
    const unsigned t = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
    const unsigned b = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
    unsigned* o = out + 12u * (b * perBlock + t);
    o[0] = threadIdx.x; o[1] = threadIdx.y; o[2] = threadIdx.z;
    o[3] = blockIdx.x; o[4] = blockIdx.y; o[5] = blockIdx.z;
    o[6] = blockDim.x; o[7] = blockDim.y; o[8] = blockDim.z;
    o[9] = gridDim.x; o[10] = gridDim.y; o[11] = gridDim.z;
}
LF_REGISTER_KERNEL(selftest_indices)

extern "C" __global__ void selftest_race_neighbor_sum(const float* __restrict__ x, float* __restrict__ y, int n) {
    __shared__ float s[1024];
    const unsigned t = threadIdx.x;
    const int i = (int)(blockIdx.x * blockDim.x + t);
    s[t] = i < n ? x[i] : 0.0f;
    // A __syncthreads() belongs here: it is missing on purpose (see the header).
    const float left = t > 0 ? s[t - 1] : 0.0f;
    if (i < n) y[i] = s[t] + left;
    __syncthreads();
    s[t] = -1.0f;  // a value no test input has, so a stale read can never pass for a fresh one
}
LF_REGISTER_KERNEL(selftest_race_neighbor_sum)

extern "C" __global__ void selftest_diverged_barrier(float* __restrict__ y, int exitFrom) {
    __shared__ float s[1024];
    const unsigned t = threadIdx.x;
    if ((int)t >= exitFrom) return;  // deliberately before the barrier (see the header)
    s[t] = (float)(t + 1);
    __syncthreads();
    y[blockIdx.x * blockDim.x + t] = s[t];
}
LF_REGISTER_KERNEL(selftest_diverged_barrier)

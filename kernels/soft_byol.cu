// soft_byol.cu — TPR's transformation-predictive loss with soft labels (OPS.md §6 SoftByolLoss).
// The target network's EMA update (same section) is kernels/ema_update.cu.
//
// Notation: C correspondences, D width, G = ceil(C/8) row blocks. All pointers contiguous row-major
// float32 on one device. x̂ = x / max(‖x‖, 1e-12), sim_c = ⟨q̂_c, ẑ_c⟩, p_c = s1_c·s2_c, S = Σ p_c,
// e_c = 1 − sim_c (Hard) or (l_c − sim_c)² with l_c = exp(−k·(1 − ⟨û_c, û2_c⟩)), k = alpha/lambda (Soft),
// L = (1/C)·Σ p_c e_c / S, and L = 0 when S = 0 (no weight, no signal; every gradient 0 then).
// Deterministic: every float sum has a fixed order (butterfly within a warp, warps in index order,
// blocks strided then a fixed tree); no atomics at all.
//
// ------------------------------------------------------------------------------------ kernels
// sb_forward(q, z, u, u2, s1, s2, C, D, soft, k, rowStat[C,2], partial[G,2])
//   warp per row: lanes stride D accumulating ⟨q,q⟩ ⟨z,z⟩ ⟨q,z⟩ (+ ⟨u,u⟩ ⟨u2,u2⟩ ⟨u,u2⟩ when soft),
//   butterfly reduce; lane 0 writes rowStat = (e_c, ∂e_c/∂sim_c) and the block's 8 rows fold, in warp
//   order, into partial[b] = (Σ p, Σ p·e). block 256 (8 rows), grid G.
// sb_finalize(partial, G, C, out[2])   out = (L, S); one block of 256, partials summed in double
//   (strided by thread, then a fixed shared-memory tree).
// sb_backward(q, z, s1, s2, rowStat, out, gradOut[1], C, D, gq[C,D], gs1[C], gs2[C])
//   the loss's gradient g read on the device (no host sync). Per row: norms and sim again (same order
//   as the forward, so the same values), γ = g·p_c·∂e_c/(C·S),
//   gq = γ·(ẑ − sim·q̂)/‖q‖ (γ·ẑ/1e-12 when ‖q‖ ≤ 1e-12, where the clamp makes the norm constant),
//   gs1 = g·(e_c/C − L)/S·s2_c, gs2 = the same ·s1_c; all 0 when S = 0. block 256, grid G.
// ------------------------------------------------------------------------------------ roofline
// H100 SXM: HBM3 3.35 TB/s. All three kernels are memory bound (≤ 12 FLOP per loaded float).
//   sb forward reads q, z (Hard) or q, z, u, u2 (Soft): C=16384, D=128: 16.8 / 33.6 MB → 5 / 10 µs;
//   D=256: 33.6 / 67.1 MB → 10 / 20 µs; finalize ≤ 2048 partials, one block: ~3 µs (latency).
//   sb backward reads q, z and writes gq: 25 MB (D=128) → 7.5 µs; 50 MB (D=256) → 15 µs.
//   Forward + backward, C=16384, D=256, Soft: ~40 µs + 3 launches (~10 µs).
#include "lf_prelude.cuh"

#define SB_ROWS 8         // rows (warps) per block
#define SB_THREADS 256
#define SB_EPS 1e-12f     // F.normalize's eps
#define SB_FULL 0xffffffffu

__device__ __forceinline__ float sb_warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(SB_FULL, v, o);
    return v;  // every lane holds the same total (same butterfly order in every lane)
}

// ⟨a,a⟩, ⟨b,b⟩, ⟨a,b⟩ of one row, lanes striding D (coalesced 128-byte loads).
__device__ __forceinline__ void sb_row_dots(const float* __restrict__ a, const float* __restrict__ b, int D, int lane,
                                            float& aa, float& bb, float& ab) {
    aa = 0.0f;
    bb = 0.0f;
    ab = 0.0f;
    for (int d = lane; d < D; d += 32) {
        const float x = a[d], y = b[d];
        aa += x * x;
        bb += y * y;
        ab += x * y;
    }
    aa = sb_warp_sum(aa);
    bb = sb_warp_sum(bb);
    ab = sb_warp_sum(ab);
}

__device__ __forceinline__ float sb_cosine(float aa, float bb, float ab) {
    return ab / (fmaxf(sqrtf(aa), SB_EPS) * fmaxf(sqrtf(bb), SB_EPS));
}

extern "C" __global__ void __launch_bounds__(SB_THREADS)
sb_forward(const float* __restrict__ q, const float* __restrict__ z, const float* __restrict__ u,
           const float* __restrict__ u2, const float* __restrict__ s1, const float* __restrict__ s2, int C, int D,
           int soft, float k, float* __restrict__ rowStat, float* __restrict__ partial) {
    __shared__ float shP[SB_ROWS], shPE[SB_ROWS];
    const int warp = (int)threadIdx.x >> 5, lane = (int)threadIdx.x & 31;
    const int row = (int)blockIdx.x * SB_ROWS + warp;
    float p = 0.0f, pe = 0.0f;
    if (row < C) {  // whole warps take this branch together
        const size_t off = (size_t)row * (size_t)D;
        float qq, zz, qz;
        sb_row_dots(q + off, z + off, D, lane, qq, zz, qz);
        const float sim = sb_cosine(qq, zz, qz);
        float e, de;
        if (soft) {
            float uu, vv, uv;
            sb_row_dots(u + off, u2 + off, D, lane, uu, vv, uv);
            const float l = expf(-k * (1.0f - sb_cosine(uu, vv, uv)));
            e = (l - sim) * (l - sim);
            de = -2.0f * (l - sim);
        } else {
            e = 1.0f - sim;
            de = -1.0f;
        }
        p = s1[row] * s2[row];
        pe = p * e;
        if (lane == 0) {
            rowStat[2 * (size_t)row] = e;
            rowStat[2 * (size_t)row + 1] = de;
        }
    }
    if (lane == 0) {
        shP[warp] = p;
        shPE[warp] = pe;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        float sp = 0.0f, spe = 0.0f;
        for (int w = 0; w < SB_ROWS; ++w) {
            sp += shP[w];
            spe += shPE[w];
        }
        partial[2 * (size_t)blockIdx.x] = sp;
        partial[2 * (size_t)blockIdx.x + 1] = spe;
    }
}
LF_REGISTER_KERNEL(sb_forward)

extern "C" __global__ void __launch_bounds__(SB_THREADS)
sb_finalize(const float* __restrict__ partial, int G, int C, float* __restrict__ out) {
    __shared__ double shS[SB_THREADS], shN[SB_THREADS];
    const int t = (int)threadIdx.x;
    double s = 0.0, n = 0.0;
    for (int b = t; b < G; b += SB_THREADS) {
        s += (double)partial[2 * (size_t)b];
        n += (double)partial[2 * (size_t)b + 1];
    }
    shS[t] = s;
    shN[t] = n;
    __syncthreads();
    for (int h = SB_THREADS / 2; h > 0; h >>= 1) {
        if (t < h) {
            shS[t] += shS[t + h];
            shN[t] += shN[t + h];
        }
        __syncthreads();
    }
    if (t == 0) {
        const float S = (float)shS[0];
        out[0] = S == 0.0f ? 0.0f : (float)(shN[0] / shS[0] / (double)C);
        out[1] = S;
    }
}
LF_REGISTER_KERNEL(sb_finalize)

extern "C" __global__ void __launch_bounds__(SB_THREADS)
sb_backward(const float* __restrict__ q, const float* __restrict__ z, const float* __restrict__ s1,
            const float* __restrict__ s2, const float* __restrict__ rowStat, const float* __restrict__ out,
            const float* __restrict__ gradOut, int C, int D, float* __restrict__ gq, float* __restrict__ gs1,
            float* __restrict__ gs2) {
    const int warp = (int)threadIdx.x >> 5, lane = (int)threadIdx.x & 31;
    const int row = (int)blockIdx.x * SB_ROWS + warp;
    if (row >= C) return;  // no barriers or cross-warp collectives below
    const size_t off = (size_t)row * (size_t)D;
    const float L = out[0], S = out[1], g = gradOut[0];
    if (S == 0.0f) {
        for (int d = lane; d < D; d += 32) gq[off + d] = 0.0f;
        if (lane == 0) {
            gs1[row] = 0.0f;
            gs2[row] = 0.0f;
        }
        return;
    }
    float qq, zz, qz;
    sb_row_dots(q + off, z + off, D, lane, qq, zz, qz);
    const float nqRaw = sqrtf(qq);
    const float nq = fmaxf(nqRaw, SB_EPS), nz = fmaxf(sqrtf(zz), SB_EPS);
    const float sim = qz / (nq * nz);
    const float e = rowStat[2 * (size_t)row], de = rowStat[2 * (size_t)row + 1];
    const float a1 = s1[row], a2 = s2[row];
    const float gamma = g * (a1 * a2) * de / ((float)C * S);
    const float cz = gamma / (nq * nz);                         // coefficient of z_d
    const float cq = nqRaw > SB_EPS ? gamma * sim / (nq * nq) : 0.0f;  // of q_d (0 where the clamp holds)
    for (int d = lane; d < D; d += 32) gq[off + d] = cz * z[off + d] - cq * q[off + d];
    if (lane == 0) {
        const float gp = g * (e / (float)C - L) / S;
        gs1[row] = gp * a2;
        gs2[row] = gp * a1;
    }
}
LF_REGISTER_KERNEL(sb_backward)

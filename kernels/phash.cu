// phash.cu — TaSP intrinsic importance (OPS.md §4): perceptual hash of keypoint patches, Hamming, IntrinsicImportance.
//
// Notation: B images [B,1,H,W] (uint8 or float32, values 0..255), N keypoints per image [B,N,2] (x, y in
// pixels, pixel (x, y) the centre of column x, row y), P = B·N patches, s = patchSize / 32.
//
// ------------------------------------------------------------------------------------ kernels
// phash_u8 / phash_f32(image, keypoints, table[84], B, N, H, W, s, hash[B,N] i64)
//   Per patch: sample (c, r) at x = clamp(kx + (c − 15.5)·s, 0, W−1), y likewise (replicate border),
//   bilinear as lerp(lerp(row y0), lerp(row y1)) with fmaf; DCT-II (y_k = 2 Σ x_n cos(πk(2n+1)/64)) of
//   the 32 rows, keeping k < 8, then of those 8 columns, keeping k < 8: the 8×8 low block. The 1-D
//   transform is the even/odd butterfly of the DCT (x_n ± x_{31−n}, then twice more for the even half),
//   so a constant or linear input gives exact zeros where the exact DCT has them (as scipy's FFT does):
//   flat and gradient patches hash as imagehash does. table = the 84 cosines of that butterfly, built
//   once in C# (one source for Cpu and Kernel, so both do the same float operations in the same order).
//   Median = (32nd + 33rd smallest) / 2 by ranks (value, then index: a permutation, ties included);
//   bit = coefficient > median, row-major, coefficient 0 the most significant bit.
//   One warp per patch, 8 warps per block (256 threads), grid ceil(P/8); shared 8 × 32×33 floats
//   (33.8 KB, padded: lane r reads row r without bank conflicts). Lane c samples column c (coalesced
//   row reads), lane r transforms row r, lanes 0..7 transform the 8 columns, every lane then holds 2 of
//   the 64 coefficients; ranks by 32 rounds of shuffles (registers only), bits by two __ballot_sync.
// hamming_pairs(a[E] i64, b[E] i64, E, out[E] i32)       out = popcount(a XOR b);  block 256, grid ceil(E/256).
// hamming_cross(a[N] i64, b[M] i64, N, M, out[N,M] i32)  out[i,j] = popcount(a_i XOR b_j); block 256 over j,
//   grid (ceil(M/256), N).
// intrinsic_importance(vPos[E] i32, vNeg[E] i32, E, out[E] f32)  vNeg / max(vPos, 1).  block 256.
//
// ------------------------------------------------------------------------------------ roofline
// H100 SXM: FP32 67 TFLOP/s, HBM3 3.35 TB/s, L2 ~5.5 TB/s.
// phash per patch: 1024 samples × 4 loads (from L2/L1: neighbouring patches overlap) + ~6 flops, 40
//   1-D transforms × ~120 flops, rank 64 × 32 × 2 compares: ~15 kflop and ~4 KB of L1/L2 traffic;
//   DRAM traffic is the image once (0.3 MB per 640×480 uint8). B = 2, N = 2048 (4096 patches): 61 Mflop
//   (~1 µs of FP32), 17 MB of L2 sample reads (~3 µs); latency-bound by the 512 blocks of dependent
//   gathers: expected ~10–20 µs plus the launch.
// hamming_cross 2048×2048: 16 MB int32 written (5 µs at HBM bandwidth), the inputs 32 KB: ~6 µs.
// hamming_pairs / intrinsic_importance: E = 8192 → 100 KB: launch-bound, ~3 µs.
#include "lf_prelude.cuh"

#define LF_PH_WARPS 8
#define LF_PH_PAD 33

// The 8 low coefficients of the DCT-II of x[0], x[stride], …, x[31·stride] (OPS.md §4's unnormalised
// y_k = 2 Σ x_n cos(πk(2n+1)/64)), through the even/odd butterfly. table: [0, 64) the odd rows k = 1,3,5,7
// × n < 16; [64, 72) k = 2 and [72, 80) k = 6 × n < 8; [80, 84) k = 4 × n < 4. Cpu backend: the same
// steps in PatchPHash.Cpu.cs (Dct8Of32); keep them in lockstep.
__device__ __forceinline__ void dct8_of_32(const float* x, int stride, const float* __restrict__ table, float* y)
{
    float u[16], d[16];
#pragma unroll
    for (int n = 0; n < 16; n++)
    {
        float a = x[n * stride], b = x[(31 - n) * stride];
        u[n] = __fadd_rn(a, b);
        d[n] = __fadd_rn(a, -b);
    }
    float v[8], e[8];
#pragma unroll
    for (int n = 0; n < 8; n++)
    {
        v[n] = __fadd_rn(u[n], u[15 - n]);
        e[n] = __fadd_rn(u[n], -u[15 - n]);
    }
    float w[4], f[4];
#pragma unroll
    for (int n = 0; n < 4; n++)
    {
        w[n] = __fadd_rn(v[n], v[7 - n]);
        f[n] = __fadd_rn(v[n], -v[7 - n]);
    }
    y[0] = __fmul_rn(2.0f, __fadd_rn(__fadd_rn(w[0], w[1]), __fadd_rn(w[2], w[3])));
#pragma unroll
    for (int q = 0; q < 4; q++)  // odd k = 2q + 1
    {
        float acc = 0.0f;
#pragma unroll
        for (int n = 0; n < 16; n++) acc = fmaf(d[n], table[q * 16 + n], acc);
        y[2 * q + 1] = __fmul_rn(2.0f, acc);
    }
    float a2 = 0.0f, a6 = 0.0f, a4 = 0.0f;
#pragma unroll
    for (int n = 0; n < 8; n++)
    {
        a2 = fmaf(e[n], table[64 + n], a2);
        a6 = fmaf(e[n], table[72 + n], a6);
    }
#pragma unroll
    for (int n = 0; n < 4; n++) a4 = fmaf(f[n], table[80 + n], a4);
    y[2] = __fmul_rn(2.0f, a2);
    y[4] = __fmul_rn(2.0f, a4);
    y[6] = __fmul_rn(2.0f, a6);
}

__device__ __forceinline__ float load_px(const unsigned char* __restrict__ p, long long i) { return (float)p[i]; }
__device__ __forceinline__ float load_px(const float* __restrict__ p, long long i) { return p[i]; }

template <typename T>
__device__ __forceinline__ void phash_patch(const T* __restrict__ image, const float* __restrict__ keypoints,
                                            const float* __restrict__ table, int B, int N, int H, int W, float s,
                                            long long* __restrict__ hash)
{
    __shared__ float tile[LF_PH_WARPS][32 * LF_PH_PAD];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const long long p = (long long)blockIdx.x * LF_PH_WARPS + warp;
    if (p >= (long long)B * N) return;  // whole warps only: no block barrier below
    const int b = (int)(p / N);
    const T* img = image + (long long)b * H * W;
    float* t = tile[warp];
    const float kx = keypoints[2 * p], ky = keypoints[2 * p + 1];

    // Column of this lane: the same x for every row.
    float x = fminf(fmaxf(__fadd_rn(kx, __fmul_rn((float)lane - 15.5f, s)), 0.0f), (float)(W - 1));
    float x0f = floorf(x), fx = __fadd_rn(x, -x0f);
    int ix0 = (int)x0f, ix1 = min(ix0 + 1, W - 1);
    for (int r = 0; r < 32; r++)
    {
        float y = fminf(fmaxf(__fadd_rn(ky, __fmul_rn((float)r - 15.5f, s)), 0.0f), (float)(H - 1));
        float y0f = floorf(y), fy = __fadd_rn(y, -y0f);
        int iy0 = (int)y0f, iy1 = min(iy0 + 1, H - 1);
        const long long r0 = (long long)iy0 * W, r1 = (long long)iy1 * W;
        float p00 = load_px(img, r0 + ix0), p01 = load_px(img, r0 + ix1);
        float p10 = load_px(img, r1 + ix0), p11 = load_px(img, r1 + ix1);
        float h0 = fmaf(fx, __fadd_rn(p01, -p00), p00), h1 = fmaf(fx, __fadd_rn(p11, -p10), p10);
        t[r * LF_PH_PAD + lane] = fmaf(fy, __fadd_rn(h1, -h0), h0);
    }
    __syncwarp();

    // Row transform: lane r replaces row r's first 8 entries by its 8 low coefficients (it alone reads row r).
    float y8[8];
    dct8_of_32(t + lane * LF_PH_PAD, 1, table, y8);
#pragma unroll
    for (int k = 0; k < 8; k++) t[lane * LF_PH_PAD + k] = y8[k];
    __syncwarp();

    // Column transform of the 8 kept columns; the 64 coefficients go to row 0..1 of the tile as c[8·r + k].
    float c8[8];
    if (lane < 8) dct8_of_32(t + lane, LF_PH_PAD, table, c8);
    __syncwarp();
    if (lane < 8)
    {
#pragma unroll
        for (int r = 0; r < 8; r++) t[r * 8 + lane] = c8[r];  // row 0 spans 33 floats: c[0..63] overlap rows 0–1 only
    }
    __syncwarp();
    const float ca = t[lane], cb = t[lane + 32];  // coefficients lane and lane + 32

    // Ranks (value, then index) of ca and cb among the 64, from the other lanes' registers.
    int ra = 0, rb = 0;
    for (int src = 0; src < 32; src++)
    {
        float oa = __shfl_sync(0xffffffffu, ca, src), ob = __shfl_sync(0xffffffffu, cb, src);
        // oa has index src, ob index src + 32.
        ra += (oa < ca || (oa == ca && src < lane)) + (ob < ca);
        rb += (oa < cb || oa == cb) + (ob < cb || (ob == cb && src < lane));
    }
    // The 32nd and 33rd smallest (ranks 31, 32): each sits in exactly one (lane, slot).
    unsigned at31 = __ballot_sync(0xffffffffu, ra == 31 || rb == 31), at32 = __ballot_sync(0xffffffffu, ra == 32 || rb == 32);
    float mine31 = ra == 31 ? ca : cb, mine32 = ra == 32 ? ca : cb;
    float m31 = __shfl_sync(0xffffffffu, mine31, __ffs((int)at31) - 1);
    float m32 = __shfl_sync(0xffffffffu, mine32, __ffs((int)at32) - 1);
    float median = __fmul_rn(__fadd_rn(m31, m32), 0.5f);
    unsigned hiBits = __ballot_sync(0xffffffffu, ca > median), loBits = __ballot_sync(0xffffffffu, cb > median);
    if (lane == 0)  // coefficient i at bit 63 − i: reverse each ballot
        hash[p] = (long long)(((unsigned long long)__brev(hiBits) << 32) | (unsigned long long)__brev(loBits));
}

extern "C" __global__ void __launch_bounds__(256) phash_u8(const unsigned char* __restrict__ image, const float* __restrict__ keypoints,
                                                           const float* __restrict__ table, int B, int N, int H, int W, float s,
                                                           long long* __restrict__ hash)
{
    phash_patch(image, keypoints, table, B, N, H, W, s, hash);
}
LF_REGISTER_KERNEL(phash_u8)

extern "C" __global__ void __launch_bounds__(256) phash_f32(const float* __restrict__ image, const float* __restrict__ keypoints,
                                                            const float* __restrict__ table, int B, int N, int H, int W, float s,
                                                            long long* __restrict__ hash)
{
    phash_patch(image, keypoints, table, B, N, H, W, s, hash);
}
LF_REGISTER_KERNEL(phash_f32)

extern "C" __global__ void hamming_pairs(const long long* __restrict__ a, const long long* __restrict__ b, long long E, int* __restrict__ out)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < E) out[i] = __popcll((unsigned long long)(a[i] ^ b[i]));
}
LF_REGISTER_KERNEL(hamming_pairs)

extern "C" __global__ void hamming_cross(const long long* __restrict__ a, const long long* __restrict__ b, int N, int M, int* __restrict__ out)
{
    int j = blockIdx.x * blockDim.x + threadIdx.x, i = blockIdx.y;
    if (j < M) out[(long long)i * M + j] = __popcll((unsigned long long)(a[i] ^ b[j]));
}
LF_REGISTER_KERNEL(hamming_cross)

extern "C" __global__ void intrinsic_importance(const int* __restrict__ vPos, const int* __restrict__ vNeg, long long E, float* __restrict__ out)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < E) out[i] = (float)vNeg[i] / (float)max(vPos[i], 1);
}
LF_REGISTER_KERNEL(intrinsic_importance)

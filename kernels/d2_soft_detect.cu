// d2_soft_detect.cu — D2-Net soft detection score (OPS.md §1), forward and backward.
//
// Per sample b of features x[B,C,H,W] (float32, contiguous), P = H·W, N = C·P:
//   D = relu(x); Mc = max(max D, eps); E = exp(D/Mc); S = 3×3 window sum of E (border 1);
//   alpha = E/S; Q = max(max_c D, eps); gamma = max_c alpha·D/Q; scores = gamma/max(Σ gamma, eps).
// Non-finite input (the contract of D2SoftDetect.Apply): a sample with any NaN or ±Inf element gets
// all-NaN scores and an all-NaN gradient, as the Reference and Cpu backends. d2sd_sample_max marks it
// with the key 0xffffffff'…' (above every finite key); d2sd_tile then writes NaN partials, which stay
// NaN through combine/normalize (IEEE: NaN/x = NaN), and d2sd_bwd_grad fills the sample's dx with NaN.
// Because Q is common to all channels of a pixel, the channel max is taken on v = alpha·D and
// divided once: gamma = (max_c v)/Q, arg = first channel reaching the max (same ordering).
//
// Kernels (all float32 math as IEEE expf/division, no fast-math) and launch shapes:
//  d2sd_sample_max(x, key[B] u64 zeroed, n = N)
//      grid (blocksPerSample, B), block 256. key[b] = max over the sample of
//      (float bits of D) << 32 | (0xffffffff − flat index): the max of D and its FIRST index
//      (upper half 0xffffffff for a NaN/±Inf x: such a sample is marked non-finite),
//      by a grid-stride loop (float4 loads when possible), warp-shuffle + shared block reduction
//      and one 64-bit atomicMax per block. Max is order-independent: deterministic.
//  d2sd_tile(x, key, C, H, W, K, partBest, partArg, partQ, partQArg, eps)
//      grid (tilesX·tilesY, K, B), block (32, 8) = one pixel per thread of a 32×8 tile;
//      blockIdx.y = channel chunk k of K (channels [C·k/K, C·(k+1)/K)). Per channel the block
//      stages the tile + 1-pixel halo (34×10) of D and E = exp(D/Mc) (halo outside the map: E=1)
//      in double-buffered shared memory (one barrier per channel; the next channel is prefetched
//      into registers while the current one is consumed); each thread sums its 3×3 window and
//      keeps (best v, its channel) and (max D, its channel) in registers. Writes one partial per
//      chunk: part*[(b·K + k)·P + p] (partBest = NaN in a non-finite sample).
//      Static shared 2·2·340 floats = 5,440 B.
//  d2sd_combine(partBest, partArg, partQ, partQArg, K, P, eps, grad|null, gamma, arg|null,
//               q|null, qarg|null, sums)
//      grid (ceil(P/128), B), block 128. Merges the K chunk partials in chunk order (strict >, so
//      the first channel wins ties), gamma = best/Q; sums[(b·gridDim.x + blk)·2 + {0,1}] = the
//      block's Σ gamma and Σ grad·gamma (fixed-shape tree: deterministic).
//  d2sd_normalize(scores (holds gamma), sums, nblk, P, eps)
//      grid (ceil(P/128), B), block 128. Every warp sums the nblk partials in the same fixed
//      order; scores = gamma / max(Σ gamma, eps).
//  d2sd_bwd_pixel(x, key, C, H, W, eps, grad, arg, q, qarg, sums, nblk, dEdir, dS, dDdir, dQ)
//      grid (ceil(P/128), B), block 128. One thread per pixel p, a = arg_p: recomputes E, S of
//      channel a over p's window (9 gathers), dGamma = g/Z − [T > eps]·Σ(g·gamma)/Z²,
//      dAlpha = dGamma·beta, dBeta = dGamma·alpha and writes the per-pixel gradient pieces:
//      dEdir = dAlpha/S (to E_a,p), dS = −dAlpha·E/S² (to every E_a in p's window),
//      dDdir = dBeta/Q (to D_a,p), dQ = −dBeta·D/Q² (to D_qarg,p; 0 where the eps clamp bites).
//  d2sd_bwd_grad(x, key, C, H, W, eps, arg, qarg, dEdir, dS, dDdir, dQ, dx (zeroed), mcPart)
//      grid (ceil(P/128), B), block 128. A pixel's gradient is nonzero only in the channels
//      {arg of its 9 window pixels} ∪ {qarg}: the thread owning pixel p GATHERS the dS of its
//      window whose arg is that channel (no scatter, no atomics), adds the direct terms, applies
//      E = exp(D/Mc): dD = dE·E/Mc + direct, and the ReLU mask, and writes dx[c,p] for those
//      ≤ 10 channels (dx is zero elsewhere). mcPart[b·gridDim.x + blk] = the block's
//      Σ dE·E·D (fixed tree) for the gradient of the sample max. In a non-finite sample it writes
//      NaN to all C channels of its pixel instead.
//  d2sd_bwd_max_grad(x, key, mcPart, nblk, n, eps, dx)
//      grid (B), block 32. dMc = −Σ mcPart/Mc² (fixed order), added to dx at the first index of
//      the sample max when the eps clamp did not bite (nothing in a non-finite sample). Runs after
//      d2sd_bwd_grad: one owner.
//
// Call sequences (C# D2SoftDetect.Kernel.cs): forward = sample_max, tile, combine, normalize;
// backward = sample_max, tile, combine, bwd_pixel, (dx zero fill), bwd_grad, bwd_max_grad.
// Every kernel is deterministic: no float atomics; results do not depend on K or the schedule.
//
// Roofline (H100 SXM: ~3.35 TB/s HBM, ~3.0 TB/s reachable; 50 MB L2; ~60 TFLOP/s FP32).
// Both benchmark sizes B=2,C=512,H=W=64 and B=2,C=128,H=W=128 hold 4.19 M elements = 16.8 MB.
//  forward: sample_max reads 16.8 MB; tile reads 16.8 MB (+~30% halo re-reads, served by L2,
//    and the whole input fits the 50 MB L2, so much of this second read is an L2 hit); the
//    partials are K·B·P·16 B = 2.1 MB (K = 16 resp. 4) written + read; ≈ 36 MB of DRAM traffic
//    at worst → ≈ 12 µs, plus 4 launches (≈ 2 µs each) ≈ 15–20 µs. FLOPs ≈ 15 per element
//    (relu, div, exp, 8 adds, div, mul, 2 compares) ≈ 63 MFLOP ≈ 1 µs: intensity ≈ 1.8 FLOP/B,
//    far below the ridge (≈ 20 FLOP/B), so memory bound.
//  backward: sample_max + tile again (33.6 MB read), dx zero fill (16.8 MB written), per-pixel
//    kernels O(B·P·~40 B) ≈ 0.5 MB plus ≤ 10 gathered x and scattered dx per pixel ≈ 54 MB →
//    ≈ 18 µs, plus 6 launches ≈ 25–30 µs. The C×P gradient is never computed densely: only the
//    ≤ 10 channels per pixel with nonzero gradient are touched.
#include "lf_prelude.cuh"

#define D2SD_TX 32
#define D2SD_TY 8
#define D2SD_HW (D2SD_TX + 2)                // halo tile width  (34)
#define D2SD_HH (D2SD_TY + 2)                // halo tile height (10)
#define D2SD_SLOTS (D2SD_HW * D2SD_HH)       // 340 staged elements per channel
#define D2SD_THREADS (D2SD_TX * D2SD_TY)     // 256
#define D2SD_PIX 128                         // block of the per-pixel kernels

__device__ __forceinline__ float d2sd_relu(float v) { return v > 0.0f ? v : 0.0f; }  // +0 for −0 and NaN

__device__ __forceinline__ float d2sd_mc(const unsigned long long* key, int b, float eps) {
    const float m = __uint_as_float((unsigned)(key[b] >> 32));
    return m > eps ? m : eps;
}

// The 3×3 window sum in one fixed order (rows, then their sum), used wherever S is (re)computed.
__device__ __forceinline__ float d2sd_window(float e00, float e01, float e02, float e10, float e11, float e12,
                                             float e20, float e21, float e22) {
    return ((e00 + e01 + e02) + (e10 + e11 + e12)) + (e20 + e21 + e22);
}

__device__ __forceinline__ float d2sd_warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// Σ of n partials p[0], p[stride], ... by one warp in a fixed order (every lane gets the total).
__device__ __forceinline__ float d2sd_warp_sum_partials(const float* p, int n, int stride) {
    const int lane = (int)(threadIdx.x & 31);
    float s = 0.0f;
    for (int j = lane; j < n; j += 32) s += p[(size_t)j * stride];
    return d2sd_warp_sum(s);
}

// Block sum over a 1-D block of D2SD_PIX threads; the result is valid in thread 0. All threads call.
__device__ __forceinline__ float d2sd_block_sum(float v, float* sh) {
    const int lane = (int)(threadIdx.x & 31), warp = (int)(threadIdx.x >> 5);
    v = d2sd_warp_sum(v);
    if (lane == 0) sh[warp] = v;
    __syncthreads();
    float t = 0.0f;
    if (warp == 0) {
        t = lane < (D2SD_PIX / 32) ? sh[lane] : 0.0f;
        t = d2sd_warp_sum(t);
    }
    __syncthreads();  // sh may be reused by the caller
    return t;
}

// --------------------------------------------------------------------------------- sample max
// Non-finite x (NaN fails the compare): the top key half 0xffffffff, above every finite relu(x) and +Inf's bits.
__device__ __forceinline__ unsigned long long d2sd_key(float x, unsigned idx) {
    const unsigned hi = fabsf(x) <= FLT_MAX ? __float_as_uint(d2sd_relu(x)) : 0xffffffffu;
    return ((unsigned long long)hi << 32) | (unsigned long long)(0xffffffffu - idx);
}

// Whether sample b holds a NaN or ±Inf (marked by d2sd_sample_max).
__device__ __forceinline__ bool d2sd_nonfinite(const unsigned long long* key, int b) {
    return (unsigned)(key[b] >> 32) == 0xffffffffu;
}

__device__ __forceinline__ unsigned long long d2sd_umax(unsigned long long a, unsigned long long b) { return a > b ? a : b; }

extern "C" __global__ void __launch_bounds__(256) d2sd_sample_max(const float* __restrict__ x,
                                                                   unsigned long long* __restrict__ key, int n) {
    __shared__ unsigned long long sh[8];
    const int b = (int)blockIdx.y;
    const float* xs = x + (size_t)b * (size_t)n;
    const int tid = (int)(blockIdx.x * blockDim.x + threadIdx.x), stride = (int)(gridDim.x * blockDim.x);
    unsigned long long best = 0ull;
    if ((n & 3) == 0 && (((size_t)xs) & 15) == 0) {
        const float4* x4 = reinterpret_cast<const float4*>(xs);
        const int n4 = n >> 2;
        for (int i = tid; i < n4; i += stride) {
            const float4 v = x4[i];
            const unsigned base = (unsigned)i << 2;
            best = d2sd_umax(best, d2sd_key(v.x, base));
            best = d2sd_umax(best, d2sd_key(v.y, base + 1u));
            best = d2sd_umax(best, d2sd_key(v.z, base + 2u));
            best = d2sd_umax(best, d2sd_key(v.w, base + 3u));
        }
    } else {
        for (int i = tid; i < n; i += stride) best = d2sd_umax(best, d2sd_key(xs[i], (unsigned)i));
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) best = d2sd_umax(best, __shfl_xor_sync(0xffffffffu, best, o));
    const int lane = (int)(threadIdx.x & 31), warp = (int)(threadIdx.x >> 5);
    if (lane == 0) sh[warp] = best;
    __syncthreads();
    if (warp == 0) {
        const int nw = (int)((blockDim.x + 31) >> 5);
        best = lane < nw ? sh[lane] : 0ull;
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) best = d2sd_umax(best, __shfl_xor_sync(0xffffffffu, best, o));
        if (lane == 0) atomicMax(&key[b], best);
    }
}
LF_REGISTER_KERNEL(d2sd_sample_max)

// ------------------------------------------------------------------------------- tiled forward
extern "C" __global__ void __launch_bounds__(D2SD_THREADS) d2sd_tile(
    const float* __restrict__ x, const unsigned long long* __restrict__ key, int C, int H, int W, int K,
    float* __restrict__ partBest, int* __restrict__ partArg, float* __restrict__ partQ, int* __restrict__ partQArg, float eps) {
    __shared__ float sE[2][D2SD_SLOTS];
    __shared__ float sD[2][D2SD_SLOTS];
    const int b = (int)blockIdx.z, k = (int)blockIdx.y;
    const int tilesX = (W + D2SD_TX - 1) / D2SD_TX;
    const int x0 = (int)(blockIdx.x % (unsigned)tilesX) * D2SD_TX, y0 = (int)(blockIdx.x / (unsigned)tilesX) * D2SD_TY;
    const int tx = (int)threadIdx.x, ty = (int)threadIdx.y, t = ty * D2SD_TX + tx;
    const int P = H * W;
    const int c0 = (int)((long long)C * k / K), c1 = (int)((long long)C * (k + 1) / K);
    const float mc = d2sd_mc(key, b, eps);
    const float* xb = x + (size_t)b * (size_t)C * (size_t)P;

    // The two halo slots this thread stages: slot t and t + 256 (only t < 84 has the second).
    int off0 = 0, off1 = 0;
    bool in0 = false, in1 = false;
    const bool has1 = t + D2SD_THREADS < D2SD_SLOTS;
    {
        const int r = t / D2SD_HW, col = t - r * D2SD_HW;
        const int gy = y0 - 1 + r, gx = x0 - 1 + col;
        in0 = gy >= 0 && gy < H && gx >= 0 && gx < W;
        off0 = in0 ? gy * W + gx : 0;
    }
    if (has1) {
        const int s = t + D2SD_THREADS;
        const int r = s / D2SD_HW, col = s - r * D2SD_HW;
        const int gy = y0 - 1 + r, gx = x0 - 1 + col;
        in1 = gy >= 0 && gy < H && gx >= 0 && gx < W;
        off1 = in1 ? gy * W + gx : 0;
    }
    const int px = x0 + tx, py = y0 + ty;
    const bool mine = px < W && py < H;

    float best = -1.0f, q = 0.0f;  // v ≥ 0, so the chunk's first channel always replaces best = −1
    int arg = c0, qarg = c0;

    const float* plane = xb + (size_t)c0 * (size_t)P;
    float r0 = in0 ? plane[off0] : 0.0f;
    float r1 = in1 ? plane[off1] : 0.0f;
    for (int c = c0; c < c1; ++c) {
        const int buf = (c - c0) & 1;
        {
            const float d = d2sd_relu(r0);
            sD[buf][t] = d;
            sE[buf][t] = in0 ? expf(d / mc) : 1.0f;
        }
        if (has1) {
            const float d = d2sd_relu(r1);
            sD[buf][t + D2SD_THREADS] = d;
            sE[buf][t + D2SD_THREADS] = in1 ? expf(d / mc) : 1.0f;
        }
        if (c + 1 < c1) {  // prefetch the next channel while this one is consumed
            plane += P;
            r0 = in0 ? plane[off0] : 0.0f;
            r1 = in1 ? plane[off1] : 0.0f;
        }
        // One barrier per channel: buffer buf was last read in iteration c − 2's compute,
        // which every thread finished before arriving at iteration c − 1's barrier.
        __syncthreads();
        if (mine) {
            const float* e = &sE[buf][ty * D2SD_HW + tx];
            const float s = d2sd_window(e[0], e[1], e[2], e[D2SD_HW], e[D2SD_HW + 1], e[D2SD_HW + 2],
                                        e[2 * D2SD_HW], e[2 * D2SD_HW + 1], e[2 * D2SD_HW + 2]);
            const float ec = e[D2SD_HW + 1];
            const float dc = sD[buf][(ty + 1) * D2SD_HW + tx + 1];
            const float v = (ec / s) * dc;
            if (v > best) { best = v; arg = c; }
            if (dc > q) { q = dc; qarg = c; }
        }
    }
    if (mine) {
        const size_t o = ((size_t)b * K + k) * (size_t)P + (size_t)(py * W + px);
        partBest[o] = d2sd_nonfinite(key, b) ? NAN : best;  // NaN through combine and normalize
        partArg[o] = arg;
        partQ[o] = q;
        partQArg[o] = qarg;
    }
}
LF_REGISTER_KERNEL(d2sd_tile)

// ------------------------------------------------------------------------- merge and normalise
extern "C" __global__ void __launch_bounds__(D2SD_PIX) d2sd_combine(
    const float* __restrict__ partBest, const int* __restrict__ partArg, const float* __restrict__ partQ,
    const int* __restrict__ partQArg, int K, int P, float eps, const float* __restrict__ grad,
    float* __restrict__ gamma, int* __restrict__ argOut, float* __restrict__ qOut, int* __restrict__ qargOut,
    float* __restrict__ sums) {
    __shared__ float sh[D2SD_PIX / 32];
    const int b = (int)blockIdx.y;
    const int p = (int)(blockIdx.x * D2SD_PIX + threadIdx.x);
    float g = 0.0f, gg = 0.0f;
    if (p < P) {
        const size_t o0 = (size_t)b * K * (size_t)P + (size_t)p;
        float best = partBest[o0], q = partQ[o0];
        int arg = partArg[o0], qarg = partQArg[o0];
        for (int k = 1; k < K; ++k) {  // chunk order + strict >: the first channel wins ties
            const size_t o = o0 + (size_t)k * (size_t)P;
            const float bk = partBest[o], qk = partQ[o];
            if (bk > best) { best = bk; arg = partArg[o]; }
            if (qk > q) { q = qk; qarg = partQArg[o]; }
        }
        const float qc = q > eps ? q : eps;
        g = best / qc;
        const size_t o = (size_t)b * (size_t)P + (size_t)p;
        gamma[o] = g;
        if (argOut) argOut[o] = arg;
        if (qOut) qOut[o] = qc;
        if (qargOut) qargOut[o] = qarg;
        if (grad) gg = grad[o] * g;
    }
    const float s0 = d2sd_block_sum(g, sh);
    const float s1 = grad ? d2sd_block_sum(gg, sh) : 0.0f;
    if (threadIdx.x == 0) {
        const size_t o = ((size_t)b * gridDim.x + blockIdx.x) * 2;
        sums[o] = s0;
        sums[o + 1] = s1;
    }
}
LF_REGISTER_KERNEL(d2sd_combine)

extern "C" __global__ void __launch_bounds__(D2SD_PIX) d2sd_normalize(float* __restrict__ scores, const float* __restrict__ sums,
                                                                      int nblk, int P, float eps) {
    const int b = (int)blockIdx.y;
    const int p = (int)(blockIdx.x * D2SD_PIX + threadIdx.x);
    const float total = d2sd_warp_sum_partials(sums + (size_t)b * nblk * 2, nblk, 2);
    const float z = total > eps ? total : eps;
    if (p < P) {
        const size_t o = (size_t)b * (size_t)P + (size_t)p;
        scores[o] = scores[o] / z;
    }
}
LF_REGISTER_KERNEL(d2sd_normalize)

// ------------------------------------------------------------------------------------ backward
extern "C" __global__ void __launch_bounds__(D2SD_PIX) d2sd_bwd_pixel(
    const float* __restrict__ x, const unsigned long long* __restrict__ key, int C, int H, int W, float eps,
    const float* __restrict__ grad, const int* __restrict__ argIn, const float* __restrict__ qIn,
    const int* __restrict__ qargIn, const float* __restrict__ sums, int nblk, float* __restrict__ dEdir,
    float* __restrict__ dSOut, float* __restrict__ dDdir, float* __restrict__ dQOut) {
    const int b = (int)blockIdx.y;
    const int P = H * W;
    const int p = (int)(blockIdx.x * D2SD_PIX + threadIdx.x);
    const float* sb = sums + (size_t)b * nblk * 2;
    const float total = d2sd_warp_sum_partials(sb, nblk, 2);
    const float dot = d2sd_warp_sum_partials(sb + 1, nblk, 2);
    if (p >= P) return;  // no barrier below
    const float mc = d2sd_mc(key, b, eps);
    const float z = total > eps ? total : eps;
    const size_t o = (size_t)b * (size_t)P + (size_t)p;
    float dGamma = grad[o] / z;
    if (total > eps) dGamma -= dot / (z * z);

    const int a = argIn[o], qa = qargIn[o];
    const float q = qIn[o];
    const float* xa = x + ((size_t)b * C + (size_t)a) * (size_t)P;
    const int py = p / W, px = p - py * W;
    float e[9];
#pragma unroll
    for (int dy = -1; dy <= 1; ++dy)
#pragma unroll
        for (int dx = -1; dx <= 1; ++dx) {
            const int yy = py + dy, xx = px + dx;
            const bool in = yy >= 0 && yy < H && xx >= 0 && xx < W;
            e[(dy + 1) * 3 + dx + 1] = in ? expf(d2sd_relu(xa[yy * W + xx]) / mc) : 1.0f;
        }
    const float s = d2sd_window(e[0], e[1], e[2], e[3], e[4], e[5], e[6], e[7], e[8]);
    const float ec = e[4];
    const float dc = d2sd_relu(xa[p]);
    const float alpha = ec / s, beta = dc / q;
    const float dAlpha = dGamma * beta, dBeta = dGamma * alpha;
    dDdir[o] = dBeta / q;
    // Q = max(max_c D, eps) passes gradient only where the clamp did not bite.
    const float dq = qa == a ? dc : d2sd_relu(x[((size_t)b * C + (size_t)qa) * (size_t)P + (size_t)p]);
    dQOut[o] = dq == q ? -dBeta * dc / (q * q) : 0.0f;
    dEdir[o] = dAlpha / s;
    dSOut[o] = -dAlpha * ec / (s * s);
}
LF_REGISTER_KERNEL(d2sd_bwd_pixel)

extern "C" __global__ void __launch_bounds__(D2SD_PIX) d2sd_bwd_grad(
    const float* __restrict__ x, const unsigned long long* __restrict__ key, int C, int H, int W, float eps,
    const int* __restrict__ argIn, const int* __restrict__ qargIn, const float* __restrict__ dEdir,
    const float* __restrict__ dSIn, const float* __restrict__ dDdir, const float* __restrict__ dQIn,
    float* __restrict__ dx, float* __restrict__ mcPart) {
    __shared__ float sh[D2SD_PIX / 32];
    const int b = (int)blockIdx.y;
    const int P = H * W;
    const int p = (int)(blockIdx.x * D2SD_PIX + threadIdx.x);
    float acc = 0.0f;
    if (p < P) {
        const float mc = d2sd_mc(key, b, eps);
        const size_t ob = (size_t)b * (size_t)P;
        const int py = p / W, px = p - py * W;
        int wa[9];
        float ws[9];
#pragma unroll
        for (int dy = -1; dy <= 1; ++dy)
#pragma unroll
            for (int dxo = -1; dxo <= 1; ++dxo) {
                const int yy = py + dy, xx = px + dxo;
                const bool in = yy >= 0 && yy < H && xx >= 0 && xx < W;
                const int j = (dy + 1) * 3 + dxo + 1;
                wa[j] = in ? argIn[ob + (size_t)(yy * W + xx)] : -1;
                ws[j] = in ? dSIn[ob + (size_t)(yy * W + xx)] : 0.0f;
            }
        const int a = wa[4], qa = qargIn[ob + p];
        const float ed = dEdir[ob + p], dd = dDdir[ob + p], dq = dQIn[ob + p];
        const float* xp = x + (size_t)b * (size_t)C * (size_t)P + (size_t)p;
        float* gp = dx + (size_t)b * (size_t)C * (size_t)P + (size_t)p;
        // Candidate channels: the window's args (j = 0..8), then qarg (j = 9); each distinct one once.
#pragma unroll
        for (int j = 0; j < 10; ++j) {
            const int c = j < 9 ? wa[j] : qa;
            bool fresh = c >= 0;
#pragma unroll
            for (int i = 0; i < j && i < 9; ++i) fresh = fresh && wa[i] != c;
            if (fresh) {
                float dE = c == a ? ed : 0.0f;
#pragma unroll
                for (int i = 0; i < 9; ++i) dE += wa[i] == c ? ws[i] : 0.0f;
                const float xv = xp[(size_t)c * (size_t)P];
                const float d = d2sd_relu(xv);
                const float e = expf(d / mc);
                float dD = c == a ? dd : 0.0f;
                if (c == qa) dD += dq;
                dD += dE * e / mc;
                acc += dE * e * d;
                gp[(size_t)c * (size_t)P] = xv > 0.0f ? dD : 0.0f;  // relu mask
            }
        }
        if (d2sd_nonfinite(key, b)) {  // the contract: an all-NaN gradient; this thread owns pixel p of every channel
            for (int c = 0; c < C; ++c) gp[(size_t)c * (size_t)P] = NAN;
        }
    }
    const float s = d2sd_block_sum(acc, sh);
    if (threadIdx.x == 0) mcPart[(size_t)b * gridDim.x + blockIdx.x] = s;
}
LF_REGISTER_KERNEL(d2sd_bwd_grad)

extern "C" __global__ void __launch_bounds__(32) d2sd_bwd_max_grad(const float* __restrict__ x, const unsigned long long* __restrict__ key,
                                                                   const float* __restrict__ mcPart, int nblk, int n, float eps,
                                                                   float* __restrict__ dx) {
    const int b = (int)blockIdx.x;
    const float total = d2sd_warp_sum_partials(mcPart + (size_t)b * nblk, nblk, 1);
    if (threadIdx.x != 0 || d2sd_nonfinite(key, b)) return;  // d2sd_bwd_grad wrote NaN there
    const unsigned long long kb = key[b];
    const float m = __uint_as_float((unsigned)(kb >> 32));
    const float mc = m > eps ? m : eps;
    const unsigned idx = 0xffffffffu - (unsigned)(kb & 0xffffffffull);
    const size_t o = (size_t)b * (size_t)n + idx;
    // Mc = max(M, eps) passes gradient only where the clamp did not bite (then x = M > 0: relu passes).
    if (x[o] == mc) dx[o] += -total / (mc * mc);
}
LF_REGISTER_KERNEL(d2sd_bwd_max_grad)

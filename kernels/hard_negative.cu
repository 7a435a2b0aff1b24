// hard_negative.cu — hardest-negative mining (OPS.md §2 HardestNegatives, §3 InBatchHardestNegatives).
//
// One tile loop serves the three miners: the masked 1-NN under a square (Chebyshev, K = 2) or a
// spherical (Euclidean, K = 3) safe window, and the in-batch top-k. A block owns a tile of 64 anchor
// rows and streams 64-row candidate tiles through shared memory in 32-wide chunks of D (k-major,
// padded), 256 threads each accumulating a 4×4 register block of dot products (SGEMM style). The
// epilogue of each candidate tile turns the dots into distances/similarities, applies the mask, and
// folds them into per-anchor state kept in registers. Never an N×M buffer anywhere.
//
// Notation: N anchors, M candidates, D width, T = 64 (tile rows), BK = 32 (chunk of D), S splits.
// All pointers are contiguous row-major float32 / int64 on one device. "vec" = D % 4 == 0 and both
// descriptor pointers 16-byte aligned: chunk loads use float4, otherwise a bounds-checked scalar path.
//
// ------------------------------------------------------------------------------------ kernels
// hn_row_sq_norms(x[R,D], R, D, vec, out[R])
//   out[r] = Σ_d x[r,d]² (warp per row, lanes stride D, butterfly reduce: fixed order).
//   block 256 (8 rows), grid ceil(R/8).
// hn_mine(anchors[N,D], candidates[M,D], anchorNorm[N], candNorm[M], anchorPos[N,K], candPos[M,K],
//         N, M, D, sphere, radius, vec, tilesPerSplit, index[N] i64, distance[N], partDist[S,N], partIndex[S,N] i32)
//   distance_ij = max(0, (‖a_i‖² + ‖c_j‖²) − 2⟨a_i,c_j⟩) (NaN stays NaN); j admissible iff
//   square: max(|Δx|,|Δy|) > radius, sphere: Δx²+Δy²+Δz² > radius² (strict, float32; a NaN offset
//   is never admissible, as the Reference's NaN-propagating max and compare).
//   Per anchor: the admissible j with the smallest FINITE distance (NaN/+Inf never selected, as every
//   backend), ties → smallest j; none → (−1, +∞).
//   block 256 = 16×16 threads (ty owns anchors 4ty..4ty+3, tx owns candidates 4tx..4tx+3 of a tile),
//   grid (ceil(N/64), S). Block (x, s) scans candidate tiles [s·tilesPerSplit, (s+1)·tilesPerSplit).
//   Each thread keeps (best, j) for its 4 anchors, scanning its candidates in increasing j (strict <
//   keeps the first of equals); the 16 threads of an anchor row (a half-warp) merge by __shfl_xor_sync
//   with the (value, then index) order. S = 1: writes index/distance; S > 1: writes the partials and
//   hn_finalize reduces them. Registers: 78 (sm_80) / 64 (sm_90), 18 KB shared, no spills.
// hn_finalize(partDist[S,N], partIndex[S,N], S, N, index[N], distance[N])
//   per anchor, the (value, index)-smallest over the splits in split order. block 256, grid ceil(N/256).
// ib_topk_mine(anchors[N,D], positives[N,D], group[N] i64, N, D, k, scope, vec, tilesPerSplit,
//              index[N,k] i64, similarity[N,k], partSim[S,N,k], partIndex[S,N,k] i32)
//   similarity_ij = ⟨a_i, p_j⟩; admissible: scope 0 OtherGroups g_j ≠ g_i, 1 SameGroup g_j = g_i ∧ j ≠ i,
//   2 AllButSelf j ≠ i, and the similarity finite (NaN/±Inf never picked, as every backend). Per anchor the k largest admissible, descending, ties → smaller j first; the
//   rest (−1, −∞). Same tile loop and grid as hn_mine; the 64×64 tile of similarities goes to shared
//   memory (aliasing the chunk buffers), then warp w merges rows 8w..8w+7 into their top-k lists held in
//   registers, slot s of a list in lane s mod 32 (64-bit (value, j) entries, register A for s < 32, B for
//   s ≥ 32), the k-th value replicated in every lane: one __ballot_sync per row and tile tests the 64
//   candidates against it (usually none pass); survivors are inserted one at a time in increasing j
//   (insert position = number of entries ≥ value, so equal values keep j order; the list shifts by one
//   64-bit __shfl_up_sync). k ≤ 64. Registers: 101 (sm_80) / 99 (sm_90) → 2 blocks of 256 per SM.
// ib_topk_merge(partSim[S,N,k], partIndex[S,N,k], S, N, k, index[N,k], similarity[N,k])
//   warp per row: split 0's list, then the entries of splits 1..S−1 inserted in order (splits hold
//   increasing j ranges, so the tie order is kept). block 256, grid ceil(N/8).
// Backward (deterministic: every float sum has a fixed order; only integer atomics):
// hn_bucket_count(key[E] i64, E, count[B] i32)         count[b] = #{e : key[e] = b} (integer atomics);
// hn_bucket_scan(count[B], B, start[B], cursor[B])      exclusive scan, one block of 1024, chunked;
// hn_bucket_fill(key, E, cursor, list[E] i32)           list[start[b] ..] ← the e with key b, in any order;
// hn_bucket_rank(key, E, start, count, list, sorted)    sorted[start[b] + rank] = e, rank = #{e' in b's
//                                                       bucket with e' < e}: the bucket in increasing e.
//   count/fill/rank: block 256, grid ceil(E/256); rank costs Σ_b count_b² (fine unless one candidate is
//   the hardest negative of thousands of anchors: then O(L²) reads of one L2-resident bucket).
// hn_grad_anchors(a, c, index, gradDistance, N, D, gradA)  gradA[i] = 2g_i (a_i − c_j), 0 when j < 0.
// hn_grad_candidates(a, c, gradDistance, sorted, start, count, M, D, gradC)
//   gradC[j] = −Σ_{i in bucket j, increasing i} 2g_i (a_i − c_j).  warp per row: block 256, grid ceil(M/8).
// ib_grad_anchors(p, index[N,k], gradSim[N,k], N, D, k, gradA)  gradA[i] = Σ_s g_is p_{j_is} (slot order).
// ib_grad_positives(a, gradSim, sorted, start, count, N, D, k, gradP)
//   gradP[j] = Σ_{e = i·k+s in bucket j, increasing e} g_e a_i.   warp per row.
//
// ------------------------------------------------------------------------------------ roofline
// H100 SXM: FP32 (non-tensor) 67 TFLOP/s, HBM3 3.35 TB/s, L2 ~5.5 TB/s. Mining is a GEMM-shaped,
// compute-bound reduction: FLOPs 2·N·M·D (+ ~8·N·M epilogue), DRAM bytes ≈ 4·(N+M)·D (tiles are
// re-read from L2: 4·(N·M/64)·D·2 bytes). The 4×4 register block with float4 shared loads issues
// 3 shared wavefronts per 16 FFMA (bound ≈ 75% of FP32 peak), 64×64 tiles re-read 2 KB from L2 per
// 64 FFMA per thread; we expect ~40–50% of peak.
//   N=M=4096,  D=128: 4.3 GFLOP, 4.2 MB DRAM, 268 MB L2; peak 64 µs, expected ~130 µs (S = 5).
//   N=M=4096,  D=256: 8.6 GFLOP, 8.4 MB DRAM, 537 MB L2; peak 128 µs, expected ~260 µs.
//   N=1024, M=16384, D=128: 4.3 GFLOP, 8.9 MB DRAM; expected ~130 µs (S = 17 → 272 blocks).
//   N=1024, M=16384, D=256: 8.6 GFLOP, 17.8 MB; expected ~260 µs.
//   in-batch N=8192, D=128: 17.2 GFLOP, 8.4 MB; peak 256 µs, expected ~550 µs for k = 1 and
//   ~600 µs for k = 20 (the warp merge adds ~10%; scratch S·N·k·8 B = 3.9 MB at S = 3).
//   Backward: memory/launch bound. HN: ≈ 4·(3N+2M)·D bytes (10.5 MB at N=M=4096, D=128: ~5 µs) plus
//   the single-block scan of M counters (~10–20 µs at M = 16384) and ~6 launches. In-batch k = 20:
//   2·N·k row gathers (168 MB, mostly L2 hits at N=8192, D=128): ~50 µs.
#include "lf_prelude.cuh"

#define LF_T 64         // rows of an anchor / candidate tile
#define LF_BK 32        // chunk of D staged per step
#define LF_LDS 68       // leading dimension of the k-major chunk tiles (float4-aligned, 2-way store conflicts)
#define LF_THREADS 256  // 16 × 16 threads, a 4×4 register block each
#define LF_SLD 65       // leading dimension of the 64×64 similarity tile (aliases the chunk buffers)
#define LF_FULL 0xffffffffu

// ------------------------------------------------------------------------------ the tile loop
// Loads rows [row0, row0+64) × columns [k0, k0+32) of X (rows×D) into Xs[k][row] (k-major), zeros
// outside. Thread g reads 4 consecutive floats: 8 threads cover a row's 128 bytes (coalesced).
__device__ __forceinline__ void lf_load_chunk(const float* __restrict__ X, int rows, int D, int row0, int k0,
                                              int vec, float* __restrict__ Xs) {
#pragma unroll
    for (int h = 0; h < 2; ++h) {
        const int g = (int)threadIdx.x + h * LF_THREADS;
        const int r = g >> 3, kq = (g & 7) * 4;
        const int row = row0 + r, col = k0 + kq;
        float4 v = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        if (row < rows && col < D) {
            const float* p = X + (size_t)row * (size_t)D + col;
            if (vec) {
                v = *reinterpret_cast<const float4*>(p);  // D % 4 == 0: col + 3 < D
            } else {
                v.x = p[0];
                if (col + 1 < D) v.y = p[1];
                if (col + 2 < D) v.z = p[2];
                if (col + 3 < D) v.w = p[3];
            }
        }
        Xs[(kq + 0) * LF_LDS + r] = v.x;
        Xs[(kq + 1) * LF_LDS + r] = v.y;
        Xs[(kq + 2) * LF_LDS + r] = v.z;
        Xs[(kq + 3) * LF_LDS + r] = v.w;
    }
}

__device__ __forceinline__ void lf_fma_step(const float* __restrict__ As, const float* __restrict__ Cs, int kk,
                                            int ty, int tx, float (&acc)[4][4]) {
    const float4 a = *reinterpret_cast<const float4*>(As + kk * LF_LDS + ty * 4);
    const float4 c = *reinterpret_cast<const float4*>(Cs + kk * LF_LDS + tx * 4);
    const float av[4] = {a.x, a.y, a.z, a.w};
    const float cv[4] = {c.x, c.y, c.z, c.w};
#pragma unroll
    for (int r = 0; r < 4; ++r)
#pragma unroll
        for (int q = 0; q < 4; ++q) acc[r][q] += av[r] * cv[q];
}

// Block-wide: acc[r][q] = ⟨A_{i0+4ty+r}, C_{j0+4tx+q}⟩ (0 outside). `stage(k0)` runs between the loads and
// the barrier of each chunk (the candidate tile's metadata at k0 = 0). Every thread reaches every
// barrier. On return the chunk buffers may still be read by other threads: barrier before reusing them.
template <class Stage>
__device__ __forceinline__ void lf_tile_dots(const float* __restrict__ A, int nA, const float* __restrict__ C, int nC,
                                             int D, int i0, int j0, int vec, float* __restrict__ smem,
                                             float (&acc)[4][4], Stage stage) {
    const int tx = (int)threadIdx.x & 15, ty = (int)threadIdx.x >> 4;
    float* As = smem;
    float* Cs = smem + LF_BK * LF_LDS;
#pragma unroll
    for (int r = 0; r < 4; ++r)
#pragma unroll
        for (int q = 0; q < 4; ++q) acc[r][q] = 0.0f;
    for (int k0 = 0; k0 < D; k0 += LF_BK) {
        __syncthreads();  // the previous chunk / epilogue is done with the buffers
        lf_load_chunk(A, nA, D, i0, k0, vec, As);
        lf_load_chunk(C, nC, D, j0, k0, vec, Cs);
        stage(k0);
        __syncthreads();
        const int kmax = min(LF_BK, D - k0);
        if (kmax == LF_BK) {
#pragma unroll
            for (int kk = 0; kk < LF_BK; ++kk) lf_fma_step(As, Cs, kk, ty, tx, acc);
        } else {
            for (int kk = 0; kk < kmax; ++kk) lf_fma_step(As, Cs, kk, ty, tx, acc);
        }
    }
}

// --------------------------------------------------------------------------------- row norms
extern "C" __global__ void __launch_bounds__(256) hn_row_sq_norms(const float* __restrict__ x, int rows, int D, int vec,
                                                                  float* __restrict__ out) {
    const int lane = (int)threadIdx.x & 31;
    const int row = (int)blockIdx.x * 8 + ((int)threadIdx.x >> 5);
    if (row >= rows) return;  // whole warps leave together; no block barrier follows
    const float* p = x + (size_t)row * (size_t)D;
    float s = 0.0f;
    if (vec) {
        for (int d = lane * 4; d < D; d += 128) {
            const float4 v = *reinterpret_cast<const float4*>(p + d);
            s += v.x * v.x + v.y * v.y + v.z * v.z + v.w * v.w;
        }
    } else {
        for (int d = lane; d < D; d += 32) s += p[d] * p[d];
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(LF_FULL, s, o);
    if (lane == 0) out[row] = s;
}
LF_REGISTER_KERNEL(hn_row_sq_norms)

// --------------------------------------------------------------------------- masked 1-NN
// (v1, j1) precedes (v2, j2): a real index before none (−1), then smaller value, then smaller index.
__device__ __forceinline__ bool lf_nn_better(float v1, int j1, float v2, int j2) {
    return j1 >= 0 && (j2 < 0 || v1 < v2 || (v1 == v2 && j1 < j2));
}

extern "C" __global__ void __launch_bounds__(LF_THREADS) hn_mine(
    const float* __restrict__ anchors, const float* __restrict__ candidates, const float* __restrict__ anchorNorm,
    const float* __restrict__ candNorm, const float* __restrict__ anchorPos, const float* __restrict__ candPos, int N,
    int M, int D, int sphere, float radius, int vec, int tilesPerSplit, int64_t* __restrict__ outIndex,
    float* __restrict__ outDist, float* __restrict__ partDist, int* __restrict__ partIndex) {
    __shared__ __align__(16) float smem[2 * LF_BK * LF_LDS];
    __shared__ float sNorm[LF_T], sX[LF_T], sY[LF_T], sZ[LF_T];
    const int t = (int)threadIdx.x, tx = t & 15, ty = t >> 4;
    const int i0 = (int)blockIdx.x * LF_T;
    const int K = sphere ? 3 : 2;
    const float lim = sphere ? radius * radius : radius;

    float an[4], ax[4], ay[4], az[4], best[4];
    int bj[4];
#pragma unroll
    for (int r = 0; r < 4; ++r) {
        const int i = i0 + ty * 4 + r;
        const bool ok = i < N;
        an[r] = ok ? anchorNorm[i] : 0.0f;
        ax[r] = ok ? anchorPos[(size_t)i * K] : 0.0f;
        ay[r] = ok ? anchorPos[(size_t)i * K + 1] : 0.0f;
        az[r] = ok && sphere ? anchorPos[(size_t)i * K + 2] : 0.0f;
        best[r] = INFINITY;
        bj[r] = -1;
    }

    const int tiles = (M + LF_T - 1) / LF_T;
    const int tBegin = (int)blockIdx.y * tilesPerSplit;
    const int tEnd = min(tiles, tBegin + tilesPerSplit);
    for (int tile = tBegin; tile < tEnd; ++tile) {
        const int j0 = tile * LF_T;
        float acc[4][4];
        lf_tile_dots(anchors, N, candidates, M, D, i0, j0, vec, smem, acc, [&](int k0) {
            if (k0 == 0 && t < LF_T) {
                const int j = j0 + t;
                const bool ok = j < M;
                sNorm[t] = ok ? candNorm[j] : 0.0f;
                sX[t] = ok ? candPos[(size_t)j * K] : 0.0f;
                sY[t] = ok ? candPos[(size_t)j * K + 1] : 0.0f;
                sZ[t] = ok && sphere ? candPos[(size_t)j * K + 2] : 0.0f;
            }
        });
#pragma unroll
        for (int q = 0; q < 4; ++q) {
            const int c = tx * 4 + q, j = j0 + c;
            if (j >= M) continue;
            const float cn = sNorm[c], cx = sX[c], cy = sY[c], cz = sZ[c];
#pragma unroll
            for (int r = 0; r < 4; ++r) {
                const float dx = ax[r] - cx, dy = ay[r] - cy;
                // fmaxf drops a NaN operand: test NaN offsets explicitly (never admissible, as the Reference).
                const bool far = sphere ? dx * dx + dy * dy + (az[r] - cz) * (az[r] - cz) > lim
                                        : fmaxf(fabsf(dx), fabsf(dy)) > lim && dx == dx && dy == dy;
                const float raw = (an[r] + cn) - 2.0f * acc[r][q];
                const float dist = raw < 0.0f ? 0.0f : raw;  // clamp at 0, keeping NaN (fmaxf would make it 0)
                // This thread visits j in increasing order: only a strictly smaller distance replaces; best
                // starts at +∞, so a NaN or +Inf distance is never selected.
                if (far && dist < best[r]) {
                    best[r] = dist;
                    bj[r] = j;
                }
            }
        }
    }

    // The 16 threads of an anchor row are one half-warp (lanes 16·(ty&1) + tx).
#pragma unroll
    for (int r = 0; r < 4; ++r) {
#pragma unroll
        for (int o = 8; o > 0; o >>= 1) {
            const float ov = __shfl_xor_sync(LF_FULL, best[r], o);
            const int oj = __shfl_xor_sync(LF_FULL, bj[r], o);
            if (lf_nn_better(ov, oj, best[r], bj[r])) {
                best[r] = ov;
                bj[r] = oj;
            }
        }
        const int i = i0 + ty * 4 + r;
        if (tx == 0 && i < N) {
            if (gridDim.y == 1) {
                outIndex[i] = bj[r];
                outDist[i] = bj[r] < 0 ? INFINITY : best[r];
            } else {
                partDist[(size_t)blockIdx.y * N + i] = best[r];
                partIndex[(size_t)blockIdx.y * N + i] = bj[r];
            }
        }
    }
}
LF_REGISTER_KERNEL(hn_mine)

extern "C" __global__ void __launch_bounds__(256) hn_finalize(const float* __restrict__ partDist,
                                                              const int* __restrict__ partIndex, int splits, int N,
                                                              int64_t* __restrict__ outIndex,
                                                              float* __restrict__ outDist) {
    const int i = (int)(blockIdx.x * blockDim.x + threadIdx.x);
    if (i >= N) return;
    float v = INFINITY;
    int j = -1;
    for (int s = 0; s < splits; ++s) {
        const float sv = partDist[(size_t)s * N + i];
        const int sj = partIndex[(size_t)s * N + i];
        if (lf_nn_better(sv, sj, v, j)) {
            v = sv;
            j = sj;
        }
    }
    outIndex[i] = j;
    outDist[i] = j < 0 ? INFINITY : v;
}
LF_REGISTER_KERNEL(hn_finalize)

// ------------------------------------------------------------------------------ in-batch top-k
// The warp's list: slot s in lane s & 31, register A (s < 32) or B (s ≥ 32), each entry packed as
// (value bits << 32 | index) so one shuffle moves it; descending values, equal values in increasing j;
// empty slots (−∞, −1). `thr`, the k-th value, is kept equal in every lane.
#define LF_EMPTY 0xff800000ffffffffull  // (−∞, −1)

__device__ __forceinline__ unsigned long long lf_pack(float v, int j) {
    return ((unsigned long long)__float_as_uint(v) << 32) | (unsigned long long)(unsigned)j;
}
__device__ __forceinline__ float lf_value(unsigned long long e) { return __uint_as_float((unsigned)(e >> 32)); }
__device__ __forceinline__ int lf_index(unsigned long long e) { return (int)(unsigned)(e & 0xffffffffull); }

struct LfTopK {
    unsigned long long A, B;
    float thr;
};

__device__ __forceinline__ void lf_topk_init(LfTopK& L) {
    L.A = LF_EMPTY;
    L.B = LF_EMPTY;
    L.thr = -INFINITY;
}

// Offers each lane's (v, j) where adm, in lane order; all 32 lanes call it together.
__device__ __forceinline__ void lf_topk_offer(float v, int j, bool adm, int k, int lane, LfTopK& L) {
    unsigned m = __ballot_sync(LF_FULL, adm && v > L.thr);
    while (m) {
        const int src = __ffs((int)m) - 1;
        const unsigned long long e = __shfl_sync(LF_FULL, lf_pack(v, j), src);
        const float nv = lf_value(e);
        int p = __popc(__ballot_sync(LF_FULL, lane < k && lf_value(L.A) >= nv));
        const unsigned long long upA = __shfl_up_sync(LF_FULL, L.A, 1u);
        if (k > 32) {
            p += __popc(__ballot_sync(LF_FULL, lane + 32 < k && lf_value(L.B) >= nv));
            const unsigned long long upB = __shfl_up_sync(LF_FULL, L.B, 1u);
            const unsigned long long lastA = __shfl_sync(LF_FULL, L.A, 31);
            if (lane + 32 > p) L.B = lane == 0 ? lastA : upB;
            else if (lane + 32 == p) L.B = e;
        }
        if (lane > p) L.A = upA;
        else if (lane == p) L.A = e;
        L.thr = lf_value(__shfl_sync(LF_FULL, k <= 32 ? L.A : L.B, (k - 1) & 31));
        m &= m - 1u;
        m &= __ballot_sync(LF_FULL, v > L.thr);
    }
}

__device__ __forceinline__ bool lf_scope_ok(int scope, long long gj, long long gi, int j, int i) {
    return scope == 0 ? gj != gi : (scope == 1 ? (gj == gi && j != i) : j != i);
}

__device__ __forceinline__ void lf_topk_store(const LfTopK& L, int k, int lane, int64_t* __restrict__ index,
                                              float* __restrict__ value, int* __restrict__ index32) {
    if (lane < k) {
        if (index) index[lane] = lf_index(L.A);
        if (index32) index32[lane] = lf_index(L.A);
        value[lane] = lf_value(L.A);
    }
    if (lane + 32 < k) {
        if (index) index[lane + 32] = lf_index(L.B);
        if (index32) index32[lane + 32] = lf_index(L.B);
        value[lane + 32] = lf_value(L.B);
    }
}

extern "C" __global__ void __launch_bounds__(LF_THREADS) ib_topk_mine(
    const float* __restrict__ anchors, const float* __restrict__ positives, const int64_t* __restrict__ group, int N,
    int D, int k, int scope, int vec, int tilesPerSplit, int64_t* __restrict__ outIndex, float* __restrict__ outSim,
    float* __restrict__ partSim, int* __restrict__ partIndex) {
    __shared__ __align__(16) float smem[2 * LF_BK * LF_LDS];  // chunk buffers, then the 64×65 similarity tile
    __shared__ long long sGroup[LF_T], sAGroup[LF_T];
    const int t = (int)threadIdx.x, tx = t & 15, ty = t >> 4, lane = t & 31, warp = t >> 5;
    const int i0 = (int)blockIdx.x * LF_T;

    LfTopK list[8];  // rows 8·warp + rr
#pragma unroll
    for (int rr = 0; rr < 8; ++rr) lf_topk_init(list[rr]);

    const int tiles = (N + LF_T - 1) / LF_T;
    const int tBegin = (int)blockIdx.y * tilesPerSplit;
    const int tEnd = min(tiles, tBegin + tilesPerSplit);
    for (int tile = tBegin; tile < tEnd; ++tile) {
        const int j0 = tile * LF_T;
        float acc[4][4];
        lf_tile_dots(anchors, N, positives, N, D, i0, j0, vec, smem, acc, [&](int k0) {
            if (k0 == 0 && t < LF_T) {
                sGroup[t] = j0 + t < N ? (long long)group[j0 + t] : 0ll;
                if (tile == tBegin) sAGroup[t] = i0 + t < N ? (long long)group[i0 + t] : 0ll;
            }
        });
        __syncthreads();  // all threads are done with the chunk buffers
#pragma unroll
        for (int r = 0; r < 4; ++r)
#pragma unroll
            for (int q = 0; q < 4; ++q) smem[(ty * 4 + r) * LF_SLD + tx * 4 + q] = acc[r][q];
        __syncthreads();
#pragma unroll
        for (int rr = 0; rr < 8; ++rr) {
            const int row = warp * 8 + rr, i = i0 + row;
            if (i >= N) continue;  // warp-uniform
            const long long gi = sAGroup[row];
            const int j1 = j0 + lane, j2 = j1 + 32;
            const float v1 = smem[row * LF_SLD + lane], v2 = smem[row * LF_SLD + lane + 32];
            // A NaN or ±Inf similarity is never picked (the contract of every backend).
            const bool adm1 = j1 < N && lf_scope_ok(scope, sGroup[lane], gi, j1, i) && fabsf(v1) <= FLT_MAX;
            const bool adm2 = j2 < N && lf_scope_ok(scope, sGroup[lane + 32], gi, j2, i) && fabsf(v2) <= FLT_MAX;
            // Usually nothing in the tile beats the k-th value: one ballot for the row.
            if (__ballot_sync(LF_FULL, (adm1 && v1 > list[rr].thr) || (adm2 && v2 > list[rr].thr))) {
                lf_topk_offer(v1, j1, adm1, k, lane, list[rr]);
                lf_topk_offer(v2, j2, adm2, k, lane, list[rr]);
            }
        }
        // The next tile's first barrier protects the similarity tile and sGroup.
    }

#pragma unroll
    for (int rr = 0; rr < 8; ++rr) {
        const int i = i0 + warp * 8 + rr;
        if (i >= N) continue;
        if (gridDim.y == 1) {
            lf_topk_store(list[rr], k, lane, outIndex + (size_t)i * k, outSim + (size_t)i * k, nullptr);
        } else {
            const size_t base = ((size_t)blockIdx.y * N + i) * k;
            lf_topk_store(list[rr], k, lane, nullptr, partSim + base, partIndex + base);
        }
    }
}
LF_REGISTER_KERNEL(ib_topk_mine)

extern "C" __global__ void __launch_bounds__(256) ib_topk_merge(const float* __restrict__ partSim,
                                                                const int* __restrict__ partIndex, int splits, int N,
                                                                int k, int64_t* __restrict__ outIndex,
                                                                float* __restrict__ outSim) {
    const int lane = (int)threadIdx.x & 31;
    const int i = (int)blockIdx.x * 8 + ((int)threadIdx.x >> 5);
    if (i >= N) return;  // whole warp
    LfTopK list;
    lf_topk_init(list);
    for (int s = 0; s < splits; ++s) {
        const size_t base = ((size_t)s * N + i) * k;
        for (int h = 0; h * 32 < k; ++h) {
            const int slot = h * 32 + lane;
            const int j = slot < k ? partIndex[base + slot] : -1;
            const float v = slot < k ? partSim[base + slot] : -INFINITY;
            lf_topk_offer(v, j, j >= 0, k, lane, list);
        }
    }
    lf_topk_store(list, k, lane, outIndex + (size_t)i * k, outSim + (size_t)i * k, nullptr);
}
LF_REGISTER_KERNEL(ib_topk_merge)

// ------------------------------------------------------------------- backward: counting sort
extern "C" __global__ void __launch_bounds__(256) hn_bucket_count(const int64_t* __restrict__ key, int E,
                                                                  int* __restrict__ count) {
    const int e = (int)(blockIdx.x * blockDim.x + threadIdx.x);
    if (e >= E) return;
    const long long b = key[e];
    if (b >= 0) atomicAdd(&count[b], 1);  // integer: order-independent
}
LF_REGISTER_KERNEL(hn_bucket_count)

// One block of 1024 threads walks B in chunks of 1024 with a running carry.
extern "C" __global__ void __launch_bounds__(1024) hn_bucket_scan(const int* __restrict__ count, int B,
                                                                  int* __restrict__ start, int* __restrict__ cursor) {
    __shared__ int warpSums[32];
    __shared__ int carryShared;
    const int t = (int)threadIdx.x, lane = t & 31, warp = t >> 5;
    if (t == 0) carryShared = 0;
    for (int b0 = 0; b0 < B; b0 += 1024) {
        __syncthreads();  // carryShared written; warpSums free
        const int b = b0 + t;
        const int c = b < B ? count[b] : 0;
        int incl = c;
#pragma unroll
        for (int o = 1; o < 32; o <<= 1) {
            const int up = __shfl_up_sync(LF_FULL, incl, (unsigned)o);
            if (lane >= o) incl += up;
        }
        if (lane == 31) warpSums[warp] = incl;
        __syncthreads();
        int warpOffset = 0;
        for (int w = 0; w < warp; ++w) warpOffset += warpSums[w];
        const int carry = carryShared;
        if (b < B) {
            const int s = carry + warpOffset + incl - c;
            start[b] = s;
            cursor[b] = s;
        }
        __syncthreads();  // everyone has read carryShared and warpSums
        if (t == 1023) carryShared = carry + warpOffset + incl;
    }
}
LF_REGISTER_KERNEL(hn_bucket_scan)

extern "C" __global__ void __launch_bounds__(256) hn_bucket_fill(const int64_t* __restrict__ key, int E,
                                                                 int* __restrict__ cursor, int* __restrict__ list) {
    const int e = (int)(blockIdx.x * blockDim.x + threadIdx.x);
    if (e >= E) return;
    const long long b = key[e];
    if (b >= 0) list[atomicAdd(&cursor[b], 1)] = e;  // position within the bucket: any order (ranked next)
}
LF_REGISTER_KERNEL(hn_bucket_fill)

extern "C" __global__ void __launch_bounds__(256) hn_bucket_rank(const int64_t* __restrict__ key, int E,
                                                                 const int* __restrict__ start,
                                                                 const int* __restrict__ count,
                                                                 const int* __restrict__ list,
                                                                 int* __restrict__ sorted) {
    const int e = (int)(blockIdx.x * blockDim.x + threadIdx.x);
    if (e >= E) return;
    const long long b = key[e];
    if (b < 0) return;
    const int s = start[b], n = count[b];
    int rank = 0;
    for (int q = 0; q < n; ++q) rank += list[s + q] < e;
    sorted[s + rank] = e;
}
LF_REGISTER_KERNEL(hn_bucket_rank)

// ------------------------------------------------------------------------- backward: gradients
extern "C" __global__ void __launch_bounds__(256) hn_grad_anchors(const float* __restrict__ a,
                                                                  const float* __restrict__ c,
                                                                  const int64_t* __restrict__ index,
                                                                  const float* __restrict__ gradDist, int N, int D,
                                                                  float* __restrict__ gradA) {
    const int lane = (int)threadIdx.x & 31;
    const int i = (int)blockIdx.x * 8 + ((int)threadIdx.x >> 5);
    if (i >= N) return;
    const long long j = index[i];
    const float g2 = 2.0f * gradDist[i];
    float* out = gradA + (size_t)i * D;
    const float* ai = a + (size_t)i * D;
    const float* cj = c + (size_t)(j < 0 ? 0 : j) * D;
    for (int d = lane; d < D; d += 32) out[d] = j < 0 ? 0.0f : (ai[d] - cj[d]) * g2;
}
LF_REGISTER_KERNEL(hn_grad_anchors)

extern "C" __global__ void __launch_bounds__(256) hn_grad_candidates(
    const float* __restrict__ a, const float* __restrict__ c, const float* __restrict__ gradDist,
    const int* __restrict__ sorted, const int* __restrict__ start, const int* __restrict__ count, int M, int D,
    float* __restrict__ gradC) {
    const int lane = (int)threadIdx.x & 31;
    const int j = (int)blockIdx.x * 8 + ((int)threadIdx.x >> 5);
    if (j >= M) return;
    const int s = start[j], n = count[j];
    const float* cj = c + (size_t)j * D;
    float* out = gradC + (size_t)j * D;
    for (int d = lane; d < D; d += 32) {
        const float cd = cj[d];
        float acc = 0.0f;
        for (int q = 0; q < n; ++q) {
            const int i = sorted[s + q];
            acc -= (a[(size_t)i * D + d] - cd) * (2.0f * gradDist[i]);
        }
        out[d] = acc;
    }
}
LF_REGISTER_KERNEL(hn_grad_candidates)

extern "C" __global__ void __launch_bounds__(256) ib_grad_anchors(const float* __restrict__ p,
                                                                  const int64_t* __restrict__ index,
                                                                  const float* __restrict__ gradSim, int N, int D,
                                                                  int k, float* __restrict__ gradA) {
    const int lane = (int)threadIdx.x & 31;
    const int i = (int)blockIdx.x * 8 + ((int)threadIdx.x >> 5);
    if (i >= N) return;
    float* out = gradA + (size_t)i * D;
    for (int d = lane; d < D; d += 32) {
        float acc = 0.0f;
        for (int s = 0; s < k; ++s) {
            const long long j = index[(size_t)i * k + s];
            if (j >= 0) acc += p[(size_t)j * D + d] * gradSim[(size_t)i * k + s];
        }
        out[d] = acc;
    }
}
LF_REGISTER_KERNEL(ib_grad_anchors)

extern "C" __global__ void __launch_bounds__(256) ib_grad_positives(
    const float* __restrict__ a, const float* __restrict__ gradSim, const int* __restrict__ sorted,
    const int* __restrict__ start, const int* __restrict__ count, int N, int D, int k, float* __restrict__ gradP) {
    const int lane = (int)threadIdx.x & 31;
    const int j = (int)blockIdx.x * 8 + ((int)threadIdx.x >> 5);
    if (j >= N) return;
    const int s = start[j], n = count[j];
    float* out = gradP + (size_t)j * D;
    for (int d = lane; d < D; d += 32) {
        float acc = 0.0f;
        for (int q = 0; q < n; ++q) {
            const int e = sorted[s + q];
            acc += a[(size_t)(e / k) * D + d] * gradSim[e];
        }
        out[d] = acc;
    }
}
LF_REGISTER_KERNEL(ib_grad_positives)

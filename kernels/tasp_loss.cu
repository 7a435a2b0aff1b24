// tasp_loss.cu — TaSP's DIW-weighted triplet loss and task-aligned keypoint loss (OPS.md §5).
//
// Notation: N triplets, K negative detector samples, nb histogram bins. M_i = max(0, (dPos_i + m) − dNeg_i),
// s_i = clamp(importance_i, 0, sMax), x_i = s_i·M_i, t_i = clamp(x_i·scale, 0, nb − 1), lower_i = min(⌊t_i⌋, nb − 2).
// Deterministic everywhere: the histogram in fixed point (2^32 per sample, uint64 integer atomics: the sum does not depend
// on their order), every float sum in one block with a fixed tree. Host code skips launches for N = 0.
//
// ------------------------------------------------------------------------------------ kernels
// diw_bin(dPos, dNeg, importance, N, m, sMax, scale, nb, counts[nb] u64 (zeroed), lower[N] i32, x[N])
//   counts[lower] += 2^32 − q, counts[lower + 1] += q, q = ⌊(t − lower)·2^32⌋; x[N] = s·M where M > 0 else 0.
//   block 256, grid ceil(N/256).
// diw_state(counts, N, nb, oneMinusMomentum, momentum, state[nb], cdf[nb])
//   batch = counts / (N·2^32) (double); state = batch if Σ state = 0 (first batch) else (1−μ)·state + μ·batch;
//   cdf = cumsum(state) / Σ state in double, bin order. One thread (nb = 512 steps: ~10 µs, latency only).
// diw_loss(x, lower, importance, cdf, N, sMax, invN, slope[N], loss[1])
//   w = cdf[lower]; loss = Σ w·x / N (double partials, fixed tree), slope = w·s/N (0 where M = 0). block 1024, grid 1.
// diw_backward(slope, grad[1], N, gPos, gNeg)   gPos = grad·slope, gNeg = −gPos.  block 256.
// tak_loss(pos[N], dPos, dNeg, N, neg[K], K, m, t, loss[1], gPosCoef[N], gNegCoef[K])
//   δ = exp(t·(m − M)); loss = −Σ δ·max(log p, −100) − Σ max(log(1 − q), −100); the slopes of each term
//   (−δ/p, 1/(1 − q); 0 where the log is clipped). block 1024, grid 1.
// tak_backward(coef[E], grad[1], E, out[E])   out = grad·coef.  block 256.
//
// ------------------------------------------------------------------------------------ roofline
// N = 8192: diw_bin reads 96 KB and writes 64 KB, diw_loss ~130 KB: well under a µs of HBM time each; the
// launches (~5 of ~3 µs) and the single-thread CDF (~10 µs) dominate: ~25 µs forward, ~4 µs backward.
// tak_loss at N = K = 8192: 160 KB, one block: ~10 µs (one SM's bandwidth), launch-bound otherwise.
#include "lf_prelude.cuh"

#define LF_TL_REDUCE 1024

__device__ __forceinline__ float tl_margin(float dPos, float dNeg, float m) { return fmaxf(__fadd_rn(__fadd_rn(dPos, m), -dNeg), 0.0f); }

extern "C" __global__ void diw_bin(const float* __restrict__ dPos, const float* __restrict__ dNeg, const float* __restrict__ importance,
                                   int N, float m, float sMax, float scale, int nb, unsigned long long* __restrict__ counts,
                                   int* __restrict__ lower, float* __restrict__ x)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= N) return;
    float M = tl_margin(dPos[i], dNeg[i], m), s = fminf(fmaxf(importance[i], 0.0f), sMax);
    float sm = __fmul_rn(s, M);
    float t = fminf(fmaxf(__fmul_rn(sm, scale), 0.0f), (float)(nb - 1));
    int lo = min((int)floorf(t), nb - 2);
    unsigned long long q = (unsigned long long)__fmul_rn(__fadd_rn(t, -(float)lo), 4294967296.0f);
    atomicAdd(&counts[lo], 4294967296ull - q);
    atomicAdd(&counts[lo + 1], q);
    lower[i] = lo;
    x[i] = M > 0.0f ? sm : 0.0f;
}
LF_REGISTER_KERNEL(diw_bin)

extern "C" __global__ void diw_state(const unsigned long long* __restrict__ counts, int N, int nb, float oneMinusMomentum, float momentum,
                                     float* __restrict__ state, float* __restrict__ cdf)
{
    if (threadIdx.x != 0 || blockIdx.x != 0) return;
    double sum = 0.0;
    for (int b = 0; b < nb; b++) sum += state[b];
    double denominator = (double)N * 4294967296.0, total = 0.0;
    for (int b = 0; b < nb; b++)
    {
        float batch = (float)((double)counts[b] / denominator);
        float v = sum > 0.0 ? __fadd_rn(__fmul_rn(oneMinusMomentum, state[b]), __fmul_rn(momentum, batch)) : batch;
        state[b] = v;
        total += v;
    }
    double running = 0.0;
    for (int b = 0; b < nb; b++)
    {
        running += state[b];
        cdf[b] = total > 0.0 ? (float)(running / total) : 0.0f;
    }
}
LF_REGISTER_KERNEL(diw_state)

// Fixed-order sum of one double per thread of a 1024-thread block; thread 0 gets the total.
__device__ __forceinline__ double tl_block_sum(double v)
{
    __shared__ double partial[LF_TL_REDUCE];
    partial[threadIdx.x] = v;
    __syncthreads();
    for (int stride = LF_TL_REDUCE / 2; stride > 0; stride >>= 1)
    {
        if ((int)threadIdx.x < stride) partial[threadIdx.x] += partial[threadIdx.x + stride];
        __syncthreads();
    }
    return partial[0];
}

extern "C" __global__ void __launch_bounds__(LF_TL_REDUCE) diw_loss(const float* __restrict__ x, const int* __restrict__ lower,
                                                                    const float* __restrict__ importance, const float* __restrict__ cdf,
                                                                    int N, float sMax, float invN, float* __restrict__ slope, float* __restrict__ loss)
{
    double acc = 0.0;
    for (int i = threadIdx.x; i < N; i += LF_TL_REDUCE)
    {
        float xi = x[i], out = 0.0f;
        if (xi != 0.0f)
        {
            float w = cdf[lower[i]], s = fminf(fmaxf(importance[i], 0.0f), sMax);
            acc += (double)__fmul_rn(w, xi);
            out = __fmul_rn(__fmul_rn(w, s), invN);
        }
        slope[i] = out;
    }
    double total = tl_block_sum(acc);
    if (threadIdx.x == 0) loss[0] = (float)(total / (double)max(N, 1));
}
LF_REGISTER_KERNEL(diw_loss)

extern "C" __global__ void diw_backward(const float* __restrict__ slope, const float* __restrict__ grad, int N,
                                        float* __restrict__ gPos, float* __restrict__ gNeg)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= N) return;
    float g = __fmul_rn(grad[0], slope[i]);
    gPos[i] = g;
    gNeg[i] = -g;
}
LF_REGISTER_KERNEL(diw_backward)

extern "C" __global__ void __launch_bounds__(LF_TL_REDUCE) tak_loss(const float* __restrict__ pos, const float* __restrict__ dPos,
                                                                    const float* __restrict__ dNeg, int N, const float* __restrict__ neg, int K,
                                                                    float m, float t, float* __restrict__ loss, float* __restrict__ posCoef,
                                                                    float* __restrict__ negCoef)
{
    double acc = 0.0;
    for (int i = threadIdx.x; i < N; i += LF_TL_REDUCE)
    {
        float delta = expf(__fmul_rn(t, __fadd_rn(m, -tl_margin(dPos[i], dNeg[i], m))));
        float p = pos[i], lp = logf(p);
        bool clipped = !(lp > -100.0f);
        acc -= (double)__fmul_rn(delta, clipped ? -100.0f : lp);
        posCoef[i] = clipped ? 0.0f : -(delta / p);
    }
    for (int j = threadIdx.x; j < K; j += LF_TL_REDUCE)
    {
        float q = neg[j], one = __fadd_rn(1.0f, -q), lq = logf(one);
        bool clipped = !(lq > -100.0f);
        acc -= (double)(clipped ? -100.0f : lq);
        negCoef[j] = clipped ? 0.0f : 1.0f / one;
    }
    double total = tl_block_sum(acc);
    if (threadIdx.x == 0) loss[0] = (float)total;
}
LF_REGISTER_KERNEL(tak_loss)

extern "C" __global__ void tak_backward(const float* __restrict__ coef, const float* __restrict__ grad, int E, float* __restrict__ out)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < E) out[i] = __fmul_rn(grad[0], coef[i]);
}
LF_REGISTER_KERNEL(tak_backward)

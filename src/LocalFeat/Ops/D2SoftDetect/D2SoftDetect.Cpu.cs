using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace LocalFeat.Ops;

// Fused CPU implementation. Forward: one pass over the channel planes of a sample with O(H·W) scratch
// per worker; channels are split into contiguous chunks whose merges keep "first channel wins" ties.
// The forward keeps O(B·H·W) state (per-pixel maxima and winning channels) for the backward, which then
// touches only each pixel's winning channel and its 3×3 window.
public static partial class D2SoftDetect
{
    /// <summary>What the backward needs from the forward, per sample.</summary>
    internal sealed class CpuState(int b, int p)
    {
        public readonly bool[] NonFinite = new bool[b];   // the sample holds a NaN or ±Inf: NaN scores and gradient
        public readonly float[] Mc = new float[b];        // max(max relu(x), eps)
        public readonly int[] MaxIndex = new int[b];      // first flat index of that maximum
        public readonly float[] Total = new float[b];     // Σ gamma
        public readonly float[] Q = new float[b * p];     // max(max_c relu(x), eps) per pixel
        public readonly int[] QArg = new int[b * p];      // first channel reaching the per-pixel max
        public readonly float[] Gamma = new float[b * p]; // max_c alpha·beta
        public readonly int[] GammaArg = new int[b * p];  // first channel reaching it
    }

    internal static unsafe Tensor CpuForward(Tensor features, double eps, out CpuState state)
    {
        var s = features.shape;
        int b = (int)s[0], c = (int)s[1], h = (int)s[2], w = (int)s[3], p = h * w;
        float fe = (float)eps;
        var scores = torch.empty([b, h, w]);
        float* x = HostMemory.Pointer<float>(features), o = HostMemory.Pointer<float>(scores);
        state = new CpuState(b, p);
        for (int n = 0; n < b; n++)
        {
            float* xs = x + (long)n * c * p;
            var q = state.Q.AsSpan(n * p, p);
            var gamma = state.Gamma.AsSpan(n * p, p);
            var sample = new ReadOnlySpan<float>(xs, c * p);
            int maxIndex = TensorPrimitives.IndexOfMax(sample);  // the first NaN, if any
            if (!float.IsFinite(sample[maxIndex]) || float.IsNegativeInfinity(TensorPrimitives.Min(sample)))
            {
                // The non-finite contract (D2SoftDetect.Apply), as the Reference and the Kernel: the whole sample is NaN.
                state.NonFinite[n] = true;
                new Span<float>(o + (long)n * p, p).Fill(float.NaN);
                continue;
            }
            state.MaxIndex[n] = maxIndex;
            state.Mc[n] = MathF.Max(MathF.Max(sample[maxIndex], 0f), fe);
            ChannelArgMax(xs, c, p, q, state.QArg.AsSpan(n * p, p));
            TensorPrimitives.Max(q, fe, q);
            GammaArgMax(xs, c, h, w, state.Mc[n], state.Q, n * p, state.Gamma, state.GammaArg);
            float total = TensorPrimitives.Sum<float>(gamma);
            state.Total[n] = total;
            TensorPrimitives.Divide(gamma, MathF.Max(total, fe), new Span<float>(o + (long)n * p, p));
        }
        return scores;
    }

    /// <summary>Per pixel: the largest relu(x) over channels (≥ 0) and the first channel reaching it.</summary>
    private static unsafe void ChannelArgMax(float* x, int c, int p, Span<float> max, Span<int> arg)
    {
        max.Clear();
        arg.Clear();
        for (int ch = 0; ch < c; ch++) TakeGreater(new ReadOnlySpan<float>(x + (long)ch * p, p), max, arg, ch);
    }

    /// <summary>Scratch planes of one worker.</summary>
    private sealed class Planes(int p)
    {
        public readonly float[] D = new float[p], E = new float[p], S = new float[p], Rows = new float[p], T = new float[p];
    }

    /// <summary>D = relu(x), E = exp(D/Mc) and S = the 3×3 window sums of E with a border of ones.</summary>
    private static void ExpAndWindowSum(ReadOnlySpan<float> plane, float mc, int h, int w, Planes s)
    {
        TensorPrimitives.Max(plane, 0f, s.D);
        TensorPrimitives.Multiply(s.D, 1f / mc, s.E);
        TensorPrimitives.Exp(s.E, s.E);
        BoxSum(s.E, h, w, border: 1f, s.Rows, s.S);
    }

    /// <summary>3×3 window sums of a H×W plane, values outside the map counting as <paramref name="border"/>.</summary>
    private static void BoxSum(ReadOnlySpan<float> src, int h, int w, float border, Span<float> rows, Span<float> dst)
    {
        for (int i = 0; i < h; i++)
        {
            var r = src.Slice(i * w, w);
            var o = rows.Slice(i * w, w);
            if (w == 1) { o[0] = r[0] + 2 * border; continue; }
            o[0] = border + r[0] + r[1];
            o[w - 1] = r[w - 2] + r[w - 1] + border;
            if (w > 2)
            {
                var mid = o.Slice(1, w - 2);
                TensorPrimitives.Add(r.Slice(0, w - 2), r.Slice(1, w - 2), mid);
                TensorPrimitives.Add(mid, r.Slice(2, w - 2), mid);
            }
        }
        float outsideRow = 3 * border;
        for (int i = 0; i < h; i++)
        {
            var o = dst.Slice(i * w, w);
            rows.Slice(i * w, w).CopyTo(o);
            if (i > 0) TensorPrimitives.Add(o, rows.Slice((i - 1) * w, w), o); else TensorPrimitives.Add(o, outsideRow, o);
            if (i < h - 1) TensorPrimitives.Add(o, rows.Slice((i + 1) * w, w), o); else TensorPrimitives.Add(o, outsideRow, o);
        }
    }

    /// <summary>gamma = max over channels of alpha·beta with alpha = E/S, beta = D/Q, and the first channel reaching it.</summary>
    private static unsafe void GammaArgMax(float* x, int c, int h, int w, float mc, float[] qAll, int offset, float[] gammaAll, int[] argAll)
    {
        int p = h * w, chunks = Math.Min(c, Environment.ProcessorCount);
        var partial = new (float[] g, int[] a)[chunks];
        Parallel.For(0, chunks, k =>
        {
            var g = new float[p];
            var a = new int[p];
            Array.Fill(g, -1f);  // every alpha·beta ≥ 0: the chunk's first channel always takes the pixel
            var s = new Planes(p);
            var q = qAll.AsSpan(offset, p);
            var (c0, c1) = Chunk(c, chunks, k);
            for (int ch = c0; ch < c1; ch++)
            {
                ExpAndWindowSum(new ReadOnlySpan<float>(x + (long)ch * p, p), mc, h, w, s);
                TensorPrimitives.Divide(s.E, s.S, s.T);
                TensorPrimitives.Multiply(s.T, s.D, s.T);
                TensorPrimitives.Divide(s.T, q, s.T);
                TakeGreater(s.T, g, a, ch);
            }
            partial[k] = (g, a);
        });
        var gamma = gammaAll.AsSpan(offset, p);
        var arg = argAll.AsSpan(offset, p);
        partial[0].g.CopyTo(gamma);
        partial[0].a.CopyTo(arg);
        for (int k = 1; k < chunks; k++)
            for (int i = 0; i < p; i++)
                if (partial[k].g[i] > gamma[i]) { gamma[i] = partial[k].g[i]; arg[i] = partial[k].a[i]; }
    }

    /// <summary>Where v > best (strictly): best = v, arg = ch.</summary>
    private static unsafe void TakeGreater(ReadOnlySpan<float> v, Span<float> best, Span<int> arg, int ch)
    {
        fixed (float* vp = v, bp = best)
        fixed (int* ap = arg)
        {
            int i = 0, n = v.Length;
            for (; i + 8 <= n; i += 8)
            {
                var x = Vector256.Load(vp + i);
                var cur = Vector256.Load(bp + i);
                var take = Vector256.GreaterThan(x, cur);
                Vector256.ConditionalSelect(take, x, cur).Store(bp + i);
                Vector256.ConditionalSelect(take.AsInt32(), Vector256.Create(ch), Vector256.Load(ap + i)).Store(ap + i);
            }
            for (; i < n; i++)
                if (vp[i] > bp[i]) { bp[i] = vp[i]; ap[i] = ch; }
        }
    }

    private static (int from, int to) Chunk(int n, int chunks, int k) => ((int)((long)n * k / chunks), (int)((long)n * (k + 1) / chunks));

    internal static unsafe Tensor CpuBackward(Tensor features, Tensor grad, double eps, CpuState state)
    {
        var shape = features.shape;
        int b = (int)shape[0], c = (int)shape[1], h = (int)shape[2], w = (int)shape[3], p = h * w;
        float fe = (float)eps;
        var result = torch.zeros(shape);
        float* x = HostMemory.Pointer<float>(features), g = HostMemory.Pointer<float>(grad), dx = HostMemory.Pointer<float>(result);
        Parallel.For(0, b, n =>
        {
            if (state.NonFinite[n]) { new Span<float>(dx + (long)n * c * p, c * p).Fill(float.NaN); return; }
            // scores = gamma / Zc with Zc = max(Σ gamma, eps); Σ gamma passes gradient only when not clamped.
            var dGamma = new float[p];
            float total = state.Total[n], zc = MathF.Max(total, fe);
            var gn = new ReadOnlySpan<float>(g + (long)n * p, p);
            TensorPrimitives.Multiply(gn, 1f / zc, dGamma);
            if (total >= fe) TensorPrimitives.Subtract(dGamma, TensorPrimitives.Dot(gn, state.Gamma.AsSpan(n * p, p)) / (zc * zc), dGamma);
            BackwardSample(x + (long)n * c * p, dx + (long)n * c * p, h, w, state, n, dGamma);
        });
        return result;
    }

    /// <summary>
    /// gamma = max_c alpha·beta passes gradient only to each pixel's winning channel, and alpha = E/S reaches no
    /// further than that pixel's 3×3 window: the gradient is sparse, O(9·H·W) per sample whatever C is, so it is
    /// computed pixel by pixel (recomputing the window's E from x) into a zeroed result.
    /// </summary>
    private static unsafe void BackwardSample(float* x, float* dx, int h, int w, CpuState state, int n, float[] dGamma)
    {
        int p = h * w, offset = n * p;
        float mc = state.Mc[n], invMc = 1f / mc;
        var q = state.Q.AsSpan(offset, p);
        var arg = state.GammaArg.AsSpan(offset, p);
        var dq = new float[p];  // gradient reaching Q
        Span<int> at = stackalloc int[9];
        Span<float> e = stackalloc float[9];
        double dMc = 0;
        for (int i = 0; i < p; i++)
        {
            if (dGamma[i] == 0) continue;
            int row = i / w, col = i % w;
            float* xc = x + (long)arg[i] * p;
            float* dc = dx + (long)arg[i] * p;
            // S: the window sum of E = exp(relu(x)/Mc), cells outside the map counting exp(0) = 1.
            int count = 0;
            float sum = 0;
            for (int r = row - 1; r <= row + 1; r++)
                for (int cc = col - 1; cc <= col + 1; cc++)
                {
                    if (r < 0 || r >= h || cc < 0 || cc >= w) { sum += 1; continue; }
                    int k = r * w + cc;
                    at[count] = k;
                    e[count] = MathF.Exp(MathF.Max(xc[k], 0) * invMc);
                    sum += e[count++];
                }
            float d = MathF.Max(xc[i], 0), ei = MathF.Exp(d * invMc), qi = q[i];
            float alpha = ei / sum, beta = d / qi;
            float dAlpha = dGamma[i] * beta, dBeta = dGamma[i] * alpha;
            dq[i] = -dBeta * d / (qi * qi);
            // alpha = E_i / S: dE_i = dAlpha/S, and every E_k of the window gets −dAlpha·E_i/S².
            float dEi = dAlpha / sum, spread = -dAlpha * ei / (sum * sum);
            if (xc[i] > 0) dc[i] += dBeta / qi + dEi * ei * invMc;
            dMc -= (double)dEi * ei * d;
            for (int t = 0; t < count; t++)
            {
                int k = at[t];
                if (!(xc[k] > 0)) continue;  // relu: E_k is constant there
                dc[k] += spread * e[t] * invMc;  // E = exp(D/Mc): dD = dE·E/Mc, dMc −= dE·E·D/Mc²
                dMc -= (double)spread * e[t] * xc[k];
            }
        }
        // Q = max(channel max, eps) and Mc = max(sample max, eps) pass gradient only where the clamp did not bite.
        var qArg = state.QArg.AsSpan(offset, p);
        for (int i = 0; i < p; i++)
        {
            long k = (long)qArg[i] * p + i;
            if (x[k] == q[i] && x[k] > 0) dx[k] += dq[i];
        }
        int maxIndex = state.MaxIndex[n];
        if (x[maxIndex] == mc && x[maxIndex] > 0) dx[maxIndex] += (float)(dMc / ((double)mc * mc));
    }
}

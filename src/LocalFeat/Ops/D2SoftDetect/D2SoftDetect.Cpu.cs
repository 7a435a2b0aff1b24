using System.Numerics.Tensors;
using LocalFeat.Torch;
using Tensor = LocalFeat.Torch.Tensor;

namespace LocalFeat.Ops;

// Fused CPU implementation: one pass over the channel planes of a sample with O(H·W) scratch per
// worker; channels are split into contiguous chunks so the merges keep "first channel wins" ties.
public static partial class D2SoftDetect
{
    /// <summary>Per-sample quantities both passes need.</summary>
    private sealed class Sample
    {
        public required int C, H, W;
        public required float Mc;           // max(max relu(x), eps)
        public required int MaxIndex;       // first flat index of that maximum (for the backward)
        public required float[] Q;          // per pixel max(max_c relu(x), eps)
        public required int[] QArg;         // first channel reaching the per-pixel max
        public int P => H * W;
    }

    internal static Tensor CpuForward(Tensor features, double eps)
    {
        var s = features.shape;
        int b = (int)s[0], c = (int)s[1], h = (int)s[2], w = (int)s[3];
        var scores = torch.empty([b, h, w]);
        var x = HostMemory.Span<float>(features).ToArray();  // one copy: spans cannot cross Parallel.For lambdas
        var outScores = new float[b * h * w];
        for (int n = 0; n < b; n++)
        {
            var xs = new ReadOnlyMemory<float>(x, n * c * h * w, c * h * w);
            var sample = Prepare(xs.Span, c, h, w, (float)eps);
            var (gamma, _) = ChannelMax(xs, sample);
            float z = MathF.Max(TensorPrimitives.Sum<float>(gamma), (float)eps);
            TensorPrimitives.Divide(gamma, z, outScores.AsSpan(n * h * w, h * w));
        }
        outScores.AsSpan().CopyTo(HostMemory.Span<float>(scores));
        return scores;
    }

    private static Sample Prepare(ReadOnlySpan<float> x, int c, int h, int w, float eps)
    {
        int p = h * w;
        int maxIndex = TensorPrimitives.IndexOfMax(x);
        float m = MathF.Max(x[maxIndex], 0f);
        var q = new float[p];  // starts at 0 = relu floor
        var qArg = new int[p];
        for (int ch = 0; ch < c; ch++)
        {
            var plane = x.Slice(ch * p, p);
            for (int i = 0; i < p; i++)
                if (plane[i] > q[i]) { q[i] = plane[i]; qArg[i] = ch; }
        }
        TensorPrimitives.Max(q, eps, q);
        return new Sample { C = c, H = h, W = w, Mc = MathF.Max(m, eps), MaxIndex = maxIndex, Q = q, QArg = qArg };
    }

    /// <summary>E = exp(relu(x)/Mc) and S = its 3×3 window sums with a border of ones.</summary>
    private static void ExpAndWindowSum(ReadOnlySpan<float> plane, Sample s, Span<float> d, Span<float> e, Span<float> sum, Span<float> rows)
    {
        TensorPrimitives.Max(plane, 0f, d);
        TensorPrimitives.Divide(d, s.Mc, e);
        TensorPrimitives.Exp(e, e);
        BoxSum(e, s.H, s.W, border: 1f, rows, sum);
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

    /// <summary>gamma = max over channels of alpha·beta, and the first channel reaching it.</summary>
    private static (float[] gamma, int[] arg) ChannelMax(ReadOnlyMemory<float> x, Sample s)
    {
        int p = s.P;
        int chunks = Math.Min(s.C, Environment.ProcessorCount);
        var partial = new (float[] g, int[] a)[chunks];
        Parallel.For(0, chunks, k =>
        {
            var g = new float[p];
            var a = new int[p];
            float[] d = new float[p], e = new float[p], sum = new float[p], rows = new float[p], ab = new float[p];
            var (c0, c1) = Chunk(s.C, chunks, k);
            for (int ch = c0; ch < c1; ch++)
            {
                var plane = x.Span.Slice(ch * p, p);
                ExpAndWindowSum(plane, s, d, e, sum, rows);
                TensorPrimitives.Divide(e, sum, ab);
                TensorPrimitives.Multiply(ab, d, ab);
                TensorPrimitives.Divide(ab, s.Q, ab);
                for (int i = 0; i < p; i++)
                    if (ab[i] > g[i] || ch == c0) { g[i] = ab[i]; a[i] = ch; }
            }
            partial[k] = (g, a);
        });
        var (gamma, arg) = partial[0];
        for (int k = 1; k < chunks; k++)
            for (int i = 0; i < p; i++)
                if (partial[k].g[i] > gamma[i]) { gamma[i] = partial[k].g[i]; arg[i] = partial[k].a[i]; }
        return (gamma, arg);
    }

    private static (int from, int to) Chunk(int n, int chunks, int k) => ((int)((long)n * k / chunks), (int)((long)n * (k + 1) / chunks));

    internal static Tensor CpuBackward(Tensor features, Tensor grad, double eps)
    {
        var s = features.shape;
        int b = (int)s[0], c = (int)s[1], h = (int)s[2], w = (int)s[3], p = h * w;
        var x = HostMemory.Span<float>(features).ToArray();
        var g = HostMemory.Span<float>(grad).ToArray();
        var dx = new float[x.Length];
        float fe = (float)eps;
        for (int n = 0; n < b; n++)
        {
            var xs = new ReadOnlyMemory<float>(x, n * c * p, c * p);
            var sample = Prepare(xs.Span, c, h, w, fe);
            var (gamma, arg) = ChannelMax(xs, sample);
            // scores = gamma / Zc with Zc = max(Σ gamma, eps).
            float total = TensorPrimitives.Sum<float>(gamma), zc = MathF.Max(total, fe);
            var gn = g.AsSpan(n * p, p);
            var dGamma = new float[p];
            TensorPrimitives.Divide(gn, zc, dGamma);
            if (total > fe) TensorPrimitives.Subtract(dGamma, TensorPrimitives.Dot<float>(gn, gamma) / (zc * zc), dGamma);
            BackwardSample(xs, sample, arg, dGamma, new Memory<float>(dx, n * c * p, c * p));
        }
        var result = torch.empty(s);
        dx.AsSpan().CopyTo(HostMemory.Span<float>(result));
        return result;
    }

    private static void BackwardSample(ReadOnlyMemory<float> x, Sample s, int[] arg, float[] dGamma, Memory<float> dx)
    {
        int p = s.P, chunks = Math.Min(s.C, Environment.ProcessorCount);
        var dq = new float[p];          // gradient reaching Q (per-pixel channel max), filled by the owner of arg[i]
        var dMcPartial = new float[chunks];
        Parallel.For(0, chunks, k =>
        {
            float[] d = new float[p], e = new float[p], sum = new float[p], rows = new float[p];
            float[] dAlpha = new float[p], dS = new float[p], dE = new float[p];
            var (c0, c1) = Chunk(s.C, chunks, k);
            double dMc = 0;
            for (int ch = c0; ch < c1; ch++)
            {
                var plane = x.Span.Slice(ch * p, p);
                var dD = dx.Span.Slice(ch * p, p);
                ExpAndWindowSum(plane, s, d, e, sum, rows);
                dAlpha.AsSpan().Clear();
                dD.Clear();
                for (int i = 0; i < p; i++)
                {
                    if (arg[i] != ch) continue;
                    float alpha = e[i] / sum[i], beta = d[i] / s.Q[i];
                    dAlpha[i] = dGamma[i] * beta;
                    float dBeta = dGamma[i] * alpha;
                    dD[i] = dBeta / s.Q[i];
                    dq[i] = -dBeta * d[i] / (s.Q[i] * s.Q[i]);  // one writer per pixel: the channel arg[i]
                }
                // alpha = E/S: dE = dAlpha/S, dS = -dAlpha·E/S², and S's window sums spread dS back over the window.
                for (int i = 0; i < p; i++) { dE[i] = dAlpha[i] / sum[i]; dS[i] = -dAlpha[i] * e[i] / (sum[i] * sum[i]); }
                BoxSum(dS, s.H, s.W, border: 0f, rows, sum);
                TensorPrimitives.Add(dE, sum, dE);
                // E = exp(D/Mc): dD += dE·E/Mc, dMc -= Σ dE·E·D/Mc².
                TensorPrimitives.Multiply(dE, e, dE);
                dMc -= TensorPrimitives.Dot<float>(dE, d) / ((double)s.Mc * s.Mc);
                TensorPrimitives.MultiplyAdd(dE, 1f / s.Mc, dD, dD);
            }
            dMcPartial[k] = (float)dMc;
        });
        var dxs = dx.Span;
        var xs = x.Span;
        // Q = max(channel max, eps) and Mc = max(sample max, eps) pass gradient only where the clamp did not bite.
        for (int i = 0; i < p; i++)
            if (xs[s.QArg[i] * p + i] == s.Q[i]) dxs[s.QArg[i] * p + i] += dq[i];
        float dMcTotal = 0;
        foreach (float v in dMcPartial) dMcTotal += v;
        if (xs[s.MaxIndex] == s.Mc) dxs[s.MaxIndex] += dMcTotal;
        // relu: no gradient where x ≤ 0.
        for (int i = 0; i < xs.Length; i++) if (xs[i] <= 0) dxs[i] = 0;
    }
}

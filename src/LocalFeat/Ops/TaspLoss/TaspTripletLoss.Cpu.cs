using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace LocalFeat.Ops;

// Fused CPU DIW loss: one pass for M, x and the bins (fixed-point counts: integer sums, so the histogram does not depend on
// the order of accumulation, the same as the Kernel backend's integer atomics), the state update and CDF, one pass for the
// weights, the loss and the slopes the backward scales.
public static partial class TaspTripletLoss
{
    /// <summary>Fixed point of a bin fraction: 2^32 counts per sample, exact in float32 scaling and in uint64 sums.</summary>
    internal const float FixedOne = 4294967296f;

    internal static unsafe (Tensor loss, Tensor slope) CpuForward(Tensor dPos, Tensor dNeg, Tensor importance, DiwHistogram histogram)
    {
        int n = (int)dPos.size(0), bins = histogram.Bins;
        float margin = (float)histogram.Margin, sMax = (float)histogram.SMax, scale = histogram.Scale;
        float* dp = HostMemory.Pointer<float>(dPos), dn = HostMemory.Pointer<float>(dNeg), imp = HostMemory.Pointer<float>(importance);
        var slope = torch.empty([n]);
        float* sl = HostMemory.Pointer<float>(slope);
        var lower = new int[n];
        var counts = new ulong[bins];
        for (int i = 0; i < n; i++)
        {
            float m = MathF.Max(dp[i] + margin - dn[i], 0f), s = Math.Clamp(imp[i], 0f, sMax);
            float t = Math.Clamp(s * m * scale, 0f, bins - 1);
            int lo = Math.Min((int)MathF.Floor(t), bins - 2);
            ulong hi = (ulong)((t - lo) * FixedOne);
            counts[lo] += (ulong)FixedOne - hi;
            counts[lo + 1] += hi;
            lower[i] = lo;
            sl[i] = m > 0 ? s * m : 0f;  // x, until the weights are known
        }

        var state = histogram.StateOn(dPos.device);
        float* st = HostMemory.Pointer<float>(state);
        if (n > 0) UpdateState(st, counts, n, (float)(1 - histogram.Momentum), (float)histogram.Momentum);
        var cdf = Cdf(st, bins);

        double total = 0;
        float invN = 1f / Math.Max(n, 1);
        for (int i = 0; i < n; i++)
        {
            if (sl[i] == 0f) continue;
            float w = cdf[lower[i]];
            total += w * sl[i];  // w·(s·M)
            float s = Math.Clamp(imp[i], 0f, sMax);
            sl[i] = w * s * invN;
        }
        return (torch.tensor((float)(total / Math.Max(n, 1))), slope);
    }

    /// <summary>Batch = counts / (N·2^32) in double; the first batch (state all zero) replaces, later ones mix in.</summary>
    internal static unsafe void UpdateState(float* state, ulong[] counts, int n, float oneMinusMomentum, float momentum)
    {
        double sum = 0;
        for (int b = 0; b < counts.Length; b++) sum += state[b];
        double denominator = (double)n * FixedOne;
        for (int b = 0; b < counts.Length; b++)
        {
            float batch = (float)(counts[b] / denominator);
            state[b] = sum > 0 ? oneMinusMomentum * state[b] + momentum * batch : batch;
        }
    }

    /// <summary>CDF = cumsum(state / sum(state)), in double, in bin order.</summary>
    internal static unsafe float[] Cdf(float* state, int bins)
    {
        double sum = 0, running = 0;
        for (int b = 0; b < bins; b++) sum += state[b];
        var cdf = new float[bins];
        for (int b = 0; b < bins; b++)
        {
            running += state[b];
            cdf[b] = sum > 0 ? (float)(running / sum) : 0f;
        }
        return cdf;
    }

    internal static unsafe (Tensor gPos, Tensor gNeg) CpuBackward(Tensor slope, Tensor gradLoss)
    {
        int n = (int)slope.size(0);
        float g = gradLoss.item<float>();
        var gPos = torch.empty([n]);
        var gNeg = torch.empty([n]);
        float* sl = HostMemory.Pointer<float>(slope), gp = HostMemory.Pointer<float>(gPos), gn = HostMemory.Pointer<float>(gNeg);
        for (int i = 0; i < n; i++)
        {
            gp[i] = g * sl[i];
            gn[i] = -gp[i];
        }
        return (gPos, gNeg);
    }
}

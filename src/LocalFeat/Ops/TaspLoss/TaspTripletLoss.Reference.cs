using TorchSharp;
using static TorchSharp.torch;

namespace LocalFeat.Ops;

public static partial class TaspTripletLoss
{
    /// <summary>The oracle: composite ops, the batch histogram by index_add in float64, autograd through M.</summary>
    internal static Tensor Reference(Tensor dPos, Tensor dNeg, Tensor importance, DiwHistogram histogram)
    {
        using var scope = torch.NewDisposeScope();
        long n = dPos.size(0);
        var margins = (dPos + histogram.Margin - dNeg).clamp_min(0);
        var s = importance.clamp(0, histogram.SMax);
        var (lo, _) = Binning(s * margins.detach(), histogram);
        var state = histogram.StateOn(dPos.device);
        if (n > 0) histogram.Replace(Updated(state, BatchHistogram(s * margins.detach(), histogram), histogram.Momentum));
        var cdf = histogram.State.div(histogram.State.sum()).cumsum(0);
        var w = torch.where(margins.detach() > 0, cdf.index_select(0, lo), 0.0f);
        return (w * s * margins).sum().div(Math.Max(n, 1)).MoveToOuterDisposeScope();
    }

    /// <summary>Lower bin and fraction of each x: t = clamp(x·scale, 0, bins − 1), lower = min(⌊t⌋, bins − 2).</summary>
    internal static (Tensor lower, Tensor fraction) Binning(Tensor x, DiwHistogram histogram)
    {
        var t = x.mul(histogram.Scale).clamp(0, histogram.Bins - 1);
        var lower = t.floor().clamp_max(histogram.Bins - 2);
        return (lower.to(ScalarType.Int64), t - lower);
    }

    /// <summary>Two-bin soft binning of x, normalised to sum 1 (float64 sums, then float32).</summary>
    internal static Tensor BatchHistogram(Tensor x, DiwHistogram histogram)
    {
        var (lower, fraction) = Binning(x, histogram);
        var f = fraction.to(ScalarType.Float64);
        var counts = torch.zeros([histogram.Bins], ScalarType.Float64, x.device).index_add(0, lower, 1 - f, 1).index_add(0, lower + 1, f, 1);
        return counts.div(x.size(0)).to(ScalarType.Float32);
    }

    /// <summary>First batch (state all zero) replaces, later ones: (1 − momentum)·state + momentum·batch.</summary>
    internal static Tensor Updated(Tensor state, Tensor batch, double momentum) =>
        torch.where(state.sum() > 0, state * (float)(1 - momentum) + batch * (float)momentum, batch);
}

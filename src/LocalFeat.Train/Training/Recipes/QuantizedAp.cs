using TorchSharp;
using static TorchSharp.torch;

namespace LocalFeat.Train.Training.Recipes;

/// <summary>
/// The differentiable average precision of R2D2 (naver/r2d2, nets/ap_loss.py), as HNDesc uses it (assets/loss.py): similarities
/// in [min, max] are soft-assigned to <c>bins</c> triangular bins (bin i centred at max − i·(max − min)/(bins − 1), the first
/// and last open-ended), then AP = Σ_i prec_i·rec_i per row, with prec the cumulative share of positives and rec the share of
/// the positives in bin i.
/// </summary>
public static class QuantizedAp
{
    /// <summary>AP per row of <paramref name="similarity"/> [N,M] with 0/1 <paramref name="label"/> [N,M]; returns [N].</summary>
    public static Tensor Apply(Tensor similarity, Tensor label, int bins, double min = 0, double max = 1)
    {
        if (bins < 2) throw new ArgumentOutOfRangeException(nameof(bins), bins, "expected bins ≥ 2");
        if (!(max > min)) throw new ArgumentOutOfRangeException(nameof(max), max, $"expected max > min = {min}");
        using var scope = torch.NewDisposeScope();
        double a = (bins - 1) / (max - min);
        var i = torch.arange(0, bins, 1, ScalarType.Float32, similarity.device).view(1, bins, 1);
        var x = similarity.unsqueeze(1);                          // [N,1,M]
        var down = -a * x + (a * min + bins - i);                  // 1 at the bin centre, falling towards higher x
        var up = a * x + (2 - bins + i - a * min);                 // 1 at the bin centre, falling towards lower x
        // The first bin takes everything above its centre, the last everything below (R2D2: constant 1 there).
        var open = torch.ones_like(down);
        var first = i.eq(0);
        var last = i.eq(bins - 1);
        down = torch.where(first, open, down);
        up = torch.where(last, open, up);
        var q = torch.minimum(down, up).clamp_min(0);              // [N,Q,M]
        var count = q.sum(-1);                                     // samples per bin
        var correct = (q * label.unsqueeze(1)).sum(-1);            // positives per bin
        var precision = correct.cumsum(-1) / (count.cumsum(-1) + 1e-16);
        var recall = correct / correct.sum(-1, keepdim: true);
        return (precision * recall).sum(-1).MoveToOuterDisposeScope();
    }
}

using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace LocalFeat.Ops;

public static partial class D2SoftDetect
{
    /// <summary>The D2-Net training code (mihaidusmanu/d2-net, SoftDetectionModule) in libtorch ops, plus the eps guards.</summary>
    internal static Tensor Reference(Tensor batch, double eps)
    {
        using var scope = torch.NewDisposeScope();
        long b = batch.size(0);
        // The non-finite contract (D2SoftDetect.Apply): 0 for a finite sample, NaN for one with a NaN or ±Inf, added to
        // every score; x·poison gives every element of such a sample a NaN gradient and a finite one an exact 0.
        var flat = batch.view(b, -1);
        var poison = torch.zeros([b], batch.dtype, batch.device).masked_fill(flat.isfinite().all(1).logical_not(), double.NaN);
        var link = (flat * poison.unsqueeze(1)).sum(1).view(b, 1, 1);
        batch = batch.relu();
        var maxPerSample = batch.view(b, -1).max(1).values.clamp_min(eps);
        var exp = (batch / maxPerSample.view(b, 1, 1, 1)).exp();
        // Window sums with a border of exp(0) = 1, as D2-Net's pad(value=1) + 9·avg_pool2d.
        var sumExp = F.avg_pool2d(F.pad(exp, [1, 1, 1, 1], value: 1), 3, stride: 1) * 9;
        var localMaxScore = exp / sumExp;
        var depthWiseMax = batch.max(1).values.clamp_min(eps);
        var depthWiseMaxScore = batch / depthWiseMax.unsqueeze(1);
        var score = (localMaxScore * depthWiseMaxScore).max(1).values;
        var total = score.view(b, -1).sum(1).clamp_min(eps);
        return (score / total.view(b, 1, 1) + link).MoveToOuterDisposeScope();
    }
}

using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace LocalFeat.Ops;

public static partial class SoftByolLoss
{
    /// <summary>
    /// OPS.md §6 term by term in composite ops; autograd through it is the gradient oracle. Any float dtype
    /// (the tests' finite differences run it in float64); the entry point admits float32 only.
    /// </summary>
    internal static Tensor Reference(Tensor q, Tensor z, Tensor u, Tensor u2, Tensor s1, Tensor s2, double alpha, double lambda, ByolLabel mode)
    {
        using var scope = torch.NewDisposeScope();
        long c = q.size(0);
        var sim = (F.normalize(q, p: 2, dim: 1, eps: Eps) * F.normalize(z.detach(), p: 2, dim: 1, eps: Eps)).sum(1);
        Tensor e;
        if (mode == ByolLabel.Hard)
        {
            e = 1 - sim;
        }
        else
        {
            var labelSim = (F.normalize(u.detach(), p: 2, dim: 1, eps: Eps) * F.normalize(u2.detach(), p: 2, dim: 1, eps: Eps)).sum(1);
            var label = (-alpha * (1 - labelSim) / lambda).exp();
            e = (label - sim).pow(2);
        }
        var p = s1 * s2;
        var total = p.sum();
        // S = 0 → L = 0 and zero gradients: where() on a safe denominator, so no 0/0 reaches the backward.
        var zero = total.eq(0);
        var loss = torch.where(zero, torch.zeros_like(total), (p * e).sum() / torch.where(zero, torch.ones_like(total), total));
        return (loss / Math.Max(c, 1)).MoveToOuterDisposeScope();
    }
}

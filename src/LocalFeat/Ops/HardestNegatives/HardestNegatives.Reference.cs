using TorchSharp;
using static TorchSharp.torch;

namespace LocalFeat.Ops;

public static partial class HardestNegatives
{
    /// <summary>
    /// The full N×M formulation (as D2-Net's loss): distance matrix from norms and a GEMM, the safe-window
    /// mask, a masked minimum. Readable, not frugal: the oracle for the other backends.
    /// </summary>
    internal static (Tensor index, Tensor distance) Reference(Tensor anchors, Tensor candidates, Tensor anchorPos, Tensor candidatePos,
        double radius, SafeWindow window)
    {
        using var scope = torch.NewDisposeScope();
        long n = anchors.size(0), m = candidates.size(0);
        if (n == 0 || m == 0)
        {
            // No pair: +∞ everywhere, linked to both inputs' graphs (zero gradients) like the other backends' results.
            var unmatched = (anchors.sum(1) * 0 + candidates.sum() * 0).add(double.PositiveInfinity);
            return (torch.full([n], -1, ScalarType.Int64).MoveToOuterDisposeScope(), unmatched.MoveToOuterDisposeScope());
        }
        var distances = (anchors.pow(2).sum(1, keepdim: true) + candidates.pow(2).sum(1).unsqueeze(0)
                         - 2 * anchors.mm(candidates.t())).clamp_min(0);
        var offsets = anchorPos.unsqueeze(1) - candidatePos.unsqueeze(0);  // [N, M, K]
        var positionDistance = window == SafeWindow.Square ? offsets.abs().amax(2) : offsets.pow(2).sum(2).sqrt();
        // NaN compares false: a NaN offset is never admissible. A NaN distance becomes +∞ (in place: no other N×M temporary)
        // and a +∞ best is "none": a NaN or +Inf (overflowed) distance is never selected.
        var admissible = positionDistance > radius;
        var masked = torch.where(admissible, distances, double.PositiveInfinity).nan_to_num_(nan: double.PositiveInfinity, posinf: double.PositiveInfinity);  // torch maps +Inf to FLT_MAX unless told
        // Smallest admissible distance; among equal ones the smallest j.
        var best = masked.amin([1], keepdim: true);
        var columns = torch.arange(m).unsqueeze(0).expand(n, m);
        var index = columns.masked_fill((masked.eq(best) & admissible).logical_not(), m).amin(1);
        var none = index.eq(m) | best.squeeze(1).isinf();
        index = torch.where(none, torch.full([n], -1, ScalarType.Int64), index);
        var distance = torch.where(none, torch.full([n], double.PositiveInfinity),
            distances.gather(1, index.clamp_min(0).unsqueeze(1)).squeeze(1));
        return (index.MoveToOuterDisposeScope(), distance.MoveToOuterDisposeScope());
    }
}

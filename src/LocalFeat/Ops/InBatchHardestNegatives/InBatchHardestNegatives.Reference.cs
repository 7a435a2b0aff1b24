using TorchSharp;
using static TorchSharp.torch;

namespace LocalFeat.Ops;

public static partial class InBatchHardestNegatives
{
    /// <summary>The N×N similarity matrix, the scope mask, a stable descending sort (ties keep j order), the first k.</summary>
    internal static (Tensor index, Tensor similarity) Reference(Tensor anchors, Tensor positives, Tensor group, int k, NegativeScope scope)
    {
        using var disposeScope = torch.NewDisposeScope();
        long n = anchors.size(0);
        if (n == 0)
        {
            // Empty, but linked to both inputs' graphs (zero gradients) like the other backends' results.
            var none = (anchors.sum(1, keepdim: true) * 0 + positives.sum() * 0).expand(0, k).add(double.NegativeInfinity);
            return (torch.full([0, k], -1, ScalarType.Int64).MoveToOuterDisposeScope(), none.MoveToOuterDisposeScope());
        }
        var similarity = anchors.mm(positives.t());
        var sameGroup = group.unsqueeze(1).eq(group.unsqueeze(0));
        var notSelf = torch.eye(n, dtype: ScalarType.Bool).logical_not();
        var admissible = (scope switch
        {
            NegativeScope.OtherGroups => sameGroup.logical_not(),
            NegativeScope.SameGroup => sameGroup & notSelf,
            _ => notSelf,
        }) & similarity.isfinite();  // a NaN or ±Inf similarity is never picked (the contract of every backend)
        var masked = torch.where(admissible, similarity, double.NegativeInfinity);
        var (_, order) = masked.sort(1, descending: true, stable: true);
        // Pad to k columns when N < k; padding and inadmissible picks become −1.
        if (n < k) order = torch.cat([order, torch.zeros([n, k - n], ScalarType.Int64)], 1);
        var index = order.narrow(1, 0, k);
        var valid = admissible.gather(1, index) & (torch.arange(k).unsqueeze(0) < n);
        var picked = similarity.gather(1, index);
        index = torch.where(valid, index, torch.full([n, k], -1, ScalarType.Int64));
        var result = torch.where(valid, picked, torch.full([n, k], double.NegativeInfinity));
        return (index.MoveToOuterDisposeScope(), result.MoveToOuterDisposeScope());
    }
}

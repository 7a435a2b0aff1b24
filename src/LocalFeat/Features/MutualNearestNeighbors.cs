using TorchSharp;
using static TorchSharp.torch;

namespace LocalFeat.Features;

/// <summary>Mutual nearest-neighbour matching (kornia.feature.match_mnn).</summary>
public static class MutualNearestNeighbors
{
    /// <summary>
    /// Pairs (i, j) where j is the nearest neighbour of <paramref name="descriptors1"/>[i] among
    /// <paramref name="descriptors2"/> and i is the nearest of j among <paramref name="descriptors1"/>
    /// (ties → smallest index). Inputs: [N,D] and [M,D] float (L2) or uint8 bit-packed (Hamming).
    /// </summary>
    /// <returns>int64 [K,2] (i, j), ascending in i; [0,2] when either set is empty.</returns>
    public static Tensor Match(Tensor descriptors1, Tensor descriptors2, DescriptorMetric metric = DescriptorMetric.L2)
    {
        if (descriptors1.dim() != 2) throw new ArgumentException($"argument 'descriptors1': expected [N,D], got [{string.Join(", ", descriptors1.shape)}]", nameof(descriptors1));
        if (descriptors2.dim() != 2) throw new ArgumentException($"argument 'descriptors2': expected [M,D], got [{string.Join(", ", descriptors2.shape)}]", nameof(descriptors2));
        if (descriptors1.size(1) != descriptors2.size(1))
            throw new ArgumentException($"argument 'descriptors2': expected width {descriptors1.size(1)} (as descriptors1), got {descriptors2.size(1)}", nameof(descriptors2));
        if (metric == DescriptorMetric.Hamming && (descriptors1.dtype != ScalarType.Byte || descriptors2.dtype != ScalarType.Byte))
            throw new ArgumentException($"argument 'metric': Hamming needs uint8 bit-packed descriptors, got {descriptors1.dtype} and {descriptors2.dtype}", nameof(metric));
        if (descriptors1.size(0) == 0 || descriptors2.size(0) == 0) return zeros([0, 2], ScalarType.Int64);
        using var scope = NewDisposeScope();
        var dist = Distances(descriptors1, descriptors2, metric);
        var nn12 = dist.argmin(1);                         // [N]
        var nn21 = dist.argmin(0);                         // [M]
        var i = arange(nn12.size(0), ScalarType.Int64, nn12.device);
        var mutual = nn21.index_select(0, nn12).eq(i);
        var keep = mutual.nonzero().view(-1);
        return stack([i.index_select(0, keep), nn12.index_select(0, keep)], 1).cpu().MoveToOuterDisposeScope();
    }

    /// <summary>Distance matrix [N,M]: squared L2, or the Hamming distance (as float32).</summary>
    public static Tensor Distances(Tensor descriptors1, Tensor descriptors2, DescriptorMetric metric = DescriptorMetric.L2)
    {
        using var scope = NewDisposeScope();
        var (a, b) = metric == DescriptorMetric.Hamming ? (Bits(descriptors1), Bits(descriptors2)) : (descriptors1.to(ScalarType.Float32), descriptors2.to(ScalarType.Float32));
        // ‖x − y‖² = ‖x‖² + ‖y‖² − 2⟨x, y⟩; on 0/1 bit vectors that is the Hamming distance.
        var dist = a.square().sum(1, keepdim: true) + b.square().sum(1).unsqueeze(0) - 2 * a.mm(b.t());
        return dist.MoveToOuterDisposeScope();
    }

    // uint8 [N,B] → float32 [N,8B] of bits, least significant first.
    private static Tensor Bits(Tensor packed)
    {
        var shifts = arange(8, ScalarType.Int32, packed.device).to(ScalarType.Byte);
        var bits = packed.unsqueeze(2).bitwise_right_shift(shifts).bitwise_and(1);
        return bits.reshape(packed.size(0), -1).to(ScalarType.Float32);
    }
}

using LocalFeat.Ops;
using LocalFeat.Train.Data;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace LocalFeat.Train.Training.Recipes;

/// <summary>
/// TaSP's mining (tasp and tpr's keypoint term): for each correspondence of a pair, the hardest negative in image 2 outside the
/// safe window — a sphere of <c>loss.safe_radius_3d</c> around the correspondence's 3-D point on scene pairs (cells without a
/// valid point are never candidates, correspondences without one are dropped), the square window of <c>loss.safe_radius</c>
/// cells on homography pairs.
/// </summary>
public static class SafeWindowNegatives
{
    /// <param name="Rows">indices [n] into the pair's correspondences that have a negative.</param>
    /// <param name="Negative">flat cell index [n] of the negative in image 2's grid.</param>
    /// <param name="DPos">L2 anchor–positive distance [n] of unit descriptors.</param>
    /// <param name="DNeg">L2 anchor–negative distance [n].</param>
    public sealed record Triplets(Tensor Rows, Tensor Negative, Tensor DPos, Tensor DNeg);

    /// <summary>Triplets of pair <paramref name="k"/>: anchors <paramref name="d1"/> [N,C] and positives <paramref name="d2"/> [N,C] (unit rows), image 2's features [C,h,w].</summary>
    public static Triplets Mine(Batch batch, int k, Tensor d1, Tensor d2, Tensor features2, TrainConfig config)
    {
        using var scope = torch.NewDisposeScope();
        var device = d1.device;
        var m = batch.Matches[k];
        long c = features2.size(0), h2 = features2.size(1), w2 = features2.size(2);
        var all2 = F.normalize(features2.view(c, -1), dim: 0).t().contiguous();  // [h2·w2, C]
        var rows = torch.arange(0, m.Count, 1, ScalarType.Int64, device);
        Tensor anchorPos, candidatePos, candidates, candidateIndex;
        double radius;
        SafeWindow window;
        if (batch.Points1 is { } points1 && batch.Points2 is { } points2)
        {
            var cells = m.Cells1.to(device);
            var p1 = points1[k].to(device).view(-1, 3).index_select(0, cells.select(1, 0) * points1[k].size(1) + cells.select(1, 1));
            var p2 = points2[k].to(device).view(-1, 3);
            // NaN points (no depth) are rejected by the op's value checks: drop such anchors, never offer such candidates.
            rows = p1.isfinite().all(1).nonzero().view(-1);
            candidateIndex = p2.isfinite().all(1).nonzero().view(-1);
            anchorPos = p1.index_select(0, rows).contiguous();
            candidatePos = p2.index_select(0, candidateIndex).contiguous();
            candidates = all2.index_select(0, candidateIndex).contiguous();
            (radius, window) = (config.Loss.SafeRadius3D, SafeWindow.Sphere);
        }
        else
        {
            anchorPos = m.Pos2.to(device).contiguous();
            candidatePos = PairFeatures.Grid(h2, w2, device);
            candidates = all2;
            candidateIndex = torch.arange(0, h2 * w2, 1, ScalarType.Int64, device);
            (radius, window) = (config.Loss.SafeRadius, SafeWindow.Square);
        }
        var anchors = d1.index_select(0, rows).contiguous();
        var (index, distance) = HardestNegatives.Apply(anchors, candidates, anchorPos, candidatePos, radius, window);
        var found = index.ge(0).nonzero().view(-1);
        var keep = rows.index_select(0, found);
        var negative = candidateIndex.index_select(0, index.index_select(0, found));
        // The op gives squared distances; TaSP's margins are on L2 distances (the eps keeps sqrt's gradient finite at 0).
        var dNeg = (distance.index_select(0, found) + 1e-12).sqrt();
        var dPos = ((d1.index_select(0, keep) - d2.index_select(0, keep)).square().sum(1) + 1e-12).sqrt();
        return new Triplets(keep.MoveToOuterDisposeScope(), negative.MoveToOuterDisposeScope(), dPos.MoveToOuterDisposeScope(), dNeg.MoveToOuterDisposeScope());
    }
}

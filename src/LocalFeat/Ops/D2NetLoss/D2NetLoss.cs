using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace LocalFeat.Ops;

/// <summary>
/// The D2-Net training loss of one image pair (mihaidusmanu/d2-net, lib/loss.py), composed from the ops:
/// positives 2 − 2⟨d1, d2⟩, the hardest negative in each image outside the safe window (two
/// <see cref="HardestNegatives"/> calls, the smaller taken), a margin ranking term weighted by s1·s2 / Σ s1·s2.
/// </summary>
public static class D2NetLoss
{
    /// <summary>
    /// Square safe window in feature cells. <paramref name="cells1"/> [N,2] int64 are the (row, col) cells of
    /// image 1; <paramref name="pos2"/> [N,2] float32 their correspondences in image 2's feature grid (cell
    /// units, bilinearly sampled). Features are raw [C,H,W] maps (normalised here), scores [H,W].
    /// Cells outside the grid and positions outside it or NaN are rejected where <see cref="OpChecks.CheckValues"/>
    /// checks values; unchecked, they are the caller's bug (libtorch's index errors, or garbage on CUDA).
    /// </summary>
    public static Tensor Apply(Tensor features1, Tensor scores1, Tensor features2, Tensor scores2, Tensor cells1, Tensor pos2,
        double margin = 1, double safeRadius = 4, Backend backend = Backend.Auto)
    {
        var (h1, w1, h2, w2) = ValidatePair(features1, scores1, features2, scores2, cells1, pos2);
        using var scope = torch.NewDisposeScope();
        var grid1 = GridPositions(h1, w1, features1.device);
        var grid2 = GridPositions(h2, w2, features1.device);
        return Loss(features1, scores1, features2, scores2, cells1, pos2,
            anchorPos1: cells1.to(ScalarType.Float32), candidatePos1: grid1,
            anchorPos2: pos2, candidatePos2: grid2, SafeWindow.Square, margin, safeRadius, backend).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// TaSP's 3-D safe window: <paramref name="points1"/> [H1,W1,3] and <paramref name="points2"/> [H2,W2,3] are
    /// the back-projected points of every feature cell in one (world) frame; a candidate is a negative when its
    /// point is farther than <paramref name="safeRadius"/> (metric) from the correspondence's point.
    /// A cell whose point has a NaN (no valid depth) is no candidate negative in either image: whether it lies inside the
    /// window is unknown (as OPS.md has it, a NaN position is never admissible). The points of <paramref name="cells1"/>
    /// (the correspondences' own) must be finite. Picking the candidates reads values (one device wait on CUDA).
    /// </summary>
    public static Tensor Apply(Tensor features1, Tensor scores1, Tensor features2, Tensor scores2, Tensor cells1, Tensor pos2,
        Tensor points1, Tensor points2, double margin, double safeRadius, Backend backend = Backend.Auto)
    {
        var (h1, w1, h2, w2) = ValidatePair(features1, scores1, features2, scores2, cells1, pos2);
        var p1 = Validate.Tensor(points1, nameof(points1), ScalarType.Float32, 3, "[H1, W1, 3]");
        var p2 = Validate.Tensor(points2, nameof(points2), ScalarType.Float32, 3, "[H2, W2, 3]");
        if (p1[0] != h1 || p1[1] != w1 || p1[2] != 3) throw new ArgumentException($"argument 'points1': expected [{h1}, {w1}, 3], got {Validate.Describe(points1)}", nameof(points1));
        if (p2[0] != h2 || p2[1] != w2 || p2[2] != 3) throw new ArgumentException($"argument 'points2': expected [{h2}, {w2}, 3], got {Validate.Describe(points2)}", nameof(points2));
        using var scope = torch.NewDisposeScope();
        var all1 = points1.view(-1, 3);
        // The correspondence's 3-D point is the same for both directions: the point of cell1.
        var anchorPoints = all1.index_select(0, cells1.select(1, 0) * w1 + cells1.select(1, 1)).contiguous();
        var all2 = points2.view(-1, 3);
        var keep1 = all1.isfinite().all(1).nonzero().squeeze(1);
        var keep2 = all2.isfinite().all(1).nonzero().squeeze(1);
        return Loss(features1, scores1, features2, scores2, cells1, pos2,
            anchorPos1: anchorPoints, candidatePos1: all1.index_select(0, keep1).contiguous(),
            anchorPos2: anchorPoints, candidatePos2: all2.index_select(0, keep2).contiguous(), SafeWindow.Sphere, margin, safeRadius, backend,
            candidates1: keep1, candidates2: keep2).MoveToOuterDisposeScope();
    }

    private static (long h1, long w1, long h2, long w2) ValidatePair(Tensor features1, Tensor scores1, Tensor features2, Tensor scores2, Tensor cells1, Tensor pos2)
    {
        var f1 = Validate.Tensor(features1, nameof(features1), ScalarType.Float32, 3, "[C, H1, W1]");
        var f2 = Validate.Tensor(features2, nameof(features2), ScalarType.Float32, 3, "[C, H2, W2]");
        var s1 = Validate.Tensor(scores1, nameof(scores1), ScalarType.Float32, 2, "[H1, W1]");
        var s2 = Validate.Tensor(scores2, nameof(scores2), ScalarType.Float32, 2, "[H2, W2]");
        var c1 = Validate.Tensor(cells1, nameof(cells1), ScalarType.Int64, 2, "[N, 2]");
        var q2 = Validate.Tensor(pos2, nameof(pos2), ScalarType.Float32, 2, "[N, 2]");
        Validate.Dim(f2[0], f1[0], nameof(features2), "channels C (as features1)");
        if (s1[0] != f1[1] || s1[1] != f1[2]) throw new ArgumentException($"argument 'scores1': expected [{f1[1]}, {f1[2]}], got {Validate.Describe(scores1)}", nameof(scores1));
        if (s2[0] != f2[1] || s2[1] != f2[2]) throw new ArgumentException($"argument 'scores2': expected [{f2[1]}, {f2[2]}], got {Validate.Describe(scores2)}", nameof(scores2));
        Validate.Dim(c1[1], 2, nameof(cells1), "columns (row, col)");
        Validate.Dim(q2[1], 2, nameof(pos2), "columns (row, col)");
        Validate.Dim(q2[0], c1[0], nameof(pos2), "rows N (as cells1)");
        // Range checks read values (a device wait on CUDA): as OpChecks.CheckValues says.
        if (c1[0] > 0 && OpChecks.ChecksValuesOf(cells1))
        {
            using var scope = torch.NewDisposeScope();
            var rows = cells1.select(1, 0);
            var cols = cells1.select(1, 1);
            if (rows.min().item<long>() < 0 || rows.max().item<long>() >= f1[1] || cols.min().item<long>() < 0 || cols.max().item<long>() >= f1[2])
                throw new ArgumentException($"argument 'cells1': expected cells inside the {f1[1]}×{f1[2]} grid of features1", nameof(cells1));
            var r2 = pos2.select(1, 0);
            var c2 = pos2.select(1, 1);
            if (r2.min().item<float>() < 0 || r2.max().item<float>() > f2[1] - 1 || c2.min().item<float>() < 0 || c2.max().item<float>() > f2[2] - 1)
                throw new ArgumentException($"argument 'pos2': expected positions inside [0, {f2[1] - 1}]×[0, {f2[2] - 1}] of features2's grid (NaN not allowed)", nameof(pos2));
            if (r2.isnan().any().item<bool>() || c2.isnan().any().item<bool>())
                throw new ArgumentException("argument 'pos2': expected finite positions, got NaN", nameof(pos2));
        }
        return (f1[1], f1[2], f2[1], f2[2]);
    }

    private static Tensor Loss(Tensor features1, Tensor scores1, Tensor features2, Tensor scores2, Tensor cells1, Tensor pos2,
        Tensor anchorPos1, Tensor candidatePos1, Tensor anchorPos2, Tensor candidatePos2, SafeWindow window,
        double margin, double safeRadius, Backend backend, Tensor? candidates1 = null, Tensor? candidates2 = null)
    {
        long c = features1.size(0), w1 = features1.size(2);
        if (cells1.size(0) == 0) return (features1.sum() + features2.sum() + scores1.sum() + scores2.sum()) * 0;
        var all1 = F.normalize(features1.view(c, -1), dim: 0).t().contiguous();  // [H1·W1, C]
        var all2 = F.normalize(features2.view(c, -1), dim: 0).t().contiguous();
        var flat1 = cells1.select(1, 0) * w1 + cells1.select(1, 1);
        var descriptors1 = all1.index_select(0, flat1);
        var descriptors2 = F.normalize(Bilinear(features2.view(c, -1).t(), features2.size(2), pos2), dim: 1).contiguous();
        var positive = 2 - 2 * (descriptors1 * descriptors2).sum(1);
        // The negatives' pools: every cell, or those the caller keeps (rows of candidatePos).
        var pool1 = candidates1 is null ? all1 : all1.index_select(0, candidates1).contiguous();
        var pool2 = candidates2 is null ? all2 : all2.index_select(0, candidates2).contiguous();
        var (_, negative2) = HardestNegatives.Apply(descriptors1.contiguous(), pool2, anchorPos2, candidatePos2, safeRadius, window, backend);
        var (_, negative1) = HardestNegatives.Apply(descriptors2, pool1, anchorPos1, candidatePos1, safeRadius, window, backend);
        var negative = torch.minimum(negative1, negative2);
        var s1 = scores1.view(-1).index_select(0, flat1);
        var s2 = Bilinear(scores2.view(-1, 1), scores2.size(1), pos2).squeeze(1);
        var weight = s1 * s2;
        return (weight * (margin + positive - negative).relu()).sum() / weight.sum();
    }

    /// <summary>Bilinear interpolation of per-cell rows [H·W, C] at (row, col) positions, as D2-Net's interpolate_dense_features.</summary>
    private static Tensor Bilinear(Tensor cellValues, long width, Tensor pos)
    {
        var i = pos.select(1, 0);
        var j = pos.select(1, 1);
        var i0 = i.floor();
        var j0 = j.floor();
        long height = cellValues.size(0) / width;
        var i1 = (i0 + 1).clamp_max(height - 1);
        var j1 = (j0 + 1).clamp_max(width - 1);
        var di = (i - i0).unsqueeze(1);
        var dj = (j - j0).unsqueeze(1);
        Tensor At(Tensor r, Tensor q) => cellValues.index_select(0, (r * width + q).@long());
        return (1 - di) * (1 - dj) * At(i0, j0) + (1 - di) * dj * At(i0, j1) + di * (1 - dj) * At(i1, j0) + di * dj * At(i1, j1);
    }

    /// <summary>(row, col) of every cell of an H×W grid, row-major, float32 [H·W, 2].</summary>
    private static Tensor GridPositions(long h, long w, Device device)
    {
        var rows = torch.arange(0, h, 1, ScalarType.Float32);
        var cols = torch.arange(0, w, 1, ScalarType.Float32);
        var mesh = torch.meshgrid([rows, cols]);
        return torch.stack([mesh[0].reshape(-1), mesh[1].reshape(-1)], 1).to(device).contiguous();
    }
}

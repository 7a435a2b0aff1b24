using LocalFeat.Torch;
using LocalFeat.Torch.Vision;
using LocalFeat.Train.Data;

namespace LocalFeat.Train.Evaluation;

/// <summary>Mutual nearest-neighbour matching and the HPatches-style metrics.</summary>
public static class Metrics
{
    public static readonly int[] Thresholds = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    public static readonly int[] CornerThresholds = [1, 3, 5];

    /// <summary>Pairs (i, j) where j is i's nearest neighbour in <paramref name="b"/> and i is j's in <paramref name="a"/> (L2, or Hamming for binary).</summary>
    public static (int i, int j)[] MutualNearest(FeatureSet a, FeatureSet b)
    {
        if (a.Count == 0 || b.Count == 0) return [];
        if (a.Binary != b.Binary) throw new ArgumentException("cannot match binary with float descriptors");
        using var scope = torch.NewDisposeScope();
        var (da, db) = a.Binary ? (Bits(a.Descriptors), Bits(b.Descriptors)) : (a.Descriptors.to(ScalarType.Float32), b.Descriptors.to(ScalarType.Float32));
        // ‖x − y‖² = ‖x‖² + ‖y‖² − 2⟨x, y⟩; on 0/1 bit vectors that is the Hamming distance.
        var dist = da.square().sum(1, keepdim: true) + db.square().sum(1).unsqueeze(0) - 2 * da.mm(db.t());
        var nn12 = dist.argmin(1).ToArray<long>();
        var nn21 = dist.argmin(0).ToArray<long>();
        var result = new List<(int, int)>();
        for (int i = 0; i < nn12.Length; i++)
            if (nn21[nn12[i]] == i) result.Add((i, (int)nn12[i]));
        return result.ToArray();
    }

    private static Tensor Bits(Tensor packed)
    {
        var bytes = packed.ToArray<byte>();
        long n = packed.size(0), width = packed.size(1);
        var bits = new float[bytes.Length * 8];
        for (int k = 0; k < bytes.Length; k++)
            for (int b = 0; b < 8; b++) bits[8 * k + b] = (bytes[k] >> b) & 1;
        return torch.tensor(bits, n, width * 8);
    }

    /// <summary>‖H·p1 − p2‖ in pixels for each match.</summary>
    public static double[] ReprojectionErrors(FeatureSet a, FeatureSet b, (int i, int j)[] matches, double[] h) =>
        matches.Select(m =>
        {
            var (x, y) = Homography.Apply(h, a.X[m.i], a.Y[m.i]);
            double dx = x - b.X[m.j], dy = y - b.Y[m.j];
            return Math.Sqrt(dx * dx + dy * dy);
        }).ToArray();

    /// <summary>Fraction of matches with error ≤ t for each threshold (0 when there are no matches).</summary>
    public static double[] MatchingAccuracy(double[] errors, IReadOnlyList<int>? thresholds = null) =>
        (thresholds ?? Thresholds).Select(t => errors.Length == 0 ? 0 : errors.Count(e => e <= t) / (double)errors.Length).ToArray();

    /// <summary>Mean corner error of the RANSAC homography of the matches against the truth; +∞ when none is found.</summary>
    public static double HomographyCornerError(FeatureSet a, FeatureSet b, (int i, int j)[] matches, double[] truth, int width, int height, double ransacThreshold)
    {
        var h = RansacHomography(a, b, matches, ransacThreshold);
        return h is null ? double.PositiveInfinity : Homography.CornerError(h, truth, width, height);
    }

    /// <summary>OpenCV RANSAC homography a → b of the matches (row-major 3×3), or null when there are fewer than 4 or none is found.</summary>
    public static double[]? RansacHomography(FeatureSet a, FeatureSet b, (int i, int j)[] matches, double ransacThreshold, bool[]? inliers = null)
    {
        if (matches.Length < 4) return null;
        var src = matches.SelectMany(m => new double[] { a.X[m.i], a.Y[m.i] }).ToArray();
        var dst = matches.SelectMany(m => new double[] { b.X[m.j], b.Y[m.j] }).ToArray();
        return Cv.FindHomography(src, dst, ransacThreshold, inliers);
    }
}

/// <summary>The measures of one method on one pair.</summary>
public sealed record PairResult(string Pair, int Keypoints1, int Keypoints2, int Matches, double[] Mma, double CornerError);

/// <summary>Means over the pairs of a set (MMA averaged per pair, HPatches / D2-Net convention).</summary>
public sealed record SetSummary(string Set, string Method, int Pairs, double Keypoints, double Matches, double[] Mma, double[] HomographyAccuracy)
{
    public static SetSummary Of(string set, string method, IReadOnlyList<PairResult> results)
    {
        int n = results.Count;
        var mma = Enumerable.Range(0, Metrics.Thresholds.Length).Select(t => n == 0 ? 0 : results.Average(r => r.Mma[t])).ToArray();
        var hacc = Metrics.CornerThresholds.Select(e => n == 0 ? 0 : results.Count(r => r.CornerError <= e) / (double)n).ToArray();
        return new SetSummary(set, method, n, n == 0 ? 0 : results.Average(r => (r.Keypoints1 + r.Keypoints2) / 2.0),
            n == 0 ? 0 : results.Average(r => r.Matches), mma, hacc);
    }
}

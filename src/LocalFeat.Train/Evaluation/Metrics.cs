using LocalFeat.Features;
using LocalFeat.Train.Vision;
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
        using var m = MutualNearestNeighbors.Match(a.Descriptors, b.Descriptors, a.Binary ? DescriptorMetric.Hamming : DescriptorMetric.L2);
        var v = m.Values<long>();
        return Enumerable.Range(0, v.Length / 2).Select(k => ((int)v[2 * k], (int)v[2 * k + 1])).ToArray();
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
        return OpenCv.FindHomography(src, dst, ransacThreshold, inliers);
    }
}

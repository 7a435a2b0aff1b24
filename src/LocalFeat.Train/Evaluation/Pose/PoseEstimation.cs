using LocalFeat.Train.Vision;

namespace LocalFeat.Train.Evaluation.Pose;

/// <summary>
/// SuperGlue's estimate_pose: matches normalised by each camera's K, OpenCV RANSAC essential matrix with the pixel
/// threshold divided by the mean focal length, then recoverPose (cheirality) keeping the candidate with most points.
/// </summary>
public static class PoseEstimation
{
    public const double Confidence = 0.99999;
    // recoverPose's distance threshold in SuperGlue: no point is dropped as being at infinity.
    private const double FarAway = 1e9;

    /// <summary>
    /// The pose of camera 1 relative to camera 0 from pixel matches (x, y interleaved), or null with fewer than 5
    /// matches or when RANSAC finds no essential matrix.
    /// </summary>
    public static EstimatedPose? Estimate(double[] points0, double[] points1, double[] k0, double[] k1, double thresholdPx = 1)
    {
        if (points1.Length != points0.Length) throw new ArgumentException($"argument 'points1': expected {points0.Length} values as points0, got {points1.Length}", nameof(points1));
        int n = points0.Length / 2;
        if (n < 5) return null;
        // SuperGlue's mean focal length: fx of K0 and fy of K1 (each twice in its mean).
        double fMean = (k0[0] + k1[4]) / 2;
        var a = Normalise(points0, k0);
        var b = Normalise(points1, k1);
        var mask = new bool[n];
        var candidates = OpenCv.FindEssentialMat(a, b, thresholdPx / fMean, Confidence, mask);
        EstimatedPose? best = null;
        int most = 0;
        foreach (var e in candidates)
        {
            var (count, r, t) = OpenCv.RecoverPose(e, a, b, mask, FarAway);
            if (count > most) (most, best) = (count, new EstimatedPose(r, t, mask));
        }
        return best;
    }

    /// <summary>((x − cx) / fx, (y − cy) / fy) per point: SuperGlue's normalisation (skew ignored).</summary>
    public static double[] Normalise(double[] xy, double[] k)
    {
        var r = new double[xy.Length];
        for (int i = 0; i < xy.Length; i += 2)
        {
            r[i] = (xy[i] - k[2]) / k[0];
            r[i + 1] = (xy[i + 1] - k[5]) / k[4];
        }
        return r;
    }
}

namespace LocalFeat.Train.Evaluation.Pose;

/// <summary>
/// SuperGlue's pose_auc: errors sorted, the recall curve (error_i, i/n) from (0, 0), integrated by the trapezoid rule
/// up to each threshold (the last recall held to it) and divided by the threshold. Failures (+∞, NaN) never count.
/// </summary>
public static class PoseAuc
{
    public static readonly double[] Thresholds = [5, 10, 20];

    /// <summary>The AUC (0..1) at each threshold; 0 for no errors.</summary>
    public static double[] Compute(IReadOnlyList<double> errors, IReadOnlyList<double>? thresholds = null)
    {
        var sorted = errors.Select(e => double.IsNaN(e) ? double.PositiveInfinity : e).Order().ToArray();
        int n = sorted.Length;
        return (thresholds ?? Thresholds).Select(t =>
        {
            if (!(t > 0)) throw new ArgumentException($"argument 'thresholds': expected values > 0, got {t}", nameof(thresholds));
            // Curve points (0,0), (e_1, 1/n), …: those with e < t (numpy's searchsorted, left), then (t, last recall).
            double area = 0, e0 = 0, r0 = 0;
            for (int i = 0; i < n && sorted[i] < t; i++)
            {
                double r = (i + 1.0) / n;
                area += (sorted[i] - e0) * (r + r0) / 2;
                (e0, r0) = (sorted[i], r);
            }
            area += (t - e0) * r0;
            return area / t;
        }).ToArray();
    }
}

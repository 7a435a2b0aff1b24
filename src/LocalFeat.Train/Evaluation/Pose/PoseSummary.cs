namespace LocalFeat.Train.Evaluation.Pose;

/// <summary>One method on one pose set: AUC (0..1) at <see cref="PoseAuc.Thresholds"/>, means over the pairs, and every pair's pose error.</summary>
public sealed record PoseSummary(string Set, string Method, int Pairs, double Keypoints, double Matches, double InlierRatio, int Failed, double[] Auc, double[] Errors)
{
    public static PoseSummary Of(string set, string method, IReadOnlyList<PosePairResult> results)
    {
        int n = results.Count;
        double Mean(Func<PosePairResult, double> f) => n == 0 ? 0 : results.Average(f);
        var errors = results.Select(r => r.Error).ToArray();
        return new PoseSummary(set, method, n, Mean(r => (r.Keypoints0 + r.Keypoints1) / 2.0), Mean(r => r.Matches), Mean(r => r.InlierRatio),
            results.Count(r => r.Failed), PoseAuc.Compute(errors), errors);
    }

    /// <summary>Share of pairs with pose error ≤ x, for each x (the cumulative error curve).</summary>
    public double[] Recall(IReadOnlyList<double> x) => x.Select(v => Pairs == 0 ? 0 : Errors.Count(e => e <= v) / (double)Pairs).ToArray();
}

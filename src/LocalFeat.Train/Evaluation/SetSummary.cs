namespace LocalFeat.Train.Evaluation;

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

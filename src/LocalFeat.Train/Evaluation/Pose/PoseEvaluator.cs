using System.Diagnostics;
using System.Globalization;
using System.Text;
using LocalFeat.Train.Reporting;

namespace LocalFeat.Train.Evaluation.Pose;

/// <summary>
/// Relative-pose evaluation (SuperGlue/LoFTR protocol): mutual nearest-neighbour matches of each method, the pose by
/// <see cref="PoseEstimation"/>, its errors against the truth and the AUC at 5/10/20°; a section appended to
/// report.md and the cumulative error curves in pose.png.
/// </summary>
public static class PoseEvaluator
{
    public const string PlotFile = "pose.png";
    // The cumulative curves are drawn up to this error.
    private const double CurveMax = 30;
    // Sets with more pairs get no per-pair line in the report.
    private const int PerPairLimit = 100;

    /// <summary>One method on one pair.</summary>
    public static PosePairResult EvaluatePair(IFeatureExtractor method, PosePair pair, double thresholdPx)
    {
        using var a = method.Extract(pair.Gray0);
        using var b = method.Extract(pair.Gray1);
        var matches = Metrics.MutualNearest(a, b);
        var p0 = matches.SelectMany(m => new double[] { a.X[m.i], a.Y[m.i] }).ToArray();
        var p1 = matches.SelectMany(m => new double[] { b.X[m.j], b.Y[m.j] }).ToArray();
        var pose = PoseEstimation.Estimate(p0, p1, pair.K0, pair.K1, thresholdPx);
        var (er, et) = pose is null ? (double.PositiveInfinity, double.PositiveInfinity) : PoseError.Of(pair.T0to1, pose.R, pose.T);
        return new PosePairResult(pair.Name, a.Count, b.Count, matches.Length, pose?.InlierCount ?? 0, er, et);
    }

    /// <summary>
    /// Every method on every set (each pair is read once, evaluated by all methods, then disposed); appends the pose
    /// section to <c>report.md</c> in <paramref name="outDir"/> (created when missing) and draws <see cref="PlotFile"/>.
    /// </summary>
    public static List<PoseSummary> Run(IReadOnlyList<IFeatureExtractor> methods, IReadOnlyList<PoseSet> sets, string outDir, double thresholdPx, Action<string> log)
    {
        Directory.CreateDirectory(outDir);
        var summaries = new List<PoseSummary>();
        var clock = Stopwatch.StartNew();
        foreach (var set in sets)
        {
            var results = methods.Select(_ => new List<PosePairResult>()).ToList();
            var t0 = clock.Elapsed;
            var lastLog = t0;
            int done = 0;
            foreach (var pair in set.Pairs)
            {
                using (pair)
                    for (int m = 0; m < methods.Count; m++) results[m].Add(EvaluatePair(methods[m], pair, thresholdPx));
                done++;
                if ((clock.Elapsed - lastLog).TotalSeconds >= 10 && done < set.Count)
                {
                    lastLog = clock.Elapsed;
                    log($"{set.Name}: {done}/{set.Count} pairs ({(clock.Elapsed - t0).TotalSeconds:F0} s)");
                }
            }
            if (done == 0) continue;
            for (int m = 0; m < methods.Count; m++)
            {
                var s = PoseSummary.Of(set.Name, methods[m].Name, results[m]);
                summaries.Add(s);
                log($"{set.Name,-20} {s.Method,-6} pairs {s.Pairs,3}  matches {s.Matches,7:F1}  inliers {s.InlierRatio:F2}  AUC@5/10/20 {100 * s.Auc[0]:F1}/{100 * s.Auc[1]:F1}/{100 * s.Auc[2]:F1} %  failed {s.Failed}");
            }
            log($"{set.Name}: {done} pairs in {(clock.Elapsed - t0).TotalSeconds:F1} s");
        }
        if (summaries.Count > 0)
        {
            File.AppendAllText(Path.Combine(outDir, Evaluator.ReportFile), Section(summaries, thresholdPx, clock.Elapsed));
            Draw(Path.Combine(outDir, PlotFile), summaries);
        }
        return summaries;
    }

    private static string P(double v) => (100 * v).ToString("F2", CultureInfo.InvariantCulture);

    /// <summary>The report's pose section: one table per set and each pair's pose errors.</summary>
    public static string Section(IReadOnlyList<PoseSummary> summaries, double thresholdPx, TimeSpan? elapsed = null)
    {
        var sb = new StringBuilder();
        sb.AppendLine("## Relative pose").AppendLine();
        string threshold = thresholdPx.ToString(CultureInfo.InvariantCulture), confidence = PoseEstimation.Confidence.ToString(CultureInfo.InvariantCulture);
        sb.AppendLine(
            $"SuperGlue's protocol: mutual nearest-neighbour matches; essential matrix by OpenCV RANSAC on K-normalised points (threshold {threshold} px / mean focal length, " +
            $"confidence {confidence}), recoverPose; pose error = max(angle of R, angle of t up to sign) in degrees, a failed estimate counting +∞; " +
            "AUC@e = area under the recall-vs-error curve up to e°, divided by e (SuperGlue's pose_auc), in %. Inlier ratio = RANSAC inliers / matches, averaged over pairs.").AppendLine();
        foreach (var g in summaries.GroupBy(s => s.Set))
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"### {g.Key} ({g.First().Pairs} pair{(g.First().Pairs == 1 ? "" : "s")})").AppendLine();
            sb.AppendLine("| method | keypoints | matches | inlier ratio | AUC@5° | AUC@10° | AUC@20° | failed |");
            sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var s in g)
                sb.AppendLine(CultureInfo.InvariantCulture, $"| {s.Method} | {s.Keypoints:F0} | {s.Matches:F0} | {s.InlierRatio:F3} | {P(s.Auc[0])} | {P(s.Auc[1])} | {P(s.Auc[2])} | {s.Failed} |");
            sb.AppendLine();
            if (g.First().Pairs > PerPairLimit) continue;
            sb.AppendLine("Pose error per pair (°, in file order):").AppendLine().AppendLine("| method | errors |").AppendLine("|---|---|");
            foreach (var s in g)
                sb.AppendLine(CultureInfo.InvariantCulture,
                    $"| {s.Method} | {string.Join(" ", s.Errors.Select(e => double.IsFinite(e) ? e.ToString("F2", CultureInfo.InvariantCulture) : "fail"))} |");
            sb.AppendLine();
        }
        sb.Append(CultureInfo.InvariantCulture, $"Plot: `{PlotFile}` (share of pairs within each pose error).");
        if (elapsed is { } t) sb.Append(CultureInfo.InvariantCulture, $" Pose evaluation took {t.TotalSeconds:F0} s.");
        sb.AppendLine();
        return sb.ToString();
    }

    private static void Draw(string path, List<PoseSummary> summaries)
    {
        var colors = new[] { Plots.Blue, Plots.Orange, Plots.Green, Plots.Red };
        var x = Enumerable.Range(0, 121).Select(i => i * CurveMax / 120).ToArray();
        var panels = summaries.GroupBy(s => s.Set).Select(g => Plots.LineChart($"pose error: {g.Key} ({g.First().Pairs} pair{(g.First().Pairs == 1 ? "" : "s")})",
            "pose error [°]", "share of pairs", g.Select((s, k) => new Series(s.Method, colors[k % colors.Length], x, s.Recall(x))).ToList(), 520, 380, 0, 1)).ToArray();
        Plots.WritePanels(path, panels);
    }
}

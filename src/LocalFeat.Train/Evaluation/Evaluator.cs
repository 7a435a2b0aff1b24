using System.Diagnostics;
using System.Globalization;
using System.Text;
using LocalFeat.Train.Vision;
using LocalFeat.Train.Reporting;

namespace LocalFeat.Train.Evaluation;

/// <summary>Runs extractors over pair sets, computes the metrics and writes report.md, mma.png and matches_graf.png.</summary>
public static class Evaluator
{
    public const string ReportFile = "report.md";
    public const string MmaPlotFile = "mma.png";
    public const string MatchesFile = "matches_graf.png";

    /// <summary>One method on one pair (the matches are returned for drawing).</summary>
    public static (PairResult result, (int i, int j)[] matches, FeatureSet a, FeatureSet b) EvaluatePair(IFeatureExtractor method, EvalPair pair, double ransacThreshold)
    {
        var a = method.Extract(pair.Gray1);
        var b = method.Extract(pair.Gray2);
        if (pair.Valid2 is { } valid) { var all = b; b = all.Inside(valid); all.Dispose(); }
        var matches = Metrics.MutualNearest(a, b);
        var errors = Metrics.ReprojectionErrors(a, b, matches, pair.H);
        double corner = Metrics.HomographyCornerError(a, b, matches, pair.H, (int)pair.Gray1.size(1), (int)pair.Gray1.size(0), ransacThreshold);
        return (new PairResult(pair.Name, a.Count, b.Count, matches.Length, Metrics.MatchingAccuracy(errors), corner), matches, a, b);
    }

    public sealed record Options(string OutDir, string Header, double RansacThreshold);

    /// <summary>Evaluates every method on every set; the first method is "ours" (drawn on graf1→graf3).</summary>
    public static List<SetSummary> Run(IReadOnlyList<IFeatureExtractor> methods, IReadOnlyList<(string set, List<EvalPair> pairs)> sets, Options o, Action<string> log)
    {
        Directory.CreateDirectory(o.OutDir);
        var summaries = new List<SetSummary>();
        var perPair = new StringBuilder();
        var clock = Stopwatch.StartNew();
        foreach (var (set, pairs) in sets)
        {
            if (pairs.Count == 0) continue;
            foreach (var method in methods)
            {
                var results = new List<PairResult>();
                var t0 = clock.Elapsed;
                foreach (var pair in pairs)
                {
                    var (r, matches, a, b) = EvaluatePair(method, pair, o.RansacThreshold);
                    using (a) using (b)
                    {
                        results.Add(r);
                        if (set == PairSets.GrafSet && ReferenceEquals(method, methods[0])) DrawMatches(Path.Combine(o.OutDir, MatchesFile), pair, a, b, matches, method.Name);
                    }
                }
                var s = SetSummary.Of(set, method.Name, results);
                summaries.Add(s);
                log($"{set,-20} {method.Name,-6} pairs {s.Pairs,3}  keypoints {s.Keypoints,7:F1}  matches {s.Matches,7:F1}  MMA@3 {s.Mma[2]:F3}  H@3px {s.HomographyAccuracy[1]:F2}  ({(clock.Elapsed - t0).TotalSeconds:F1} s)");
                if (pairs.Count > 1)
                {
                    perPair.Append("| ").Append(set).Append(" | ").Append(method.Name).Append(" | ")
                        .AppendJoin(" ", results.Select(r => string.Create(CultureInfo.InvariantCulture, $"{r.Matches}/{r.Mma[2]:F2}"))).AppendLine(" |");
                }
            }
        }
        WriteReport(Path.Combine(o.OutDir, ReportFile), o.Header, summaries, perPair.ToString(), clock.Elapsed);
        DrawMma(Path.Combine(o.OutDir, MmaPlotFile), summaries);
        return summaries;
    }

    /// <summary>The matches as (x1, y1, x2, y2) segments for <see cref="Plots.Matches"/>.</summary>
    public static List<(double x1, double y1, double x2, double y2)> MatchLines(FeatureSet a, FeatureSet b, (int i, int j)[] matches) =>
        matches.Select(m => ((double)a.X[m.i], (double)a.Y[m.i], (double)b.X[m.j], (double)b.Y[m.j])).ToList();

    private static void DrawMatches(string path, EvalPair pair, FeatureSet a, FeatureSet b, (int i, int j)[] matches, string name)
    {
        var errors = Metrics.ReprojectionErrors(a, b, matches, pair.H);
        int correct = errors.Count(e => e <= 3);
        Plots.Matches(path, pair.Gray1, pair.Gray2, MatchLines(a, b, matches), errors.Select(e => e <= 3).ToList(),
            $"{name}: {pair.Name}, {matches.Length} mutual NN matches, {correct} within 3 px (green)");
    }

    private static void DrawMma(string path, List<SetSummary> summaries)
    {
        var colors = new[] { Plots.Blue, Plots.Orange, Plots.Green, Plots.Red, Plots.Purple, Plots.Brown };
        var x = Metrics.Thresholds.Select(t => (double)t).ToArray();
        var panels = summaries.GroupBy(s => s.Set).Select(g => Plots.LineChart($"MMA: {g.Key} ({g.First().Pairs} pair{(g.First().Pairs == 1 ? "" : "s")})", "threshold [px]", "MMA",
            g.Select((s, k) => new Series(s.Method, colors[k % colors.Length], x, s.Mma)).ToList(), 520, 380, 0, 1)).ToArray();
        if (panels.Length == 0) return;
        Plots.WritePanels(path, panels);
    }

    private static string F(double v) => v.ToString("F3", CultureInfo.InvariantCulture);

    private static void WriteReport(string path, string header, List<SetSummary> summaries, string perPair, TimeSpan elapsed)
    {
        var sb = new StringBuilder();
        sb.AppendLine("# LocalFeat evaluation").AppendLine().AppendLine(header).AppendLine();
        sb.AppendLine("Mutual nearest-neighbour matches; MMA@t = share of matches within t px of the ground-truth homography, averaged over pairs; " +
                      "H@e = share of pairs whose OpenCV RANSAC homography moves the image corners by at most e px on average.").AppendLine();
        foreach (var g in summaries.GroupBy(s => s.Set))
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"## {g.Key} ({g.First().Pairs} pair{(g.First().Pairs == 1 ? "" : "s")})").AppendLine();
            sb.AppendLine("| method | keypoints | matches | MMA@1 | MMA@2 | MMA@3 | MMA@5 | MMA@10 | H@1px | H@3px | H@5px |");
            sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var s in g)
                sb.AppendLine(CultureInfo.InvariantCulture,
                    $"| {s.Method} | {s.Keypoints:F0} | {s.Matches:F0} | {F(s.Mma[0])} | {F(s.Mma[1])} | {F(s.Mma[2])} | {F(s.Mma[4])} | {F(s.Mma[9])} | {F(s.HomographyAccuracy[0])} | {F(s.HomographyAccuracy[1])} | {F(s.HomographyAccuracy[2])} |");
            sb.AppendLine();
        }
        if (perPair.Length > 0)
        {
            sb.AppendLine("Per pair (matches/MMA@3):").AppendLine().AppendLine("| set | method | pairs |").AppendLine("|---|---|---|").Append(perPair).AppendLine();
        }
        sb.AppendLine(CultureInfo.InvariantCulture, $"Plots: `{MmaPlotFile}` (MMA curves), `{MatchesFile}` (our matches on graf1→graf3). Evaluation took {elapsed.TotalSeconds:F0} s.");
        File.WriteAllText(path, sb.ToString());
    }

    /// <summary>SIFT and ORB baselines at the same keypoint budget.</summary>
    public static IFeatureExtractor[] Baselines(int budget, int maxImageSide = 2048) =>
        [new CappedExtractor(new ClassicalExtractor(ClassicalFeature.Sift, budget), maxImageSide),
         new CappedExtractor(new ClassicalExtractor(ClassicalFeature.Orb, budget), maxImageSide)];
}

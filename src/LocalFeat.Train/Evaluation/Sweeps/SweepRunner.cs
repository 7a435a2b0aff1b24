using System.Diagnostics;
using System.Globalization;
using System.Text;
using LocalFeat.Train.Data;
using LocalFeat.Train.Reporting;
using static TorchSharp.torch;

namespace LocalFeat.Train.Evaluation.Sweeps;

/// <summary>
/// Runs robustness sweeps: every method on every step's pairs (<see cref="SweepPairs"/>) of the held-out photos,
/// through <see cref="Evaluator.EvaluatePair"/>; draws sweep_NAME.png and gives the report's section.
/// </summary>
public static class SweepRunner
{
    public static string PlotFile(Sweep s) => $"sweep_{s.Name}.png";

    /// <param name="photos">grey uint8 [H,W] photos (not taken over).</param>
    public static List<SweepPoint> Run(IReadOnlyList<IFeatureExtractor> methods, IReadOnlyList<Sweep> sweeps, IReadOnlyList<(string name, Tensor image)> photos,
        int size, double ransacThreshold, string outDir, Action<string> log)
    {
        var points = new List<SweepPoint>();
        foreach (var sweep in sweeps)
        {
            var clock = Stopwatch.StartNew();
            var mine = new List<SweepPoint>();
            foreach (var step in sweep.Steps)
            {
                var pairs = photos.Select((p, k) => SweepPairs.Make(p.name, p.image, sweep, step, size, (ulong)k)).ToList();
                try
                {
                    foreach (var method in methods)
                    {
                        var results = new List<PairResult>();
                        foreach (var pair in pairs)
                        {
                            var (r, _, a, b) = Evaluator.EvaluatePair(method, pair, ransacThreshold);
                            a.Dispose(); b.Dispose();
                            results.Add(r);
                        }
                        mine.Add(new SweepPoint(sweep, step, SetSummary.Of($"{sweep.Name} {sweep.Label(step)}", method.Name, results)));
                    }
                }
                finally { foreach (var p in pairs) p.Dispose(); }
                log($"sweep {sweep.Name,-14} {sweep.Label(step),-9} " + string.Join("  ", mine.Where(p => p.Step == step)
                    .Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.Summary.Method} MMA@1 {p.Summary.Mma[0]:F2} @3 {p.Summary.Mma[2]:F2}"))));
            }
            Draw(Path.Combine(outDir, PlotFile(sweep)), sweep, mine, photos.Count);
            log($"sweep {sweep.Name}: {photos.Count} photos × {sweep.Steps.Length} steps in {clock.Elapsed.TotalSeconds:F0} s → {PlotFile(sweep)}");
            points.AddRange(mine);
        }
        return points;
    }

    private static void Draw(string path, Sweep sweep, List<SweepPoint> points, int photos)
    {
        var colors = new[] { Plots.Blue, Plots.Orange, Plots.Green, Plots.Red };
        var methods = points.Select(p => p.Summary.Method).Distinct().ToList();
        byte[] Panel(string what, Func<SetSummary, double> value) => Plots.LineChart($"{sweep.Name}: {what} ({photos} photo{(photos == 1 ? "" : "s")})", sweep.Axis, what,
            methods.Select((m, k) =>
            {
                var mine = points.Where(p => p.Summary.Method == m).ToList();
                return new Series(m, colors[k % colors.Length], mine.Select(p => p.Step).ToArray(), mine.Select(p => value(p.Summary)).ToArray());
            }).ToList(), 480, 360, 0, 1);
        Plots.WritePanels(path, Panel("MMA@3", s => s.Mma[2]), Panel("MMA@1", s => s.Mma[0]), Panel("H@3px", s => s.HomographyAccuracy[1]));
    }

    /// <summary>The report's section: what a sweep is, then per sweep one row per step with MMA@1, MMA@3 and H@3px of each method.</summary>
    public static string Markdown(IReadOnlyList<SweepPoint> points, int photos, int size)
    {
        if (points.Count == 0) return "";
        var sb = new StringBuilder();
        sb.AppendLine("## Robustness sweeps").AppendLine();
        sb.AppendLine(
            FormattableString.Invariant($"Each of {photos} held-out photos: image 1 its centred {size}×{size} crop, image 2 the photo through the step's exact homography about the crop centre ") +
            FormattableString.Invariant($"and a ({SweepPairs.Shift.x}, {SweepPairs.Shift.y}) px shift (blurred against aliasing before a zoom-out or tilt), or with the photometric change; ") +
            FormattableString.Invariant($"both with Gaussian noise of {SweepPairs.NoiseGrey} grey levels. Keypoints of image 2 within {SweepPairs.BorderMargin} px of where its view leaves the photo are dropped for every method. ") +
            "Tilt: the photo as a plane turned about its vertical axis, seen by a pinhole camera of focal length 2× the crop side. Brightness: grey × gain, clipped.").AppendLine();
        foreach (var g in points.GroupBy(p => p.Sweep))
        {
            var methods = g.Select(p => p.Summary.Method).Distinct().ToList();
            sb.AppendLine($"### {g.Key.Name} (`{PlotFile(g.Key)}`)").AppendLine();
            sb.Append("| ").Append(g.Key.Axis).Append(" |");
            foreach (var m in methods) sb.Append(CultureInfo.InvariantCulture, $" {m} MMA@1 | {m} MMA@3 | {m} H@3px |");
            sb.AppendLine().Append("|---:|").Append(string.Concat(Enumerable.Repeat("---:|", 3 * methods.Count))).AppendLine();
            foreach (var step in g.Key.Steps)
            {
                sb.Append("| ").Append(g.Key.Label(step)).Append(" |");
                foreach (var m in methods)
                {
                    var s = g.First(p => p.Step == step && p.Summary.Method == m).Summary;
                    sb.Append(string.Create(CultureInfo.InvariantCulture, $" {s.Mma[0]:F3} | {s.Mma[2]:F3} | {s.HomographyAccuracy[1]:F2} |"));
                }
                sb.AppendLine();
            }
            sb.AppendLine();
        }
        return sb.ToString();
    }
}

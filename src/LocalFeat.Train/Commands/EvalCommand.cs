using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using LocalFeat.Train.Evaluation;
using LocalFeat.Train.Evaluation.Pose;
using LocalFeat.Train.Evaluation.Sweeps;
using LocalFeat.Train.Training;

namespace LocalFeat.Train.Commands;

/// <summary><c>localfeat eval</c>: a checkpoint against SIFT and ORB on graf1→graf3, synthetic held-out pairs and HPatches folders.</summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var run = new Option<string?>("--run") { Description = "Run folder of localfeat train (its latest checkpoint)" };
        var checkpoint = new Option<string?>("--checkpoint") { Description = "A checkpoint folder or its state.json / model.safetensors" };
        var pairs = new Option<string?>("--pairs") { Description = "HPatches-format folder (v_*/i_* sequences with 1.ppm…6.ppm and H_1_k) to evaluate as well" };
        var posePairs = new Option<string?>("--pose-pairs") { Description = "SuperGlue pairs file with ground truth (name0 name1 rot0 rot1 K0[9] K1[9] T_0to1[16] per line): relative-pose AUC@5/10/20°" };
        var poseImages = new Option<string?>("--images") { Description = "Folder the --pose-pairs image names are relative to (default: the pairs file's folder)" };
        var sweep = new Option<string?>("--sweep") { Description = $"Robustness sweeps instead of eval.sweeps: {Sweep.Names} (comma-separated), or none" };
        var outDir = new Option<string?>("--out") { Description = "Report folder (default: RUN/eval for --run, RUN/eval-step-N for a checkpoint)" };
        var cmd = new Command("eval", "Evaluate a trained model against OpenCV SIFT and ORB: MMA@1..10 px, matches, homography accuracy, and relative-pose AUC@5/10/20° with --pose-pairs, robustness sweeps; Markdown report and plots.");
        foreach (var o in new Option[] { run, checkpoint, pairs, posePairs, poseImages, sweep, outDir, Cli.Set }) cmd.Options.Add(o);
        cmd.SetAction(r => Cli.Guard(() =>
        {
            string? runDir = r.GetValue(run), ck = r.GetValue(checkpoint);
            if ((runDir is null) == (ck is null)) throw new ConfigException("eval: expected exactly one of --run DIR or --checkpoint FILE");
            string source = runDir ?? ck!;
            string output = r.GetValue(outDir) ?? (runDir != null ? Path.Combine(runDir, "eval") : DefaultOut(Checkpoint.Locate(ck!)));
            var overrides = Cli.SetPairs(r).ToList();
            if (r.GetValue(sweep) is { } sw) overrides.Add(("eval.sweeps", sw));
            return Run(source, r.GetValue(pairs), output, overrides, r.GetValue(posePairs), r.GetValue(poseImages));
        }));
        return cmd;
    }

    // The report's table of one pair set, for a terminal.
    private static Table Table(string set, List<SetSummary> rows)
    {
        var t = new Table { Title = new TableTitle($"{Markup.Escape(set)} ({rows[0].Pairs} pair{(rows[0].Pairs == 1 ? "" : "s")})") };
        t.AddColumn(new TableColumn("method").NoWrap());
        foreach (var h in new[] { "keypoints", "matches", "MMA@1", "MMA@2", "MMA@3", "MMA@5", "MMA@10", "H@1px", "H@3px", "H@5px" })
            t.AddColumn(new TableColumn(h).RightAligned());
        static string F(double v) => v.ToString("F3", CultureInfo.InvariantCulture);
        foreach (var s in rows)
            t.AddRow(Markup.Escape(s.Method), s.Keypoints.ToString("F0", CultureInfo.InvariantCulture), s.Matches.ToString("F0", CultureInfo.InvariantCulture),
                F(s.Mma[0]), F(s.Mma[1]), F(s.Mma[2]), F(s.Mma[4]), F(s.Mma[9]), F(s.HomographyAccuracy[0]), F(s.HomographyAccuracy[1]), F(s.HomographyAccuracy[2]));
        return t;
    }

    // RUN/checkpoints/step-N → RUN/eval-step-N: beside the run's other outputs, and not pruned with old checkpoints.
    private static string DefaultOut(string checkpointFolder)
    {
        var dir = new DirectoryInfo(checkpointFolder);
        return dir.Parent is { Name: "checkpoints", Parent: { } run }
            ? Path.Combine(run.FullName, "eval-" + dir.Name)
            : dir.FullName + "-eval";
    }

    // eval.sweeps on the held-out photos, appended to the report.
    private static void RunSweeps(IReadOnlyList<IFeatureExtractor> methods, TrainConfig c, string outDir)
    {
        var sweeps = Sweep.ParseList(c.Eval.Sweeps);
        if (sweeps.Count == 0) return;
        var photos = PairSets.HeldOutPhotos(c.Data.Images, c.Eval.SweepPhotos, "sweeps", Cli.Warn);
        try
        {
            if (photos.Count == 0) return;
            var points = SweepRunner.Run(methods, sweeps, photos, c.Eval.SweepSize, c.Eval.RansacThreshold, outDir, Cli.Info);
            File.AppendAllText(Path.Combine(outDir, Evaluator.ReportFile), Environment.NewLine + SweepRunner.Markdown(points, photos.Count, c.Eval.SweepSize));
        }
        finally { foreach (var (_, t) in photos) t.Dispose(); }
    }

    public static int Run(string checkpointPath, string? pairsDir, string outDir, List<(string key, string value)> overrides, string? posePairs = null, string? poseImages = null)
    {
        using var trained = TrainedModel.Open(checkpointPath, overrides, c =>
        {
            if (pairsDir != null) c.Eval.Pairs = pairsDir;
            if (posePairs != null) c.Eval.PosePairs = posePairs;
            if (poseImages != null) c.Eval.PoseImages = poseImages;
        });
        var (info, c, model) = (trained.Info, trained.Config, trained.Model);
        OutputFolder.Create(outDir, "eval --out");
        var notes = new HashSet<string>();
        void Note(string text) { lock (notes) if (notes.Add(text)) Cli.Info("note: " + text); }
        var ours = trained.Extractor($"ours ({Checkpoint.ModelName(model.Kind)})", Note);
        var methods = new List<IFeatureExtractor> { ours };
        methods.AddRange(Evaluator.Baselines(c.Eval.Budget, c.Eval.MaxImageSide));

        var sets = PairSets.Standard(c, Cli.Warn);
        try
        {
            string header = $"Model **{Checkpoint.ModelName(model.Kind)}** from `{info.Folder}` (step {info.Step}); detection **{TrainConfig.EnumName(c.Eval.Detection)}**" +
                            (c.Eval.Detection == LocalFeat.Features.DetectionMode.Hard ? $" (edge threshold {c.Eval.EdgeThreshold})" : " (soft score, 3×3 NMS)") +
                            $", budget {c.Eval.Budget} keypoints, {(c.Eval.Dense ? $"dense features (stride {model.StrideFor(true)})" : $"stride {model.Stride}")}, image scales {c.Eval.Scales}; " +
                            $"SIFT and ORB (OpenCV) at the same budget; RANSAC threshold {c.Eval.RansacThreshold} px.";
            Cli.Info($"localfeat eval: {info.Folder} → {Path.GetFullPath(outDir)}");
            // Pose sets first: a malformed pairs file stops before any evaluation runs.
            var poseSets = PairSets.StandardPoses(c, Cli.Warn);
            var summaries = Evaluator.Run(methods, sets, new Evaluator.Options(outDir, header, c.Eval.RansacThreshold), Cli.Info);
            var poseSummaries = PoseEvaluator.Run(methods, poseSets, outDir, c.Eval.PoseThreshold, Cli.Info);
            RunSweeps(methods, c, outDir);
            Cli.Info($"report: {Path.Combine(outDir, Evaluator.ReportFile)}");
            // The table needs about 110 columns; a narrower terminal gets the Markdown report, which does not wrap cells.
            if (Cli.Interactive && AnsiConsole.Profile.Width >= 110)
            {
                foreach (var g in summaries.GroupBy(s => s.Set)) AnsiConsole.Write(Table(g.Key, g.ToList()));
                if (poseSummaries.Count > 0) Console.WriteLine(PoseEvaluator.Section(poseSummaries, c.Eval.PoseThreshold));
            }
            else Console.WriteLine(File.ReadAllText(Path.Combine(outDir, Evaluator.ReportFile)));
            return 0;
        }
        finally
        {
            foreach (var (_, ps) in sets) foreach (var p in ps) p.Dispose();
        }
    }
}

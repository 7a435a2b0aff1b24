using System.CommandLine;
using System.Globalization;
using System.Text;
using LocalFeat.Train.Evaluation;
using LocalFeat.Train.Evaluation.Pose;
using LocalFeat.Train.Settings;
using LocalFeat.Train.Training;

namespace LocalFeat.Train.Commands;

/// <summary>
/// <c>localfeat compare</c>: trains each recipe with the same settings, budget, seed and data into OUT/&lt;recipe&gt;, evaluates all of
/// them on the same pair sets (<see cref="PairSets.Standard"/>) beside SIFT and ORB, and writes OUT/compare.md (one table) and
/// OUT/mma.png (one plot, a panel per set), plus the evaluator's full report. A recipe whose run already reached the budget is
/// not trained again, and one stopped part-way is resumed, so an interrupted compare continues where it stopped.
/// </summary>
internal static class CompareCommand
{
    public const string TableFile = "compare.md";

    public static Command Create()
    {
        var config = new Option<string?>("--config") { Description = "JSON file of settings shared by every recipe (run.recipe and run.out are set per recipe)" };
        var steps = new Option<string?>("--steps") { Description = "Optimisation steps of each recipe (the shared budget)" };
        var outDir = new Option<string?>("--out") { Description = "Comparison folder: one run folder per recipe, compare.md, mma.png, report.md (default runs/compare)" };
        var recipes = new Option<string?>("--recipes") { Description = "Comma-separated recipes to compare (default: d2net,tasp,hndesc,tpr)" };
        var images = new Option<string?>("--images") { Description = $"Folder of training photos (default {TrainConfig.DefaultImages})" };
        var cmd = new Command("compare", "Train every recipe with the same budget, seed and data, evaluate them against SIFT and ORB on the same pairs; one table and one plot.");
        foreach (var o in new Option[] { config, steps, outDir, recipes, images, Cli.Set }) cmd.Options.Add(o);
        cmd.SetAction(r => Cli.Guard(() =>
        {
            var overrides = new List<(string, string)>();
            if (r.GetValue(steps) is { } s) overrides.Add(("run.steps", s));
            if (r.GetValue(images) is { } i) overrides.Add(("data.images", i));
            overrides.AddRange(Cli.SetPairs(r));
            return TrainCommand.WithStopSignals(stop => Run(r.GetValue(config), overrides, r.GetValue(outDir) ?? "runs/compare", ParseRecipes(r.GetValue(recipes)), stop));
        }));
        return cmd;
    }

    public static List<Recipe> ParseRecipes(string? text)
    {
        if (text is null) return Enum.GetValues<Recipe>().ToList();
        var names = TrainConfig.EnumNames(typeof(Recipe));
        var list = new List<Recipe>();
        foreach (var name in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var match = Enum.GetValues<Recipe>().Where(x => TrainConfig.EnumName(x) == name).ToList();
            if (match.Count == 0) throw new ConfigException($"--recipes: expected a comma-separated list of {string.Join(" | ", names)}, got '{name}'");
            if (list.Contains(match[0])) throw new ConfigException($"--recipes: '{name}' is listed twice");
            list.Add(match[0]);
        }
        if (list.Count == 0) throw new ConfigException($"--recipes: expected at least one of {string.Join(" | ", names)}, got '{text}'");
        return list;
    }

    private sealed record Trained(Recipe Recipe, string Checkpoint, TrainOutcome? Outcome, double? LastLoss);

    public static int Run(string? configFile, List<(string key, string value)> overrides, string outDir, List<Recipe> recipes, CancellationToken stop)
    {
        OutputFolder.Create(outDir, "compare --out");
        var runs = new List<Trained>();
        TrainConfig? shared = null;
        foreach (var recipe in recipes)
        {
            var o = overrides.Concat([("run.recipe", TrainConfig.EnumName(recipe)), ("run.out", Path.Combine(outDir, TrainConfig.EnumName(recipe))), ("run.eval_after", "false")]).ToList();
            var config = TrainConfig.Resolve(configFile, o);
            shared ??= config;
            Checkpoint.Info? from = null;
            if (File.Exists(Path.Combine(Checkpoint.Folder(config.Run.Out), "latest")))
            {
                from = Checkpoint.ReadInfo(config.Run.Out);
                if (from.Step >= config.Run.Steps)
                {
                    Cli.Info($"compare: {TrainConfig.EnumName(recipe)} already trained ({from.Step} steps) in {config.Run.Out}");
                    runs.Add(new Trained(recipe, from.Folder, null, TrainSession.ReadLosses(config.Run.Out).LastOrDefault().loss));
                    continue;
                }
                config = from.Config;
                foreach (var (k, v) in o) config.Set(k, v);
                if (configFile != null) config.OverlayFile(configFile);
                config.Validate();
            }
            Cli.Info($"compare: training {TrainConfig.EnumName(recipe)}, {config.Run.Steps} steps, batch {config.Optimizer.BatchSize}, crops {config.Data.CropSize}, seed {config.Run.Seed} → {config.Run.Out}");
            var outcome = TrainCommand.Session(config, from, stop);
            if (outcome.Interrupted)
            {
                Cli.Info($"compare: stopped during {TrainConfig.EnumName(recipe)} at step {outcome.FinalStep}; run the same command again to continue");
                return 130;
            }
            runs.Add(new Trained(recipe, outcome.Checkpoint, outcome, outcome.LastLoss));
        }
        return Evaluate(shared!, runs, outDir);
    }

    private static int Evaluate(TrainConfig c, List<Trained> runs, string outDir)
    {
        var models = new List<TrainedModel>();
        var sets = new List<(string set, List<EvalPair> pairs)>();
        try
        {
            var methods = new List<IFeatureExtractor>();
            foreach (var run in runs)
            {
                // The comparison's eval.* settings for every model (not each run's saved ones): one evaluation for all.
                var m = TrainedModel.Open(run.Checkpoint, [], saved => saved.Eval = c.Eval);
                models.Add(m);
                methods.Add(m.Extractor(TrainConfig.EnumName(run.Recipe)));
            }
            methods.AddRange(Evaluator.Baselines(c.Eval.Budget, c.Eval.MaxImageSide));
            sets = PairSets.Standard(c, Cli.Warn);
            string budget = $"{c.Run.Steps} steps each, batch {c.Optimizer.BatchSize}, {c.Data.CropSize}-px crops, seed {c.Run.Seed}, model {TrainConfig.EnumName(c.Model.Kind)}, photos `{c.Data.Images}`";
            string header = $"Recipes {string.Join(", ", runs.Select(r => TrainConfig.EnumName(r.Recipe)))} trained with the same budget ({budget}); " +
                            $"detection {TrainConfig.EnumName(c.Eval.Detection)}, {c.Eval.Budget} keypoints; SIFT and ORB (OpenCV) at the same budget; RANSAC threshold {c.Eval.RansacThreshold} px. Matches drawn: {TrainConfig.EnumName(runs[0].Recipe)}.";
            var summaries = Evaluator.Run(methods, sets, new Evaluator.Options(outDir, header, c.Eval.RansacThreshold), Cli.Info);
            var poses = PoseEvaluator.Run(methods, PairSets.StandardPoses(c, Cli.Warn), outDir, c.Eval.PoseThreshold, Cli.Info);
            string table = Table(header, runs, summaries, poses);
            File.WriteAllText(Path.Combine(outDir, TableFile), table);
            Console.WriteLine(table);
            Cli.Info($"compare: table {Path.Combine(outDir, TableFile)}, plot {Path.Combine(outDir, Evaluator.MmaPlotFile)}, full report {Path.Combine(outDir, Evaluator.ReportFile)}");
            return 0;
        }
        finally
        {
            foreach (var (_, ps) in sets) foreach (var p in ps) p.Dispose();
            foreach (var m in models) m.Dispose();
        }
    }

    /// <summary>One row per method: training time and last loss (recipes), then MMA@3, H@3px and matches per homography set,
    /// pose AUC@5/10/20° per pose set.</summary>
    private static string Table(string header, List<Trained> runs, List<SetSummary> summaries, List<PoseSummary> poses)
    {
        static string F(double v) => v.ToString("F3", CultureInfo.InvariantCulture);
        var setNames = summaries.Select(s => s.Set).Distinct().ToList();
        var sb = new StringBuilder("# LocalFeat recipe comparison\n\n").Append(header).Append("\n\n");
        sb.Append("| method | train min | last loss |");
        foreach (var s in setNames)
        {
            int pairs = summaries.First(x => x.Set == s).Pairs;
            sb.Append(CultureInfo.InvariantCulture, $" {s} ({pairs}) MMA@3 | H@3px | matches |");
        }
        var poseSets = poses.Select(p => p.Set).Distinct().ToList();
        foreach (var s in poseSets)
            sb.Append(CultureInfo.InvariantCulture, $" {s} ({poses.First(x => x.Set == s).Pairs}) AUC@5° | AUC@10° | AUC@20° |");
        sb.Append("\n|---|---:|---:|").Append(string.Concat(setNames.Concat(poseSets).Select(_ => "---:|---:|---:|"))).Append('\n');
        foreach (var method in summaries.Select(s => s.Method).Distinct())
        {
            var run = runs.FirstOrDefault(r => TrainConfig.EnumName(r.Recipe) == method);
            string minutes = run?.Outcome is { } o ? (o.Elapsed.TotalMinutes).ToString("F1", CultureInfo.InvariantCulture) : run is null ? "" : "(earlier)";
            string loss = run?.LastLoss is { } l ? l.ToString("F4", CultureInfo.InvariantCulture) : "";
            sb.Append(CultureInfo.InvariantCulture, $"| {method} | {minutes} | {loss} |");
            foreach (var s in setNames)
            {
                var r = summaries.First(x => x.Set == s && x.Method == method);
                sb.Append(CultureInfo.InvariantCulture, $" {F(r.Mma[2])} | {F(r.HomographyAccuracy[1])} | {r.Matches:F0} |");
            }
            foreach (var s in poseSets)
            {
                var p = poses.First(x => x.Set == s && x.Method == method);
                sb.Append(CultureInfo.InvariantCulture, $" {100 * p.Auc[0]:F1} | {100 * p.Auc[1]:F1} | {100 * p.Auc[2]:F1} |");
            }
            sb.Append('\n');
        }
        sb.Append("\nMMA@3: share of mutual nearest-neighbour matches within 3 px of the ground truth (mean over pairs); H@3px: share of pairs whose RANSAC homography moves the corners by ≤ 3 px; AUC@x°: SuperGlue's pose AUC (%) of the relative-pose error up to x°. ")
          .Append(CultureInfo.InvariantCulture, $"Plot: `{Evaluator.MmaPlotFile}`; every threshold in `{Evaluator.ReportFile}`.\n");
        return sb.ToString();
    }
}

using LocalFeat.Models;
using LocalFeat.Train.Data;
using LocalFeat.Train.Settings;
using LocalFeat.Train.Training;
using LocalFeat.Train.Training.Recipes;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace LocalFeat.Tests.Train;

/// <summary>The tasp, hndesc and tpr recipes: they learn, resume bit for bit, checkpoint their own state, reject bad settings.</summary>
[Collection(SerialCollection.Name)]  // sets the process-wide torch seed and thread count
public class RecipeTests
{
    private static TrainConfig Config(string tag, Recipe recipe, long steps = 4)
    {
        var c = TrainFixture.Config(TrainFixture.TempDir(tag), steps);
        c.Run.Recipe = recipe;
        c.Validate();
        return c;
    }

    private static Dictionary<string, float[]> Values(nn.Module module) =>
        module.named_parameters().Select(p => (p.name, t: (Tensor)p.parameter))
            .Concat(module.named_buffers().Select(b => (b.name, t: b.buffer)))
            .ToDictionary(p => p.name, p => p.t.detach().to(ScalarType.Float32).cpu().data<float>().ToArray());

    private static void AssertEqualValues(Dictionary<string, float[]> a, Dictionary<string, float[]> b, string what)
    {
        Assert.Equal(a.Keys.Order(), b.Keys.Order());
        foreach (var (name, values) in a) Assert.True(values.AsSpan().SequenceEqual(b[name]), $"{what}: {name} differs");
    }

    private static (List<(string, Tensor)> images, PairSampler sampler) Data(TrainConfig c, FeatureNet model)
    {
        var folder = new ImageFolder(c.Data.Images);
        var images = folder.Load(folder.Train, _ => { });
        return (images, new PairSampler(images, PairSettings.From(c), model.Stride));
    }

    [Theory]
    [InlineData(Recipe.Tasp)]
    [InlineData(Recipe.Hndesc)]
    [InlineData(Recipe.Tpr)]
    public void AFewStepsLowerTheLossOnAFixedBatch(Recipe recipe)
    {
        var c = Config("fixed-" + recipe, recipe, steps: 30);
        c.Optimizer.LrSchedule = LrSchedule.Constant;
        torch.manual_seed(3);
        using var model = FeatureNet.Tiny();
        var (images, sampler) = Data(c, model);
        using (sampler)
        using (var batch = Batch.Make(sampler, 11, step: 0, batchSize: 2))
        using (var trainer = new Trainer(model, c, torch.CPU))
        {
            var losses = Enumerable.Range(0, 30).Select(s => trainer.Step(batch, s).Loss).ToArray();
            // The mean of the last five against the first: TPR's target moves with the online net, so single steps are noisy.
            double end = losses[^5..].Average();
            Assert.True(end < 0.8 * losses[0], $"{recipe}: loss went {losses[0]:F4} → {end:F4}: [{string.Join(", ", losses.Select(l => l.ToString("F3")))}]");
        }
        foreach (var (_, t) in images) t.Dispose();
    }

    [Fact]
    public void Tasp_OnScenePairs_MinesUnderThe3dWindow_AndNeverPicksCellsWithoutDepth()
    {
        var c = Config("scene", Recipe.Tasp);
        c.Loss.SafeRadius3D = 0.1;  // the made-up points below are in cell units: a sphere inside one cell
        torch.manual_seed(5);
        using var model = FeatureNet.Tiny();
        var (images, sampler) = Data(c, model);
        using (sampler)
        {
            var plain = Batch.Make(sampler, 13, step: 0, batchSize: 2);
            long g = Correspondences.GridSize(c.Data.CropSize, model.Stride);
            // 3-D points in image 2's grid units: cell (i, j) of image 2 at (j, i, 1); a cell of image 1 at its correspondence's
            // point; the left quarter of image 2 without depth (NaN).
            Tensor[] p1 = new Tensor[2], p2 = new Tensor[2];
            for (int k = 0; k < 2; k++)
            {
                var mesh = torch.meshgrid([torch.arange(0, g, 1, ScalarType.Float32), torch.arange(0, g, 1, ScalarType.Float32)]);
                var pts2 = torch.stack([mesh[1], mesh[0], torch.ones(g, g)], 2).contiguous();
                pts2.index_put_(float.NaN, TensorIndex.Colon, TensorIndex.Slice(0, g / 4));
                var pts1 = torch.full(g, g, 3, float.NaN);
                var m = plain.Matches[k];
                var flat = m.Cells1.select(1, 0) * g + m.Cells1.select(1, 1);
                var values = torch.stack([m.Pos2.select(1, 1), m.Pos2.select(1, 0), torch.ones(m.Count)], 1);
                pts1.view(-1, 3).index_copy_(0, flat, values);
                (p1[k], p2[k]) = (pts1, pts2);
            }
            using var batch = new Batch { Step = 0, Images1 = plain.Images1, Images2 = plain.Images2, Matches = plain.Matches, H12 = plain.H12, Sources = plain.Sources, Points1 = p1, Points2 = p2 };
            using var d1 = PairFeatures.At(model.Forward(batch.Images1, dense: false)[0], batch.Matches[0].Cells1);
            using var features2 = model.Forward(batch.Images2, dense: false)[0];
            using var d2 = PairFeatures.At(features2, batch.Matches[0].Pos2);
            var tri = SafeWindowNegatives.Mine(batch, 0, d1, d2, features2, c);
            Assert.True(tri.Rows.size(0) > 0);
            var negCol = tri.Negative.remainder(g);
            Assert.True(negCol.ge(g / 4).all().item<bool>(), "a cell without depth was picked as a negative");
            // Outside the sphere: the negative's point is farther than the radius from the correspondence's.
            var negPoint = p2[0].view(-1, 3).index_select(0, tri.Negative);
            var cells = batch.Matches[0].Cells1.index_select(0, tri.Rows);
            var anchorPoint = p1[0].view(-1, 3).index_select(0, cells.select(1, 0) * g + cells.select(1, 1));
            Assert.True((negPoint - anchorPoint).norm(1).gt(c.Loss.SafeRadius3D).all().item<bool>());

            using var trainer = new Trainer(model, c, torch.CPU);
            var losses = Enumerable.Range(0, 15).Select(s => trainer.Step(batch, s).Loss).ToArray();
            Assert.True(losses[^3..].Average() < 0.9 * losses[0], $"loss went {losses[0]:F4} → {losses[^1]:F4}");
        }
        foreach (var (_, t) in images) t.Dispose();
    }

    [Theory]
    [InlineData(Recipe.Tasp)]
    [InlineData(Recipe.Hndesc)]
    [InlineData(Recipe.Tpr)]
    public void ResumeContinuesBitForBit_IncludingTheRecipeState(Recipe recipe)
    {
        var a = Config("resA-" + recipe, recipe);
        TrainSession.Run(a, null, new RecordingProgress(), CancellationToken.None);
        var b = Config("resB-" + recipe, recipe);
        using (var cts = new CancellationTokenSource())
            Assert.True(TrainSession.Run(b, null, new RecordingProgress(cts, stopAfter: 1), cts.Token).Interrupted);
        var info1 = Checkpoint.ReadInfo(b.Run.Out);
        Assert.Equal((1L, recipe), (info1.Step, info1.Recipe));
        Assert.Equal(4, TrainSession.Run(info1.Config, info1, new RecordingProgress(), CancellationToken.None).FinalStep);

        var (infoA, infoB) = (Checkpoint.ReadInfo(a.Run.Out), Checkpoint.ReadInfo(b.Run.Out));
        using (var ma = Checkpoint.LoadModel(infoA)) using (var mb = Checkpoint.LoadModel(infoB)) AssertEqualValues(Values(ma), Values(mb), "model");
        bool hasState = recipe != Recipe.Hndesc;
        Assert.Equal(hasState, File.Exists(Path.Combine(infoA.Folder, Checkpoint.RecipeFile)));
        if (hasState)
            Assert.Equal(File.ReadAllBytes(Path.Combine(infoA.Folder, Checkpoint.RecipeFile)), File.ReadAllBytes(Path.Combine(infoB.Folder, Checkpoint.RecipeFile)));
        // Adam's state (the .pth zip carries timestamps, so compared by python3-torch): same step counters, moments equal bit for bit.
        Assert.Equal("equal", TrainFixture.Python($$"""
            import torch
            a, b = (torch.load(f, weights_only=False)["state"] for f in ("{{Path.Combine(infoA.Folder, Checkpoint.OptimizerFile)}}", "{{Path.Combine(infoB.Folder, Checkpoint.OptimizerFile)}}"))
            same = a.keys() == b.keys() and len(a) > 0 and all(torch.equal(torch.as_tensor(a[k][n]), torch.as_tensor(b[k][n])) for k in a for n in ("step", "exp_avg", "exp_avg_sq"))
            print("equal" if same else "different")
            """));
        static string[] Rows(string dir) => File.ReadLines(Path.Combine(dir, TrainSession.MetricsFile)).Skip(1).Select(l => string.Join(',', l.Split(',').Take(6))).ToArray();
        Assert.Equal(Rows(a.Run.Out), Rows(b.Run.Out));
    }

    [Theory]
    [InlineData(Recipe.Tasp)]
    [InlineData(Recipe.Tpr)]
    public void RecipeState_RoundTripsThroughACheckpoint(Recipe recipe)
    {
        var c = Config("state-" + recipe, recipe);
        torch.manual_seed(1);
        using var model = FeatureNet.Tiny();
        var (images, sampler) = Data(c, model);
        Dictionary<string, float[]> saved;
        using (sampler)
        using (var batch = Batch.Make(sampler, 3, step: 0, batchSize: 2))
        using (var trainer = new Trainer(model, c, torch.CPU))
        {
            for (int s = 0; s < 2; s++) trainer.Step(batch, s);
            Checkpoint.Save(c.Run.Out, model, trainer.Optimizer, 2, c, recipe: trainer.Recipe);
            saved = Values(trainer.Recipe.State!);
            if (trainer.Recipe is TaspRecipe tasp)
            {
                // The histogram has seen two batches: a distribution (sum 1), not the empty state.
                Assert.Equal(1.0, tasp.Histogram.State.sum().item<float>(), 4);
            }
            if (trainer.Recipe is TprRecipe tpr)
            {
                // After two EMA steps the target differs from the online network (τ < 1) but is not the initial copy either.
                Assert.NotEqual(Values(model)["features.0.weight"], Values(tpr.Modules.Target)["features.0.weight"]);
            }
        }
        foreach (var (_, t) in images) t.Dispose();

        torch.manual_seed(99);  // other initial weights: everything must come from the file
        using var fresh = FeatureNet.Tiny();
        using var other = new Trainer(fresh, c, torch.CPU);
        var info = Checkpoint.ReadInfo(c.Run.Out);
        Checkpoint.LoadRecipe(info, other.Recipe);
        AssertEqualValues(saved, Values(other.Recipe.State!), "recipe state");
        if (other.Recipe is TaspRecipe t2) Assert.Equal(saved["diw_histogram"], t2.Histogram.State.data<float>().ToArray());

        // A checkpoint of another recipe is refused with one line naming both.
        var d2 = Config("state-d2-" + recipe, Recipe.D2net);
        using var d2trainer = new Trainer(fresh, d2, torch.CPU);
        var e = Assert.Throws<ConfigException>(() => Checkpoint.LoadRecipe(info, d2trainer.Recipe));
        Assert.Contains($"trained with recipe {TrainConfig.EnumName(recipe)}, got 'd2net'", e.Message);
    }

    [Fact]
    public void QuantizedAp_MatchesR2d2sQuantizerConvolution()
    {
        // R2D2's APLoss (naver/r2d2, nets/ap_loss.py) as published: a fixed Conv1d of 2·nq lines, min of the two halves, clamp ≥ 0.
        var rng = new Random(4);
        float[] x = Enumerable.Range(0, 5 * 21).Select(_ => (float)(rng.NextDouble() * 1.4 - 0.2)).ToArray();
        float[] label = Enumerable.Range(0, 5 * 21).Select(i => i % 21 == 0 || i % 7 == 3 ? 1f : 0f).ToArray();
        using var sim = torch.tensor(x, [5, 21]);
        using var lab = torch.tensor(label, [5, 21]);
        using var ap = QuantizedAp.Apply(sim, lab, bins: 20);
        string expected = TrainFixture.Python($$"""
            import numpy as np, torch
            nq, lo, hi = 20, 0.0, 1.0
            x = torch.tensor([{{string.Join(",", x.Select(v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture)))}}]).view(5, 21)
            lab = torch.tensor([{{string.Join(",", label.Select(v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture)))}}]).view(5, 21)
            q = torch.nn.Conv1d(1, 2 * nq, kernel_size=1, bias=True)
            a = (nq - 1) / (hi - lo)
            with torch.no_grad():
                q.weight[:nq] = -a; q.bias[:nq] = torch.from_numpy(a * lo + np.arange(nq, 0, -1))
                q.weight[nq:] = a; q.bias[nq:] = torch.from_numpy(np.arange(2 - nq, 2, 1) - a * lo)
                q.weight[0] = q.weight[-1] = 0; q.bias[0] = q.bias[-1] = 1
                v = q(x.unsqueeze(1)); v = torch.min(v[:, :nq], v[:, nq:]).clamp(min=0)
                nbs = v.sum(-1); rec = (v * lab.view(5, 1, 21)).sum(-1)
                prec = rec.cumsum(-1) / (1e-16 + nbs.cumsum(-1)); rec = rec / rec.sum(-1).unsqueeze(1)
                print(" ".join("%.6f" % t for t in (prec * rec).sum(-1)))
            """);
        var got = ap.data<float>().ToArray();
        var want = expected.Split(' ').Select(t => double.Parse(t, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        for (int i = 0; i < 5; i++) Assert.True(Math.Abs(got[i] - want[i]) < 1e-5, $"row {i}: {got[i]} vs R2D2 {want[i]}");
        Assert.True(got.Distinct().Count() > 1);  // rows differ: a constant would not test the binning
    }

    [Fact]
    public void Format2Checkpoints_AreReadAsD2net()
    {
        var c = Config("fmt2", Recipe.D2net, steps: 1);
        TrainSession.Run(c, null, new RecordingProgress(), CancellationToken.None);
        var info = Checkpoint.ReadInfo(c.Run.Out);
        string state = Path.Combine(info.Folder, Checkpoint.StateFile);
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(state))!.AsObject();
        json["format"] = 2;
        json.Remove("recipe");
        File.WriteAllText(state, json.ToJsonString());
        var old = Checkpoint.ReadInfo(c.Run.Out);
        Assert.Equal(Recipe.D2net, old.Recipe);
        torch.manual_seed(0);
        using var model = Checkpoint.LoadModel(old);
        using var trainer = new Trainer(model, old.Config, torch.CPU);
        Checkpoint.LoadRecipe(old, trainer.Recipe);  // d2net has no state: nothing to read, no error
    }

    [Theory]
    [InlineData("run.recipe", "superpoint", "config 'run.recipe': expected one of d2net | tasp | hndesc | tpr, got 'superpoint'")]
    [InlineData("tasp.diw_momentum", "0", "config 'tasp.diw_momentum': expected a number in (0, 1], got 0")]
    [InlineData("tasp.patch_size", "4", "config 'tasp.patch_size': expected a number of pixels in [8, 256], got 4")]
    [InlineData("hndesc.k", "65", "config 'hndesc.k': expected an integer in [1, 64], got 65")]
    [InlineData("tpr.tau_base", "1.5", "config 'tpr.tau_base': expected a number in [0, 1], got 1.5")]
    [InlineData("tpr.label", "fuzzy", "config 'tpr.label': expected one of hard | soft, got 'fuzzy'")]
    public void BadRecipeNamesAndSettings_StopWithOneLine(string key, string value, string expected)
    {
        var c = new TrainConfig();
        Assert.Equal(expected, Assert.Throws<ConfigException>(() => { c.Set(key, value); c.Validate(); }).Message);
    }

    [Fact]
    public void Hndesc_NeedsTwoPairsPerBatch_AndTheConsoleSaysSoInOneLine()
    {
        var (code, _, stderr) = ConsoleProcess.Run(["train", "--recipe", "hndesc", "--set", "optimizer.batch_size=1", "--out", TrainFixture.TempDir("hn1"), "--no-eval"]);
        Assert.Equal(1, code);
        Assert.Equal("error: config 'optimizer.batch_size': expected an integer ≥ 2 with run.recipe hndesc (its negatives come from the other pairs of the batch), got 1", stderr.Trim());
    }
}

[Collection(SerialCollection.Name)]
public class CompareTests
{
    [Fact]
    public void Compare_TrainsEveryRecipe_EvaluatesThemOnTheSamePairs_AndWritesOneTableAndOnePlot()
    {
        string outDir = TrainFixture.TempDir("compare");
        // The three training photos and one held-out photo, the source of the synthetic homography and pose pairs.
        string photos = TrainFixture.TempDir("compare-photos");
        foreach (var f in Directory.GetFiles(TrainFixture.Photos3WithCorrupt)) File.Copy(f, Path.Combine(photos, Path.GetFileName(f)));
        File.Copy(Path.Combine(TrainConfig.DefaultImages, "box_in_scene.png"), Path.Combine(photos, "box_in_scene.png"));
        var overrides = new List<(string, string)>
        {
            ("data.images", photos), ("data.crop_size", "96"), ("data.min_correspondences", "16"),
            ("run.steps", "2"), ("run.checkpoint_every", "2"), ("run.log_every", "1"), ("run.seed", "7"), ("run.threads", "2"),
            ("optimizer.warmup_steps", "0"), ("eval.budget", "100"), ("eval.max_image_side", "320"), ("eval.synthetic_pairs", "1"), ("eval.synthetic_pose_pairs", "1"),
        };
        var recipes = LocalFeat.Train.Commands.CompareCommand.ParseRecipes(null);
        Assert.Equal([Recipe.D2net, Recipe.Tasp, Recipe.Hndesc, Recipe.Tpr], recipes);
        Assert.Equal(0, LocalFeat.Train.Commands.CompareCommand.Run(null, overrides, outDir, recipes, CancellationToken.None));
        foreach (var r in recipes)
        {
            var info = Checkpoint.ReadInfo(Path.Combine(outDir, TrainConfig.EnumName(r)));
            Assert.Equal((2L, r, 7L), (info.Step, info.Recipe, info.Config.Run.Seed));
        }
        string table = File.ReadAllText(Path.Combine(outDir, LocalFeat.Train.Commands.CompareCommand.TableFile));
        var rows = table.Split('\n').Where(l => l.StartsWith("| ", StringComparison.Ordinal) && !l.StartsWith("| method", StringComparison.Ordinal)).ToList();
        Assert.Equal(6, rows.Count);  // four recipes, SIFT, ORB
        foreach (var r in recipes) Assert.Contains(rows, l => l.StartsWith($"| {TrainConfig.EnumName(r)} |", StringComparison.Ordinal));
        Assert.Contains("graf1→graf3", table);
        Assert.Contains($"{LocalFeat.Train.Evaluation.PairSets.SyntheticPoseSet} (1) AUC@5°", table);
        Assert.True(new FileInfo(Path.Combine(outDir, LocalFeat.Train.Evaluation.Evaluator.MmaPlotFile)).Length > 1000);

        // Again: nothing retrained (the runs are at the budget), the same models evaluated again give the same metrics.
        string before = string.Join('\n', rows.Select(l => string.Join('|', l.Split('|').Skip(3))));
        Assert.Equal(0, LocalFeat.Train.Commands.CompareCommand.Run(null, overrides, outDir, recipes, CancellationToken.None));
        var again = File.ReadAllText(Path.Combine(outDir, LocalFeat.Train.Commands.CompareCommand.TableFile)).Split('\n')
            .Where(l => l.StartsWith("| ", StringComparison.Ordinal) && !l.StartsWith("| method", StringComparison.Ordinal));
        Assert.Equal(before, string.Join('\n', again.Select(l => string.Join('|', l.Split('|').Skip(3)))));
        Assert.Equal(2, Checkpoint.ReadInfo(Path.Combine(outDir, "tpr")).Step);

        Assert.Equal("--recipes: expected a comma-separated list of d2net | tasp | hndesc | tpr, got 'sift'",
            Assert.Throws<ConfigException>(() => LocalFeat.Train.Commands.CompareCommand.ParseRecipes("d2net,sift")).Message);
    }
}

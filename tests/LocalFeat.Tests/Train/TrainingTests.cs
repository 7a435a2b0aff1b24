using TorchSharp;
using static TorchSharp.torch;
using LocalFeat.Train.Vision;
using LocalFeat.Train.Data;
using LocalFeat.Models;
using LocalFeat.Train.Settings;
using LocalFeat.Train.Training;
using Xunit;

namespace LocalFeat.Tests.Train;

/// <summary>Progress sink that records messages and can stop the run after a given step.</summary>
internal sealed class RecordingProgress(CancellationTokenSource? stopper = null, long stopAfter = long.MaxValue) : ITrainProgress
{
    public List<string> Messages { get; } = [];
    public List<(long step, double loss)> Steps { get; } = [];
    public void Started(long firstStep, long totalSteps) { }
    public void Stepped(long completed, long totalSteps, Trainer.StepResult r, double imagesPerSecond)
    {
        Steps.Add((completed, r.Loss));
        if (completed >= stopAfter) stopper?.Cancel();
    }
    public void Message(string text) => Messages.Add(text);
}

[Collection(SerialCollection.Name)]  // sets the process-wide torch seed and thread count
public class TrainingTests
{
    private static Dictionary<string, float[]> Parameters(FeatureNet model) =>
        model.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().data<float>().ToArray());

    [Fact]
    public void AFewStepsLowerTheLossOnAFixedBatch()
    {
        var c = TrainFixture.Config(TrainFixture.TempDir("fixed"));
        c.Optimizer.LrSchedule = LrSchedule.Constant;
        var folder = new ImageFolder(c.Data.Images);
        var images = folder.Load(folder.Train, _ => { });
        torch.manual_seed(3);
        using var model = FeatureNet.Tiny();
        using var sampler = new PairSampler(images, PairSettings.From(c), model.Stride);
        using var batch = Batch.Make(sampler, 11, step: 0, batchSize: 2);
        using var trainer = new Trainer(model, c, torch.CPU);
        var losses = Enumerable.Range(0, 30).Select(s => trainer.Step(batch, s).Loss).ToArray();
        foreach (var (_, t) in images) t.Dispose();
        // Fitting one batch: the loss must fall clearly below its start (it starts near the margin, 1).
        Assert.True(losses[^1] < 0.8 * losses[0], $"loss went {losses[0]:F4} → {losses[^1]:F4}: [{string.Join(", ", losses.Select(l => l.ToString("F3")))}]");
    }

    [Fact]
    public void ResumeContinuesBitForBit_AndCheckpointRoundTrips()
    {
        // Run A: 4 steps straight. Run B: stopped (Ctrl-C path) after step 1, resumed to 4.
        var a = TrainFixture.Config(TrainFixture.TempDir("runA"));
        var progressA = new RecordingProgress();
        var outA = TrainSession.Run(a, null, progressA, CancellationToken.None);
        Assert.Equal(4, outA.FinalStep);
        Assert.Contains(progressA.Messages, m => m.Contains(TrainFixture.CorruptName) && m.StartsWith("warning", StringComparison.Ordinal));

        var b = TrainFixture.Config(TrainFixture.TempDir("runB"));
        using var cts = new CancellationTokenSource();
        var outB1 = TrainSession.Run(b, null, new RecordingProgress(cts, stopAfter: 1), cts.Token);
        Assert.True(outB1.Interrupted);
        Assert.Equal(1, outB1.FinalStep);
        var info1 = Checkpoint.ReadInfo(b.Run.Out);
        Assert.Equal(1, info1.Step);

        var outB2 = TrainSession.Run(info1.Config, info1, new RecordingProgress(), CancellationToken.None);
        Assert.Equal(1, outB2.StartStep);
        Assert.Equal(4, outB2.FinalStep);

        var infoA = Checkpoint.ReadInfo(a.Run.Out);
        var infoB = Checkpoint.ReadInfo(b.Run.Out);
        Assert.Equal(4, infoA.Step);
        Assert.Equal(4, infoB.Step);
        using var modelA = Checkpoint.LoadModel(infoA);
        using var modelB = Checkpoint.LoadModel(infoB);
        var pa = Parameters(modelA);
        var pb = Parameters(modelB);
        Assert.Equal(pa.Keys.Order(), pb.Keys.Order());
        foreach (var (name, values) in pa) Assert.True(values.AsSpan().SequenceEqual(pb[name]), $"parameter {name} differs after resume");

        // Same losses and learning rates per step (the timing columns differ); no duplicate rows after resume.
        static string[] Rows(string dir) => File.ReadLines(Path.Combine(dir, TrainSession.MetricsFile)).Skip(1)
            .Select(l => string.Join(',', l.Split(',').Take(6))).ToArray();
        Assert.Equal(Rows(a.Run.Out), Rows(b.Run.Out));
        Assert.Equal(4, Rows(b.Run.Out).Length);
        Assert.True(File.Exists(Path.Combine(a.Run.Out, TrainSession.LossPlotFile)));
        Assert.True(File.Exists(Path.Combine(a.Run.Out, TrainSession.ConfigFile)));

        // The optimizer state is in the checkpoint, as a PyTorch optimizer state_dict: Adam's per-parameter step
        // counters read 4 in both runs, and its moments are equal (read back by python3-torch).
        static string Adam(string folder) => TrainFixture.Python($$"""
            import torch
            sd = torch.load("{{Path.Combine(folder, Checkpoint.OptimizerFile)}}", weights_only=False)
            st = sd["state"]
            print(len(st), sorted({float(s["step"]) for s in st.values()}), "%.9g" % sum(float(s["exp_avg"].double().abs().sum()) for s in st.values()))
            """);
        string adamA = Adam(infoA.Folder);
        Assert.StartsWith($"{pa.Count} [4.0] ", adamA);
        Assert.Equal(adamA, Adam(infoB.Folder));
    }

    [Fact]
    public void InterruptedCheckpointWrite_LeavesThePreviousCheckpointCurrentAndIntact()
    {
        var c = TrainFixture.Config(TrainFixture.TempDir("crash"), steps: 2);
        TrainSession.Run(c, null, new RecordingProgress(), CancellationToken.None);
        var before = Checkpoint.ReadInfo(c.Run.Out);
        Assert.Equal(2, before.Step);
        var modelFile = Path.Combine(before.Folder, Checkpoint.ModelFile);
        byte[] bytesBefore = File.ReadAllBytes(modelFile);

        torch.manual_seed(99);
        using var other = FeatureNet.Tiny();  // different weights: a checkpoint that must not become current
        using var trainer = new Trainer(other, c, torch.CPU);
        var e = Assert.Throws<IOException>(() => Checkpoint.Save(c.Run.Out, other, trainer.Optimizer, 3, c,
            afterFile: f => { if (f == Checkpoint.OptimizerFile) throw new IOException("simulated crash while writing the checkpoint"); }));
        Assert.Contains("simulated crash", e.Message);

        var after = Checkpoint.ReadInfo(c.Run.Out);
        Assert.Equal(2, after.Step);
        Assert.Equal(before.Folder, after.Folder);
        Assert.Equal(bytesBefore, File.ReadAllBytes(modelFile));
        Assert.False(Directory.Exists(Path.Combine(Checkpoint.Folder(c.Run.Out), "step-00000003")));
        using var loaded = Checkpoint.LoadModel(after);  // still complete and loadable

        // The next successful save removes the half-written leftovers.
        Assert.NotEmpty(Directory.GetDirectories(Checkpoint.Folder(c.Run.Out), ".step-*"));
        Checkpoint.Save(c.Run.Out, other, trainer.Optimizer, 3, c);
        Assert.Empty(Directory.GetDirectories(Checkpoint.Folder(c.Run.Out), ".step-*"));
        Assert.Equal(3, Checkpoint.ReadInfo(c.Run.Out).Step);

        // A fresh run into this folder would mix two runs: refused, pointing at --resume.
        var refuse = Assert.Throws<ConfigException>(() => TrainSession.Run(c, null, new RecordingProgress(), CancellationToken.None));
        Assert.Contains("--resume", refuse.Message);
    }

    [Fact]
    public void LearningRateSchedule_WarmupThenCosineToTheFinalFactor()
    {
        var c = new TrainConfig { Run = new() { Steps = 110 }, Optimizer = new() { Lr = 1e-3, WarmupSteps = 10, LrFinalFactor = 0.1, LrSchedule = LrSchedule.Cosine } };
        Assert.Equal(1e-4, Trainer.LearningRate(c, 0), 12);     // (0+1)/10 of lr
        Assert.Equal(1e-3, Trainer.LearningRate(c, 9), 12);
        Assert.Equal(1e-3, Trainer.LearningRate(c, 10), 12);    // cosine start: t = 0
        Assert.Equal(1e-3 * (0.1 + 0.9 * 0.5), Trainer.LearningRate(c, 60), 12);  // t = 1/2: cos = 0
        Assert.Equal(1e-4, Trainer.LearningRate(c, 110), 12);   // t = 1
        c.Optimizer.LrSchedule = LrSchedule.Step;
        Assert.Equal(1e-3, Trainer.LearningRate(c, 59), 12);
        Assert.Equal(1e-3 * Math.Sqrt(0.1), Trainer.LearningRate(c, 60), 12);
        Assert.Equal(1e-4, Trainer.LearningRate(c, 85), 12);
    }

    [Fact]
    public void GradientClipping_ScalesTheGlobalNormDownToTheLimit()
    {
        using var a = torch.tensor(new float[] { 3, 0 }).requires_grad_();
        using var b = torch.tensor(new float[] { 0, 4 }).requires_grad_();
        using (var loss = (a * torch.tensor(new float[] { 3, 0 })).sum() + (b * torch.tensor(new float[] { 0, 4 })).sum()) loss.backward();
        double norm = Trainer.ClipGradients([a, b], 1.0);
        Assert.Equal(5.0, norm, 5);  // ‖(3,0,0,4)‖
        using var ga = a.grad!;
        using var gb = b.grad!;
        Assert.Equal(new[] { 0.6f, 0f }, ga.data<float>().ToArray(), (x, y) => Math.Abs(x - y) < 1e-5);
        Assert.Equal(new[] { 0f, 0.8f }, gb.data<float>().ToArray(), (x, y) => Math.Abs(x - y) < 1e-5);
    }
}

using System.Text.Json.Nodes;
using LocalFeat.Models;
using LocalFeat.Train.Commands;
using LocalFeat.Train.Data;
using LocalFeat.Train.Evaluation;
using LocalFeat.Train.Training;
using TorchSharp;
using static TorchSharp.torch;
using Xunit;

namespace LocalFeat.Tests.Train;

/// <summary>Issue 16, the mechanisms behind the console's fault handling, in process: pins, locks, state validation, the walk, the cap, the ETA.</summary>
[Collection(SerialCollection.Name)]  // sets the process-wide torch seed and thread count
public class ReliabilityTests
{
    private static (TrainConfig c, FeatureNet model, Trainer trainer) Saver(string run)
    {
        var c = TrainFixture.Config(run);
        c.Run.KeepCheckpoints = 1;
        torch.manual_seed(5);
        var model = FeatureNet.Tiny();
        return (c, model, new Trainer(model, c, torch.CPU));
    }

    [Fact]
    public void APinnedCheckpoint_IsNotPrunedUntilReleased()
    {
        string run = TrainFixture.TempDir("pin");
        var (c, model, trainer) = Saver(run);
        using (model) using (trainer)
        {
            string first = Checkpoint.Save(run, model, trainer.Optimizer, 1, c);
            using (var pin = Checkpoint.Pin(run))
            {
                Assert.Equal(first, pin.Info.Folder);
                Checkpoint.Save(run, model, trainer.Optimizer, 2, c);  // keep_checkpoints 1: step 1 is due for pruning
                Assert.True(File.Exists(Path.Combine(first, Checkpoint.ModelFile)), "a pinned checkpoint was pruned");
                using var again = Checkpoint.LoadModel(pin.Info);
            }
            Checkpoint.Save(run, model, trainer.Optimizer, 3, c);
            Assert.False(Directory.Exists(first));
            Assert.Equal(["step-00000003"], Directory.GetDirectories(Checkpoint.Folder(run)).Select(Path.GetFileName));
        }
    }

    private static string StateFile(string run) => Path.Combine(Checkpoint.Locate(run), Checkpoint.StateFile);

    private static string Edit(string run, Action<JsonObject> edit)
    {
        string file = StateFile(run);
        var state = JsonNode.Parse(File.ReadAllText(file))!.AsObject();
        edit(state);
        File.WriteAllText(file, state.ToJsonString());
        return file;
    }

    [Fact]
    public void CheckpointState_IsValidatedOnLoad_NamingFileAndField()
    {
        string run = TrainFixture.TempDir("state");
        var (c, model, trainer) = Saver(run);
        using (model) using (trainer) Checkpoint.Save(run, model, trainer.Optimizer, 4, c);
        string good = File.ReadAllText(StateFile(run));
        string Fails(Action<JsonObject> edit)
        {
            File.WriteAllText(StateFile(run), good);
            Edit(run, edit);
            return Assert.Throws<InvalidDataException>(() => Checkpoint.ReadInfo(run)).Message;
        }
        string file = StateFile(run);
        Assert.Equal($"'{file}': field 'torch_rng': expected base64 text of libtorch's RNG state, got '%%% not base64'", Fails(s => s["torch_rng"] = "%%% not base64"));
        using (var rng = torch.random.get_rng_state())
            Assert.Equal($"'{file}': field 'torch_rng': expected {rng.numel()} bytes of libtorch's CPU RNG state, got 3", Fails(s => s["torch_rng"] = Convert.ToBase64String(new byte[] { 1, 2, 3 })));
        Assert.Equal($"'{file}': field 'torch_rng': expected base64 text, got 42", Fails(s => s["torch_rng"] = 42));
        Assert.Equal($"'{file}': field 'step': expected an integer ≥ 0, got -3", Fails(s => s["step"] = -3));
        Assert.Equal($"'{file}': field 'step' is missing (expected an integer ≥ 0)", Fails(s => s.Remove("step")));
        File.WriteAllText(StateFile(run), good);
        Assert.Equal(4, Checkpoint.ReadInfo(run).Step);

        // `latest` may only name a step folder beside it.
        string latest = Path.Combine(Checkpoint.Folder(run), "latest");
        foreach (var outside in new[] { "/etc", "../../elsewhere/step-00000004", "step-00000004/../../x" })
        {
            File.WriteAllText(latest, outside);
            Assert.Equal($"'{latest}': expected the name of a checkpoint folder beside it (step-NNNNNNNN), got '{outside}'",
                Assert.Throws<InvalidDataException>(() => Checkpoint.Locate(run)).Message);
        }
    }

    [Fact]
    public void AHeldRunFolder_IsRefused_AndStalePartialCheckpointsAreCleanedAtStart()
    {
        string run = TrainFixture.TempDir("held");
        var c = TrainFixture.Config(run, steps: 2);
        TrainSession.Run(c, null, new RecordingProgress(), CancellationToken.None);
        // What a killed writer leaves: a partial checkpoint folder and a half-written latest.
        string stale = Path.Combine(Checkpoint.Folder(run), ".step-00000003.tmp-999999");
        Directory.CreateDirectory(stale);
        File.WriteAllText(Path.Combine(Checkpoint.Folder(run), "latest.tmp-999999"), "step-0000");

        // Another process's lock, as the kernel sees it: an exclusive flock on RUN/.lock (FileShare.None).
        File.WriteAllText(Path.Combine(run, RunLock.HolderFile), "pid 4242 on elsewhere since then\n");
        var info = Checkpoint.ReadInfo(run);
        var resumed = info.Config;
        resumed.Run.Steps = 3;
        using (new FileStream(Path.Combine(run, RunLock.LockFile), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None))
        {
            var e = Assert.Throws<RunFolderInUseException>(() => TrainSession.Run(resumed, info, new RecordingProgress(), CancellationToken.None));
            Assert.Equal($"run folder '{Path.GetFullPath(run)}' is in use by another localfeat train (pid 4242 on elsewhere since then): wait for it to finish or stop it, or choose another --out", e.Message);
            Assert.True(Directory.Exists(stale));  // nothing touched while refused
        }
        TrainSession.Run(resumed, info, new RecordingProgress(), CancellationToken.None);
        Assert.False(Directory.Exists(stale));
        Assert.Empty(Directory.GetFiles(Checkpoint.Folder(run), "latest.tmp*"));
        Assert.Equal(3, Checkpoint.ReadInfo(run).Step);
    }

    [Fact]
    public void CancelledBeforeTheFirstStep_WritesNoCheckpointAndNoPlot()
    {
        string run = TrainFixture.TempDir("cancel0");
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        var progress = new RecordingProgress();
        var outcome = TrainSession.Run(TrainFixture.Config(run), null, progress, cts.Token);
        Assert.True(outcome.Interrupted);
        Assert.Equal("", outcome.Checkpoint);
        Assert.Equal(0, outcome.FinalStep);
        Assert.Contains("stopped before the first step: nothing trained, no checkpoint written", progress.Messages);
        Assert.False(File.Exists(Path.Combine(run, TrainSession.LossPlotFile)));
        Assert.False(Directory.Exists(Checkpoint.Folder(run)));
    }

    [Fact]
    public void TheWalk_FollowsEachRealFolderOnce_AndStopsWhenCancelled()
    {
        string root = TrainFixture.TempDir("walk"), a = Path.Combine(root, "a"), b = Path.Combine(root, "b");
        Directory.CreateDirectory(a);
        Directory.CreateDirectory(b);
        File.WriteAllBytes(Path.Combine(a, "x.png"), [1]);
        File.WriteAllBytes(Path.Combine(b, "y.jpg"), [1]);
        File.CreateSymbolicLink(Path.Combine(a, "up"), "..");         // loop back to the root
        File.CreateSymbolicLink(Path.Combine(a, "self"), ".");        // self-link
        File.CreateSymbolicLink(Path.Combine(root, "c"), b);          // a second name for b: its photos count once
        File.CreateSymbolicLink(Path.Combine(root, "dangling"), Path.Combine(root, "nowhere"));
        Assert.Equal(["a/x.png", "b/y.jpg"], ImageFiles.Under(root));

        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.Throws<OperationCanceledException>(() => ImageFiles.Under(root, cts.Token));
    }

    [Theory]
    [InlineData(0, "00:00:00")]
    [InlineData(3725.9, "01:02:05")]
    [InlineData(1e13, "> 10^6 h")]           // --steps 10^14 at 10 steps/s: past TimeSpan's range
    [InlineData(double.PositiveInfinity, "--:--:--")]
    [InlineData(double.NaN, "--:--:--")]
    public void Eta_NeverOverflows(double seconds, string expected) => Assert.Equal(expected, PlainProgress.Eta(seconds));

    private sealed class Fixed : IFeatureExtractor
    {
        public List<(long h, long w)> Seen { get; } = [];
        public string Name => "fixed";
        public FeatureSet Extract(Tensor gray)
        {
            Seen.Add((gray.size(0), gray.size(1)));
            // The centre of the last pixel, whatever the size.
            return new FeatureSet { X = [gray.size(1) - 1], Y = [gray.size(0) - 1], Scale = [2], Score = [1], Descriptors = torch.zeros(1, 4) };
        }
    }

    [Fact]
    public void TheCap_ShrinksLargeImagesAndMapsKeypointsBack_AndRefusesTinyOnes()
    {
        var inner = new Fixed();
        var notes = new List<string>();
        var capped = new CappedExtractor(inner, 100, notes.Add);
        using (var big = torch.zeros(new long[] { 300, 400 }, ScalarType.Byte))
        using (var f = capped.Extract(big))
        {
            Assert.Equal((75L, 100L), inner.Seen[^1]);
            Assert.Equal(397.5, f.X[0], 3);  // (99 + ½)·4 − ½: the centre of the 4×4 block the last small pixel covers
            Assert.Equal(297.5, f.Y[0], 3);
            Assert.Equal("resized 400×300 → 100×75 px (eval.max_image_side 100); keypoints in original pixels", Assert.Single(notes));
        }
        using (var fits = torch.zeros(new long[] { 50, 60 }, ScalarType.Byte))
        using (var f = capped.Extract(fits)) Assert.Equal(59, f.X[0]);
        Assert.Single(notes);
        using var thin = torch.zeros(new long[] { 2, 5000 }, ScalarType.Byte);
        Assert.Equal("5000×2 px: expected at least 16 px on the shorter side", Assert.Throws<InvalidDataException>(() => capped.Extract(thin)).Message);
    }
}

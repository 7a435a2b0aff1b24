using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using LocalFeat.Train.Distributed;
using LocalFeat.Train.Training;
using Spectre.Console;

namespace LocalFeat.Train.Commands;

/// <summary><c>localfeat train</c>: a recipe (d2net, tasp, hndesc, tpr) on random homography pairs, then eval of the result.</summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var config = new Option<string?>("--config") { Description = "JSON file of settings (any subset of the keys in a run's config.json)" };
        var recipe = new Option<string?>("--recipe") { Description = "Training recipe: d2net, tasp, hndesc or tpr (README: Recipes)" };
        // A string, checked as run.steps: its errors then read like every other setting's, without .NET type names.
        var steps = new Option<string?>("--steps") { Description = "Number of optimisation steps (overrides the default budget)" };
        var outDir = new Option<string?>("--out") { Description = "Run folder: checkpoints, metrics.csv, config.json, loss.png, eval/ (default runs/d2net-tiny)" };
        var resume = new Option<bool>("--resume") { Description = "Continue from the latest checkpoint in --out (same step count, schedule, optimizer and RNG state)" };
        var device = new Option<string?>("--device") { Description = "cpu or cuda (CUDA tensors need a CUDA build of libtorch and a GPU)" };
        var model = new Option<string?>("--model") { Description = "tiny (fast on CPU) or vgg16 (D2-Net's backbone)" };
        var images = new Option<string?>("--images") { Description = $"Folder of training photos (default {TrainConfig.DefaultImages})" };
        var data = new Option<string?>("--data") { Description = "Training pairs: homography (default), scenes (synthetic 3-D scenes with depth) or megadepth (data.megadepth folder)" };
        var noEval = new Option<bool>("--no-eval") { Description = "Skip the evaluation after training" };
        var nproc = new Option<string?>("--nproc") { Description = "Data-parallel on this host: N worker processes (this one is rank 0); optimizer.batch_size is the global batch" };
        var worldSize = new Option<string?>("--world-size") { Description = "Data-parallel across hosts: the number of ranks (with --rank and --rendezvous)" };
        var rank = new Option<string?>("--rank") { Description = "This process's rank, 0..world-size-1 (rank 0 writes the run folder and evaluates)" };
        var rendezvous = new Option<string?>("--rendezvous") { Description = "Where the ranks meet: file:DIR (a folder all ranks see) or tcp:HOST:PORT (rank 0 serves it)" };
        var distHost = new Option<string?>("--dist-host") { Description = "Address this rank's Gloo transport listens on and advertises (default: the host name; 127.0.0.1 with --nproc)" };
        var distIface = new Option<string?>("--dist-iface") { Description = "Network interface for Gloo's transport instead of --dist-host (e.g. eth0)" };
        var cmd = new Command("train", "Train local features (detector + descriptor) on random homography pairs of a folder of photos.");
        foreach (var o in new Option[] { config, recipe, steps, outDir, resume, device, model, images, data, noEval, nproc, worldSize, rank, rendezvous, distHost, distIface, Cli.Set }) cmd.Options.Add(o);
        cmd.SetAction(r => Cli.Guard(() =>
        {
            var overrides = new List<(string, string)>();
            void Add(string key, string? value) { if (value != null) overrides.Add((key, value)); }
            Add("run.recipe", r.GetValue(recipe));
            Add("run.steps", r.GetValue(steps));
            Add("run.out", r.GetValue(outDir));
            Add("run.device", r.GetValue(device));
            Add("model.kind", r.GetValue(model));
            Add("data.images", r.GetValue(images));
            Add("data.source", r.GetValue(data));
            if (r.GetValue(noEval)) Add("run.eval_after", "false");
            overrides.AddRange(Cli.SetPairs(r));
            var launch = Launch.From(r.GetValue(nproc), r.GetValue(worldSize), r.GetValue(rank), r.GetValue(rendezvous), r.GetValue(distHost), r.GetValue(distIface));
            return Run(r.GetValue(config), overrides, r.GetValue(resume), launch);
        }));
        return cmd;
    }

    public static int Run(string? configFile, List<(string key, string value)> overrides, bool resume, Launch? launch = null) =>
        WithStopSignals(stop => Train(configFile, overrides, resume, launch ?? Launch.Single, stop));

    /// <summary>Runs <paramref name="body"/> with Ctrl-C / SIGTERM wired to its token: the first finishes the step and checkpoints.</summary>
    public static int WithStopSignals(Func<CancellationToken, int> body)
    {
        // Signals first: a Ctrl-C or SIGTERM from the very start stops cleanly (exit 130), never half-way through a write.
        using var cts = new CancellationTokenSource();
        int presses = 0;
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            // First Ctrl-C: finish the step, write a checkpoint, stop. Second: the default (kill).
            if (Interlocked.Increment(ref presses) > 1) return;
            e.Cancel = true;
            cts.Cancel();
            Cli.Warn("stopping after this step (checkpoint follows); press Ctrl-C again to kill");
        };
        Console.CancelKeyPress += onCancel;
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx => { ctx.Cancel = true; cts.Cancel(); });
        try { return body(cts.Token); }
        finally { Console.CancelKeyPress -= onCancel; }
    }

    /// <summary>One single-process training run with a progress bar (terminal) or progress lines (redirected).</summary>
    public static TrainOutcome Session(TrainConfig config, Checkpoint.Info? from, CancellationToken stop) =>
        WithProgress(config, p => TrainSession.Run(config, from, p, stop));

    private static int Train(string? configFile, List<(string key, string value)> overrides, bool resume, Launch launch, CancellationToken stop)
    {
        var config = TrainConfig.Resolve(configFile, overrides);
        bool writer = launch.Rank == 0;
        // Taken before the checkpoint is read, so a --resume beside a running train is refused before it reads anything.
        using var runLock = writer ? RunLock.Acquire(config.Run.Out) : null;
        Checkpoint.Info? from = null;
        // Ranks > 0 never read a checkpoint (rank 0 broadcasts its state); where they see the run folder they take
        // its settings, as rank 0 does, else their own --config must match them.
        if (resume && (writer || File.Exists(Path.Combine(Checkpoint.Folder(config.Run.Out), "latest"))))
        {
            from = Checkpoint.ReadInfo(config.Run.Out);
            // The checkpoint's settings, then the file and command line on top (e.g. a larger --steps).
            config = from.Config;
            if (configFile != null) config.OverlayFile(configFile);
            foreach (var (k, v) in overrides) config.Set(k, v);
            config.Validate();
            if (!writer) from = null;
            else if (from.Step >= config.Run.Steps) Cli.Warn($"the checkpoint is at step {from.Step} of {config.Run.Steps}: nothing to train (raise --steps)");
        }
        if (launch.WorldSize > 1) return TrainParallel(config, from, launch, stop);
        Cli.Info($"localfeat train: recipe {TrainConfig.EnumName(config.Run.Recipe)}, model {TrainConfig.EnumName(config.Model.Kind)}, {config.Run.Steps} steps, batch {config.Optimizer.BatchSize}, crops {config.Data.CropSize}, out {Path.GetFullPath(config.Run.Out)}");

        var outcome = Session(config, from, stop);
        return Finish(config, outcome);
    }

    private static TrainOutcome WithProgress(TrainConfig config, Func<ITrainProgress, TrainOutcome> train)
    {
        if (!Cli.Interactive) return train(new PlainProgress(config.Run.LogEvery));
        TrainOutcome outcome = null!;
        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                     new ElapsedTimeColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(ctx => outcome = train(new SpectreProgress(ctx)));
        return outcome;
    }

    // --nproc N (this process is rank 0, the others its children) or one rank of --world-size W.
    private static int TrainParallel(TrainConfig config, Checkpoint.Info? from, Launch launch, CancellationToken stop)
    {
        DataParallel.CheckBatch(config, launch.WorldSize);
        bool writer = launch.Rank == 0;
        using var workers = launch.Nproc > 1 ? new LocalWorkers(launch.Nproc, config.ToJson(), config.Run.Out) : null;
        var timeout = TimeSpan.FromSeconds(config.Dist.TimeoutS);
        var rendezvous = workers?.Rendezvous ?? launch.Rendezvous!;
        if (writer)
            Cli.Info($"localfeat train: recipe {TrainConfig.EnumName(config.Run.Recipe)}, model {TrainConfig.EnumName(config.Model.Kind)}, {config.Run.Steps} steps, " +
                     $"global batch {config.Optimizer.BatchSize} over {launch.WorldSize} ranks ({config.Optimizer.BatchSize / launch.WorldSize} each), crops {config.Data.CropSize}, " +
                     $"rendezvous {rendezvous}, out {Path.GetFullPath(config.Run.Out)}" +
                     (workers is null ? "" : "; workers " + string.Join(", ", workers.Pids.Select(w => $"rank {w.rank} pid {w.pid}"))));
        GlooProcessGroup group;
        try { group = GlooProcessGroup.Create(launch.Rank, launch.WorldSize, rendezvous, timeout, launch.Host ?? (workers != null ? "127.0.0.1" : ""), launch.Iface ?? ""); }
        catch (DistributedException e) when (workers?.Status(TimeSpan.Zero) is { } ended)
        {
            throw new DistributedException($"{e.Message}; {ended}", e);  // a worker that failed at its start
        }
        using var ownedGroup = group;
        if (workers != null) group.PeerStatus = () => workers.Status(TimeSpan.FromSeconds(2));
        ConfigAgreement.Check(group, config);
        var parallel = new DataParallel(group, config);
        if (!writer)
        {
            TrainSession.Run(config, null, new SilentProgress(), stop, parallel: parallel);
            return 0;
        }
        var outcome = WithProgress(config, p => TrainSession.Run(config, from, p, stop, parallel: parallel));
        workers?.WaitForExit(timeout);
        if (parallel.Gradients is { Steps: > 0 } g)
            Cli.Info(string.Create(CultureInfo.InvariantCulture,
                $"gradient allreduce: {1000 * g.TotalAllReduceSeconds / g.Steps:F1} ms per step on average ({g.Elements * 4 / 1e6:F2} MB in {g.Buckets} bucket(s)), {100 * g.TotalAllReduceSeconds / Math.Max(1e-9, outcome.Elapsed.TotalSeconds):F1} % of the training time"));
        return Finish(config, outcome);
    }

    private static int Finish(TrainConfig config, TrainOutcome outcome)
    {
        // Name only what exists: a run stopped before its first step has no checkpoint and no loss curve.
        string metrics = Path.Combine(config.Run.Out, TrainSession.MetricsFile), plot = Path.Combine(config.Run.Out, TrainSession.LossPlotFile);
        if (outcome.FinalStep > outcome.StartStep)
            Cli.Info($"trained steps {outcome.StartStep}..{outcome.FinalStep} in {outcome.Elapsed.TotalMinutes:F1} min; last loss {outcome.LastLoss?.ToString("F4", CultureInfo.InvariantCulture) ?? "-"}" +
                     (outcome.Checkpoint.Length > 0 ? $"; checkpoint {outcome.Checkpoint}" : "; no checkpoint written"));
        var written = new[] { ("metrics", metrics), ("loss curve", plot) }.Where(f => File.Exists(f.Item2)).Select(f => $"{f.Item1}: {f.Item2}").ToList();
        if (outcome.FinalStep > outcome.StartStep && written.Count > 0) Cli.Info(string.Join(", ", written));
        if (outcome.Interrupted) return 130;
        if (config.Run.EvalAfter && outcome.Checkpoint.Length > 0)
            return EvalCommand.Run(outcome.Checkpoint, null, Path.Combine(config.Run.Out, "eval"), []);
        return 0;
    }
}

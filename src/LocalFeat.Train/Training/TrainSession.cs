using System.Diagnostics;
using System.Globalization;
using LocalFeat.Models;
using LocalFeat.Train.Data;
using LocalFeat.Train.Settings;
using LocalFeat.Train.Training.Recipes;
using TorchSharp;
using static TorchSharp.torch;
using LocalFeat.Train.Reporting;
using LocalFeat.Train.Distributed;

namespace LocalFeat.Train.Training;

/// <summary>
/// A whole training run: resolve the device and threads, build or resume model and optimizer, load data on
/// background threads, step, log metrics.csv, checkpoint every N steps, at the end and when cancelled, draw loss.png.
/// </summary>
public static class TrainSession
{
    public const string MetricsFile = "metrics.csv";
    public const string ConfigFile = "config.json";
    public const string LossPlotFile = "loss.png";
    private const string CsvHeader = "step,loss,lr,grad_norm,pairs,correspondences,images_per_s,elapsed_s";

    /// <param name="resumeFrom">the checkpoint to continue (its step, weights, optimizer and RNG state), or null for a fresh run.</param>
    /// <param name="parallel">this rank's part in a data-parallel run (null: one process). Only rank 0 reads the checkpoint
    /// and writes the run folder; it broadcasts its state to the others at the start.</param>
    public static TrainOutcome Run(TrainConfig config, Checkpoint.Info? resumeFrom, ITrainProgress progress, CancellationToken stop,
        Action<string>? checkpointHook = null, DataParallel? parallel = null)
    {
        config.Validate();
        parallel ??= new DataParallel(SingleProcessGroup.Instance, config);
        DataParallel.CheckBatch(config, parallel.Group.WorldSize);
        bool writer = parallel.IsWriter;
        var device = ResolveDevice(config.Run.Device);
        torch.set_num_threads(config.Run.Threads > 0 ? config.Run.Threads : Environment.ProcessorCount);
        // One writer per run folder, for the whole run; a second train (or --resume) is refused here.
        using var runLock = writer ? RunLock.Acquire(config.Run.Out) : null;
        if (writer && resumeFrom is null && File.Exists(Path.Combine(Checkpoint.Folder(config.Run.Out), "latest")))
            throw new ConfigException($"config 'run.out': '{config.Run.Out}' already holds a run with checkpoints; continue it with --resume, or choose another --out");
        if (writer) AtomicFile.WriteAllText(Path.Combine(config.Run.Out, ConfigFile), config.ToJson());

        List<(string name, Tensor image)> images;
        ImageFolder folder;
        try
        {
            folder = new ImageFolder(config.Data.Images, stop);
            images = folder.Load(folder.Train, w => progress.Message("warning: " + w), stop);
        }
        catch (OperationCanceledException)
        {
            // Ctrl-C while the photos are scanned or read: nothing trained, so nothing to checkpoint or draw.
            progress.Message(resumeFrom is null ? "stopped before the first step: nothing trained, no checkpoint written"
                                                : $"stopped before the first step: {resumeFrom.Folder} stays the latest checkpoint");
            long at = resumeFrom?.Step ?? 0;
            return new TrainOutcome(at, at, true, resumeFrom?.Folder ?? "", null, TimeSpan.Zero);
        }
        progress.Message($"data: {images.Count} training photos from {folder.Root} ({folder.HeldOut.Count} held out)");

        FeatureNet model;
        long start = 0;
        if (resumeFrom != null)
        {
            if (resumeFrom.Model != config.Model.Kind)
                throw new ConfigException($"config 'model.kind': the checkpoint in '{resumeFrom.Folder}' holds a {TrainConfig.EnumName(resumeFrom.Model)} model, got '{TrainConfig.EnumName(config.Model.Kind)}'");
            model = Checkpoint.LoadModel(resumeFrom);
            start = resumeFrom.Step;
        }
        else
        {
            torch.manual_seed(config.Run.Seed);
            model = FeatureNet.Create(config.Model.Kind);
            if (writer && config.Model.Vgg16Weights != null) LoadVgg16(model, config.Model.Vgg16Weights);
        }
        using var ownedModel = model;
        model.to(device);
        using var trainer = new Trainer(model, config, device);
        if (resumeFrom != null)
        {
            Checkpoint.LoadRecipe(resumeFrom, trainer.Recipe);
            Checkpoint.LoadOptimizer(resumeFrom, trainer.Optimizer, device);
            Checkpoint.RestoreRng(resumeFrom);
            progress.Message($"resumed from {resumeFrom.Folder} at step {start}");
        }
        start = StateBroadcast.FromRankZero(parallel.Group, model, trainer.Recipe, trainer.Optimizer, start, device);
        trainer.Gradients = parallel.Gradients;
        if (trainer.Recipe is TaspRecipe tasp && parallel.Group.WorldSize > 1)
            tasp.BatchHistogramAllReduce = local => DataParallel.Mean(parallel.Group, local);
        var metrics = writer ? PrepareMetrics(Path.Combine(config.Run.Out, MetricsFile), start) : null;

        using var sampler = PairSources.Create(config, images, model.Stride);
        foreach (var (_, t) in images) t.Dispose();
        progress.Message($"pairs: {PairSources.Describe(config, sampler)}");
        using var loader = new BatchLoader(sampler, (ulong)config.Run.Seed, config.Optimizer.BatchSize, start, config.Data.LoaderThreads, config.Data.Prefetch,
            parallel.FirstSample, parallel.LocalBatch);

        var clock = Stopwatch.StartNew();
        double rate = 0;
        double? lastLoss = null;
        long step = start;
        string checkpoint = resumeFrom?.Folder ?? "";
        long savedStep = start;
        bool interrupted = false;
        progress.Started(start, config.Run.Steps);
        using (var csv = metrics != null ? new StreamWriter(metrics, append: true) : new StreamWriter(Stream.Null))
        {
            while (step < config.Run.Steps)
            {
                // Data-parallel: every rank stops after the same step, the first at which any rank was asked to.
                if (parallel.Gradients is { } sync ? sync.AnyStop : stop.IsCancellationRequested) { interrupted = true; break; }
                if (parallel.Gradients != null) parallel.Gradients.LocalStop = stop.IsCancellationRequested;
                var t0 = clock.Elapsed.TotalSeconds;
                Trainer.StepResult result;
                try { result = TakeAndStep(trainer, loader, step); }
                catch (DistributedException e) when (writer)
                {
                    throw new DistributedException($"{e.Message}; the run stops at step {step}; {(checkpoint.Length > 0 ? $"the last complete checkpoint, {Path.GetFileName(checkpoint)}, stays current" : "no checkpoint was written")}", e);
                }
                step++;
                double dt = clock.Elapsed.TotalSeconds - t0;
                double now = 2.0 * config.Optimizer.BatchSize / Math.Max(dt, 1e-9);
                rate = rate == 0 ? now : 0.9 * rate + 0.1 * now;
                lastLoss = result.Loss;
                csv.WriteLine(string.Join(',', step.ToString(CultureInfo.InvariantCulture), F(result.Loss), F(result.Lr), F(result.GradNorm),
                    result.Pairs.ToString(CultureInfo.InvariantCulture), result.Correspondences.ToString(CultureInfo.InvariantCulture), F(rate), F(clock.Elapsed.TotalSeconds)));
                if (step % config.Run.LogEvery == 0) csv.Flush();
                progress.Stepped(step, config.Run.Steps, result, rate);
                if (writer && (step % config.Run.CheckpointEvery == 0 || step == config.Run.Steps))
                {
                    checkpoint = Checkpoint.Save(config.Run.Out, model, trainer.Optimizer, step, config, checkpointHook, trainer.Recipe);
                    savedStep = step;
                }
            }
        }
        if (writer && interrupted && step > savedStep)
        {
            checkpoint = Checkpoint.Save(config.Run.Out, model, trainer.Optimizer, step, config, checkpointHook, trainer.Recipe);
        }
        if (interrupted)
            progress.Message(checkpoint.Length > 0 ? $"stopped at step {step}: checkpoint {checkpoint}" : $"stopped at step {step}: nothing trained, no checkpoint written");
        if (writer && step > start) DrawLoss(config.Run.Out, TrainConfig.EnumName(config.Run.Recipe));
        return new TrainOutcome(start, step, interrupted, checkpoint, lastLoss, clock.Elapsed);
    }

    private static void LoadVgg16(FeatureNet model, string path)
    {
        try { model.LoadTorchvisionVgg16(path); }
        catch (Exception e) when (e is InvalidDataException or ArgumentException or InvalidOperationException
                                    or System.Runtime.InteropServices.ExternalException)
        {
            model.Dispose();
            throw new ConfigException($"config 'model.vgg16_weights': expected torchvision VGG16 weights (.pth or .safetensors), got '{path}': {e.Message.Split('\n')[0]}");
        }
    }

    private static Trainer.StepResult TakeAndStep(Trainer trainer, BatchLoader loader, long step)
    {
        using var batch = loader.Take();
        return trainer.Step(batch, step);
    }

    private static string F(double v) => v.ToString("G6", CultureInfo.InvariantCulture);

    public static Device ResolveDevice(DeviceKind kind)
    {
        // torch.CPU rather than a new Device: a run's tensors then all carry the same one.
        var device = kind == DeviceKind.Cuda ? torch.CUDA : torch.CPU;
        if (device.type == DeviceType.CUDA && !torch.cuda.is_available())
            throw new ConfigException($"config 'run.device': expected cpu on this machine (this libtorch build has no CUDA or no GPU is present), got '{TrainConfig.EnumName(kind)}'");
        return device;
    }

    // Fresh run: a new file. Resume: keep the rows up to the checkpoint's step, drop any logged after it.
    private static string PrepareMetrics(string path, long start)
    {
        var keep = new List<string> { CsvHeader };
        if (start > 0 && File.Exists(path))
            keep.AddRange(File.ReadLines(path).Skip(1).Where(l => long.TryParse(l.Split(',')[0], CultureInfo.InvariantCulture, out long s) && s <= start));
        AtomicFile.WriteAllLines(path, keep);  // a full disk must not truncate the rows of the steps already trained
        return path;
    }

    public static List<(long step, double loss)> ReadLosses(string runDir)
    {
        string path = Path.Combine(runDir, MetricsFile);
        if (!File.Exists(path)) return [];
        return File.ReadLines(path).Skip(1).Select(l => l.Split(','))
            .Where(p => p.Length >= 2)
            .Select(p => (long.Parse(p[0], CultureInfo.InvariantCulture), double.Parse(p[1], CultureInfo.InvariantCulture)))
            .ToList();
    }

    private static void DrawLoss(string runDir, string recipe)
    {
        var rows = ReadLosses(runDir);
        if (rows.Count > 0) Plots.LossCurve(Path.Combine(runDir, LossPlotFile), rows, window: Math.Max(1, Math.Min(50, rows.Count / 10)), recipe);
    }
}

using System.Collections.Concurrent;
using LocalFeat.Torch;

namespace LocalFeat.Train.Data;

/// <summary>The pairs of one training step: images [B,1,S,S] and per-pair grid correspondences.</summary>
public sealed class Batch : IDisposable
{
    public required long Step { get; init; }
    public required Tensor Images1 { get; init; }
    public required Tensor Images2 { get; init; }
    public required Correspondences[] Matches { get; init; }
    public required double[][] H12 { get; init; }
    public required string[] Sources { get; init; }

    /// <summary>Sample k of step t has seed Mix(seed, t·B + k): a batch depends only on (seed, step), so resuming repeats nothing.</summary>
    public static Batch Make(PairSampler sampler, ulong seed, long step, int batchSize)
    {
        var samples = new PairSample[batchSize];
        try
        {
            for (int k = 0; k < batchSize; k++)
                samples[k] = sampler.Sample(PairSampler.Mix(seed) ^ (ulong)(step * batchSize + k));
            int s = sampler.Settings.CropSize;
            return new Batch
            {
                Step = step,
                Images1 = torch.stack(samples.Select(p => p.Image1).ToArray()).DetachFromDisposeScope(),
                Images2 = torch.stack(samples.Select(p => p.Image2).ToArray()).DetachFromDisposeScope(),
                Matches = samples.Select(p => Correspondences.Grid(p.H12, s, s, s, s, sampler.Stride)).ToArray(),
                H12 = samples.Select(p => p.H12).ToArray(),
                Sources = samples.Select(p => p.Source).ToArray(),
            };
        }
        finally
        {
            foreach (var p in samples) p?.Dispose();
        }
    }

    public void Dispose()
    {
        Images1.Dispose();
        Images2.Dispose();
        foreach (var m in Matches) m.Dispose();
    }
}

/// <summary>
/// Builds batches on background threads, at most <c>prefetch</c> ahead of the trainer, and hands them out in step
/// order. A failure on a loader thread is rethrown by <see cref="Take"/>.
/// </summary>
public sealed class BatchLoader : IDisposable
{
    private readonly ConcurrentDictionary<long, Batch> _ready = new();
    private readonly SemaphoreSlim _slots;
    private readonly CancellationTokenSource _cts = new();
    private readonly Thread[] _threads;
    private readonly object _signal = new();
    private long _next;      // next step a loader claims
    private long _consume;   // next step Take returns
    private Exception? _error;

    public BatchLoader(PairSampler sampler, ulong seed, int batchSize, long firstStep, int threads, int prefetch)
    {
        _next = _consume = firstStep;
        _slots = new SemaphoreSlim(prefetch, prefetch);
        _threads = Enumerable.Range(0, threads).Select(i => new Thread(() => Work(sampler, seed, batchSize))
        {
            IsBackground = true, Name = $"localfeat-loader-{i}",
        }).ToArray();
        foreach (var t in _threads) t.Start();
    }

    private void Work(PairSampler sampler, ulong seed, int batchSize)
    {
        try
        {
            while (true)
            {
                _slots.Wait(_cts.Token);
                long step = Interlocked.Increment(ref _next) - 1;
                var batch = Batch.Make(sampler, seed, step, batchSize);
                _ready[step] = batch;
                lock (_signal) Monitor.PulseAll(_signal);
            }
        }
        catch (OperationCanceledException) { }
        catch (Exception e)
        {
            _error ??= e;
            lock (_signal) Monitor.PulseAll(_signal);
        }
    }

    /// <summary>The batch of the next step (blocks until a loader has built it).</summary>
    public Batch Take()
    {
        lock (_signal)
        {
            while (true)
            {
                if (_ready.TryRemove(_consume, out var batch))
                {
                    _consume++;
                    _slots.Release();
                    return batch;
                }
                if (_error != null) throw new InvalidOperationException($"data loading failed: {_error.Message}", _error);
                Monitor.Wait(_signal, 100);
            }
        }
    }

    public void Dispose()
    {
        _cts.Cancel();
        foreach (var t in _threads) t.Join();
        foreach (var b in _ready.Values) b.Dispose();
        _ready.Clear();
        _slots.Dispose();
        _cts.Dispose();
    }
}

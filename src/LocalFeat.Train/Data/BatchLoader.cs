using System.Collections.Concurrent;
using TorchSharp;
using static TorchSharp.torch;

namespace LocalFeat.Train.Data;

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

    /// <param name="first">, <paramref name="count"/>: the samples of each global batch this loader builds (a data-parallel rank's share; -1 = all).</param>
    public BatchLoader(IPairSource source, ulong seed, int batchSize, long firstStep, int threads, int prefetch, int first = 0, int count = -1)
    {
        _next = _consume = firstStep;
        _slots = new SemaphoreSlim(prefetch, prefetch);
        _threads = Enumerable.Range(0, threads).Select(i => new Thread(() => Work(source, seed, batchSize, first, count))
        {
            IsBackground = true, Name = $"localfeat-loader-{i}",
        }).ToArray();
        foreach (var t in _threads) t.Start();
    }

    private void Work(IPairSource source, ulong seed, int batchSize, int first, int count)
    {
        try
        {
            while (true)
            {
                _slots.Wait(_cts.Token);
                long step = Interlocked.Increment(ref _next) - 1;
                var batch = Batch.Make(source, seed, step, batchSize, first, count);
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

using System.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;

namespace LocalFeat.Train.Distributed;

/// <summary>
/// After each backward of a data-parallel step: one small allreduce of (pairs·loss, pairs, stop request), then the
/// gradients in buckets of at most <c>bucketElements</c> floats, each flattened, summed by allreduce and written back
/// scaled by this rank's share of the pairs (pairs_r / Σ pairs). So the gradient is that of the mean loss over every
/// pair of the global batch, as one process computes it, even when ranks keep different numbers of pairs.
/// Not overlapped with the backward: TorchSharp 0.107 gives no per-parameter gradient-ready hook to start a bucket
/// early, and the allreduce is a small part of a step here (README, "Data-parallel training").
/// </summary>
public sealed class GradientAverager(IProcessGroup group, long bucketElements)
{
    public IProcessGroup Group { get; } = group;

    /// <summary>Set before each step: this rank wants to stop (Ctrl-C, SIGTERM).</summary>
    public bool LocalStop { get; set; }

    /// <summary>After each step: some rank asked to stop, so every rank stops after this same step.</summary>
    public bool AnyStop { get; private set; }

    /// <summary>Seconds spent in the gradient allreduces (all buckets) of the last step, and of every step so far.</summary>
    public double LastAllReduceSeconds { get; private set; }
    public double TotalAllReduceSeconds { get; private set; }
    public long Steps { get; private set; }
    /// <summary>Floats summed per step (every trainable parameter) and the buckets they go in.</summary>
    public long Elements { get; private set; }
    public int Buckets { get; private set; }

    /// <returns>the global mean loss and the global number of pairs with correspondences.</returns>
    public (double loss, int pairs) Average(IEnumerable<Tensor> parameters, double loss, int pairs)
    {
        using var scope = torch.NewDisposeScope();
        var totals = torch.tensor(new float[] { (float)(loss * pairs), pairs, LocalStop ? 1 : 0 });
        Group.AllReduce(totals);
        var t = totals.data<float>().ToArray();
        AnyStop = t[2] > 0;
        int allPairs = (int)Math.Round(t[1]);
        // No pair anywhere: every gradient is 0; the plain mean keeps it so.
        double share = allPairs > 0 ? (double)pairs / allPairs : 1.0 / Group.WorldSize;
        var clock = Stopwatch.StartNew();
        var bucket = new List<Tensor>();
        long size = 0;
        Elements = 0;
        Buckets = 0;
        foreach (var p in parameters)
        {
            // A parameter without a gradient on this rank still takes its place in the bucket (as zeros): every
            // rank must send buffers of the same layout.
            bucket.Add(p);
            size += p.numel();
            if (size >= bucketElements) { Reduce(bucket, share); bucket.Clear(); size = 0; }
        }
        if (bucket.Count > 0) Reduce(bucket, share);
        LastAllReduceSeconds = clock.Elapsed.TotalSeconds;
        TotalAllReduceSeconds += LastAllReduceSeconds;
        Steps++;
        return (allPairs > 0 ? t[0] / allPairs : loss, allPairs);
    }

    private void Reduce(List<Tensor> parameters, double share)
    {
        using var scope = torch.NewDisposeScope();
        using var guard = torch.no_grad();
        Buckets++;
        Elements += parameters.Sum(p => p.numel());
        var flat = torch.cat(parameters.Select(p => (p.grad ?? torch.zeros_like(p)).flatten().to(torch.CPU)).ToArray());
        // Scaled before the sum: with equal shares (2 ranks, all pairs kept) that is 0.5·a + 0.5·b, exact scalings.
        flat.mul_(share);
        Group.AllReduce(flat);
        long offset = 0;
        foreach (var p in parameters)
        {
            long n = p.numel();
            p.grad?.copy_(flat.narrow(0, offset, n).view_as(p));
            offset += n;
        }
    }
}

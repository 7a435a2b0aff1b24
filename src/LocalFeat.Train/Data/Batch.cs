using System.Collections.Concurrent;
using TorchSharp;
using static TorchSharp.torch;

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
    /// <summary>Scene pairs only (null for homography pairs): per pair, the 3-D point of every feature cell of image 1
    /// and of image 2, [h,w,3] float32, both in camera 2's frame (NaN where the depth is invalid), for the 3-D safe window.</summary>
    public Tensor[]? Points1 { get; init; }
    public Tensor[]? Points2 { get; init; }

    /// <summary>Sample k of step t has seed Mix(seed, t·B + k): a batch depends only on (seed, step), so resuming repeats nothing.
    /// A data-parallel rank takes samples [first, first + count) of the global batch B = <paramref name="batchSize"/>.</summary>
    public static Batch Make(PairSampler sampler, ulong seed, long step, int batchSize, int first = 0, int count = -1)
    {
        if (count < 0) count = batchSize - first;
        var samples = new PairSample[count];
        try
        {
            for (int k = 0; k < count; k++)
                samples[k] = sampler.Sample(PairSampler.Mix(seed) ^ (ulong)(step * batchSize + first + k));
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
        foreach (var p in Points1 ?? []) p.Dispose();
        foreach (var p in Points2 ?? []) p.Dispose();
    }
}

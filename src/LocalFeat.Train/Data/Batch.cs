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
    /// <summary>Per pair the crop-1 → crop-2 homography (null for scene pairs).</summary>
    public required double[]?[] H12 { get; init; }
    public required string[] Sources { get; init; }
    /// <summary>Scene pairs only (null for homography pairs): per pair, the 3-D point of every feature cell of image 1
    /// and of image 2, [h,w,3] float32, both in camera 2's frame (NaN where the depth is invalid), for the 3-D safe window.</summary>
    public Tensor[]? Points1 { get; init; }
    public Tensor[]? Points2 { get; init; }

    /// <summary>Sample k of step t has seed Mix(seed, t·B + k): a batch depends only on (seed, step), so resuming repeats nothing.
    /// A data-parallel rank takes samples [first, first + count) of the global batch B = <paramref name="batchSize"/>.</summary>
    public static Batch Make(IPairSource source, ulong seed, long step, int batchSize, int first = 0, int count = -1)
    {
        if (count < 0) count = batchSize - first;
        var pairs = new TrainingPair[count];
        try
        {
            for (int k = 0; k < count; k++)
                pairs[k] = source.Draw(PairSampler.Mix(seed) ^ (ulong)(step * batchSize + first + k));
            bool scenes = pairs.All(p => p.Points1 is not null && p.Points2 is not null);
            var batch = new Batch
            {
                Step = step,
                Images1 = torch.stack(pairs.Select(p => p.Image1).ToArray()).DetachFromDisposeScope(),
                Images2 = torch.stack(pairs.Select(p => p.Image2).ToArray()).DetachFromDisposeScope(),
                Matches = pairs.Select(p => p.Matches).ToArray(),
                H12 = pairs.Select(p => p.H12).ToArray(),
                Sources = pairs.Select(p => p.Source).ToArray(),
                Points1 = scenes ? pairs.Select(p => p.Points1!).ToArray() : null,
                Points2 = scenes ? pairs.Select(p => p.Points2!).ToArray() : null,
            };
            // The batch owns the correspondences and points now; only the single crops go.
            foreach (var p in pairs) { p.Image1.Dispose(); p.Image2.Dispose(); }
            return batch;
        }
        catch
        {
            foreach (var p in pairs) p?.Dispose();
            throw;
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

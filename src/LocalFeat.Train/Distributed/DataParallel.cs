using static TorchSharp.torch;
using LocalFeat.Train.Training;

namespace LocalFeat.Train.Distributed;

/// <summary>
/// How a rank takes part in a data-parallel run: optimizer.batch_size is the global batch B; each of the W ranks
/// builds samples k ∈ [r·B/W, (r+1)·B/W) of every step (sample k of step t has seed Mix(seed) ^ (t·B + k), as in
/// one process), so the sample stream depends on B only and a run resumes with any W that divides B.
/// </summary>
public sealed class DataParallel(IProcessGroup group, TrainConfig config)
{
    public IProcessGroup Group { get; } = group;
    public bool IsWriter => Group.Rank == 0;
    public int LocalBatch => config.Optimizer.BatchSize / Group.WorldSize;
    public int FirstSample => Group.Rank * LocalBatch;

    public GradientAverager? Gradients { get; } = group.WorldSize > 1
        ? new GradientAverager(group, Math.Max(1, (long)(config.Dist.BucketMb * 1024 * 1024 / sizeof(float))))
        : null;

    public static void CheckBatch(TrainConfig config, int worldSize)
    {
        if (config.Optimizer.BatchSize % worldSize != 0)
            throw new ConfigException($"config 'optimizer.batch_size': expected a multiple of the world size {worldSize} (the global batch is split evenly across the ranks), got {config.Optimizer.BatchSize}");
    }

    /// <summary>The element-wise mean over the ranks of each rank's <paramref name="local"/> (a new tensor; recipe state
    /// that must agree across the ranks, e.g. tasp's batch histogram).</summary>
    public static Tensor Mean(IProcessGroup group, Tensor local)
    {
        var sum = local.to(ScalarType.Float32).clone();
        group.AllReduce(sum);
        return sum.div_(group.WorldSize);
    }
}

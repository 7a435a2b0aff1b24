using System.Text.Json.Serialization;

namespace LocalFeat.Train.Settings;

/// <summary>Data-parallel training over several processes or hosts (keys <c>dist.*</c>; unused in a single process).</summary>
public sealed record DistSettings
{
    // A collective that waits longer than this ends the run naming the rank: a dead or hung worker. It must cover
    // rank 0's longest pause between steps (a checkpoint write); the eval runs after the last collective.
    [JsonPropertyName("timeout_s")] public double TimeoutS { get; set; } = 60;
    // Gradients are summed in buckets of at most this size (PyTorch DDP's default is 25 MB).
    [JsonPropertyName("bucket_mb")] public double BucketMb { get; set; } = 25;
}

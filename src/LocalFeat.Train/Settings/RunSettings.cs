using System.Text.Json.Serialization;

namespace LocalFeat.Train.Settings;

/// <summary>What runs, where, how long, and how it is checkpointed and logged (keys <c>run.*</c>).</summary>
public sealed record RunSettings
{
    [JsonPropertyName("recipe")] public Recipe Recipe { get; set; } = Recipe.D2net;
    [JsonPropertyName("out")] public string Out { get; set; } = "runs/d2net-tiny";
    [JsonPropertyName("device")] public DeviceKind Device { get; set; } = DeviceKind.Cpu;
    [JsonPropertyName("threads")] public int Threads { get; set; }  // 0 = one per core
    [JsonPropertyName("seed")] public long Seed { get; set; }
    // 5–8 minutes of tiny-model training on 2 cores (6–10 steps/s on this VM), so setup + train + eval take up to ~10 (README: default run).
    [JsonPropertyName("steps")] public long Steps { get; set; } = 3000;
    [JsonPropertyName("checkpoint_every")] public long CheckpointEvery { get; set; } = 500;
    [JsonPropertyName("keep_checkpoints")] public int KeepCheckpoints { get; set; } = 3;
    [JsonPropertyName("log_every")] public long LogEvery { get; set; } = 50;  // plain progress lines and metrics.csv flushes
    [JsonPropertyName("eval_after")] public bool EvalAfter { get; set; } = true;
}

using System.Text.Json.Serialization;

namespace LocalFeat.Train.Settings;

/// <summary>Adam, its learning-rate schedule, batch size and gradient clipping (keys <c>optimizer.*</c>).</summary>
public sealed record OptimizerSettings
{
    [JsonPropertyName("batch_size")] public int BatchSize { get; set; } = 2;
    [JsonPropertyName("lr")] public double Lr { get; set; } = 3e-3;  // tiny from scratch: 3e-3 beat 1e-3 over 800 steps (loss 0.87 vs 0.89)
    [JsonPropertyName("lr_schedule")] public LrSchedule LrSchedule { get; set; } = LrSchedule.Cosine;
    [JsonPropertyName("warmup_steps")] public long WarmupSteps { get; set; } = 100;
    [JsonPropertyName("lr_final_factor")] public double LrFinalFactor { get; set; } = 0.05;  // cosine end / step factor
    [JsonPropertyName("weight_decay")] public double WeightDecay { get; set; }
    [JsonPropertyName("grad_clip")] public double GradClip { get; set; }  // max global norm; 0 = off
}

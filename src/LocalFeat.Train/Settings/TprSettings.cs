using System.Text.Json.Serialization;

namespace LocalFeat.Train.Settings;

/// <summary>The tpr recipe (keys <c>tpr.*</c>); README "Recipes" says where each default comes from.</summary>
public sealed record TprSettings
{
    [JsonPropertyName("tau_base")] public double TauBase { get; set; } = 0.996;    // BYOL: τ cosine from 0.996 to 1
    [JsonPropertyName("hidden")] public int Hidden { get; set; } = 256;            // projector / predictor hidden width
    [JsonPropertyName("projection")] public int Projection { get; set; } = 128;    // projector / predictor output width
    [JsonPropertyName("label")] public LocalFeat.Ops.ByolLabel Label { get; set; } = LocalFeat.Ops.ByolLabel.Soft;
    [JsonPropertyName("alpha_max")] public double AlphaMax { get; set; } = 1;      // curriculum: alpha 0 → alpha_max over the first half
    [JsonPropertyName("lambda")] public double Lambda { get; set; } = 1;
    [JsonPropertyName("keypoint_weight")] public double KeypointWeight { get; set; } = 1;
    [JsonPropertyName("keypoint_t")] public double KeypointT { get; set; } = 0.5;
}

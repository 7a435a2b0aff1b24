using System.Text.Json.Serialization;

namespace LocalFeat.Train.Settings;

/// <summary>The tasp recipe (keys <c>tasp.*</c>); README "Recipes" says where each default comes from.</summary>
public sealed record TaspSettings
{
    [JsonPropertyName("margin")] public double Margin { get; set; } = 1;                 // m of M = max(0, m + dPos − dNeg), L2 of unit descriptors
    [JsonPropertyName("patch_size")] public double PatchSize { get; set; } = 32;         // pixels of the pHash patch
    [JsonPropertyName("diw_bins")] public int DiwBins { get; set; } = 512;
    [JsonPropertyName("diw_momentum")] public double DiwMomentum { get; set; } = 0.1;
    [JsonPropertyName("importance_max")] public double ImportanceMax { get; set; } = 4;  // sMax, clip of s
    [JsonPropertyName("keypoint_t")] public double KeypointT { get; set; } = 0.5;        // t of δ = exp(t·(m − M))
    [JsonPropertyName("descriptor_weight")] public double DescriptorWeight { get; set; } = 1;
    [JsonPropertyName("keypoint_weight")] public double KeypointWeight { get; set; } = 1;
}

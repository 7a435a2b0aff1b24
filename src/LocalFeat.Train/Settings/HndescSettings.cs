using System.Text.Json.Serialization;

namespace LocalFeat.Train.Settings;

/// <summary>The hndesc recipe (keys <c>hndesc.*</c>): HNDesc's APCriterion (imelekhov/HNDesc, hndesc/criterion.py).</summary>
public sealed record HndescSettings
{
    [JsonPropertyName("k")] public int K { get; set; } = 20;            // hardest negatives per anchor from the other pairs (APCriterion knn)
    [JsonPropertyName("ap_bins")] public int ApBins { get; set; } = 20; // quantisation bins of the AP loss (APCriterion nq)
}

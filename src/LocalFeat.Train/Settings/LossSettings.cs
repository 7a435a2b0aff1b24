using System.Text.Json.Serialization;

namespace LocalFeat.Train.Settings;

/// <summary>D2-Net's loss (keys <c>loss.*</c>).</summary>
public sealed record LossSettings
{
    [JsonPropertyName("margin")] public double Margin { get; set; } = 1;
    [JsonPropertyName("safe_radius")] public double SafeRadius { get; set; } = 4;  // cells
}

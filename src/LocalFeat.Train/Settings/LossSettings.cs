using System.Text.Json.Serialization;

namespace LocalFeat.Train.Settings;

/// <summary>D2-Net's loss (its safe window: square in cells for homography pairs, a sphere in scene units for pairs with depth) (keys <c>loss.*</c>).</summary>
public sealed record LossSettings
{
    [JsonPropertyName("margin")] public double Margin { get; set; } = 1;
    [JsonPropertyName("safe_radius")] public double SafeRadius { get; set; } = 4;  // cells
    // Scene units: the 3-D safe window (TaSP) of pairs with depth; 0.5 ≈ 3.5 cells of a 256-px, 60° view at depth 4.
    [JsonPropertyName("safe_radius_3d")] public double SafeRadius3D { get; set; } = 0.5;
}

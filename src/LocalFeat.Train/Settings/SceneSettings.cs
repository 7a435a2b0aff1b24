using System.Text.Json.Serialization;

namespace LocalFeat.Train.Settings;

/// <summary>
/// The synthetic 3-D scenes (keys <c>scene.*</c>, used with <c>data.source</c> scenes) and the depth test of every
/// depth-and-pose pair (scenes and MegaDepth). Lengths are in scene units; camera 1 sits at the origin.
/// </summary>
public sealed record SceneSettings
{
    [JsonPropertyName("planes_min")] public int PlanesMin { get; set; } = 2;
    [JsonPropertyName("planes_max")] public int PlanesMax { get; set; } = 5;
    [JsonPropertyName("fov_min_deg")] public double FovMinDeg { get; set; } = 45;    // horizontal field of view of each camera
    [JsonPropertyName("fov_max_deg")] public double FovMaxDeg { get; set; } = 75;
    [JsonPropertyName("depth_min")] public double DepthMin { get; set; } = 2;        // nearest plane centre
    [JsonPropertyName("depth_max")] public double DepthMax { get; set; } = 6;        // farthest back wall
    [JsonPropertyName("baseline_min")] public double BaselineMin { get; set; } = 0.1;
    [JsonPropertyName("baseline_max")] public double BaselineMax { get; set; } = 0.8;
    [JsonPropertyName("rotation_deg")] public double RotationDeg { get; set; } = 10;  // extra turn of camera 2 after looking at the scene
    [JsonPropertyName("tilt_deg")] public double TiltDeg { get; set; } = 50;          // planes' tilt from facing camera 1
    [JsonPropertyName("depth_tolerance")] public double DepthTolerance { get; set; } = 0.02;  // relative: |z − z₂| ≤ tol·z₂
}

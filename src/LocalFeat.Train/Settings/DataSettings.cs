using System.Text.Json.Serialization;

namespace LocalFeat.Train.Settings;

/// <summary>The photos, the random pairs drawn from them and the loader (keys <c>data.*</c>).</summary>
public sealed record DataSettings
{
    public const string DefaultImages = "/usr/share/doc/opencv-doc/examples/data";

    [JsonPropertyName("source")] public DataSource Source { get; set; } = DataSource.Homography;
    [JsonPropertyName("megadepth")] public string? Megadepth { get; set; }  // MegaDepth-style folder (data.source megadepth)
    [JsonPropertyName("images")] public string Images { get; set; } = DefaultImages;
    [JsonPropertyName("crop_size")] public int CropSize { get; set; } = 256;
    [JsonPropertyName("zoom_min")] public double ZoomMin { get; set; } = 0.8;
    [JsonPropertyName("zoom_max")] public double ZoomMax { get; set; } = 1.0;
    [JsonPropertyName("perspective_min")] public double PerspectiveMin { get; set; } = 0.6;
    // ±45°: the rotation sweep's goal range (issue 13); ±15° lost MMA@3 0.56 → 0.005 from 15° to 45° (README: robustness sweeps).
    [JsonPropertyName("rotation_deg")] public double RotationDeg { get; set; } = 45;
    [JsonPropertyName("shift")] public double Shift { get; set; } = 0.1;
    [JsonPropertyName("brightness")] public double Brightness { get; set; } = 0.15;
    [JsonPropertyName("contrast")] public double Contrast { get; set; } = 0.25;
    [JsonPropertyName("blur_prob")] public double BlurProb { get; set; } = 0.3;
    [JsonPropertyName("noise_std")] public double NoiseStd { get; set; } = 0.02;
    [JsonPropertyName("min_crop_std")] public double MinCropStd { get; set; } = 12;  // grey levels: flatter crops are rejected
    [JsonPropertyName("min_correspondences")] public int MinCorrespondences { get; set; } = 64;
    [JsonPropertyName("loader_threads")] public int LoaderThreads { get; set; } = 1;
    [JsonPropertyName("prefetch")] public int Prefetch { get; set; } = 4;
}

using System.Text.Json.Serialization;
using LocalFeat.Features;

namespace LocalFeat.Train.Settings;

/// <summary>Keypoints, descriptors and pair sets of <c>localfeat eval</c>, <c>extract</c> and <c>match</c> (keys <c>eval.*</c>).</summary>
public sealed record EvalSettings
{
    [JsonPropertyName("detection")] public DetectionMode Detection { get; set; } = DetectionMode.Hard;
    [JsonPropertyName("budget")] public int Budget { get; set; } = 2000;
    [JsonPropertyName("edge_threshold")] public double EdgeThreshold { get; set; } = 7.2;
    [JsonPropertyName("refine")] public bool Refine { get; set; } = true;  // hard detection: D2-Net's sub-cell Newton step
    [JsonPropertyName("dense")] public bool Dense { get; set; } = true;  // D2-Net test-time: last pool → avg stride 1, dilated convs
    [JsonPropertyName("synthetic_pairs")] public int SyntheticPairs { get; set; } = 16;
    [JsonPropertyName("crop_size")] public int CropSize { get; set; } = 384;
    [JsonPropertyName("seed")] public long Seed { get; set; } = 20240601;
    [JsonPropertyName("ransac_threshold")] public double RansacThreshold { get; set; } = 3;
    // Longer side at most this many px in eval, extract and match (larger images are shrunk, keypoints mapped back): bounds memory.
    [JsonPropertyName("max_image_side")] public int MaxImageSide { get; set; } = 2048;
    [JsonPropertyName("pairs")] public string? Pairs { get; set; }  // an HPatches-format folder
    [JsonPropertyName("pose_pairs")] public string? PosePairs { get; set; }  // a SuperGlue pairs file with ground truth
    [JsonPropertyName("pose_images")] public string? PoseImages { get; set; }  // its images' folder (default: the file's folder)
    // SuperGlue's --resize of pose-pair images: "WxH" exact, "N" longer side, "none"; K is scaled to match.
    [JsonPropertyName("pose_resize")] public string PoseResize { get; set; } = "640x480";
    [JsonPropertyName("pose_threshold")] public double PoseThreshold { get; set; } = 1;  // RANSAC px (SuperGlue: 1 px of the resized image)
    [JsonPropertyName("synthetic_pose_pairs")] public int SyntheticPosePairs { get; set; } = 16;  // pose pairs of held-out photos in the default eval
    // Robustness sweeps of every eval (comma-separated names of Evaluation/Sweeps/Sweep.Known, "all", or "none"); --sweep overrides.
    [JsonPropertyName("sweeps")] public string Sweeps { get; set; } = "rotation_short,scale_short";
    [JsonPropertyName("sweep_photos")] public int SweepPhotos { get; set; } = 6;  // held-out photos per sweep step
    [JsonPropertyName("sweep_size")] public int SweepSize { get; set; } = 256;  // side of a sweep's crops, px
    // Image scales of D2-Net's multiscale pyramid (comma-separated, ascending, e.g. "0.5,1,2"; "1" = single scale).
    // "2": keypoints on a 2-px grid; synthetic MMA@1 0.080 → 0.217, MMA@3 0.330 → 0.485 at 800 steps. "0.5,1,2" (D2-Net's)
    // is the one that holds scale ×0.5 (MMA@3 0.379) but loses elsewhere (README: robustness sweeps).
    [JsonPropertyName("scales")] public string Scales { get; set; } = "2";
}

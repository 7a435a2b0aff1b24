using System.Text.Json.Serialization;

namespace LocalFeat.Train.Settings;

/// <summary>Where training pairs come from (<c>data.source</c>).</summary>
public enum DataSource
{
    /// <summary>Random homography pairs of the photos (HNDesc-style H-crops).</summary>
    [JsonStringEnumMemberName("homography")] Homography,
    /// <summary>Synthetic 3-D scenes of textured planes with exact depth, from the photos.</summary>
    [JsonStringEnumMemberName("scenes")] Scenes,
    /// <summary>A MegaDepth-style folder (images, HDF5 depth, cameras.json, pairs.txt) named by <c>data.megadepth</c>.</summary>
    [JsonStringEnumMemberName("megadepth")] Megadepth,
}

namespace LocalFeat.Features;

/// <summary>How <see cref="DenseFeatureExtractor"/> picks keypoints.</summary>
public enum DetectionMode
{
    /// <summary>D2-Net hard detection (<see cref="HardDetection"/>), optionally refined (<see cref="SubpixelRefinement"/>).</summary>
    Hard,
    /// <summary>The D2 soft-detection score with 3×3 NMS (<see cref="SoftDetection"/>).</summary>
    Soft,
}

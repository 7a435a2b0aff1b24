namespace LocalFeat.Train.Evaluation.Sweeps;

/// <summary>The one change a robustness sweep varies between image 1 and image 2.</summary>
public enum SweepKind
{
    /// <summary>In-plane rotation about the image centre, degrees.</summary>
    Rotation,
    /// <summary>Zoom out: image 2 shows the scene at this scale factor (1 = same size).</summary>
    Scale,
    /// <summary>Out-of-plane tilt: the photo as a plane seen at this angle (degrees) about its vertical axis.</summary>
    Tilt,
    /// <summary>Gaussian blur of image 2, sigma in pixels.</summary>
    Blur,
    /// <summary>Exposure gain of image 2 (grey × gain, clipped to 0..255): below 1 darker and lower contrast, above 1 saturating.</summary>
    Brightness,
}

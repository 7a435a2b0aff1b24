namespace LocalFeat.Features;

/// <summary>Settings of <see cref="DenseFeatureExtractor"/>; the defaults are D2-Net's test-time ones.</summary>
/// <param name="Detection">hard (D2-Net) or soft detection.</param>
/// <param name="Budget">at most this many keypoints, highest scores first.</param>
/// <param name="EdgeThreshold">hard detection's Hessian edge threshold t.</param>
/// <param name="Refine">hard detection: D2-Net's sub-cell Newton step (detections moving ≥ half a cell dropped).</param>
/// <param name="Dense">D2-Net's dense test-time mode of the model (half the stride).</param>
/// <param name="Scales">image scales of D2-Net's multiscale pyramid, ascending (D2-Net: 0.5, 1, 2); null = single scale 1.
/// Several scales need hard detection (<see cref="ScalePyramid"/>); one scale resizes the image (e.g. 2: keypoints on a finer grid).</param>
/// <param name="MaxUpscaledSide">levels above scale 1 are shrunk so that their longer side stays within this many px (never
/// below scale 1): a 2× level of a 2048-px image needs 4× its memory (D2-Net bounds its input by max_edge 1600 for the same reason).</param>
public sealed record ExtractionOptions(DetectionMode Detection = DetectionMode.Hard, int Budget = 2000, double EdgeThreshold = 7.2,
    bool Refine = true, bool Dense = true, double[]? Scales = null, int MaxUpscaledSide = 2048);

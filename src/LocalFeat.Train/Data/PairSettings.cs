namespace LocalFeat.Train.Data;

/// <summary>Geometry and photometry of the random pairs (the data part of <see cref="Training.TrainConfig"/>).</summary>
public sealed record PairSettings(
    int CropSize, double ZoomMin, double ZoomMax, double PerspectiveMin, double RotationDeg, double Shift,
    double Brightness, double Contrast, double BlurProb, double NoiseStd, double MinCropStd, int MinCorrespondences)
{
    public static PairSettings From(Training.TrainConfig c, int? cropSize = null) => new(cropSize ?? c.CropSize, c.ZoomMin, c.ZoomMax,
        c.PerspectiveMin, c.RotationDeg, c.Shift, c.Brightness, c.Contrast, c.BlurProb, c.NoiseStd, c.MinCropStd, c.MinCorrespondences);
}

namespace LocalFeat.Train.Data;

/// <summary>Geometry and photometry of the random pairs (the data part of <see cref="Training.TrainConfig"/>).</summary>
public sealed record PairSettings(
    int CropSize, double ZoomMin, double ZoomMax, double PerspectiveMin, double RotationDeg, double Shift,
    double Brightness, double Contrast, double BlurProb, double NoiseStd, double MinCropStd, int MinCorrespondences)
{
    public static PairSettings From(Training.TrainConfig c, int? cropSize = null) => new(cropSize ?? c.Data.CropSize, c.Data.ZoomMin, c.Data.ZoomMax,
        c.Data.PerspectiveMin, c.Data.RotationDeg, c.Data.Shift, c.Data.Brightness, c.Data.Contrast, c.Data.BlurProb, c.Data.NoiseStd, c.Data.MinCropStd, c.Data.MinCorrespondences);
}

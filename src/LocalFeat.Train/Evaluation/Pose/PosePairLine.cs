namespace LocalFeat.Train.Evaluation.Pose;

/// <summary>
/// One line of a SuperGlue pairs file: image names, EXIF quarter turns (numpy rot90 counts), intrinsics K0, K1
/// (row-major 3×3) and T_0to1 (row-major 4×4, camera 0 → camera 1) of the images as stored.
/// </summary>
public sealed record PosePairLine(int LineNumber, string Name0, string Name1, int Rot0, int Rot1, double[] K0, double[] K1, double[] T0to1);

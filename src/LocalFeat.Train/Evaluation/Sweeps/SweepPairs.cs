using LocalFeat.Train.Data;
using LocalFeat.Train.Vision;
using OpenCvSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace LocalFeat.Train.Evaluation.Sweeps;

/// <summary>
/// The pairs of one sweep step. Image 1 is the centred S×S crop of a photo; image 2 is the photo (photometric change,
/// anti-aliasing blur before a zoom-out or foreshortening) warped through the exact homography: the step's change
/// about the crop centre, then a fixed sub-pixel shift <see cref="Shift"/>. Both get independent Gaussian noise of
/// <see cref="NoiseGrey"/> grey levels, so the identity step measures localisation, not copies of one image.
/// Image 2 takes its pixels from the whole photo; where its view leaves the photo, <see cref="EvalPair.Valid2"/> is
/// false (eroded by <see cref="BorderMargin"/> px) so the black border gives no keypoints to any method.
/// </summary>
public static class SweepPairs
{
    public static readonly (double x, double y) Shift = (0.4, 0.7);
    public const double NoiseGrey = 2;
    public const int BorderMargin = 8;

    /// <param name="photo">grey uint8 [H,W] (not taken over).</param>
    /// <param name="size">side S of the crops; smaller photos give crops of their shorter side.</param>
    public static EvalPair Make(string name, Tensor photo, Sweep sweep, double step, int size, ulong seed)
    {
        long ph = photo.size(0), pw = photo.size(1);
        int s = (int)Math.Min(size, Math.Min(ph, pw));
        int x0 = (int)((pw - s) / 2), y0 = (int)((ph - s) / 2);
        double c = (s - 1) / 2.0;
        var h12 = Homography.Mul(Homography.Translation(Shift.x, Shift.y), sweep.Change(step, c, c, s));
        var photoTo2 = Homography.Mul(h12, Homography.Translation(-x0, -y0));

        using var scope = NewDisposeScope();
        using var m = OpenCv.ToMat(photo);
        using var changed = Photometric(m, sweep, step);
        using var warped = new Mat();
        using (var a = Mat.FromPixelData(3, 3, MatType.CV_64FC1, photoTo2))
            Cv2.WarpPerspective(changed, warped, a, new OpenCvSharp.Size(s, s), InterpolationFlags.Linear, BorderTypes.Constant, OpenCvSharp.Scalar.Black);
        var image1 = photo.narrow(0, y0, s).narrow(1, x0, s);
        var gray1 = Noisy(image1, seed * 2);
        var gray2 = Noisy(OpenCv.ToTensor(warped), seed * 2 + 1);
        Tensor? valid = sweep.IsGeometric ? Valid(Homography.Inverse(photoTo2), s, pw, ph) : null;
        return new EvalPair($"{name} {sweep.Label(step)}", gray1.DetachFromDisposeScope(), gray2.DetachFromDisposeScope(), h12)
        {
            Valid2 = valid?.DetachFromDisposeScope(),
        };
    }

    // The photometric change of the step on the whole photo, and the anti-aliasing blur of a zoom-out: sigma
    // 0.5·√(1/s² − 1) per axis brings the photo's assumed 0.5-px blur to 0.5 px after shrinking by s.
    private static Mat Photometric(Mat photo, Sweep sweep, double step)
    {
        var result = photo.Clone();
        var (sx, sy) = sweep.Shrink(step);
        double ax = sx < 1 ? 0.5 * Math.Sqrt(1 / (sx * sx) - 1) : 0, ay = sy < 1 ? 0.5 * Math.Sqrt(1 / (sy * sy) - 1) : 0;
        if (ax > 0 || ay > 0) Cv2.GaussianBlur(result, result, new OpenCvSharp.Size(0, 0), Math.Max(ax, 1e-3), Math.Max(ay, 1e-3), BorderTypes.Reflect101);
        if (sweep.Kind == SweepKind.Blur && step > 0) Cv2.GaussianBlur(result, result, new OpenCvSharp.Size(0, 0), step, step, BorderTypes.Reflect101);
        if (sweep.Kind == SweepKind.Brightness) result.ConvertTo(result, MatType.CV_8UC1, step, 0);  // saturating
        return result;
    }

    private static Tensor Noisy(Tensor gray, ulong seed)
    {
        using var gen = new Generator(seed);
        return (gray.to(ScalarType.Float32) + randn(gray.shape, generator: gen) * NoiseGrey).round().clamp(0, 255).to(ScalarType.Byte).contiguous();
    }

    // Image-2 pixels whose pre-image lies in front of the camera and inside the photo, eroded by the border margin.
    private static Tensor Valid(double[] toPhoto, int s, long pw, long ph)
    {
        var bytes = new byte[s * s];
        for (int v = 0; v < s; v++)
            for (int u = 0; u < s; u++)
            {
                double w = toPhoto[6] * u + toPhoto[7] * v + toPhoto[8];
                if (!(w > 0)) continue;
                double x = (toPhoto[0] * u + toPhoto[1] * v + toPhoto[2]) / w, y = (toPhoto[3] * u + toPhoto[4] * v + toPhoto[5]) / w;
                if (x >= 0 && y >= 0 && x <= pw - 1 && y <= ph - 1) bytes[v * s + u] = 1;
            }
        using var mask = Mat.FromPixelData(s, s, MatType.CV_8UC1, bytes);
        using var eroded = new Mat();
        using var kernel = Cv2.GetStructuringElement(MorphShapes.Rect, new OpenCvSharp.Size(2 * BorderMargin + 1, 2 * BorderMargin + 1));
        // The crop's own edge is no warp border (replicated): keypoints near it stay, as in image 1.
        Cv2.Erode(mask, eroded, kernel, borderType: BorderTypes.Replicate);
        return OpenCv.ToTensor(eroded).to(ScalarType.Bool);
    }
}

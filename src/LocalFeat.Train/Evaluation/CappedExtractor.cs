using LocalFeat.Train.Vision;
using static TorchSharp.torch;

namespace LocalFeat.Train.Evaluation;

/// <summary>
/// Bounds the working size of any extractor: an image whose longer side exceeds <c>eval.max_image_side</c> is shrunk
/// to it before extraction (memory grows with the pixel count: a 10000×10000 photo took over 24 GiB) and its keypoints
/// are mapped back to the original pixels; one whose shorter side is under <see cref="MinSide"/> is refused.
/// </summary>
/// <param name="limit">what <paramref name="maxSide"/> comes from, for the note (default "eval.max_image_side N").</param>
public sealed class CappedExtractor(IFeatureExtractor inner, int maxSide, Action<string>? note = null, string? limit = null) : IFeatureExtractor
{
    /// <summary>Smallest shorter side extracted: two cells of the stride-8 models (three 2×2 pools need ≥ 8 px).</summary>
    public const int MinSide = 16;

    public string Name => inner.Name;
    public IFeatureExtractor Inner => inner;

    public FeatureSet Extract(Tensor gray)
    {
        long h = gray.size(0), w = gray.size(1);
        if (Math.Min(h, w) < MinSide)
            throw new InvalidDataException($"{w}×{h} px: expected at least {MinSide} px on the shorter side");
        var small = OpenCv.Shrink(gray, maxSide, out double sx, out double sy);
        if (ReferenceEquals(small, gray)) return inner.Extract(gray);
        using (small)
        {
            note?.Invoke($"resized {w}×{h} → {small.size(1)}×{small.size(0)} px ({limit ?? $"eval.max_image_side {maxSide}"}); keypoints in original pixels");
            var f = inner.Extract(small);
            // Pixel centres map as (x + ½)/s − ½.
            return new FeatureSet
            {
                X = f.X.Select(x => (float)((x + 0.5) / sx - 0.5)).ToArray(),
                Y = f.Y.Select(y => (float)((y + 0.5) / sy - 0.5)).ToArray(),
                Scale = f.Scale.Select(s => (float)(s / Math.Sqrt(sx * sy))).ToArray(),
                Score = f.Score,
                Descriptors = f.Descriptors,
                Binary = f.Binary,
            };
        }
    }
}

using LocalFeat.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace LocalFeat.Features;

/// <summary>
/// Keypoints and descriptors of whole images with a <see cref="FeatureNet"/> (D2-Net's single-scale test pipeline):
/// dense features, hard or soft detection, the <see cref="ExtractionOptions.Budget"/> highest scores kept,
/// descriptors bilinearly sampled at the keypoints and L2-normalised.
/// </summary>
/// <example><code>
/// using var model = FeatureNet.Tiny();          // or load trained weights: model.load_safetensors(path)
/// var extractor = new DenseFeatureExtractor(model, new ExtractionOptions(Budget: 1000));
/// using var f1 = extractor.Extract(gray1);      // gray: uint8 [H,W] or float [H,W] in [0,1]
/// using var f2 = extractor.Extract(gray2);
/// using var matches = MutualNearestNeighbors.Match(f1.Descriptors, f2.Descriptors);  // int64 [K,2]
/// </code></example>
public sealed class DenseFeatureExtractor(FeatureNet model, ExtractionOptions? options = null)
{
    /// <summary>The model (not owned).</summary>
    public FeatureNet Model { get; } = model ?? throw new ArgumentNullException(nameof(model));
    /// <summary>The settings.</summary>
    public ExtractionOptions Options { get; } = Validated(options ?? new ExtractionOptions());
    /// <summary>Stride of the feature map the keypoints live on.</summary>
    public int Stride => Model.StrideFor(Options.Dense);

    private static ExtractionOptions Validated(ExtractionOptions o)
    {
        if (o.Budget < 1) throw new ArgumentException($"argument 'options': expected Budget ≥ 1, got {o.Budget}", nameof(options));
        if (!(o.EdgeThreshold > 0)) throw new ArgumentException($"argument 'options': expected EdgeThreshold > 0, got {o.EdgeThreshold}", nameof(options));
        var scales = o.Scales ?? [1.0];
        if (scales.Length == 0 || scales.Any(v => !(v > 0 && v <= 8)) || scales.Zip(scales.Skip(1)).Any(p => !(p.Second > p.First)))
            throw new ArgumentException($"argument 'options': expected Scales ascending in (0, 8], got [{string.Join(", ", scales)}]", nameof(options));
        if (scales.Length > 1 && o.Detection != DetectionMode.Hard)
            throw new ArgumentException($"argument 'options': several Scales need hard detection (D2-Net's pyramid), got {o.Detection} with [{string.Join(", ", scales)}]", nameof(options));
        return o;
    }

    /// <summary>Features of one grey image [H,W] (uint8 0..255, or float in [0,1]); the model runs on its parameters' device.</summary>
    public LocalFeatureSet Extract(Tensor gray)
    {
        if (gray.dim() != 2) throw new ArgumentException($"argument 'gray': expected a grey image [H,W], got [{string.Join(", ", gray.shape)}]", nameof(gray));
        using var guard = no_grad();
        using var scope = NewDisposeScope();
        var device = Model.parameters().First().device;
        var x = (gray.dtype == ScalarType.Byte ? gray.to(ScalarType.Float32).div(255.0) : gray.to(ScalarType.Float32)).unsqueeze(0).unsqueeze(0);
        long height = x.size(2), width = x.size(3);
        // Image levels resized with align_corners, so level pixel p is original pixel p·(W − 1)/(w − 1); levels under
        // MinLevelSide px are left out (the largest is always kept); upscaled levels are shrunk to at most
        // MaxUpscaledSide px (never below scale 1; a level that then repeats another is dropped).
        double upCap = Math.Max(1, Options.MaxUpscaledSide / (double)Math.Max(height, width));
        var all = (Options.Scales ?? [1.0]).Select(v => v > 1 ? Math.Min(v, upCap) : v).Distinct().ToArray();
        var scales = all.Where(v => Math.Min(height, width) * v >= MinLevelSide).DefaultIfEmpty(all[^1]).ToArray();
        var levels = new List<Tensor>();
        var sizes = new List<(long h, long w)>();
        foreach (double v in scales)
        {
            long h = v == 1 ? height : Math.Max(1, (long)Math.Floor(height * v)), w = v == 1 ? width : Math.Max(1, (long)Math.Floor(width * v));
            var image = v == 1 ? x : nn.functional.interpolate(x, [h, w], mode: InterpolationMode.Bilinear, align_corners: true);
            levels.Add(Model.Forward(image.to(device), Options.Dense)[0].cpu().contiguous());  // [C,h,w]
            sizes.Add((h, w));
        }
        Tensor Factors(Func<(long h, long w), double> f) => tensor(sizes.Select(f).Select(v => (float)v).ToArray());
        var fy = Factors(z => z.h > 1 ? (height - 1.0) / (z.h - 1) : 1.0);
        var fx = Factors(z => z.w > 1 ? (width - 1.0) / (z.w - 1) : 1.0);
        if (Options.Detection == DetectionMode.Soft)  // one level (validated)
        {
            var (r, c, sc) = SoftDetection.Detect(levels[0]);
            var (rows, cols, scores) = Strongest(r.to(ScalarType.Float32), c.to(ScalarType.Float32), sc);
            return Result(PixelsOf(rows, cols, fx, fy), scores, DescriptorSampler.Bilinear(levels[0], stack([rows, cols], 1)));
        }
        // D2-Net's pyramid; one level for a single scale.
        var (level, lr, lc, ls, ld) = ScalePyramid.Detect(levels, Options.EdgeThreshold, Options.Refine);
        long n = Math.Min(Options.Budget, ls.size(0));
        var (_, order) = ls.topk((int)n);
        var (lvl, rr, cc) = (level.index_select(0, order), lr.index_select(0, order), lc.index_select(0, order));
        return Result(PixelsOf(rr, cc, fx.index_select(0, lvl), fy.index_select(0, lvl)), ls.index_select(0, order), ld.index_select(0, order));
    }

    /// <summary>Shorter side of the smallest pyramid level: three 2×2 pools leave two cells.</summary>
    public const int MinLevelSide = 16;

    private (Tensor rows, Tensor cols, Tensor scores) Strongest(Tensor rows, Tensor cols, Tensor scores)
    {
        if (rows.size(0) <= Options.Budget) return (rows, cols, scores);
        var (_, order) = scores.topk(Options.Budget);
        return (rows.index_select(0, order), cols.index_select(0, order), scores.index_select(0, order));
    }

    // Cell → level pixel: stride·(cell + offset) + (stride − 1)/2 (dense mode's average pool shifts by half a cell); → original pixel by the level's factor.
    private Tensor PixelsOf(Tensor rows, Tensor cols, Tensor factorX, Tensor factorY)
    {
        int s = Stride;
        double o = Model.CellOffsetFor(Options.Dense);
        return stack([((cols + o) * s + (s - 1) / 2.0) * factorX, ((rows + o) * s + (s - 1) / 2.0) * factorY], 1).to(ScalarType.Float32);
    }

    private static LocalFeatureSet Result(Tensor xy, Tensor scores, Tensor descriptors) =>
        new(xy.contiguous().MoveToOuterDisposeScope(), scores.to(ScalarType.Float32).contiguous().MoveToOuterDisposeScope(), descriptors.contiguous().MoveToOuterDisposeScope());
}

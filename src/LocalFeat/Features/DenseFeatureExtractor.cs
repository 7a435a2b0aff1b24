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
        return o;
    }

    /// <summary>Features of one grey image [H,W] (uint8 0..255, or float in [0,1]); the model runs on its parameters' device.</summary>
    public LocalFeatureSet Extract(Tensor gray)
    {
        if (gray.dim() != 2) throw new ArgumentException($"argument 'gray': expected a grey image [H,W], got [{string.Join(", ", gray.shape)}]", nameof(gray));
        using var guard = no_grad();
        using var scope = NewDisposeScope();
        var device = Model.parameters().First().device;
        var x = gray.dtype == ScalarType.Byte ? gray.to(ScalarType.Float32).div(255.0) : gray.to(ScalarType.Float32);
        var features = Model.Forward(x.unsqueeze(0).unsqueeze(0).to(device), Options.Dense)[0].cpu().contiguous();  // [C,h,w]
        Tensor rows, cols, scores;
        if (Options.Detection == DetectionMode.Hard)
        {
            var (ch, r, c, sc) = HardDetection.Detect(features, Options.EdgeThreshold);
            (rows, cols, scores) = (r.to(ScalarType.Float32), c.to(ScalarType.Float32), sc);
            if (Options.Refine)
            {
                var (rr, rc, valid) = SubpixelRefinement.Refine(features, ch, r, c);
                var keep = valid.nonzero().view(-1);
                (rows, cols, scores) = (rr.index_select(0, keep), rc.index_select(0, keep), sc.index_select(0, keep));
            }
        }
        else
        {
            var (r, c, sc) = SoftDetection.Detect(features);
            (rows, cols, scores) = (r.to(ScalarType.Float32), c.to(ScalarType.Float32), sc);
        }
        if (rows.size(0) > Options.Budget)
        {
            var (_, order) = scores.topk(Options.Budget);
            rows = rows.index_select(0, order); cols = cols.index_select(0, order); scores = scores.index_select(0, order);
        }
        var descriptors = DescriptorSampler.Bilinear(features, stack([rows, cols], 1));
        // Cell → pixel: stride·(cell + offset) + (stride − 1)/2 (dense mode's average pool shifts by half a cell).
        int s = Stride;
        double o = Model.CellOffsetFor(Options.Dense);
        var xy = stack([(cols + o) * s + (s - 1) / 2.0, (rows + o) * s + (s - 1) / 2.0], 1).to(ScalarType.Float32);
        return new LocalFeatureSet(xy.contiguous().MoveToOuterDisposeScope(), scores.to(ScalarType.Float32).contiguous().MoveToOuterDisposeScope(),
            descriptors.MoveToOuterDisposeScope());
    }
}

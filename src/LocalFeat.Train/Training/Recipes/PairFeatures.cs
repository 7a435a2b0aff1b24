using LocalFeat.Features;
using LocalFeat.Models;
using LocalFeat.Ops;
using LocalFeat.Train.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace LocalFeat.Train.Training.Recipes;

/// <summary>What every recipe reads off the network for a batch: features and D2 scores of both images, values at correspondences.</summary>
public static class PairFeatures
{
    /// <summary>Features [2B,C,h,w] (image 1 of each pair, then image 2) and their D2 soft-detection scores [2B,h,w].</summary>
    public static (Tensor features, Tensor scores) Online(FeatureNet model, Batch batch, Device device)
    {
        using var scope = torch.NewDisposeScope();
        var images = torch.cat([batch.Images1, batch.Images2]).to(device);
        var features = model.Forward(images, dense: false);
        var scores = D2SoftDetect.Apply(features);
        return (features.MoveToOuterDisposeScope(), scores.MoveToOuterDisposeScope());
    }

    /// <summary>Rows [N,C] of <paramref name="features"/> [C,h,w] at cell positions [N,2] (row, col), bilinear; unit rows if <paramref name="normalize"/>.</summary>
    public static Tensor At(Tensor features, Tensor positions, bool normalize = true) =>
        DescriptorSampler.Bilinear(features, positions.to(ScalarType.Float32), normalize);

    /// <summary>Scores [N] of a map [h,w] at cell positions [N,2], bilinear.</summary>
    public static Tensor ScoresAt(Tensor scores, Tensor positions)
    {
        using var scope = torch.NewDisposeScope();
        return At(scores.unsqueeze(0), positions, normalize: false).squeeze(1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Detector probabilities in [0, 1] of a D2 score map [h,w]: the score over the map's largest (detached), so the strongest cell
    /// reads 1. D2 scores sum to 1 over the map; the task-aligned keypoint loss needs probabilities.
    /// </summary>
    public static Tensor Probability(Tensor scores)
    {
        using var scope = torch.NewDisposeScope();
        return (scores / scores.detach().max().clamp_min(1e-12)).MoveToOuterDisposeScope();
    }

    /// <summary>(row, col) of every cell of an h×w grid, row-major, float32 [h·w, 2].</summary>
    public static Tensor Grid(long h, long w, Device device)
    {
        using var scope = torch.NewDisposeScope();
        var mesh = torch.meshgrid([torch.arange(0, h, 1, ScalarType.Float32), torch.arange(0, w, 1, ScalarType.Float32)]);
        return torch.stack([mesh[0].reshape(-1), mesh[1].reshape(-1)], 1).to(device).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>Pixel (x, y) [N,2] of cell positions (row, col) [N,2] (<see cref="Correspondences.CellToPixel"/>).</summary>
    public static Tensor Pixels(Tensor positions, int stride)
    {
        using var scope = torch.NewDisposeScope();
        var p = positions.to(ScalarType.Float32) * stride + (stride - 1) / 2.0;
        return torch.stack([p.select(1, 1), p.select(1, 0)], 1).contiguous().MoveToOuterDisposeScope();
    }
}

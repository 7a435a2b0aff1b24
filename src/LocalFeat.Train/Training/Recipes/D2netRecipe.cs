using LocalFeat.Models;
using LocalFeat.Ops;
using LocalFeat.Train.Data;
using LocalFeat.Train.Settings;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LocalFeat.Train.Training.Recipes;

/// <summary>D2-Net: D2 soft-detection scores and <see cref="D2NetLoss"/> (square safe window, or the 3-D sphere on pairs with depth) per pair, averaged over the batch.</summary>
public sealed class D2netRecipe(FeatureNet model, TrainConfig config, Device device) : IRecipe
{
    public Recipe Kind => Recipe.D2net;
    public IReadOnlyList<Parameter> ExtraParameters => [];
    public nn.Module? State => null;

    /// <summary>Mean D2-Net loss over the pairs of the batch that have correspondences (0 with a graph when none has).</summary>
    public (Tensor loss, int pairs) BatchLoss(Batch batch, long step)
    {
        using var scope = torch.NewDisposeScope();
        int b = (int)batch.Images1.size(0);
        var (features, scores) = PairFeatures.Online(model, batch, device);
        var losses = new List<Tensor>();
        for (int k = 0; k < b; k++)
        {
            var m = batch.Matches[k];
            if (m.Count == 0) continue;
            // Pairs with depth (scenes, MegaDepth) carry 3-D cell points: TaSP's spherical safe window in scene units.
            losses.Add(batch.Points1 is { } p1 && batch.Points2 is { } p2
                ? D2NetLoss.Apply(features[k], scores[k], features[b + k], scores[b + k], m.Cells1.to(device), m.Pos2.to(device),
                    p1[k].to(device), p2[k].to(device), config.Loss.Margin, config.Loss.SafeRadius3D)
                : D2NetLoss.Apply(features[k], scores[k], features[b + k], scores[b + k],
                    m.Cells1.to(device), m.Pos2.to(device), config.Loss.Margin, config.Loss.SafeRadius));
        }
        var loss = losses.Count > 0 ? torch.stack(losses.ToArray()).mean() : features.sum() * 0.0;
        return (loss.MoveToOuterDisposeScope(), losses.Count);
    }

    public void Dispose() { }
}

using LocalFeat.Models;
using LocalFeat.Ops;
using LocalFeat.Train.Data;
using LocalFeat.Train.Settings;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LocalFeat.Train.Training.Recipes;

/// <summary>
/// HNDesc (imelekhov/HNDesc, APCriterion): anchors are image 1's descriptors at the correspondences, positives image 2's at their
/// positions; each anchor's k hardest negatives are the most similar positives of the other pairs of the batch
/// (<see cref="InBatchHardestNegatives"/>, scope OtherGroups), and the loss is 1 − the quantised AP of the positive among them.
/// A descriptor loss only, as in HNDesc (its keypoints come from another detector); eval detects on the same features as d2net.
/// </summary>
public sealed class HndescRecipe(FeatureNet model, TrainConfig config, Device device) : IRecipe
{
    public Recipe Kind => Recipe.Hndesc;
    public IReadOnlyList<Parameter> ExtraParameters => [];
    public nn.Module? State => null;

    public (Tensor loss, int pairs) BatchLoss(Batch batch, long step)
    {
        using var scope = torch.NewDisposeScope();
        int b = (int)batch.Images1.size(0);
        var features = model.Forward(torch.cat([batch.Images1, batch.Images2]).to(device), dense: false);
        var (anchors, positives, groups) = (new List<Tensor>(), new List<Tensor>(), new List<Tensor>());
        for (int k = 0; k < b; k++)
        {
            var m = batch.Matches[k];
            if (m.Count == 0) continue;
            anchors.Add(PairFeatures.At(features[k], m.Cells1.to(device)));
            positives.Add(PairFeatures.At(features[b + k], m.Pos2.to(device)));
            groups.Add(torch.full(m.Count, k, ScalarType.Int64, device));
        }
        if (anchors.Count < 2) return ((features.sum() * 0.0).MoveToOuterDisposeScope(), 0);  // no other pair: no negatives
        var (a, p) = (torch.cat(anchors), torch.cat(positives));
        var (_, negative) = InBatchHardestNegatives.Apply(a, p, torch.cat(groups), config.Hndesc.K, NegativeScope.OtherGroups);
        // Fewer than k admissible (−∞): HNDesc repeats the last hardest negative.
        var finite = negative.isfinite();
        var last = finite.sum(1, keepdim: true).sub(1).clamp_min(0);
        negative = torch.where(finite, negative, negative.gather(1, last).expand_as(negative));
        var positive = (a * p).sum(1, keepdim: true);
        var similarity = torch.cat([positive, negative], 1);
        var label = torch.zeros_like(similarity);
        label.select(1, 0).fill_(1);
        var ap = QuantizedAp.Apply(similarity, label, config.Hndesc.ApBins);
        return ((1 - ap).mean().MoveToOuterDisposeScope(), anchors.Count);
    }

    public void Dispose() { }
}

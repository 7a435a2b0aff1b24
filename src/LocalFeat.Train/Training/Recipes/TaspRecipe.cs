using LocalFeat.Models;
using LocalFeat.Ops;
using LocalFeat.Train.Data;
using LocalFeat.Train.Settings;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LocalFeat.Train.Training.Recipes;

/// <summary>
/// TaSP (RA-L 2023): per correspondence the hardest negative outside the safe window (<see cref="SafeWindowNegatives"/>), the
/// intrinsic importance s = vNeg / max(vPos, 1) from pHashes of the anchor, positive and negative patches cut from the input
/// images, the DIW-weighted triplet loss over the whole batch (one histogram update per step), plus the task-aligned keypoint
/// loss on detector probabilities at the anchors (positives) and at the mined negatives.
/// </summary>
public sealed class TaspRecipe : IRecipe
{
    private readonly FeatureNet _model;
    private readonly TrainConfig _config;
    private readonly Device _device;
    private readonly DiwState _state;

    public TaspRecipe(FeatureNet model, TrainConfig config, Device device)
    {
        (_model, _config, _device) = (model, config, device);
        var t = config.Tasp;
        Histogram = new DiwHistogram(t.Margin, t.DiwBins, momentum: t.DiwMomentum, sMax: t.ImportanceMax);
        _state = new DiwState(t.DiwBins);
    }

    public Recipe Kind => Recipe.Tasp;
    public IReadOnlyList<Parameter> ExtraParameters => [];
    public nn.Module? State => _state;
    public DiwHistogram Histogram { get; }

    /// <summary>
    /// Data-parallel hook (Gloo): given this process's batch histogram [bins] (normalised to sum 1), returns the mean over all
    /// processes, so every replica mixes the same batch into its state. Null: one process.
    /// </summary>
    public Func<Tensor, Tensor>? BatchHistogramAllReduce { get; set; }

    public (Tensor loss, int pairs) BatchLoss(Batch batch, long step)
    {
        using var scope = torch.NewDisposeScope();
        int b = (int)batch.Images1.size(0), stride = _model.Stride;
        var t = _config.Tasp;
        var (features, scores) = PairFeatures.Online(_model, batch, _device);
        var (dPos, dNeg, importance, pPos, pNeg) = (new List<Tensor>(), new List<Tensor>(), new List<Tensor>(), new List<Tensor>(), new List<Tensor>());
        int pairs = 0;
        for (int k = 0; k < b; k++)
        {
            var m = batch.Matches[k];
            if (m.Count == 0) continue;
            var cells = m.Cells1.to(_device);
            var pos2 = m.Pos2.to(_device);
            var d1 = PairFeatures.At(features[k], cells);
            var d2 = PairFeatures.At(features[b + k], pos2);
            var tri = SafeWindowNegatives.Mine(batch, k, d1, d2, features[b + k], _config);
            long n = tri.Rows.size(0);
            if (n == 0) continue;
            pairs++;
            long w2 = features.size(3);
            var negCells = torch.stack([tri.Negative.div(w2, rounding_mode: RoundingMode.floor), tri.Negative.remainder(w2)], 1);
            // pHash patches (images in 0..255) at the anchor, its positive and its hardest negative.
            var image1 = (batch.Images1[k].unsqueeze(0) * 255.0).to(_device).contiguous();
            var image2 = (batch.Images2[k].unsqueeze(0) * 255.0).to(_device).contiguous();
            var hAnchor = PatchPHash.Apply(image1, PairFeatures.Pixels(cells.index_select(0, tri.Rows), stride).unsqueeze(0), t.PatchSize).squeeze(0);
            var hPos = PatchPHash.Apply(image2, PairFeatures.Pixels(pos2.index_select(0, tri.Rows), stride).unsqueeze(0), t.PatchSize).squeeze(0);
            var hNeg = PatchPHash.Apply(image2, PairFeatures.Pixels(negCells, stride).unsqueeze(0), t.PatchSize).squeeze(0);
            importance.Add(IntrinsicImportance.Apply(Hamming.Apply(hAnchor, hPos), Hamming.Apply(hAnchor, hNeg)));
            dPos.Add(tri.DPos);
            dNeg.Add(tri.DNeg);
            var flat1 = cells.index_select(0, tri.Rows);
            pPos.Add(PairFeatures.Probability(scores[k]).view(-1).index_select(0, flat1.select(1, 0) * features.size(3) + flat1.select(1, 1)));
            pNeg.Add(PairFeatures.Probability(scores[b + k]).view(-1).index_select(0, tri.Negative));
        }
        if (pairs == 0) return ((features.sum() * 0.0).MoveToOuterDisposeScope(), 0);
        var (dp, dn, s) = (torch.cat(dPos), torch.cat(dNeg), torch.cat(importance));
        var before = Histogram.State.clone();
        var descriptor = TaspTripletLoss.Apply(dp, dn, s, Histogram);
        if (BatchHistogramAllReduce != null) SyncHistogram(before);
        // Mean over triplets (the op sums): the weight then does not grow with the crop size.
        var keypoint = TaskAlignedKeypointLoss.Apply(torch.cat(pPos), dp, dn, torch.cat(pNeg), t.Margin, t.KeypointT) / dp.size(0);
        var loss = t.DescriptorWeight * descriptor + t.KeypointWeight * keypoint;
        return (loss.MoveToOuterDisposeScope(), pairs);
    }

    // The op mixed this process's batch into the state; recover that batch, average it over the processes, mix again.
    private void SyncHistogram(Tensor before)
    {
        using var scope = torch.NewDisposeScope();
        bool first = before.sum().item<float>() == 0;
        double mu = Histogram.Momentum;
        var local = first ? Histogram.State.clone() : (Histogram.State - (1 - mu) * before) / mu;
        var mean = BatchHistogramAllReduce!(local);
        Histogram.SetState(first ? mean : (1 - mu) * before + mu * mean);
    }

    public void BeforeSave()
    {
        using var noGrad = torch.no_grad();
        _state.Histogram.copy_(Histogram.State);
    }

    public void AfterLoad() => Histogram.SetState(_state.Histogram);

    public void Dispose()
    {
        Histogram.Dispose();
        _state.Dispose();
    }
}

using LocalFeat.Models;
using LocalFeat.Ops;
using LocalFeat.Train.Data;
using LocalFeat.Train.Settings;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LocalFeat.Train.Training.Recipes;

/// <summary>
/// TPR (CVPR 2023, BYOL-style): the online FeatureNet's features at the correspondences go through projector and predictor (q);
/// the target network (EMA of the online one, τ cosine from tpr.tau_base to 1) and target projector give z at the other image's
/// correspondence; <see cref="SoftByolLoss"/> regresses q onto z, weighted by the online D2 scores at both ends, symmetric in
/// the two images, with soft labels from the target's own similarity at the correspondence and alpha rising 0 → tpr.alpha_max
/// over the first half of the run. No negatives reach the descriptors. The detector is trained by the task-aligned keypoint
/// loss (as in tasp): its margins come from safe-window hardest negatives but are detached, so only the scores learn from them.
/// </summary>
public sealed class TprRecipe : IRecipe
{
    private readonly FeatureNet _model;
    private readonly TrainConfig _config;
    private readonly Device _device;
    private readonly TprState _state;

    public TprRecipe(FeatureNet model, TrainConfig config, Device device)
    {
        (_model, _config, _device) = (model, config, device);
        _state = new TprState(model, config.Tpr.Hidden, config.Tpr.Projection);
        _state.to(device);
        // The target starts as a copy of the online network and projector (τ = 0 copies exactly), and is never trained.
        EmaUpdate.Apply(_state.Target, model, 0.0);
        EmaUpdate.Apply(_state.TargetProjector, _state.Projector, 0.0);
        foreach (var p in _state.Target.parameters().Concat(_state.TargetProjector.parameters())) p.requires_grad = false;
        ExtraParameters = _state.Projector.parameters().Concat(_state.Predictor.parameters()).ToList();
    }

    public Recipe Kind => Recipe.Tpr;
    public IReadOnlyList<Parameter> ExtraParameters { get; }
    public nn.Module? State => _state;
    public TprState Modules => _state;

    /// <summary>Curriculum: alpha of step <paramref name="step"/> (0-based), linear from 0 to alpha_max at half the run, then alpha_max.</summary>
    public static double Alpha(TrainConfig c, long step) => c.Tpr.AlphaMax * Math.Min(1.0, step / Math.Max(1.0, c.Run.Steps / 2.0));

    public (Tensor loss, int pairs) BatchLoss(Batch batch, long step)
    {
        using var scope = torch.NewDisposeScope();
        int b = (int)batch.Images1.size(0);
        var c = _config;
        var (features, scores) = PairFeatures.Online(_model, batch, _device);
        Tensor target;
        using (torch.no_grad()) target = _state.Target.Forward(torch.cat([batch.Images1, batch.Images2]).to(_device), dense: false);
        var (o1, o2, t1, t2, s1, s2) = (new List<Tensor>(), new List<Tensor>(), new List<Tensor>(), new List<Tensor>(), new List<Tensor>(), new List<Tensor>());
        var (dPos, dNeg, pPos, pNeg) = (new List<Tensor>(), new List<Tensor>(), new List<Tensor>(), new List<Tensor>());
        var (pPosIndex, pNegIndex, pPair) = (new List<Tensor>(), new List<Tensor>(), new List<int>());
        int pairs = 0;
        long w = features.size(3);
        for (int k = 0; k < b; k++)
        {
            var m = batch.Matches[k];
            if (m.Count == 0) continue;
            pairs++;
            var cells = m.Cells1.to(_device);
            var pos2 = m.Pos2.to(_device);
            o1.Add(PairFeatures.At(features[k], cells, normalize: false));
            o2.Add(PairFeatures.At(features[b + k], pos2, normalize: false));
            t1.Add(PairFeatures.At(target[k], cells, normalize: false));
            t2.Add(PairFeatures.At(target[b + k], pos2, normalize: false));
            s1.Add(PairFeatures.ScoresAt(scores[k], cells));
            s2.Add(PairFeatures.ScoresAt(scores[b + k], pos2));
            if (c.Tpr.KeypointWeight > 0)
            {
                using var noGrad = torch.no_grad();  // the keypoint term's margins are constants for the descriptors
                var tri = SafeWindowNegatives.Mine(batch, k, PairFeatures.At(features[k], cells), PairFeatures.At(features[b + k], pos2), features[b + k], c);
                dPos.Add(tri.DPos);
                dNeg.Add(tri.DNeg);
                var anchors = cells.index_select(0, tri.Rows);
                pNegIndex.Add(tri.Negative);
                pPosIndex.Add(anchors.select(1, 0) * w + anchors.select(1, 1));
                pPair.Add(k);
            }
        }
        if (pairs == 0) return ((features.sum() * 0.0).MoveToOuterDisposeScope(), 0);
        var (O1, O2, T1, T2, S1, S2) = (torch.cat(o1), torch.cat(o2), torch.cat(t1), torch.cat(t2), torch.cat(s1), torch.cat(s2));
        var q1 = _state.Predictor.call(_state.Projector.call(O1));
        var q2 = _state.Predictor.call(_state.Projector.call(O2));
        Tensor z1, z2;
        using (torch.no_grad())
        {
            z1 = _state.TargetProjector.call(T1);
            z2 = _state.TargetProjector.call(T2);
        }
        double alpha = Alpha(c, step);
        long n = O1.size(0);
        // SoftByolLoss is (1/C)·Σ w·e with Σ w = 1; ×C makes it the score-weighted mean of e, independent of the crop size.
        var byol = (SoftByolLoss.Apply(q1, z2.contiguous(), T1, T2, S1, S2, alpha, c.Tpr.Lambda, c.Tpr.Label)
                  + SoftByolLoss.Apply(q2, z1.contiguous(), T2, T1, S2, S1, alpha, c.Tpr.Lambda, c.Tpr.Label)) * n;
        var loss = byol;
        if (dPos.Count > 0)
        {
            for (int j = 0; j < pPair.Count; j++)
            {
                int k = pPair[j];
                pPos.Add(PairFeatures.Probability(scores[k]).view(-1).index_select(0, pPosIndex[j]));
                pNeg.Add(PairFeatures.Probability(scores[b + k]).view(-1).index_select(0, pNegIndex[j]));
            }
            var dp = torch.cat(dPos);
            if (dp.size(0) > 0)
                loss = loss + c.Tpr.KeypointWeight * TaskAlignedKeypointLoss.Apply(torch.cat(pPos), dp, torch.cat(dNeg), torch.cat(pNeg), c.Loss.Margin, c.Tpr.KeypointT) / dp.size(0);
        }
        return (loss.MoveToOuterDisposeScope(), pairs);
    }

    /// <summary>τ of the step just taken (1-based count): BYOL's cosine schedule over the run.</summary>
    public void AfterStep(long step)
    {
        double tau = EmaUpdate.Tau(step + 1, _config.Run.Steps, _config.Tpr.TauBase);
        EmaUpdate.Apply(_state.Target, _model, tau);
        EmaUpdate.Apply(_state.TargetProjector, _state.Projector, tau);
    }

    public void Dispose() => _state.Dispose();
}

using LocalFeat.Models;
using LocalFeat.Train.Training.Recipes;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace LocalFeat.Train.Distributed;

/// <summary>
/// Makes every rank start from rank 0's state, fresh or resumed: the first step, the model's parameters and
/// buffers, the recipe's state (tasp's DIW histogram, tpr's target network, projector and predictor), the optimizer state (as the checkpoint's optimizer.pth bytes) and libtorch's RNG state. Only rank 0
/// reads a checkpoint; the others need no access to the run folder.
/// </summary>
public static class StateBroadcast
{
    /// <returns>rank 0's first step.</returns>
    public static long FromRankZero(IProcessGroup group, FeatureNet model, IRecipe recipe, OptimizerHelper optimizer, long start, Device device)
    {
        if (group.WorldSize == 1) return start;
        start = BitConverter.ToInt64(group.Broadcast(BitConverter.GetBytes(start)));
        using (torch.no_grad())
            foreach (var (_, t) in model.state_dict()) group.Broadcast(t);
        if (recipe.State is { } state)
        {
            if (group.Rank == 0) recipe.BeforeSave();
            using (torch.no_grad())
                foreach (var (_, t) in state.state_dict()) group.Broadcast(t);
            if (group.Rank != 0) recipe.AfterLoad();
        }
        string tmp = Path.Combine(Path.GetTempPath(), $"localfeat-optimizer-{Environment.ProcessId}-{Guid.NewGuid():N}.pth");
        try
        {
            if (group.Rank == 0) optimizer.save_py(tmp);
            var bytes = group.Broadcast(group.Rank == 0 ? File.ReadAllBytes(tmp) : []);
            if (group.Rank != 0)
            {
                File.WriteAllBytes(tmp, bytes);
                optimizer.load_py(tmp);
                optimizer.to(device);
            }
        }
        finally { File.Delete(tmp); }
        using var rng = torch.random.get_rng_state();
        group.Broadcast(rng);
        if (group.Rank != 0) torch.random.set_rng_state(rng);
        return start;
    }
}

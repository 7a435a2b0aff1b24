using LocalFeat.Ops;
using LocalFeat.Models;
using LocalFeat.Train.Data;
using LocalFeat.Train.Settings;
using LocalFeat.Train.Training.Recipes;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LocalFeat.Train.Training;

/// <summary>One optimisation step of the run's recipe (<see cref="IRecipe"/>): its batch loss, Adam over the network and the recipe's own trainable modules, the recipe's after-step hook.</summary>
public sealed class Trainer : IDisposable
{
    public Trainer(FeatureNet model, TrainConfig config, Device device)
    {
        Model = model;
        Config = config;
        Device = device;
        if (model.Kind == FeatureNetKind.Vgg16 && config.Model.Finetune == Finetune.Conv4_3) model.FreezeAllButLast();
        Recipe = RecipeFactory.Create(model, config, device);
        Trained = model.TrainableParameters().Concat(Recipe.ExtraParameters).ToArray();
        Optimizer = torch.optim.Adam(Trained, lr: config.Optimizer.Lr, weight_decay: config.Optimizer.WeightDecay);
    }

    public IRecipe Recipe { get; }
    /// <summary>What the optimizer steps: the network's trainable parameters, then the recipe's.</summary>
    public IReadOnlyList<Parameter> Trained { get; }

    public FeatureNet Model { get; }
    public TrainConfig Config { get; }
    public Device Device { get; }
    public Adam Optimizer { get; }
    /// <summary>Data-parallel runs: averages gradients and loss over the ranks after each backward (null: one process).</summary>
    public Distributed.GradientAverager? Gradients { get; set; }
    /// <summary>The ranks of this run, for recipe state that must agree across them (e.g. allreduce a batch histogram).</summary>
    public Distributed.IProcessGroup Group => Gradients?.Group ?? Distributed.SingleProcessGroup.Instance;

    /// <summary>Learning rate of step <paramref name="step"/> (0-based): linear warm-up, then cosine to lr·lr_final_factor,
    /// or "step" (×√f at half the budget, ×f at three quarters), or constant. A function of the step only, so resuming keeps it.</summary>
    public static double LearningRate(TrainConfig c, long step)
    {
        if (step < c.Optimizer.WarmupSteps) return c.Optimizer.Lr * (step + 1) / c.Optimizer.WarmupSteps;
        double t = Math.Clamp((double)(step - c.Optimizer.WarmupSteps) / Math.Max(1, c.Run.Steps - c.Optimizer.WarmupSteps), 0, 1);
        double f = c.Optimizer.LrFinalFactor;
        return c.Optimizer.LrSchedule switch
        {
            LrSchedule.Cosine => c.Optimizer.Lr * (f + (1 - f) * 0.5 * (1 + Math.Cos(Math.PI * t))),
            LrSchedule.Step => c.Optimizer.Lr * (t < 0.5 ? 1 : t < 0.75 ? Math.Sqrt(f) : f),
            _ => c.Optimizer.Lr,
        };
    }

    public sealed record StepResult(double Loss, double Lr, double GradNorm, int Pairs, long Correspondences);

    public StepResult Step(Batch batch, long step)
    {
        double lr = LearningRate(Config, step);
        foreach (var g in Optimizer.ParamGroups) g.LearningRate = lr;
        using var scope = torch.NewDisposeScope();
        Tensor loss;
        int pairs;
        try { (loss, pairs) = Recipe.BatchLoss(batch, step); }
        catch (ArgumentException e) when (e.Message.Contains("finite", StringComparison.Ordinal) || !ParametersFinite())
        {
            // The ops reject non-finite features (OpChecks): after a step that blew the weights up, that is divergence, not a bad argument.
            throw Diverged(step, ParametersFinite() ? "the network's output is NaN or infinite (the weights grew too large)" : "the weights are NaN or infinite");
        }
        double value = loss.item<float>();
        if (!double.IsFinite(value)) throw Diverged(step, $"loss is {Name(value)}");
        Optimizer.zero_grad();
        loss.backward();
        if (Gradients != null) (value, pairs) = Gradients.Average(Trained, value, pairs);
        double norm = ClipGradients(Trained.ToArray<Tensor>(), Config.Optimizer.GradClip);
        // Checked before the step, so the weights (and the last checkpoint) stay finite.
        if (!double.IsFinite(norm)) throw Diverged(step, $"gradient norm is {Name(norm)}");
        Optimizer.step();
        Recipe.AfterStep(step);
        return new StepResult(value, lr, norm, pairs, batch.Matches.Sum(m => m.Count));
    }

    private static string Name(double v) => double.IsNaN(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf";

    private TrainingDivergedException Diverged(long step, string what) =>
        new($"training diverged at step {step + 1}: {what}; try a lower optimizer.lr (now {Config.Optimizer.Lr.ToString("G4", System.Globalization.CultureInfo.InvariantCulture)}) or optimizer.grad_clip, and --resume from the last checkpoint");

    private bool ParametersFinite()
    {
        using var scope = torch.NewDisposeScope();
        return Model.parameters().All(p => p.isfinite().all().item<bool>());
    }

    /// <summary>Global L2 norm of the gradients; scaled down to <paramref name="maxNorm"/> when above it (0 = no clipping).</summary>
    public static double ClipGradients(IReadOnlyList<Tensor> parameters, double maxNorm)
    {
        using var scope = torch.NewDisposeScope();
        var grads = parameters.Select(p => p.grad).Where(g => g is not null).Select(g => g!).ToArray();
        if (grads.Length == 0) return 0;
        double norm = Math.Sqrt(grads.Sum(g => g.square().sum().item<float>()));
        if (maxNorm > 0 && norm > maxNorm)
        {
            using var guard = torch.no_grad();
            foreach (var g in grads) g.mul_(maxNorm / (norm + 1e-6));
        }
        return norm;
    }

    public void Dispose()
    {
        Optimizer.Dispose();
        Recipe.Dispose();
    }
}

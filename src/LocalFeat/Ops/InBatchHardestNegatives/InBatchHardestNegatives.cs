using TorchSharp;
using static TorchSharp.torch;


namespace LocalFeat.Ops;

/// <summary>Which pairs (i, j) <see cref="InBatchHardestNegatives"/> may pick.</summary>
public enum NegativeScope
{
    /// <summary>j from another group than i (in-batch mining, HNDesc's default).</summary>
    OtherGroups,
    /// <summary>j from the same group as i, j ≠ i (in-pair mining).</summary>
    SameGroup,
    /// <summary>any j ≠ i.</summary>
    AllButSelf,
}

/// <summary>
/// HNDesc in-batch hardest negatives (OPS.md §3): for each anchor, the k admissible positives with the
/// largest similarity ⟨anchorᵢ, positiveⱼ⟩, in descending order (ties → smaller j first).
/// </summary>
public static partial class InBatchHardestNegatives
{
    public const int MaxK = 64;

    /// <summary>
    /// Returns index [N,k] int64 and similarity [N,k] float32; slots beyond the admissible count hold −1 and −∞.
    /// The similarity is differentiable with respect to anchors and positives.
    /// </summary>
    /// <remarks>
    /// Non-finite input: where <see cref="OpChecks.CheckValues"/> checks the inputs (CPU tensors by default), a NaN or ±Inf in
    /// <paramref name="anchors"/> or <paramref name="positives"/> is an <see cref="ArgumentException"/> naming that argument
    /// (<paramref name="group"/> is int64: any value is a group). Where it does not (CUDA tensors by default, or
    /// <see cref="ValueChecks.Never"/>), and for finite input alike, every backend gives the same indices and values: a pair
    /// whose similarity is NaN or ±Inf (a NaN descriptor, or an overflow) is never picked, like an inadmissible one. So an anchor
    /// with a NaN descriptor gets k slots of (−1, −∞), and a positive with one is never chosen.
    /// </remarks>
    public static (Tensor index, Tensor similarity) Apply(Tensor anchors, Tensor positives, Tensor group, int k, NegativeScope scope,
        Backend backend = Backend.Auto)
    {
        var a = Validate.Tensor(anchors, nameof(anchors), ScalarType.Float32, 2, "[N, D]");
        var p = Validate.Tensor(positives, nameof(positives), ScalarType.Float32, 2, "[N, D]");
        var g = Validate.Tensor(group, nameof(group), ScalarType.Int64, 1, "[N]");
        Validate.Dim(p[0], a[0], nameof(positives), "rows N (as anchors)");
        Validate.Dim(p[1], a[1], nameof(positives), "descriptor width D (as anchors)");
        Validate.Dim(g[0], a[0], nameof(group), "length N (as anchors)");
        if (a[1] < 1) throw new ArgumentException($"argument 'anchors': expected D ≥ 1, got {Validate.Describe(anchors)}", nameof(anchors));
        if (k < 1 || k > MaxK) throw new ArgumentOutOfRangeException(nameof(k), k, $"expected 1 ≤ k ≤ {MaxK}");
        if (!Enum.IsDefined(scope)) throw new ArgumentOutOfRangeException(nameof(scope), scope, "expected OtherGroups, SameGroup or AllButSelf");
        Validate.SameDevice(anchors, nameof(anchors), positives, nameof(positives));
        Validate.SameDevice(anchors, nameof(anchors), group, nameof(group));
        Validate.Finite(anchors, nameof(anchors));
        Validate.Finite(positives, nameof(positives));

        if (backend == Backend.Auto) backend = anchors.is_cuda ? Backend.Kernel : Backend.Cpu;
        if (backend == Backend.Reference) return Reference(anchors, positives, group, k, scope);
        if (backend == Backend.Cpu) Validate.OnCpu(anchors, nameof(anchors), backend);
        var outputs = Function.apply(anchors, positives, group, backend, k, scope);
        return (outputs[0], outputs[1]);
    }

    /// <summary>The autograd node of the Cpu and Kernel backends: gradients reach anchors and positives.</summary>
    private sealed class Function : autograd.MultiTensorFunction<Function>
    {
        public override string Name => nameof(InBatchHardestNegatives);

        public override List<Tensor> forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var (anchors, positives, group) = ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2]);
            var (backend, k, scope) = ((Backend)vars[3], (int)vars[4], (NegativeScope)vars[5]);
            var (index, similarity) = backend == Backend.Cpu
                ? CpuForward(anchors, positives, group, k, scope)
                : KernelForward(anchors, positives, group, k, scope);
            ctx.mark_non_differentiable([index]);
            // No zero-filled gradient for the index: TorchSharp would build it from an output cache that lives in the
            // caller's dispose scope (a crash in the backward once that scope is gone).
            ctx.set_materialize_grads(false);
            ctx.save_for_backward([anchors, positives, index]);
            ctx.save_data(nameof(Backend), backend);
            return [index, similarity];
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, List<Tensor> grad_outputs)
        {
            if (grad_outputs[1].IsInvalid) return [null!, null!, null!, null!, null!, null!];  // no gradient reached the similarity
            var saved = ctx.get_saved_variables();
            using var gradSimilarity = grad_outputs[1].contiguous();
            var (ga, gp) = (Backend)ctx.get_data(nameof(Backend)) == Backend.Cpu
                ? CpuBackward(saved[0], saved[1], saved[2], gradSimilarity)
                : KernelBackward(saved[0], saved[1], saved[2], gradSimilarity);
            return [ga, gp, null!, null!, null!, null!];
        }
    }
}

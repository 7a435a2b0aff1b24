using TorchSharp;
using static TorchSharp.torch;


namespace LocalFeat.Ops;

/// <summary>The safe window of <see cref="HardestNegatives"/>: which candidates are too close to the positive.</summary>
public enum SafeWindow
{
    /// <summary>K = 2, Chebyshev distance of (row, col) positions in feature cells (D2-Net, radius 4).</summary>
    Square,
    /// <summary>K = 3, Euclidean distance of back-projected 3-D points (TaSP's 3-D safe window).</summary>
    Sphere,
}

/// <summary>
/// Masked 1-NN (OPS.md §2): for each anchor, the candidate with the smallest squared distance among those
/// whose position is farther than <c>radius</c> from the anchor's positive (ties → smallest index).
/// </summary>
public static partial class HardestNegatives
{
    /// <summary>
    /// Returns index [N] int64 (−1 when no candidate is admissible) and distance [N] float32 (+∞ then).
    /// <paramref name="anchorPos"/>[i] is where anchor i's positive lies among the candidates' positions.
    /// The distance is differentiable with respect to anchors and candidates.
    /// </summary>
    /// <remarks>
    /// Non-finite input: where <see cref="OpChecks.CheckValues"/> checks the inputs (CPU tensors by default), a NaN or ±Inf in
    /// <paramref name="anchors"/>, <paramref name="candidates"/>, <paramref name="anchorPos"/> or <paramref name="candidatePos"/>
    /// is an <see cref="ArgumentException"/> naming that argument. Where it does not (CUDA tensors by default, or
    /// <see cref="ValueChecks.Never"/>), and for finite input alike, every backend gives the same indices and the same
    /// NaN/±Inf pattern: a pair whose position offset has a NaN in any coordinate is not admissible (NaN comparisons are
    /// false; ±Inf offsets compare as numbers), and a pair whose distance is NaN or +Inf (a NaN descriptor, or an overflow) is
    /// never selected. So an anchor with a NaN position or descriptor gets (−1, +∞), and a candidate with one is never chosen.
    /// </remarks>
    public static (Tensor index, Tensor distance) Apply(Tensor anchors, Tensor candidates, Tensor anchorPos, Tensor candidatePos,
        double radius, SafeWindow window, Backend backend = Backend.Auto)
    {
        int k = window switch
        {
            SafeWindow.Square => 2,
            SafeWindow.Sphere => 3,
            _ => throw new ArgumentOutOfRangeException(nameof(window), window, "expected Square or Sphere"),
        };
        var a = Validate.Tensor(anchors, nameof(anchors), ScalarType.Float32, 2, "[N, D]");
        var c = Validate.Tensor(candidates, nameof(candidates), ScalarType.Float32, 2, "[M, D]");
        var ap = Validate.Tensor(anchorPos, nameof(anchorPos), ScalarType.Float32, 2, $"[N, {k}]");
        var cp = Validate.Tensor(candidatePos, nameof(candidatePos), ScalarType.Float32, 2, $"[M, {k}]");
        Validate.Dim(c[1], a[1], nameof(candidates), "descriptor width D (as anchors)");
        Validate.Dim(ap[0], a[0], nameof(anchorPos), "rows N (as anchors)");
        Validate.Dim(ap[1], k, nameof(anchorPos), $"columns K for the {window} window");
        Validate.Dim(cp[0], c[0], nameof(candidatePos), "rows M (as candidates)");
        Validate.Dim(cp[1], k, nameof(candidatePos), $"columns K for the {window} window");
        if (a[1] < 1) throw new ArgumentException($"argument 'anchors': expected D ≥ 1, got {Validate.Describe(anchors)}", nameof(anchors));
        if (double.IsNaN(radius) || radius < 0) throw new ArgumentOutOfRangeException(nameof(radius), radius, "expected radius ≥ 0");
        foreach (var (t, name) in new[] { (candidates, nameof(candidates)), (anchorPos, nameof(anchorPos)), (candidatePos, nameof(candidatePos)) })
            Validate.SameDevice(anchors, nameof(anchors), t, name);
        Validate.Finite(anchors, nameof(anchors));
        Validate.Finite(candidates, nameof(candidates));
        Validate.Finite(anchorPos, nameof(anchorPos));
        Validate.Finite(candidatePos, nameof(candidatePos));

        if (backend == Backend.Auto) backend = anchors.is_cuda ? Backend.Kernel : Backend.Cpu;
        if (backend == Backend.Reference) return Reference(anchors, candidates, anchorPos, candidatePos, radius, window);
        if (backend == Backend.Cpu) Validate.OnCpu(anchors, nameof(anchors), backend);
        var outputs = Function.apply(anchors, candidates, anchorPos, candidatePos, backend, radius, window);
        return (outputs[0], outputs[1]);
    }

    /// <summary>The autograd node of the Cpu and Kernel backends: gradients reach anchors and candidates.</summary>
    private sealed class Function : autograd.MultiTensorFunction<Function>
    {
        public override string Name => nameof(HardestNegatives);

        public override List<Tensor> forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var (anchors, candidates, anchorPos, candidatePos) = ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2], (Tensor)vars[3]);
            var (backend, radius, window) = ((Backend)vars[4], (double)vars[5], (SafeWindow)vars[6]);
            var (index, distance) = backend == Backend.Cpu
                ? CpuForward(anchors, candidates, anchorPos, candidatePos, (float)radius, window)
                : KernelForward(anchors, candidates, anchorPos, candidatePos, (float)radius, window);
            ctx.mark_non_differentiable([index]);
            // No zero-filled gradient for the index: TorchSharp would build it from an output cache that lives in the
            // caller's dispose scope (a crash in the backward once that scope is gone).
            ctx.set_materialize_grads(false);
            ctx.save_for_backward([anchors, candidates, index]);
            ctx.save_data(nameof(Backend), backend);
            return [index, distance];
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, List<Tensor> grad_outputs)
        {
            if (grad_outputs[1].IsInvalid) return [null!, null!, null!, null!, null!, null!, null!];  // no gradient reached the distance
            var saved = ctx.get_saved_variables();
            using var gradDistance = grad_outputs[1].contiguous();
            var (ga, gc) = (Backend)ctx.get_data(nameof(Backend)) == Backend.Cpu
                ? CpuBackward(saved[0], saved[1], saved[2], gradDistance)
                : KernelBackward(saved[0], saved[1], saved[2], gradDistance);
            return [ga, gc, null!, null!, null!, null!, null!];
        }
    }
}

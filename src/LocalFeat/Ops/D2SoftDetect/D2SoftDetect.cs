using TorchSharp;
using static TorchSharp.torch;


namespace LocalFeat.Ops;

/// <summary>
/// D2-Net soft detection score (OPS.md §1): per sample, a 3×3 soft local-max score times the ratio to
/// the per-pixel channel maximum, maximised over channels and normalised to sum 1 over the map.
/// </summary>
public static partial class D2SoftDetect
{
    /// <summary>Scores [B,H,W] of dense features [B,C,H,W] (float32, contiguous). Differentiable.</summary>
    /// <remarks>
    /// Non-finite features: where <see cref="OpChecks.CheckValues"/> checks <paramref name="features"/> (CPU tensors by
    /// default), a NaN or ±Inf is an <see cref="ArgumentException"/> naming <c>features</c>. Where it does not (CUDA tensors by
    /// default, or <see cref="ValueChecks.Never"/>), every backend gives the same defined result: a sample with any NaN or ±Inf
    /// element has all its scores NaN and a NaN gradient in every element (so a NaN check on the loss catches it); the other
    /// samples' scores and gradients are exactly as without it. No host–device synchronisation either way on CUDA by default.
    /// </remarks>
    public static Tensor Apply(Tensor features, double eps = 1e-12, Backend backend = Backend.Auto)
    {
        var shape = Validate.Tensor(features, nameof(features), ScalarType.Float32, 4, "[B, C, H, W]");
        if (!(eps > 0)) throw new ArgumentOutOfRangeException(nameof(eps), eps, "expected eps > 0");
        if (shape[1] == 0) throw new ArgumentException($"argument 'features': expected at least one channel, got {Validate.Describe(features)}", nameof(features));
        Validate.Finite(features, nameof(features));
        // Nothing to score: an empty result that still hangs off the graph of features (a zero gradient), on every backend.
        if (shape[0] == 0 || shape[2] == 0 || shape[3] == 0) return features.sum(1).mul(0);
        if (backend == Backend.Auto) backend = features.is_cuda ? Backend.Kernel : Backend.Cpu;
        if (backend == Backend.Reference) return Reference(features, eps);
        if (backend == Backend.Cpu) Validate.OnCpu(features, nameof(features), backend);
        return Function.apply(features, backend, eps);
    }

    /// <summary>
    /// The autograd node of the Cpu and Kernel backends. The Cpu forward keeps its O(B·H·W) per-pixel state for
    /// the backward; the Kernel backward recomputes what it needs from the saved input.
    /// </summary>
    private sealed class Function : autograd.SingleTensorFunction<Function>
    {
        public override string Name => nameof(D2SoftDetect);

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var (features, backend, eps) = ((Tensor)vars[0], (Backend)vars[1], (double)vars[2]);
            ctx.save_for_backward([features]);
            ctx.save_data(nameof(Backend), backend);
            ctx.save_data("eps", eps);
            if (backend == Backend.Kernel) return KernelForward(features, eps);
            var scores = CpuForward(features, eps, out var state);
            ctx.save_data(nameof(CpuState), state);
            return scores;
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad_output)
        {
            var features = ctx.get_saved_variables()[0];
            var eps = (double)ctx.get_data("eps");
            using var grad = grad_output.contiguous();
            return [(Backend)ctx.get_data(nameof(Backend)) == Backend.Kernel
                ? KernelBackward(features, grad, eps)
                : CpuBackward(features, grad, eps, (CpuState)ctx.get_data(nameof(CpuState))), null!, null!];
        }
    }
}

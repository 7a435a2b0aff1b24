using LocalFeat.Torch;
using LocalFeat.Torch.Autograd;

namespace LocalFeat.Ops;

/// <summary>
/// D2-Net soft detection score (OPS.md §1): per sample, a 3×3 soft local-max score times the ratio to
/// the per-pixel channel maximum, maximised over channels and normalised to sum 1 over the map.
/// </summary>
public static partial class D2SoftDetect
{
    /// <summary>Scores [B,H,W] of dense features [B,C,H,W] (float32, contiguous). Differentiable.</summary>
    public static Tensor Apply(Tensor features, double eps = 1e-12, Backend backend = Backend.Auto)
    {
        var shape = Validate.Tensor(features, nameof(features), ScalarType.Float32, 4, "[B, C, H, W]");
        if (!(eps > 0)) throw new ArgumentOutOfRangeException(nameof(eps), eps, "expected eps > 0");
        if (shape[1] == 0) throw new ArgumentException($"argument 'features': expected at least one channel, got {Validate.Describe(features)}", nameof(features));
        if (shape[0] == 0 || shape[2] == 0 || shape[3] == 0) return torch.zeros([shape[0], shape[2], shape[3]], device: features.device);
        if (backend == Backend.Auto) backend = features.is_cuda ? Backend.Kernel : Backend.Cpu;
        if (backend == Backend.Reference) return Reference(features, eps);
        if (backend == Backend.Cpu) Validate.OnCpu(features, nameof(features), backend);
        return new Function(backend, eps).Apply(features)[0];
    }

    /// <summary>
    /// The autograd node of the Cpu and Kernel backends. The Cpu forward keeps its O(B·H·W) per-pixel state for
    /// the backward; the Kernel backward recomputes what it needs from the saved input.
    /// </summary>
    private sealed class Function(Backend backend, double eps) : LocalFeat.Torch.Autograd.Function
    {
        private const string CpuStateKey = "cpu_state";

        protected override Tensor[] Forward(FunctionContext ctx, Tensor[] inputs)
        {
            ctx.SaveForBackward(inputs[0]);
            if (backend == Backend.Kernel) return [KernelForward(inputs[0], eps)];
            var scores = CpuForward(inputs[0], eps, out var state);
            ctx.Data[CpuStateKey] = state;
            return [scores];
        }

        protected override Tensor?[] Backward(FunctionContext ctx, Tensor[] grads)
        {
            var features = ctx.SavedTensors[0];
            var grad = grads[0].contiguous();
            return [backend == Backend.Kernel
                ? KernelBackward(features, grad, eps)
                : CpuBackward(features, grad, eps, (CpuState)ctx.Data[CpuStateKey]!)];
        }
    }
}

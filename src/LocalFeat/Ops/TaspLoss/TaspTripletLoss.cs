using TorchSharp;
using static TorchSharp.torch;

namespace LocalFeat.Ops;

/// <summary>
/// TaSP's DIW-weighted triplet loss (OPS.md §5): with M_i = max(0, m + dPos_i − dNeg_i), s_i = clip(importance_i, 0, sMax) and
/// x_i = s_i·M_i, the histogram is updated with this batch, then w_i = CDF[lower bin of x_i] (0 where M_i = 0, detached) and
/// L = (1/N) Σ w_i·s_i·M_i. Gradients reach dPos and dNeg; none reach the importance (TaSP: it comes from patch hashes).
/// </summary>
public static partial class TaspTripletLoss
{
    /// <summary>
    /// The loss (a scalar float32). <paramref name="dPos"/>, <paramref name="dNeg"/>: anchor–positive and anchor–hardest-negative L2
    /// distances [N]; <paramref name="importance"/>: s [N] (e.g. <see cref="IntrinsicImportance"/>). Updates <paramref name="histogram"/>
    /// (N = 0 leaves it unchanged and gives 0). Non-finite distances or importances are rejected.
    /// </summary>
    public static Tensor Apply(Tensor dPos, Tensor dNeg, Tensor importance, DiwHistogram histogram, Backend backend = Backend.Auto)
    {
        long n = Validate.Tensor(dPos, nameof(dPos), ScalarType.Float32, 1, "[N]")[0];
        Validate.Dim(Validate.Tensor(dNeg, nameof(dNeg), ScalarType.Float32, 1, "[N]")[0], n, nameof(dNeg), "length N (as dPos)");
        Validate.Dim(Validate.Tensor(importance, nameof(importance), ScalarType.Float32, 1, "[N]")[0], n, nameof(importance), "length N (as dPos)");
        ArgumentNullException.ThrowIfNull(histogram);
        Validate.SameDevice(dPos, nameof(dPos), dNeg, nameof(dNeg));
        Validate.SameDevice(dPos, nameof(dPos), importance, nameof(importance));
        Validate.Finite(dPos, nameof(dPos));
        Validate.Finite(dNeg, nameof(dNeg));
        Validate.Finite(importance, nameof(importance));
        if (n > int.MaxValue) throw new ArgumentException($"argument 'dPos': expected N < 2^31, got {n}", nameof(dPos));

        if (backend == Backend.Auto) backend = dPos.is_cuda ? Backend.Kernel : Backend.Cpu;
        if (backend == Backend.Reference) return Reference(dPos, dNeg, importance, histogram);
        if (backend == Backend.Cpu) Validate.OnCpu(dPos, nameof(dPos), backend);
        else if (backend != Backend.Kernel) throw new ArgumentOutOfRangeException(nameof(backend), backend, "expected Auto, Reference, Cpu or Kernel");
        return Function.apply(dPos, dNeg, importance, backend, histogram);
    }

    /// <summary>Cpu and Kernel: forward gives the loss and the per-element slope w·s/N (·[M > 0]); backward scales it.</summary>
    private sealed class Function : autograd.SingleTensorFunction<Function>
    {
        public override string Name => nameof(TaspTripletLoss);

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var (dPos, dNeg, importance) = ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2]);
            var (backend, histogram) = ((Backend)vars[3], (DiwHistogram)vars[4]);
            var (loss, slope) = backend == Backend.Cpu
                ? CpuForward(dPos, dNeg, importance, histogram)
                : KernelForward(dPos, dNeg, importance, histogram);
            ctx.save_for_backward([slope]);
            ctx.save_data(nameof(Backend), backend);
            return loss;
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad_output)
        {
            var slope = ctx.get_saved_variables()[0];
            using var g = grad_output.to(ScalarType.Float32).contiguous();
            var (gPos, gNeg) = (Backend)ctx.get_data(nameof(Backend)) == Backend.Cpu ? CpuBackward(slope, g) : KernelBackward(slope, g);
            return [gPos, gNeg, null!, null!, null!];
        }
    }
}

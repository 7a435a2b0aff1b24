using LocalFeat.Cuda;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace LocalFeat.Ops;

/// <summary>
/// TaSP's task-aligned keypoint loss (OPS.md §5): <c>L = −Σ_pos δ·log(p) − Σ_neg log(1 − q)</c>, δ_i = exp(t·(m − M_i)) with
/// M_i = max(0, m + dPos_i − dNeg_i) (detached: the descriptor's margin steers the detector, not the reverse). Each log is
/// clipped at −100 (as torch's binary_cross_entropy; OPS.md is silent), where its gradient is 0. Gradients reach p and q.
/// </summary>
public static partial class TaskAlignedKeypointLoss
{
    private const int Threads = 256, ReduceThreads = 1024;

    /// <param name="positive">Detector probabilities p [N] at the N keypoints with a descriptor triplet.</param>
    /// <param name="dPos">Anchor–positive distances [N] (no gradient through this loss).</param>
    /// <param name="dNeg">Anchor–hardest-negative distances [N] (no gradient through this loss).</param>
    /// <param name="negative">Detector probabilities q [K] at negative (non-keypoint) samples.</param>
    public static Tensor Apply(Tensor positive, Tensor dPos, Tensor dNeg, Tensor negative, double margin, double t = 0.5, Backend backend = Backend.Auto)
    {
        // float64 on the Reference backend only: the finite-difference tests need it.
        var dtype = backend == Backend.Reference && positive?.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        long n = Validate.Tensor(positive, nameof(positive), dtype, 1, "[N]")[0];
        Validate.Dim(Validate.Tensor(dPos, nameof(dPos), dtype, 1, "[N]")[0], n, nameof(dPos), "length N (as positive)");
        Validate.Dim(Validate.Tensor(dNeg, nameof(dNeg), dtype, 1, "[N]")[0], n, nameof(dNeg), "length N (as positive)");
        long k = Validate.Tensor(negative, nameof(negative), dtype, 1, "[K]")[0];
        if (!double.IsFinite(margin) || margin < 0) throw new ArgumentOutOfRangeException(nameof(margin), margin, "expected a finite margin ≥ 0");
        if (!double.IsFinite(t)) throw new ArgumentOutOfRangeException(nameof(t), t, "expected a finite t");
        foreach (var (x, name) in new[] { (dPos, nameof(dPos)), (dNeg, nameof(dNeg)), (negative, nameof(negative)) })
            Validate.SameDevice(positive!, nameof(positive), x, name);
        Validate.Finite(dPos, nameof(dPos));
        Validate.Finite(dNeg, nameof(dNeg));
        if (n > int.MaxValue || k > int.MaxValue) throw new ArgumentException($"argument 'positive': expected N, K < 2^31, got {n}, {k}", nameof(positive));

        if (backend == Backend.Auto) backend = positive!.is_cuda ? Backend.Kernel : Backend.Cpu;
        if (backend == Backend.Reference) return Reference(positive!, dPos, dNeg, negative, margin, t);
        if (backend == Backend.Cpu) Validate.OnCpu(positive!, nameof(positive), backend);
        else if (backend != Backend.Kernel) throw new ArgumentOutOfRangeException(nameof(backend), backend, "expected Auto, Reference, Cpu or Kernel");
        return Function.apply(positive!, dPos, dNeg, negative, backend, margin, t);
    }

    internal static Tensor Reference(Tensor positive, Tensor dPos, Tensor dNeg, Tensor negative, double margin, double t)
    {
        using var scope = torch.NewDisposeScope();
        var m = (dPos.detach() + margin - dNeg.detach()).clamp_min(0);
        var delta = torch.exp((margin - m) * t);
        var pos = -(delta * ClippedLog(positive)).sum();
        var neg = -ClippedLog(1 - negative).sum();
        return (pos + neg).MoveToOuterDisposeScope();
    }

    /// <summary>max(log x, −100) with gradient 0 where clipped (a plain clamp would give 0·∞ = NaN at x = 0).</summary>
    private static Tensor ClippedLog(Tensor x)
    {
        var clipped = x.detach().log() <= -100;
        return torch.where(clipped, -100.0, torch.where(clipped, 1.0, x).log());
    }

    /// <summary>Cpu and Kernel: forward gives the loss and each term's slope; backward scales them.</summary>
    private sealed class Function : autograd.SingleTensorFunction<Function>
    {
        public override string Name => nameof(TaskAlignedKeypointLoss);

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var (p, dp, dn, q) = ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2], (Tensor)vars[3]);
            var (backend, margin, t) = ((Backend)vars[4], (float)(double)vars[5], (float)(double)vars[6]);
            var (loss, pc, qc) = backend == Backend.Cpu ? CpuForward(p, dp, dn, q, margin, t) : KernelForward(p, dp, dn, q, margin, t);
            ctx.save_for_backward([pc, qc]);
            ctx.save_data(nameof(Backend), backend);
            return loss;
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad_output)
        {
            var saved = ctx.get_saved_variables();
            using var g = grad_output.to(ScalarType.Float32).contiguous();
            bool cpu = (Backend)ctx.get_data(nameof(Backend)) == Backend.Cpu;
            return [cpu ? saved[0].mul(g) : KernelScale(saved[0], g), null!, null!, cpu ? saved[1].mul(g) : KernelScale(saved[1], g), null!, null!, null!];
        }
    }

    private static unsafe (Tensor loss, Tensor posCoef, Tensor negCoef) CpuForward(Tensor positive, Tensor dPos, Tensor dNeg, Tensor negative, float margin, float t)
    {
        int n = (int)positive.size(0), k = (int)negative.size(0);
        var posCoef = torch.empty([n]);
        var negCoef = torch.empty([k]);
        float* p = HostMemory.Pointer<float>(positive), dp = HostMemory.Pointer<float>(dPos), dn = HostMemory.Pointer<float>(dNeg);
        float* q = HostMemory.Pointer<float>(negative), pc = HostMemory.Pointer<float>(posCoef), qc = HostMemory.Pointer<float>(negCoef);
        double total = 0;
        for (int i = 0; i < n; i++)
        {
            float m = MathF.Max(dp[i] + margin - dn[i], 0f);
            float delta = MathF.Exp(t * (margin - m)), lp = MathF.Log(p[i]);
            bool clipped = !(lp > -100f);
            total -= delta * (clipped ? -100f : lp);
            pc[i] = clipped ? 0f : -(delta / p[i]);
        }
        for (int j = 0; j < k; j++)
        {
            float one = 1f - q[j], lq = MathF.Log(one);
            bool clipped = !(lq > -100f);
            total -= clipped ? -100f : lq;
            qc[j] = clipped ? 0f : 1f / one;
        }
        return (torch.tensor((float)total), posCoef, negCoef);
    }

    private static unsafe (Tensor loss, Tensor posCoef, Tensor negCoef) KernelForward(Tensor positive, Tensor dPos, Tensor dNeg, Tensor negative, float margin, float t)
    {
        int n = (int)positive.size(0), k = (int)negative.size(0);
        var device = positive.device;
        var posCoef = torch.empty([n], ScalarType.Float32, device);
        var negCoef = torch.empty([k], ScalarType.Float32, device);
        var loss = torch.empty([], ScalarType.Float32, device);
        float* p = (float*)positive.data_ptr(), dp = (float*)dPos.data_ptr(), dn = (float*)dNeg.data_ptr(), q = (float*)negative.data_ptr();
        float* pc = (float*)posCoef.data_ptr(), qc = (float*)negCoef.data_ptr(), ls = (float*)loss.data_ptr();
        void** args = stackalloc void*[] { &p, &dp, &dn, &n, &q, &k, &margin, &t, &ls, &pc, &qc };
        KernelRuntimes.For(positive).Launch("tak_loss", new Dim3(1), new Dim3(ReduceThreads), 0, IntPtr.Zero, args);
        return (loss, posCoef, negCoef);
    }

    private static unsafe Tensor KernelScale(Tensor coef, Tensor grad)
    {
        int e = (int)coef.size(0);
        var output = torch.empty([e], ScalarType.Float32, coef.device);
        if (e == 0) return output;
        float* c = (float*)coef.data_ptr(), g = (float*)grad.data_ptr(), o = (float*)output.data_ptr();
        void** args = stackalloc void*[] { &c, &g, &e, &o };
        KernelRuntimes.For(coef).Launch("tak_backward", new Dim3((uint)((e + Threads - 1) / Threads)), new Dim3(Threads), 0, IntPtr.Zero, args);
        return output;
    }
}

using System.Numerics.Tensors;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace LocalFeat.Ops;

/// <summary>What <see cref="SoftByolLoss"/> regresses the similarity of a correspondence to.</summary>
public enum ByolLabel
{
    /// <summary>The seed formula: L_c = 1 − sim_c (the hard positive label).</summary>
    Hard,
    /// <summary>(l_c − sim_c)² with the soft label l_c = exp(−alpha·(1 − ⟨û_c, û2_c⟩)/lambda); alpha = 0 gives label 1.</summary>
    Soft,
}

/// <summary>
/// TPR's transformation-predictive loss (OPS.md §6): the score-weighted mean over correspondences of a BYOL
/// regression of the online prediction q onto the target projection z, against a hard or a soft label.
/// </summary>
public static partial class SoftByolLoss
{
    /// <summary>F.normalize's eps: x̂ = x / max(‖x‖, eps).</summary>
    internal const double Eps = 1e-12;

    /// <summary>
    /// The loss, a 0-dim float32 tensor: L = (1/C)·Σ_c w_c·e_c with w_c = s1_c·s2_c / Σ_n s1_n·s2_n,
    /// e_c = 1 − ⟨q̂_c, ẑ_c⟩ (Hard) or (l_c − ⟨q̂_c, ẑ_c⟩)² (Soft, l_c detached).
    /// <para>Gradients reach <paramref name="q"/>, <paramref name="s1"/> and <paramref name="s2"/> only;
    /// <paramref name="z"/>, <paramref name="u"/>, <paramref name="u2"/> are treated as constants (they get none).</para>
    /// <para>Defined edge cases, the same on every backend: C = 0 correspondences gives L = 0 (with an autograd
    /// link; the gradients are empty); Σ s1·s2 = 0 (exactly, as the backend computes it in float32) gives L = 0 and
    /// zero gradients for q, s1 and s2 (no weight, no signal). A sum merely near 0 is not regularised.</para>
    /// <para>q, z, u, u2: float32 [C, D], D ≥ 1; s1, s2: float32 [C]; all contiguous, on one device, finite
    /// (NaN or ±Inf is an <see cref="ArgumentException"/> where <see cref="OpChecks.CheckValues"/> runs value checks:
    /// by default on CPU tensors only, since on CUDA tensors the check is a host–device synchronisation). alpha ≥ 0 and lambda &gt; 0, finite (lambda is unused in Hard mode but
    /// still checked).</para>
    /// </summary>
    public static Tensor Apply(Tensor q, Tensor z, Tensor u, Tensor u2, Tensor s1, Tensor s2, double alpha, double lambda,
        ByolLabel mode, Backend backend = Backend.Auto)
    {
        if (mode is not (ByolLabel.Hard or ByolLabel.Soft)) throw new ArgumentOutOfRangeException(nameof(mode), mode, "expected Hard or Soft");
        var qs = Validate.Tensor(q, nameof(q), ScalarType.Float32, 2, "[C, D]");
        var zs = Validate.Tensor(z, nameof(z), ScalarType.Float32, 2, "[C, D]");
        var us = Validate.Tensor(u, nameof(u), ScalarType.Float32, 2, "[C, D]");
        var u2s = Validate.Tensor(u2, nameof(u2), ScalarType.Float32, 2, "[C, D]");
        var s1s = Validate.Tensor(s1, nameof(s1), ScalarType.Float32, 1, "[C]");
        var s2s = Validate.Tensor(s2, nameof(s2), ScalarType.Float32, 1, "[C]");
        if (qs[1] < 1) throw new ArgumentException($"argument 'q': expected D ≥ 1, got {Validate.Describe(q)}", nameof(q));
        foreach (var (shape, name) in new[] { (zs, nameof(z)), (us, nameof(u)), (u2s, nameof(u2)) })
        {
            Validate.Dim(shape[0], qs[0], name, "rows C (as q)");
            Validate.Dim(shape[1], qs[1], name, "width D (as q)");
        }
        Validate.Dim(s1s[0], qs[0], nameof(s1), "length C (as q's rows)");
        Validate.Dim(s2s[0], qs[0], nameof(s2), "length C (as q's rows)");
        if (!double.IsFinite(alpha) || alpha < 0) throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "expected a finite alpha ≥ 0");
        if (!double.IsFinite(lambda) || lambda <= 0) throw new ArgumentOutOfRangeException(nameof(lambda), lambda, "expected a finite lambda > 0");
        foreach (var (t, name) in new[] { (z, nameof(z)), (u, nameof(u)), (u2, nameof(u2)), (s1, nameof(s1)), (s2, nameof(s2)) })
            Validate.SameDevice(q, nameof(q), t, name);
        CheckFinite(mode == ByolLabel.Soft ? [(q, nameof(q)), (z, nameof(z)), (u, nameof(u)), (u2, nameof(u2)), (s1, nameof(s1)), (s2, nameof(s2))]
            : [(q, nameof(q)), (z, nameof(z)), (s1, nameof(s1)), (s2, nameof(s2))]);

        if (backend == Backend.Auto) backend = q.is_cuda ? Backend.Kernel : Backend.Cpu;
        if (backend == Backend.Reference) return Reference(q, z, u, u2, s1, s2, alpha, lambda, mode);
        if (backend == Backend.Cpu) Validate.OnCpu(q, nameof(q), backend);
        if (backend is not (Backend.Cpu or Backend.Kernel)) throw new ArgumentOutOfRangeException(nameof(backend), backend, "expected Auto, Reference, Cpu or Kernel");
        return Function.apply(q, z, u, u2, s1, s2, backend, alpha / lambda, mode);
    }

    /// <summary>
    /// Every input the mode reads (u, u2 are unused in Hard mode, so not checked there); the first non-finite
    /// argument is named. CPU tensors: a vectorised scan of their memory (no libtorch calls); CUDA tensors, where
    /// <see cref="OpChecks.CheckValues"/> asks for it: one stacked flag tensor read back (one host–device synchronisation).
    /// </summary>
    private static void CheckFinite((Tensor t, string name)[] inputs)
    {
        if (inputs[0].t.numel() == 0 || !OpChecks.ChecksValuesOf(inputs[0].t)) return;
        if (!inputs[0].t.is_cuda)
        {
            foreach (var (t, name) in inputs)
                if (!TensorPrimitives.IsFiniteAll<float>(HostMemory.Span<float>(t)))
                    throw new ArgumentException($"argument '{name}': expected finite values, got NaN or Inf", name);
            return;
        }
        using var scope = torch.NewDisposeScope();
        var flags = torch.stack(inputs.Select(x => x.t.isfinite().all()).ToArray()).cpu();
        var ok = flags.data<bool>().ToArray();
        for (int i = 0; i < ok.Length; i++)
            if (!ok[i]) throw new ArgumentException($"argument '{inputs[i].name}': expected finite values, got NaN or Inf", inputs[i].name);
    }

    /// <summary>The autograd node of the Cpu and Kernel backends: gradients reach q, s1, s2.</summary>
    private sealed class Function : autograd.SingleTensorFunction<Function>
    {
        public override string Name => nameof(SoftByolLoss);

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var (q, z, u, u2, s1, s2) = ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2], (Tensor)vars[3], (Tensor)vars[4], (Tensor)vars[5]);
            var (backend, k, mode) = ((Backend)vars[6], (double)vars[7], (ByolLabel)vars[8]);
            // rowStat [C, 2] = (e_c, ∂e_c/∂sim_c); stats [2] = (L, S): what the backward needs besides q, z, s1, s2.
            var (stats, rowStat) = backend == Backend.Cpu
                ? CpuForward(q, z, u, u2, s1, s2, (float)k, mode)
                : KernelForward(q, z, u, u2, s1, s2, (float)k, mode);
            ctx.save_for_backward([q, z, s1, s2, rowStat, stats]);
            ctx.save_data(nameof(Backend), backend);
            return stats[0].clone();  // not a view of a saved tensor
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad_output)
        {
            var saved = ctx.get_saved_variables();
            using var g = grad_output.to(ScalarType.Float32).contiguous();
            var (gq, gs1, gs2) = (Backend)ctx.get_data(nameof(Backend)) == Backend.Cpu
                ? CpuBackward(saved[0], saved[1], saved[2], saved[3], saved[4], saved[5], g)
                : KernelBackward(saved[0], saved[1], saved[2], saved[3], saved[4], saved[5], g);
            return [gq, null!, null!, null!, gs1, gs2, null!, null!, null!];
        }
    }
}

using LocalFeat.Cuda;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace LocalFeat.Ops;

/// <summary>
/// TaSP eq. 7 (OPS.md §4): <c>s = vNeg / max(vPos, 1)</c>, the Hamming distance of the anchor's patch hash to its hardest
/// negative's over that to its positive's (guarded for identical positives). int32 inputs of one shape → float32. No gradients.
/// </summary>
public static class IntrinsicImportance
{
    private const int Threads = 256;

    public static Tensor Apply(Tensor vPos, Tensor vNeg, Backend backend = Backend.Auto)
    {
        var sp = Validate.Tensor(vPos, nameof(vPos), ScalarType.Int32, (int)(vPos?.dim() ?? 1), "of any shape");
        var sn = Validate.Tensor(vNeg, nameof(vNeg), ScalarType.Int32, sp.Length, $"[{string.Join(", ", sp)}] (as vPos)");
        for (int i = 0; i < sp.Length; i++) Validate.Dim(sn[i], sp[i], nameof(vNeg), $"dimension {i} (as vPos)");
        Validate.SameDevice(vPos!, nameof(vPos), vNeg!, nameof(vNeg));
        if (backend == Backend.Auto) backend = vPos!.is_cuda ? Backend.Kernel : Backend.Cpu;
        switch (backend)
        {
            case Backend.Reference:
                return vNeg!.to(ScalarType.Float32).div(vPos!.clamp_min(1).to(ScalarType.Float32));
            case Backend.Cpu:
                Validate.OnCpu(vPos!, nameof(vPos), backend);
                return Cpu(vPos!, vNeg!);
            case Backend.Kernel:
                return Kernel(vPos!, vNeg!);
            default:
                throw new ArgumentOutOfRangeException(nameof(backend), backend, "expected Auto, Reference, Cpu or Kernel");
        }
    }

    private static unsafe Tensor Cpu(Tensor vPos, Tensor vNeg)
    {
        var output = torch.empty(vPos.shape, ScalarType.Float32);
        int* p = HostMemory.Pointer<int>(vPos), q = HostMemory.Pointer<int>(vNeg);
        float* o = HostMemory.Pointer<float>(output);
        for (long i = 0, e = output.numel(); i < e; i++) o[i] = (float)q[i] / Math.Max(p[i], 1);
        return output;
    }

    private static unsafe Tensor Kernel(Tensor vPos, Tensor vNeg)
    {
        var output = torch.empty(vPos.shape, ScalarType.Float32, vPos.device);
        long e = output.numel();
        if (e == 0) return output;
        int* p = (int*)vPos.data_ptr(), q = (int*)vNeg.data_ptr();
        float* o = (float*)output.data_ptr();
        void** args = stackalloc void*[] { &p, &q, &e, &o };
        KernelRuntimes.For(vPos).Launch("intrinsic_importance", new Dim3(checked((uint)((e + Threads - 1) / Threads))), new Dim3(Threads), 0, IntPtr.Zero, args);
        return output;
    }
}

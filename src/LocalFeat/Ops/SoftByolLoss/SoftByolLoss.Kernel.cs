using LocalFeat.Cuda;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace LocalFeat.Ops;

// Kernel backend: kernels/soft_byol.cu through IKernelRuntime. Forward = sb_forward (every row's dots,
// e_c and block partials in one pass) + sb_finalize (one block: L and S); backward = sb_backward (one
// pass, the loss gradient read on the device). Scratch: rowStat [C,2] and the [G,2] partials.
public static partial class SoftByolLoss
{
    private const int RowsPerBlock = 8, Threads = 256;

    private static void CheckKernelSizes(long c, long d)
    {
        if (c > int.MaxValue - RowsPerBlock || d > int.MaxValue)
            throw new ArgumentException($"SoftByolLoss: the Kernel backend supports C, D < 2^31, got C = {c}, D = {d}");
    }

    internal static unsafe (Tensor stats, Tensor rowStat) KernelForward(Tensor q, Tensor z, Tensor u, Tensor u2, Tensor s1, Tensor s2, float k, ByolLabel mode)
    {
        long c = q.size(0), d = q.size(1);
        CheckKernelSizes(c, d);
        var device = q.device;
        using var scope = torch.NewDisposeScope();
        var stats = torch.zeros([2], ScalarType.Float32, device);
        var rowStat = torch.empty([c, 2], ScalarType.Float32, device);
        if (c == 0) return (stats.MoveToOuterDisposeScope(), rowStat.MoveToOuterDisposeScope());

        var rt = KernelRuntimes.For(q);
        int C = (int)c, D = (int)d, G = (C + RowsPerBlock - 1) / RowsPerBlock, soft = mode == ByolLabel.Soft ? 1 : 0;
        var partial = torch.empty([G, 2], ScalarType.Float32, device);
        float* qp = (float*)q.data_ptr(), zp = (float*)z.data_ptr(), up = (float*)u.data_ptr(), u2p = (float*)u2.data_ptr();
        float* s1p = (float*)s1.data_ptr(), s2p = (float*)s2.data_ptr(), rs = (float*)rowStat.data_ptr(), part = (float*)partial.data_ptr();
        float* outp = (float*)stats.data_ptr();
        void** args = stackalloc void*[] { &qp, &zp, &up, &u2p, &s1p, &s2p, &C, &D, &soft, &k, &rs, &part };
        rt.Launch("sb_forward", new Dim3((uint)G), new Dim3(Threads), 0, IntPtr.Zero, args);
        void** fin = stackalloc void*[] { &part, &G, &C, &outp };
        rt.Launch("sb_finalize", new Dim3(1), new Dim3(Threads), 0, IntPtr.Zero, fin);
        return (stats.MoveToOuterDisposeScope(), rowStat.MoveToOuterDisposeScope());
    }

    internal static unsafe (Tensor gq, Tensor gs1, Tensor gs2) KernelBackward(Tensor q, Tensor z, Tensor s1, Tensor s2, Tensor rowStat, Tensor stats, Tensor gradOutput)
    {
        long c = q.size(0), d = q.size(1);
        CheckKernelSizes(c, d);
        var device = q.device;
        using var scope = torch.NewDisposeScope();
        var gq = torch.empty([c, d], ScalarType.Float32, device);
        var gs1 = torch.empty([c], ScalarType.Float32, device);
        var gs2 = torch.empty([c], ScalarType.Float32, device);
        if (c == 0) return (gq.MoveToOuterDisposeScope(), gs1.MoveToOuterDisposeScope(), gs2.MoveToOuterDisposeScope());
        if (gradOutput.device != device) gradOutput = gradOutput.to(device);

        var rt = KernelRuntimes.For(q);
        int C = (int)c, D = (int)d, G = (C + RowsPerBlock - 1) / RowsPerBlock;
        float* qp = (float*)q.data_ptr(), zp = (float*)z.data_ptr(), s1p = (float*)s1.data_ptr(), s2p = (float*)s2.data_ptr();
        float* rs = (float*)rowStat.data_ptr(), st = (float*)stats.data_ptr(), g = (float*)gradOutput.data_ptr();
        float* gqp = (float*)gq.data_ptr(), g1 = (float*)gs1.data_ptr(), g2 = (float*)gs2.data_ptr();
        void** args = stackalloc void*[] { &qp, &zp, &s1p, &s2p, &rs, &st, &g, &C, &D, &gqp, &g1, &g2 };
        rt.Launch("sb_backward", new Dim3((uint)G), new Dim3(Threads), 0, IntPtr.Zero, args);
        return (gq.MoveToOuterDisposeScope(), gs1.MoveToOuterDisposeScope(), gs2.MoveToOuterDisposeScope());
    }
}

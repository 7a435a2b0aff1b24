using LocalFeat.Cuda;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace LocalFeat.Ops;

// Kernel backend: kernels/tasp_loss.cu's diw_bin → diw_state → diw_loss, and diw_backward. No host synchronisation: the
// loss stays on the device; the state tensor is updated in place there.
public static partial class TaspTripletLoss
{
    private const int Threads = 256, ReduceThreads = 1024;

    internal static unsafe (Tensor loss, Tensor slope) KernelForward(Tensor dPos, Tensor dNeg, Tensor importance, DiwHistogram histogram)
    {
        int n = (int)dPos.size(0), bins = histogram.Bins;
        var device = dPos.device;
        var slope = torch.empty([n], ScalarType.Float32, device);
        if (n == 0) return (torch.zeros([], ScalarType.Float32, device), slope);
        using var scope = torch.NewDisposeScope();
        var rt = KernelRuntimes.For(dPos);
        var counts = torch.zeros([bins], ScalarType.Int64, device);  // uint64 counts: same bits
        var lower = torch.empty([n], ScalarType.Int32, device);
        var x = torch.empty([n], ScalarType.Float32, device);
        var cdf = torch.empty([bins], ScalarType.Float32, device);
        var loss = torch.empty([], ScalarType.Float32, device);
        var state = histogram.StateOn(device);

        float* dp = (float*)dPos.data_ptr(), dn = (float*)dNeg.data_ptr(), imp = (float*)importance.data_ptr();
        ulong* cnt = (ulong*)counts.data_ptr();
        int* lo = (int*)lower.data_ptr();
        float* xs = (float*)x.data_ptr(), st = (float*)state.data_ptr(), cd = (float*)cdf.data_ptr(), sl = (float*)slope.data_ptr(), ls = (float*)loss.data_ptr();
        float margin = (float)histogram.Margin, sMax = (float)histogram.SMax, scale = histogram.Scale;
        float oneMinus = (float)(1 - histogram.Momentum), momentum = (float)histogram.Momentum, invN = 1f / n;

        void** bin = stackalloc void*[] { &dp, &dn, &imp, &n, &margin, &sMax, &scale, &bins, &cnt, &lo, &xs };
        rt.Launch("diw_bin", new Dim3((uint)((n + Threads - 1) / Threads)), new Dim3(Threads), 0, IntPtr.Zero, bin);
        void** update = stackalloc void*[] { &cnt, &n, &bins, &oneMinus, &momentum, &st, &cd };
        rt.Launch("diw_state", new Dim3(1), new Dim3(32), 0, IntPtr.Zero, update);
        void** reduce = stackalloc void*[] { &xs, &lo, &imp, &cd, &n, &sMax, &invN, &sl, &ls };
        rt.Launch("diw_loss", new Dim3(1), new Dim3(ReduceThreads), 0, IntPtr.Zero, reduce);
        return (loss.MoveToOuterDisposeScope(), slope);
    }

    internal static unsafe (Tensor gPos, Tensor gNeg) KernelBackward(Tensor slope, Tensor gradLoss)
    {
        int n = (int)slope.size(0);
        var gPos = torch.empty([n], ScalarType.Float32, slope.device);
        var gNeg = torch.empty([n], ScalarType.Float32, slope.device);
        if (n == 0) return (gPos, gNeg);
        float* sl = (float*)slope.data_ptr(), g = (float*)gradLoss.data_ptr(), gp = (float*)gPos.data_ptr(), gn = (float*)gNeg.data_ptr();
        void** args = stackalloc void*[] { &sl, &g, &n, &gp, &gn };
        KernelRuntimes.For(slope).Launch("diw_backward", new Dim3((uint)((n + Threads - 1) / Threads)), new Dim3(Threads), 0, IntPtr.Zero, args);
        return (gPos, gNeg);
    }
}

using LocalFeat.Cuda;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace LocalFeat.Ops;

// Kernel backend: kernels/phash.cu's hamming_pairs (element-wise) and hamming_cross (all pairs, one grid row per a_i).
public static partial class Hamming
{
    private const int Threads = 256;

    private static unsafe Tensor KernelPairs(Tensor a, Tensor b)
    {
        var output = torch.empty(a.shape, ScalarType.Int32, a.device);
        long e = a.numel();
        if (e == 0) return output;
        long* pa = (long*)a.data_ptr(), pb = (long*)b.data_ptr();
        int* po = (int*)output.data_ptr();
        void** args = stackalloc void*[] { &pa, &pb, &e, &po };
        KernelRuntimes.For(a).Launch("hamming_pairs", new Dim3(checked((uint)((e + Threads - 1) / Threads))), new Dim3(Threads), 0, IntPtr.Zero, args);
        return output;
    }

    private static unsafe Tensor KernelCross(Tensor a, Tensor b)
    {
        long n = a.size(0), m = b.size(0);
        var output = torch.empty([n, m], ScalarType.Int32, a.device);
        if (n == 0 || m == 0) return output;
        if (n > 65535 * 1024L || m > int.MaxValue)
            throw new ArgumentException($"argument 'a': the Kernel backend supports N ≤ 67107840 and M < 2^31, got N = {n}, M = {m}", nameof(a));
        int N = (int)n, M = (int)m;
        long* pa = (long*)a.data_ptr(), pb = (long*)b.data_ptr();
        int* po = (int*)output.data_ptr();
        void** args = stackalloc void*[] { &pa, &pb, &N, &M, &po };
        KernelRuntimes.For(a).Launch("hamming_cross", new Dim3((uint)((M + Threads - 1) / Threads), (uint)N), new Dim3(Threads), 0, IntPtr.Zero, args);
        return output;
    }
}

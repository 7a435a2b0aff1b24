using LocalFeat.Cuda;
using TorchSharp;
using static TorchSharp.torch;

namespace LocalFeat.Ops;

// Kernel backend: one ema_foreach launch (kernels/ema_update.cu) for the whole list. The table of
// pointers, lengths and first chunks is built on the host and copied to the device (one small
// host-to-device copy, as PyTorch's _foreach ops pass theirs as kernel arguments).
public static partial class EmaUpdate
{
    /// <summary>Elements per block (EMA_CHUNK in the kernel file).</summary>
    private const long KernelChunk = 4096;

    private const int Threads = 256;

    internal static unsafe void KernelUpdate(IReadOnlyList<Tensor> target, IReadOnlyList<Tensor> online, double tau)
    {
        int T = target.Count;
        var table = new long[4 * T + 1];
        long first = 0;
        for (int i = 0; i < T; i++)
        {
            long n = target[i].numel();
            table[i] = n == 0 ? 0 : (long)target[i].data_ptr();
            table[T + i] = n == 0 ? 0 : (long)online[i].data_ptr();
            table[2 * T + i] = n;
            table[3 * T + i] = first;
            first += (n + KernelChunk - 1) / KernelChunk;
        }
        table[4 * T] = first;
        if (first == 0) return;
        if (first > int.MaxValue) throw new ArgumentException($"EmaUpdate: the Kernel backend supports < 2^31 chunks of {KernelChunk}, got {first}");
        using var scope = torch.NewDisposeScope();
        var device = target[0].device;
        var tableTensor = torch.tensor(table, ScalarType.Int64);
        if (device.type != DeviceType.CPU) tableTensor = tableTensor.to(device);
        var rt = KernelRuntimes.For(target[0]);
        long* tp = (long*)tableTensor.data_ptr();
        float tf = (float)tau, of = (float)(1 - tau);
        void** args = stackalloc void*[] { &tp, &T, &tf, &of };
        rt.Launch("ema_foreach", new Dim3((uint)first), new Dim3(Threads), 0, IntPtr.Zero, args);
    }
}

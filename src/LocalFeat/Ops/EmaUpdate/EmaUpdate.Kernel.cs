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

    internal static unsafe void KernelUpdate(Segment[] tensors, Tensor first, double tau)
    {
        int T = tensors.Length;
        var table = new long[4 * T + 1];
        long chunks = 0;
        for (int i = 0; i < T; i++)
        {
            long n = tensors[i].Length;
            table[i] = tensors[i].Target;
            table[T + i] = tensors[i].Online;
            table[2 * T + i] = n;
            table[3 * T + i] = chunks;
            chunks += (n + KernelChunk - 1) / KernelChunk;
        }
        table[4 * T] = chunks;
        if (chunks == 0) return;
        if (chunks > int.MaxValue) throw new ArgumentException($"EmaUpdate: the Kernel backend supports < 2^31 chunks of {KernelChunk}, got {chunks}");
        using var scope = torch.NewDisposeScope();
        var device = first.device;
        var tableTensor = torch.tensor(table, ScalarType.Int64);
        if (device.type != DeviceType.CPU) tableTensor = tableTensor.to(device);
        var rt = KernelRuntimes.For(first);
        long* tp = (long*)tableTensor.data_ptr();
        float tf = (float)tau, of = (float)(1 - tau);
        void** args = stackalloc void*[] { &tp, &T, &tf, &of };
        rt.Launch("ema_foreach", new Dim3((uint)chunks), new Dim3(Threads), 0, IntPtr.Zero, args);
    }
}

using System.Numerics;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace LocalFeat.Ops;

/// <summary>Hamming distance of 64-bit hashes (OPS.md §4): popcount(a XOR b) as int32. No gradients.</summary>
public static partial class Hamming
{
    /// <summary>Element-wise: <paramref name="a"/> and <paramref name="b"/> int64 of one shape → int32 of that shape.</summary>
    public static Tensor Apply(Tensor a, Tensor b, Backend backend = Backend.Auto)
    {
        var sa = Validate.Tensor(a, nameof(a), ScalarType.Int64, (int)(a?.dim() ?? 1), "of any shape");
        var sb = Validate.Tensor(b, nameof(b), ScalarType.Int64, sa.Length, $"[{string.Join(", ", sa)}] (as a)");
        for (int i = 0; i < sa.Length; i++) Validate.Dim(sb[i], sa[i], nameof(b), $"dimension {i} (as a)");
        Validate.SameDevice(a!, nameof(a), b!, nameof(b));
        backend = Pick(a!, backend);
        if (backend == Backend.Reference) return Popcount(a!.bitwise_xor(b!));
        if (backend == Backend.Kernel) return KernelPairs(a!, b!);
        var output = torch.empty(sa, ScalarType.Int32);
        unsafe
        {
            long* pa = HostMemory.Pointer<long>(a!), pb = HostMemory.Pointer<long>(b!);
            int* po = HostMemory.Pointer<int>(output);
            for (long i = 0, e = output.numel(); i < e; i++) po[i] = BitOperations.PopCount((ulong)(pa[i] ^ pb[i]));
        }
        return output;
    }

    /// <summary>All pairs: <paramref name="a"/> [N] and <paramref name="b"/> [M] int64 → [N, M] int32.</summary>
    public static Tensor Cross(Tensor a, Tensor b, Backend backend = Backend.Auto)
    {
        long n = Validate.Tensor(a, nameof(a), ScalarType.Int64, 1, "[N]")[0];
        long m = Validate.Tensor(b, nameof(b), ScalarType.Int64, 1, "[M]")[0];
        Validate.SameDevice(a, nameof(a), b, nameof(b));
        backend = Pick(a, backend);
        if (backend == Backend.Reference) return Popcount(a.unsqueeze(1).bitwise_xor(b.unsqueeze(0)));
        if (backend == Backend.Kernel) return KernelCross(a, b);
        var output = torch.empty([n, m], ScalarType.Int32);
        unsafe
        {
            long* pa = HostMemory.Pointer<long>(a), pb = HostMemory.Pointer<long>(b);
            int* po = HostMemory.Pointer<int>(output);
            Parallel.For(0, n, i =>
            {
                long ai = pa[i];
                int* row = po + i * m;
                for (long j = 0; j < m; j++) row[j] = BitOperations.PopCount((ulong)(ai ^ pb[j]));
            });
        }
        return output;
    }

    private static Backend Pick(Tensor a, Backend backend)
    {
        if (backend == Backend.Auto) return a.is_cuda ? Backend.Kernel : Backend.Cpu;
        if (backend == Backend.Cpu) Validate.OnCpu(a, nameof(a), backend);
        if (backend is not (Backend.Reference or Backend.Cpu or Backend.Kernel))
            throw new ArgumentOutOfRangeException(nameof(backend), backend, "expected Auto, Reference, Cpu or Kernel");
        return backend;
    }

    /// <summary>Reference popcount from composite ops: per byte, a 256-entry table of bit counts built from the bits of 0..255.</summary>
    private static Tensor Popcount(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        var bytes = torch.arange(256, ScalarType.Int64, x.device);
        var table = bytes.unsqueeze(1).bitwise_right_shift(torch.arange(8, ScalarType.Int64, x.device)).bitwise_and(1).sum(1);
        var count = torch.zeros_like(x);
        for (int k = 0; k < 8; k++)
        {
            // Arithmetic shift of a negative value fills with ones; the mask keeps byte k only.
            var index = x.bitwise_right_shift(8 * k).bitwise_and(255);
            count += table.index_select(0, index.flatten()).reshape(x.shape);
        }
        return count.to(ScalarType.Int32).MoveToOuterDisposeScope();
    }
}

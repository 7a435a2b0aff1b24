using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;

namespace LocalFeat.Ops;

// Fused CPU update: the parameter list cut into fixed chunks, all chunks of all tensors in one
// Parallel.For, each an explicit vector loop: t·τ and o·ω rounded separately, then added (the JIT does
// not contract to FMA), the bits of the per-tensor loop.
public static partial class EmaUpdate
{
    /// <summary>Elements per parallel work item: large enough to amortise scheduling, small enough to balance.</summary>
    private const int CpuChunk = 1 << 15;

    internal static unsafe void CpuUpdate(IReadOnlyList<Tensor> target, IReadOnlyList<Tensor> online, double tau)
    {
        float tf = (float)tau, of = (float)(1 - tau);
        var chunks = new List<(IntPtr t, IntPtr o, long n)>();
        for (int i = 0; i < target.Count; i++)
        {
            long n = target[i].numel();
            if (n == 0) continue;
            float* t = HostMemory.Pointer<float>(target[i]), o = HostMemory.Pointer<float>(online[i]);
            for (long s = 0; s < n; s += CpuChunk) chunks.Add(((IntPtr)(t + s), (IntPtr)(o + s), Math.Min(CpuChunk, n - s)));
        }
        if (chunks.Count == 1) Update((float*)chunks[0].t, (float*)chunks[0].o, chunks[0].n, tf, of);
        else Parallel.For(0, chunks.Count, k => Update((float*)chunks[k].t, (float*)chunks[k].o, chunks[k].n, tf, of));
    }

    private static unsafe void Update(float* t, float* o, long n, float tf, float of)
    {
        long j = 0;
        var vt = Vector256.Create(tf);
        var vo = Vector256.Create(of);
        for (; j + 8 <= n; j += 8)
            Vector256.Store(Vector256.Load(t + j) * vt + Vector256.Load(o + j) * vo, t + j);
        for (; j < n; j++) t[j] = t[j] * tf + o[j] * of;
    }
}

using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;

namespace LocalFeat.Ops;

// Fused CPU update: the whole parameter list as one sequence of segments, packed into work items of
// about CpuWorkItem elements (small tensors share an item, large ones are split), one Parallel.For over
// the items (none when a single item suffices: waking threads costs more than 1 MB of streaming). Each
// segment is an explicit vector loop: t·τ and o·ω rounded separately, then added (the JIT does not
// contract to FMA), the bits of the per-tensor loop.
public static partial class EmaUpdate
{
    /// <summary>Elements per parallel work item (3 MB of traffic): below it one thread streams faster than a fork.</summary>
    private const long CpuWorkItem = 1 << 18;

    internal static unsafe void CpuUpdate(Segment[] tensors, double tau)
    {
        float tf = (float)tau, of = (float)(1 - tau);
        var segments = new List<(IntPtr t, IntPtr o, long n)>(tensors.Length);
        var itemStart = new List<int> { 0 };  // first segment of each work item
        long filled = 0;
        foreach (var (tp, op, n) in tensors)
        {
            if (n == 0) continue;
            float* t = (float*)tp, o = (float*)op;
            for (long s = 0; s < n;)
            {
                long take = Math.Min(n - s, CpuWorkItem - filled);
                segments.Add(((IntPtr)(t + s), (IntPtr)(o + s), take));
                s += take;
                filled += take;
                if (filled == CpuWorkItem)
                {
                    itemStart.Add(segments.Count);
                    filled = 0;
                }
            }
        }
        if (itemStart[^1] != segments.Count) itemStart.Add(segments.Count);
        int items = itemStart.Count - 1;
        if (items <= 0) return;
        void Run(int k)
        {
            for (int j = itemStart[k]; j < itemStart[k + 1]; j++) Update((float*)segments[j].t, (float*)segments[j].o, segments[j].n, tf, of);
        }
        if (items == 1) Run(0);
        else Parallel.For(0, items, Run);
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

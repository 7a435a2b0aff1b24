using System.Numerics.Tensors;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace LocalFeat.Ops;

// Fused CPU top-k: similarities one tile at a time through OpenBLAS (DotTiles); each row keeps its k best
// (value, index) in a small sorted array. Memory O((N + k)·D + N·k); never N×N.
public static partial class InBatchHardestNegatives
{
    internal static unsafe (Tensor index, Tensor similarity) CpuForward(Tensor anchors, Tensor positives, Tensor group, int k, NegativeScope scope)
    {
        int n = (int)anchors.size(0);
        var topV = new float[(long)n * k];
        var topJ = new long[(long)n * k];
        var count = new int[n];
        Array.Fill(topV, float.NegativeInfinity);
        Array.Fill(topJ, -1);
        long* groups = HostMemory.Pointer<long>(group);
        using (var tiles = new DotTiles(anchors, positives))
            tiles.ScanRows((i, dots, j0, j1) => ScanRow(i, dots, j0, j1, groups, scope,
                new Span<float>(topV, i * k, k), new Span<long>(topJ, i * k, k), ref count[i]));
        var index = torch.tensor(topJ, [n, k]);
        var similarity = torch.tensor(topV, [n, k]);
        return (index, similarity);
    }

    /// <summary>Inserts the row's admissible similarities into its sorted top-k; equal values keep j order.</summary>
    private static unsafe void ScanRow(int i, float* sims, int j0, int j1, long* groups, NegativeScope scope,
        Span<float> topV, Span<long> topJ, ref int count)
    {
        int k = topV.Length;
        long gi = groups[i];
        for (int j = j0; j < j1; j++)
        {
            bool admissible = scope switch
            {
                NegativeScope.OtherGroups => groups[j] != gi,
                NegativeScope.SameGroup => groups[j] == gi && j != i,
                _ => j != i,
            };
            float v = sims[j - j0];
            admissible &= float.IsFinite(v);  // a NaN or ±Inf similarity is never picked (the contract of every backend)
            if (!admissible || (count == k && !(v > topV[k - 1]))) continue;
            int pos = Math.Min(count, k - 1);
            while (pos > 0 && v > topV[pos - 1])
            {
                topV[pos] = topV[pos - 1];
                topJ[pos] = topJ[pos - 1];
                pos--;
            }
            topV[pos] = v;
            topJ[pos] = j;
            if (count < k) count++;
        }
    }

    internal static unsafe (Tensor gradAnchors, Tensor gradPositives) CpuBackward(Tensor anchors, Tensor positives, Tensor index, Tensor gradSimilarity)
    {
        int n = (int)anchors.size(0), d = (int)anchors.size(1), k = (int)index.size(1);
        var ga = torch.zeros([n, d]);
        var gp = torch.zeros([n, d]);
        float* a = HostMemory.Pointer<float>(anchors), p = HostMemory.Pointer<float>(positives);
        float* gap = HostMemory.Pointer<float>(ga), gpp = HostMemory.Pointer<float>(gp), g = HostMemory.Pointer<float>(gradSimilarity);
        long* idx = HostMemory.Pointer<long>(index);
        // ∂⟨a_i, p_j⟩/∂a_i = p_j and /∂p_j = a_i; positives accumulate in (i, slot) order: deterministic.
        Parallel.For(0, n, i =>
        {
            var gai = new Span<float>(gap + (long)i * d, d);
            for (int s = 0; s < k; s++)
            {
                long j = idx[(long)i * k + s];
                float w = g[(long)i * k + s];
                if (j >= 0 && w != 0) TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(p + j * d, d), w, gai, gai);
            }
        });
        for (int i = 0; i < n; i++)
            for (int s = 0; s < k; s++)
            {
                long j = idx[(long)i * k + s];
                float w = g[(long)i * k + s];
                if (j < 0 || w == 0) continue;
                var gpj = new Span<float>(gpp + j * d, d);
                TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(a + (long)i * d, d), w, gpj, gpj);
            }
        return (ga, gp);
    }
}

using LocalFeat.Cuda;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace LocalFeat.Ops;

// Kernel backend: kernels/hard_negative.cu (ib_topk_mine, ib_topk_merge, the counting-sort buckets and the
// gradient kernels) through IKernelRuntime. Scratch O(N·k·splits + N): the split partial lists and the
// buckets of the backward. Never an N×N buffer.
public static partial class InBatchHardestNegatives
{
    private const int MineThreads = 256, RowsPerBlock = 8;

    internal static (Tensor index, Tensor similarity) KernelForward(Tensor anchors, Tensor positives, Tensor group, int k, NegativeScope scope) =>
        KernelForward(anchors, positives, group, k, scope, splits: null);

    /// <summary>The forward with an explicit split count (tests: results must not depend on it).</summary>
    internal static unsafe (Tensor index, Tensor similarity) KernelForward(Tensor anchors, Tensor positives, Tensor group, int k, NegativeScope scope,
        int? splits)
    {
        long n = anchors.size(0), d = anchors.size(1);
        HardestNegatives.CheckKernelSizes(n, n, d, "InBatchHardestNegatives");
        if (n * k > int.MaxValue) throw new ArgumentException($"InBatchHardestNegatives: the Kernel backend supports N·k < 2^31, got N = {n}, k = {k}");
        var device = anchors.device;
        using var disposeScope = torch.NewDisposeScope();
        var index = torch.full([n, k], -1, ScalarType.Int64, device);
        var similarity = torch.full([n, k], double.NegativeInfinity, ScalarType.Float32, device);
        if (n == 0)
            return (index.MoveToOuterDisposeScope(), similarity.MoveToOuterDisposeScope());

        var rt = KernelRuntimes.For(anchors);
        int N = (int)n, D = (int)d, K = k, sc = (int)scope;
        int vec = HardestNegatives.Vec(d, anchors, positives);
        int tile = HardestNegatives.KernelTile;
        int rowBlocks = (N + tile - 1) / tile, tiles = rowBlocks;
        int s = Math.Clamp(splits ?? HardestNegatives.DefaultSplits(rowBlocks, tiles), 1, tiles);
        int tilesPerSplit = (tiles + s - 1) / s;
        s = (tiles + tilesPerSplit - 1) / tilesPerSplit;
        Tensor? partial = s > 1 ? torch.empty([2L * s * n * k], ScalarType.Float32, device) : null;
        float* partSim = partial is null ? null : (float*)partial.data_ptr();
        int* partIndex = partial is null ? null : (int*)(partSim + (long)s * N * K);

        float* a = (float*)anchors.data_ptr(), p = (float*)positives.data_ptr();
        long* g = (long*)group.data_ptr();
        long* idx = (long*)index.data_ptr();
        float* sim = (float*)similarity.data_ptr();
        void** args = stackalloc void*[] { &a, &p, &g, &N, &D, &K, &sc, &vec, &tilesPerSplit, &idx, &sim, &partSim, &partIndex };
        rt.Launch("ib_topk_mine", new Dim3((uint)rowBlocks, (uint)s), new Dim3(MineThreads), 0, IntPtr.Zero, args);
        if (s > 1)
        {
            void** m = stackalloc void*[] { &partSim, &partIndex, &s, &N, &K, &idx, &sim };
            rt.Launch("ib_topk_merge", new Dim3((uint)((N + RowsPerBlock - 1) / RowsPerBlock)), new Dim3(RowsPerBlock * 32), 0, IntPtr.Zero, m);
        }
        return (index.MoveToOuterDisposeScope(), similarity.MoveToOuterDisposeScope());
    }

    internal static unsafe (Tensor gradAnchors, Tensor gradPositives) KernelBackward(Tensor anchors, Tensor positives, Tensor index, Tensor gradSimilarity)
    {
        long n = anchors.size(0), d = anchors.size(1), k = index.size(1);
        HardestNegatives.CheckKernelSizes(n, n, d, "InBatchHardestNegatives");
        var device = anchors.device;
        using var disposeScope = torch.NewDisposeScope();
        var ga = torch.empty([n, d], ScalarType.Float32, device);
        var gp = torch.empty([n, d], ScalarType.Float32, device);
        if (n == 0 || k == 0)
        {
            ga.fill_(0);
            gp.fill_(0);
            return (ga.MoveToOuterDisposeScope(), gp.MoveToOuterDisposeScope());
        }
        if (gradSimilarity.dtype != ScalarType.Float32) gradSimilarity = gradSimilarity.to(ScalarType.Float32);
        gradSimilarity = gradSimilarity.contiguous();
        index = index.contiguous();

        var rt = KernelRuntimes.For(anchors);
        int N = (int)n, D = (int)d, K = (int)k;
        float* a = (float*)anchors.data_ptr(), p = (float*)positives.data_ptr(), g = (float*)gradSimilarity.data_ptr();
        float* gap = (float*)ga.data_ptr(), gpp = (float*)gp.data_ptr();
        long* idx = (long*)index.data_ptr();
        var rows = new Dim3((uint)((N + RowsPerBlock - 1) / RowsPerBlock));
        void** argsA = stackalloc void*[] { &p, &idx, &g, &N, &D, &K, &gap };
        rt.Launch("ib_grad_anchors", rows, new Dim3(RowsPerBlock * 32), 0, IntPtr.Zero, argsA);

        var buckets = HardestNegatives.Buckets.Sort(rt, idx, N * K, N, device);
        int* sorted = buckets.Sorted, start = buckets.Start, count = buckets.Count;
        void** argsP = stackalloc void*[] { &a, &g, &sorted, &start, &count, &N, &D, &K, &gpp };
        rt.Launch("ib_grad_positives", rows, new Dim3(RowsPerBlock * 32), 0, IntPtr.Zero, argsP);
        return (ga.MoveToOuterDisposeScope(), gp.MoveToOuterDisposeScope());
    }
}

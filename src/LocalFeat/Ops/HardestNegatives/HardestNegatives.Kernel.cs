using LocalFeat.Cuda;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace LocalFeat.Ops;

// Kernel backend: kernels/hard_negative.cu through IKernelRuntime (CUDA device for CUDA tensors, host
// emulation for CPU tensors). The kernel file's header states what each kernel computes, its launch shape
// and the roofline; this file sizes the launches and the O((N+M)·D) scratch (norms, split partials,
// counting-sort buckets). Never an N×M buffer.
public static partial class HardestNegatives
{
    /// <summary>Rows of an anchor / candidate tile of hn_mine (LF_T in the kernel file).</summary>
    internal const int KernelTile = 64;

    private const int MineThreads = 256, RowsPerBlock = 8, FlatThreads = 256, ScanThreads = 1024;

    /// <summary>Blocks the mining grid aims for (2 per SM of an H100's 132), reached by splitting the candidates.</summary>
    private const int TargetBlocks = 264;

    /// <summary>Fewest candidate tiles a split scans, so the second-stage reduce stays small against the mining.</summary>
    private const int MinTilesPerSplit = 4;

    internal static (Tensor index, Tensor distance) KernelForward(Tensor anchors, Tensor candidates, Tensor anchorPos, Tensor candidatePos,
        float radius, SafeWindow window) => KernelForward(anchors, candidates, anchorPos, candidatePos, radius, window, splits: null);

    /// <summary>Candidate splits: enough blocks to fill the device, at least <see cref="MinTilesPerSplit"/> tiles each.</summary>
    internal static int DefaultSplits(long rowBlocks, long candidateTiles)
    {
        long wanted = (TargetBlocks + rowBlocks - 1) / Math.Max(1, rowBlocks);
        long most = Math.Max(1, candidateTiles / MinTilesPerSplit);
        return (int)Math.Clamp(Math.Min(wanted, most), 1, 65535);
    }

    /// <summary>Whether the float4 path applies: D % 4 == 0 and every descriptor pointer 16-byte aligned.</summary>
    internal static int Vec(long d, params Tensor[] rows)
    {
        if (d % 4 != 0) return 0;
        foreach (var t in rows)
            if (t.numel() > 0 && (long)t.data_ptr() % 16 != 0) return 0;
        return 1;
    }

    internal static void CheckKernelSizes(long n, long m, long d, string what)
    {
        if (n > int.MaxValue || m > int.MaxValue || d > int.MaxValue || n * d > int.MaxValue * 64L)
            throw new ArgumentException($"{what}: the Kernel backend supports N, M, D < 2^31, got N = {n}, M = {m}, D = {d}");
    }

    /// <summary>The forward with an explicit split count (tests: results must not depend on it).</summary>
    internal static unsafe (Tensor index, Tensor distance) KernelForward(Tensor anchors, Tensor candidates, Tensor anchorPos, Tensor candidatePos,
        float radius, SafeWindow window, int? splits)
    {
        long n = anchors.size(0), m = candidates.size(0), d = anchors.size(1);
        CheckKernelSizes(n, m, d, "HardestNegatives");
        var device = anchors.device;
        using var scope = torch.NewDisposeScope();
        var index = torch.full([n], -1, ScalarType.Int64, device);
        var distance = torch.full([n], double.PositiveInfinity, ScalarType.Float32, device);
        if (n == 0 || m == 0)
            return (index.MoveToOuterDisposeScope(), distance.MoveToOuterDisposeScope());

        var rt = KernelRuntimes.For(anchors);
        int N = (int)n, M = (int)m, D = (int)d;
        int vec = Vec(d, anchors, candidates);
        var norms = torch.empty([n + m], ScalarType.Float32, device);
        float* a = (float*)anchors.data_ptr(), c = (float*)candidates.data_ptr();
        float* an = (float*)norms.data_ptr(), cn = an + N;
        RowNorms(rt, a, N, D, vec, an);
        RowNorms(rt, c, M, D, vec, cn);

        int rowBlocks = (N + KernelTile - 1) / KernelTile, tiles = (M + KernelTile - 1) / KernelTile;
        int s = Math.Clamp(splits ?? DefaultSplits(rowBlocks, tiles), 1, tiles);
        int tilesPerSplit = (tiles + s - 1) / s;
        s = (tiles + tilesPerSplit - 1) / tilesPerSplit;  // no empty split
        Tensor? partial = s > 1 ? torch.empty([2L * s * n], ScalarType.Float32, device) : null;
        float* partDist = partial is null ? null : (float*)partial.data_ptr();
        int* partIndex = partial is null ? null : (int*)(partDist + (long)s * N);

        float* ap = (float*)anchorPos.data_ptr(), cp = (float*)candidatePos.data_ptr();
        int sphere = window == SafeWindow.Sphere ? 1 : 0;
        long* idx = (long*)index.data_ptr();
        float* dist = (float*)distance.data_ptr();
        void** args = stackalloc void*[] { &a, &c, &an, &cn, &ap, &cp, &N, &M, &D, &sphere, &radius, &vec, &tilesPerSplit, &idx, &dist, &partDist, &partIndex };
        rt.Launch("hn_mine", new Dim3((uint)rowBlocks, (uint)s), new Dim3(MineThreads), 0, IntPtr.Zero, args);
        if (s > 1)
        {
            void** f = stackalloc void*[] { &partDist, &partIndex, &s, &N, &idx, &dist };
            rt.Launch("hn_finalize", new Dim3((uint)((N + FlatThreads - 1) / FlatThreads)), new Dim3(FlatThreads), 0, IntPtr.Zero, f);
        }
        return (index.MoveToOuterDisposeScope(), distance.MoveToOuterDisposeScope());
    }

    private static unsafe void RowNorms(IKernelRuntime rt, float* x, int rows, int d, int vec, float* output)
    {
        if (rows == 0) return;
        void** args = stackalloc void*[] { &x, &rows, &d, &vec, &output };
        rt.Launch("hn_row_sq_norms", new Dim3((uint)((rows + RowsPerBlock - 1) / RowsPerBlock)), new Dim3(RowsPerBlock * 32), 0, IntPtr.Zero, args);
    }

    internal static unsafe (Tensor gradAnchors, Tensor gradCandidates) KernelBackward(Tensor anchors, Tensor candidates, Tensor index, Tensor gradDistance)
    {
        long n = anchors.size(0), m = candidates.size(0), d = anchors.size(1);
        CheckKernelSizes(n, m, d, "HardestNegatives");
        var device = anchors.device;
        using var scope = torch.NewDisposeScope();
        var ga = torch.empty([n, d], ScalarType.Float32, device);
        var gc = torch.empty([m, d], ScalarType.Float32, device);
        if (n == 0 || m == 0)
        {
            ga.fill_(0);
            gc.fill_(0);
            return (ga.MoveToOuterDisposeScope(), gc.MoveToOuterDisposeScope());
        }
        if (gradDistance.dtype != ScalarType.Float32) gradDistance = gradDistance.to(ScalarType.Float32);
        gradDistance = gradDistance.contiguous();
        index = index.contiguous();

        var rt = KernelRuntimes.For(anchors);
        int N = (int)n, M = (int)m, D = (int)d;
        float* a = (float*)anchors.data_ptr(), c = (float*)candidates.data_ptr(), g = (float*)gradDistance.data_ptr();
        float* gap = (float*)ga.data_ptr(), gcp = (float*)gc.data_ptr();
        long* idx = (long*)index.data_ptr();
        void** argsA = stackalloc void*[] { &a, &c, &idx, &g, &N, &D, &gap };
        rt.Launch("hn_grad_anchors", new Dim3((uint)((N + RowsPerBlock - 1) / RowsPerBlock)), new Dim3(RowsPerBlock * 32), 0, IntPtr.Zero, argsA);

        var buckets = Buckets.Sort(rt, idx, N, M, device);
        int* sorted = buckets.Sorted, start = buckets.Start, count = buckets.Count;
        void** argsC = stackalloc void*[] { &a, &c, &g, &sorted, &start, &count, &M, &D, &gcp };
        rt.Launch("hn_grad_candidates", new Dim3((uint)((M + RowsPerBlock - 1) / RowsPerBlock)), new Dim3(RowsPerBlock * 32), 0, IntPtr.Zero, argsC);
        return (ga.MoveToOuterDisposeScope(), gc.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Deterministic counting sort of E entries by key (int64, −1 = none) into B buckets, on the device:
    /// counts (integer atomics) → exclusive scan → fill → rank, so each bucket lists its entries in increasing
    /// entry order. Scratch int32 [3·B + 2·E], owned by the current dispose scope.
    /// </summary>
    internal readonly unsafe struct Buckets
    {
        public int* Count { get; init; }
        public int* Start { get; init; }
        public int* Sorted { get; init; }

        public static Buckets Sort(IKernelRuntime rt, long* key, int entries, int buckets, Device device)
        {
            var scratch = torch.zeros([3L * buckets + 2L * entries], ScalarType.Int32, device);
            int* count = (int*)scratch.data_ptr();
            int* start = count + buckets, cursor = start + buckets;
            int* list = cursor + buckets, sorted = list + entries;
            var flat = new Dim3((uint)((entries + FlatThreads - 1) / FlatThreads));
            int E = entries, B = buckets;
            void** argsCount = stackalloc void*[] { &key, &E, &count };
            rt.Launch("hn_bucket_count", flat, new Dim3(FlatThreads), 0, IntPtr.Zero, argsCount);
            void** argsScan = stackalloc void*[] { &count, &B, &start, &cursor };
            rt.Launch("hn_bucket_scan", new Dim3(1), new Dim3(ScanThreads), 0, IntPtr.Zero, argsScan);
            void** argsFill = stackalloc void*[] { &key, &E, &cursor, &list };
            rt.Launch("hn_bucket_fill", flat, new Dim3(FlatThreads), 0, IntPtr.Zero, argsFill);
            void** argsRank = stackalloc void*[] { &key, &E, &start, &count, &list, &sorted };
            rt.Launch("hn_bucket_rank", flat, new Dim3(FlatThreads), 0, IntPtr.Zero, argsRank);
            return new Buckets { Count = count, Start = start, Sorted = sorted };
        }
    }
}

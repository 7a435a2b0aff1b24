using LocalFeat.Cuda;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace LocalFeat.Ops;

// Kernel backend: kernels/d2_soft_detect.cu through IKernelRuntime (CUDA device for CUDA tensors, host
// emulation for CPU tensors). The kernel file's header states what each kernel computes, its launch
// shape and the roofline; this file only sizes the launches and the O(B·H·W) scratch.
public static partial class D2SoftDetect
{
    private const int TileX = 32, TileY = 8, PixelBlock = 128, MaxBlock = 256;

    /// <summary>Blocks the tiled kernel aims for (≈ 4 per SM of an H100), reached by splitting the channels.</summary>
    private const int TargetBlocks = 512;

    /// <summary>Fewest channels per chunk, so that a block's channel loop stays long enough to pipeline.</summary>
    private const int MinChannelsPerChunk = 8;

    private readonly record struct Shape(int B, int C, int H, int W)
    {
        public int P => H * W;
        public int N => C * P;
        public int TilesX => (W + TileX - 1) / TileX;
        public int Tiles => TilesX * ((H + TileY - 1) / TileY);
        public int PixelBlocks => (P + PixelBlock - 1) / PixelBlock;

        public static Shape Of(Tensor features)
        {
            var s = features.shape;
            if ((long)s[1] * s[2] * s[3] > int.MaxValue)
                throw new ArgumentException($"argument 'features': the Kernel backend supports at most {int.MaxValue} elements per sample, got C·H·W = {s[1] * s[2] * s[3]}", nameof(features));
            if (s[0] > 65535)
                throw new ArgumentException($"argument 'features': the Kernel backend supports at most 65535 samples, got B = {s[0]}", nameof(features));
            return new Shape((int)s[0], (int)s[1], (int)s[2], (int)s[3]);
        }

        /// <summary>Channel chunks of the tiled kernel: enough blocks to fill the device, at least 8 channels each.</summary>
        public int DefaultChunks()
        {
            long blocks = (long)Tiles * B;
            long k = (TargetBlocks + blocks - 1) / blocks;
            return (int)Math.Clamp(k, 1, Math.Max(1, Math.Min(C / MinChannelsPerChunk, 65535)));
        }
    }

    internal static Tensor KernelForward(Tensor features, double eps) => KernelForward(features, eps, chunks: null);

    internal static Tensor KernelBackward(Tensor features, Tensor grad, double eps) => KernelBackward(features, grad, eps, chunks: null);

    /// <summary>The forward with an explicit channel chunk count (tests: results must not depend on it).</summary>
    internal static unsafe Tensor KernelForward(Tensor features, double eps, int? chunks)
    {
        var sh = Shape.Of(features);
        var rt = KernelRuntimes.For(features);
        var device = features.device;
        int k = Chunks(sh, chunks), nblk = sh.PixelBlocks;
        using var scope = torch.NewDisposeScope();
        var scores = torch.empty([sh.B, sh.H, sh.W], ScalarType.Float32, device);
        var key = torch.zeros([sh.B], ScalarType.Int64, device);
        var scratch = new Scratch(torch.empty([4L * sh.B * k * sh.P + 2L * sh.B * nblk], ScalarType.Float32, device));
        var part = new Partials(scratch, (long)sh.B * k * sh.P);
        float* sumsP = (float*)scratch.Take(2L * sh.B * nblk);

        MaxAndTiles(rt, features, key, part, sh, k, (float)eps);
        float* bestP = part.Best, qP = part.Q, gamma = (float*)scores.data_ptr(), grad = null;
        int* argP = part.Arg, qargP = part.QArg, nul = null;
        int P = sh.P;
        float fe = (float)eps;
        float* nulF = null;
        void** a = stackalloc void*[] { &bestP, &argP, &qP, &qargP, &k, &P, &fe, &grad, &gamma, &nul, &nulF, &nul, &sumsP };
        rt.Launch("d2sd_combine", new Dim3((uint)nblk, (uint)sh.B), new Dim3(PixelBlock), 0, IntPtr.Zero, a);
        void** n = stackalloc void*[] { &gamma, &sumsP, &nblk, &P, &fe };
        rt.Launch("d2sd_normalize", new Dim3((uint)nblk, (uint)sh.B), new Dim3(PixelBlock), 0, IntPtr.Zero, n);
        return scores.MoveToOuterDisposeScope();
    }

    /// <summary>The backward with an explicit channel chunk count (tests: results must not depend on it).</summary>
    internal static unsafe Tensor KernelBackward(Tensor features, Tensor grad, double eps, int? chunks)
    {
        var sh = Shape.Of(features);
        var rt = KernelRuntimes.For(features);
        var device = features.device;
        int k = Chunks(sh, chunks), nblk = sh.PixelBlocks;
        using var scope = torch.NewDisposeScope();
        if (grad.dtype != ScalarType.Float32) grad = grad.to(ScalarType.Float32);
        grad = grad.contiguous();
        long bp = (long)sh.B * sh.P;
        var key = torch.zeros([sh.B], ScalarType.Int64, device);
        var scratch = new Scratch(torch.empty([4L * sh.B * k * sh.P + 8 * bp + 3L * sh.B * nblk], ScalarType.Float32, device));
        var part = new Partials(scratch, (long)sh.B * k * sh.P);
        float* gamma = (float*)scratch.Take(bp), q = (float*)scratch.Take(bp);
        int* arg = (int*)scratch.Take(bp), qarg = (int*)scratch.Take(bp);
        float* dEdir = (float*)scratch.Take(bp), dS = (float*)scratch.Take(bp), dDdir = (float*)scratch.Take(bp), dQ = (float*)scratch.Take(bp);
        float* sums = (float*)scratch.Take(2L * sh.B * nblk), mcPart = (float*)scratch.Take((long)sh.B * nblk);

        MaxAndTiles(rt, features, key, part, sh, k, (float)eps);
        float* bestP = part.Best, qP = part.Q, g = (float*)grad.data_ptr();
        int* argP = part.Arg, qargP = part.QArg;
        int C = sh.C, H = sh.H, W = sh.W, P = sh.P, N = sh.N;
        float fe = (float)eps;
        var pixelGrid = new Dim3((uint)nblk, (uint)sh.B);
        void** a = stackalloc void*[] { &bestP, &argP, &qP, &qargP, &k, &P, &fe, &g, &gamma, &arg, &q, &qarg, &sums };
        rt.Launch("d2sd_combine", pixelGrid, new Dim3(PixelBlock), 0, IntPtr.Zero, a);

        float* x = (float*)features.data_ptr();
        ulong* keyP = (ulong*)key.data_ptr();
        void** pa = stackalloc void*[] { &x, &keyP, &C, &H, &W, &fe, &g, &arg, &q, &qarg, &sums, &nblk, &dEdir, &dS, &dDdir, &dQ };
        rt.Launch("d2sd_bwd_pixel", pixelGrid, new Dim3(PixelBlock), 0, IntPtr.Zero, pa);

        // Only ≤ 10 channels per pixel have a nonzero gradient: zero-fill, then the owners write theirs.
        var dx = torch.zeros(features.shape, ScalarType.Float32, device);
        float* dxP = (float*)dx.data_ptr();
        void** ga = stackalloc void*[] { &x, &keyP, &C, &H, &W, &fe, &arg, &qarg, &dEdir, &dS, &dDdir, &dQ, &dxP, &mcPart };
        rt.Launch("d2sd_bwd_grad", pixelGrid, new Dim3(PixelBlock), 0, IntPtr.Zero, ga);
        void** ma = stackalloc void*[] { &x, &keyP, &mcPart, &nblk, &N, &fe, &dxP };
        rt.Launch("d2sd_bwd_max_grad", new Dim3((uint)sh.B), new Dim3(32), 0, IntPtr.Zero, ma);
        return dx.MoveToOuterDisposeScope();
    }

    private static int Chunks(Shape sh, int? chunks) =>
        chunks is { } c ? Math.Clamp(c, 1, Math.Min(sh.C, 65535)) : sh.DefaultChunks();

    /// <summary>d2sd_sample_max into <paramref name="key"/> (zeroed), then d2sd_tile into the four partial arrays at <paramref name="part"/>.</summary>
    private static unsafe void MaxAndTiles(IKernelRuntime rt, Tensor features, Tensor key, Partials part, Shape sh, int k, float eps)
    {
        float* x = (float*)features.data_ptr();
        ulong* keyP = (ulong*)key.data_ptr();
        int n = sh.N;
        long perSample = Math.Clamp((n + MaxBlock * 16L - 1) / (MaxBlock * 16L), 1, Math.Max(1, 1024 / sh.B));
        void** m = stackalloc void*[] { &x, &keyP, &n };
        rt.Launch("d2sd_sample_max", new Dim3((uint)perSample, (uint)sh.B), new Dim3(MaxBlock), 0, IntPtr.Zero, m);

        float* best = part.Best, q = part.Q;
        int* arg = part.Arg, qarg = part.QArg;
        int C = sh.C, H = sh.H, W = sh.W;
        void** t = stackalloc void*[] { &x, &keyP, &C, &H, &W, &k, &best, &arg, &q, &qarg, &eps };
        rt.Launch("d2sd_tile", new Dim3((uint)sh.Tiles, (uint)k, (uint)sh.B), new Dim3(TileX, TileY), 0, IntPtr.Zero, t);
    }

    /// <summary>The tiled kernel's per-chunk partials, [B, K, P] each: best alpha·D, its channel, max D, its channel.</summary>
    private readonly unsafe struct Partials(Scratch scratch, long count)
    {
        public readonly float* Best = (float*)scratch.Take(count);
        public readonly int* Arg = (int*)scratch.Take(count);
        public readonly float* Q = (float*)scratch.Take(count);
        public readonly int* QArg = (int*)scratch.Take(count);
    }

    /// <summary>Consecutive float-sized slices of one scratch tensor (the tensor stays owned by the dispose scope).</summary>
    private sealed class Scratch(Tensor buffer)
    {
        private long _used;

        public IntPtr Take(long elements)
        {
            var p = buffer.data_ptr() + (nint)(_used * sizeof(float));
            _used += elements;
            return p;
        }
    }
}

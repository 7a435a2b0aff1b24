using LocalFeat.Cuda;
using LocalFeat.Cuda.Driver;
using LocalFeat.Cuda.Kernels;
using Xunit;

namespace LocalFeat.Tests.Cuda;

/// <summary>
/// The emulator self-test kernels (kernels/emulator_selftest.cu, embedded) run on a real device through
/// <see cref="CudaKernelRuntime"/> and checked against C#: the same expectations the host emulation is held
/// to, so device and emulation agree. Skipped without a device.
/// </summary>
public sealed unsafe class DeviceSelftestTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "lf-selftest-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir))
            Directory.Delete(_dir, recursive: true);
    }

    private CudaKernelRuntime NewRuntime() => new(0, new KernelCache(_dir, KernelSources.Embedded));

    private static float[] Inputs(int n, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)rng.NextDouble() * 2 - 1).ToArray();
    }

    [GpuFact]
    public void Block_sum_matches_cpu()
    {
        using var rt = NewRuntime();
        const int n = 10_000, block = 256;
        var blocks = (n + block - 1) / block;
        var x = Inputs(n, 1);
        using var dx = DeviceMemory.FromHost<float>(rt.Context, x);
        using var dsum = DeviceMemory.Allocate(rt.Context, (ulong)(blocks * sizeof(float)));
        var px = dx.Pointer;
        var ps = dsum.Pointer;
        var count = n;
        void** args = stackalloc void*[] { &px, &ps, &count };
        rt.Launch("selftest_block_sum", new Dim3((uint)blocks), new Dim3(block), 0, IntPtr.Zero, args);
        rt.Synchronize();

        var sums = dsum.ToArray<float>();
        for (var b = 0; b < blocks; b++)
        {
            var expected = x.Skip(b * block).Take(block).Sum(v => (double)v);
            Assert.True(Math.Abs(sums[b] - expected) <= 1e-4, $"block {b}: {sums[b]} vs {expected}");
        }
    }

    [GpuFact]
    public void Warp_sum_matches_cpu()
    {
        using var rt = NewRuntime();
        const int n = 4096;
        var x = Inputs(n, 2);
        using var dx = DeviceMemory.FromHost<float>(rt.Context, x);
        using var dsum = DeviceMemory.Allocate(rt.Context, (ulong)(n / 32 * sizeof(float)));
        var px = dx.Pointer;
        var ps = dsum.Pointer;
        var count = n;
        void** args = stackalloc void*[] { &px, &ps, &count };
        rt.Launch("selftest_warp_sum", new Dim3(n / 128), new Dim3(128), 0, IntPtr.Zero, args);
        rt.Synchronize();

        var sums = dsum.ToArray<float>();
        for (var w = 0; w < n / 32; w++)
        {
            var expected = x.Skip(w * 32).Take(32).Sum(v => (double)v);
            Assert.True(Math.Abs(sums[w] - expected) <= 1e-5, $"warp {w}: {sums[w]} vs {expected}");
        }
    }

    [GpuFact]
    public void Dynamic_shared_tile_matches_cpu()
    {
        using var rt = NewRuntime();
        const int n = 1000, block = 128;
        var x = Inputs(n, 3);
        using var dx = DeviceMemory.FromHost<float>(rt.Context, x);
        using var dy = DeviceMemory.Allocate(rt.Context, (ulong)(n * sizeof(float)));
        var px = dx.Pointer;
        var py = dy.Pointer;
        var count = n;
        void** args = stackalloc void*[] { &px, &py, &count };
        rt.Launch("selftest_dynamic_shared", new Dim3((n + block - 1) / block), new Dim3(block), 2 * block * sizeof(float), IntPtr.Zero, args);
        rt.Synchronize();

        var y = dy.ToArray<float>();
        float X(int b, int t) => b * block + t < n ? x[b * block + t] : 0f;
        for (var i = 0; i < n; i++)
        {
            int b = i / block, t = i % block;
            Assert.Equal(X(b, block - 1 - t) + 2f * X(b, (t + 1) % block), y[i]);
        }
    }

    [GpuFact]
    public void Three_dimensional_indices_match()
    {
        using var rt = NewRuntime();
        var grid = new Dim3(3, 2, 2);
        var block = new Dim3(4, 2, 5);
        var total = (int)(grid.Count * block.Count);
        using var dout = DeviceMemory.Allocate(rt.Context, (ulong)(12 * total * sizeof(uint)));
        var p = dout.Pointer;
        void** args = stackalloc void*[] { &p };
        rt.Launch("selftest_indices", grid, block, 0, IntPtr.Zero, args);
        rt.Synchronize();

        var o = dout.ToArray<uint>();
        var per = (uint)block.Count;
        for (uint bz = 0; bz < grid.Z; bz++)
        for (uint by = 0; by < grid.Y; by++)
        for (uint bx = 0; bx < grid.X; bx++)
        for (uint tz = 0; tz < block.Z; tz++)
        for (uint ty = 0; ty < block.Y; ty++)
        for (uint tx = 0; tx < block.X; tx++)
        {
            var b = bx + grid.X * (by + grid.Y * bz);
            var t = tx + block.X * (ty + block.Y * tz);
            var at = (int)(12 * (b * per + t));
            Assert.Equal(new uint[] { tx, ty, tz, bx, by, bz, block.X, block.Y, block.Z, grid.X, grid.Y, grid.Z }, o[at..(at + 12)]);
        }
    }
}

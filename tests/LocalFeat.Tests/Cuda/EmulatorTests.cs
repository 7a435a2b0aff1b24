using LocalFeat.Cuda;
using Xunit;

namespace LocalFeat.Tests.Cuda;

/// <summary>
/// The host emulation on the purpose-written kernels of kernels/emulator_selftest.cu, each compared with a
/// C# computation of what the kernel's header says it computes.
/// </summary>
public sealed unsafe class EmulatorTests
{
    [Fact]
    public void Kernel_names_include_every_self_test_kernel_sorted()
    {
        var names = HostKernelRuntime.KernelNames;
        Assert.Equal(names.Order(StringComparer.Ordinal), names);
        foreach (var k in new[] { "selftest_block_sum", "selftest_warp_sum", "selftest_warp_shuffles", "selftest_ballot",
                     "selftest_atomics", "selftest_dynamic_shared", "selftest_indices", "selftest_race_neighbor_sum",
                     "selftest_diverged_barrier" })
            Assert.Contains(k, names);
    }

    [Theory]
    [InlineData(32u, false)]
    [InlineData(256u, false)]
    [InlineData(1024u, false)]
    [InlineData(256u, true)]
    [InlineData(1024u, true)]
    public void Block_reduction_with_shared_memory_and_barriers_matches_CSharp(uint block, bool shuffled)
    {
        using var rt = new HostKernelRuntime(new HostEmulationOptions(ShuffledSchedule: shuffled, Seed: 11));
        const int n = 10_000;
        var x = Emu.IntegerFloats(n, 1);
        var grid = (uint)((n + block - 1) / block);
        var sums = Emu.Pinned<float>((int)grid);
        using var a = new KernelArgs().Ptr(x).Ptr(sums).Add(n);
        rt.Launch("selftest_block_sum", new Dim3(grid), new Dim3(block), 0, IntPtr.Zero, a.Pointers);
        for (var b = 0; b < grid; b++)
        {
            var want = 0f;
            for (var t = 0; t < block && b * block + t < n; t++)
                want += x[b * block + t];
            Assert.Equal(want, sums[b]);
        }
    }

    [Fact]
    public void Warp_shuffle_reduction_matches_CSharp()
    {
        using var rt = new HostKernelRuntime(new HostEmulationOptions(ShuffledSchedule: true, Seed: 5));
        const int n = 64 * 96;
        var x = Emu.IntegerFloats(n, 2);
        var sums = Emu.Pinned<float>(n / 32);
        using var a = new KernelArgs().Ptr(x).Ptr(sums).Add(n);
        rt.Launch("selftest_warp_sum", new Dim3(n / 96), new Dim3(96), 0, IntPtr.Zero, a.Pointers);
        for (var w = 0; w < n / 32; w++)
            Assert.Equal(x.Skip(w * 32).Take(32).Sum(), sums[w]);
    }

    [Fact]
    public void Warp_shuffles_follow_CUDA_semantics_including_width()
    {
        using var rt = new HostKernelRuntime();
        const int n = 4 * 64;
        var x = Emu.Pinned(Enumerable.Range(0, n).Select(i => i * 37 % 101 - 50));
        var o = Emu.Pinned<int>(5 * n);
        var od = Emu.Pinned<double>(n);
        using var a = new KernelArgs().Ptr(x).Ptr(o).Ptr(od).Add(n);
        rt.Launch("selftest_warp_shuffles", new Dim3(4), new Dim3(64), 0, IntPtr.Zero, a.Pointers);
        for (var i = 0; i < n; i++)
        {
            int l = i % 32, w0 = i - l, seg0 = w0 + (l & ~7);
            Assert.Equal(x.Skip(w0).Take(l + 1).Sum(), o[5 * i]);                   // __shfl_up_sync scan
            Assert.Equal(x.Skip(seg0).Take(8).Sum(), o[5 * i + 1]);                 // __shfl_xor_sync, width 8
            Assert.Equal(x[w0 + (3 * l + 5) % 32], o[5 * i + 2]);                   // __shfl_sync, lane wraps
            Assert.Equal(l % 16 + 5 < 16 ? x[i + 5] : x[i], o[5 * i + 3]);          // __shfl_down_sync, width 16
            Assert.Equal(x[seg0 + 2], o[5 * i + 4]);                                // __shfl_sync, width 8
            Assert.Equal((l == 0 ? x[i] : x[i - 1]) + 0.25, od[i]);                 // double __shfl_up_sync
        }
    }

    [Fact]
    public void Ballot_any_all_and_activemask_on_a_partial_warp_of_40_threads()
    {
        using var rt = new HostKernelRuntime(new HostEmulationOptions(ShuffledSchedule: true, Seed: 3));
        const int block = 40, grid = 3, n = block * grid;
        // The second warp of each block (8 lanes) is all true: __all_sync must ignore the 24 missing lanes.
        var pred = Emu.Pinned(Enumerable.Range(0, n).Select(i => i % 3 == 0 || i % block >= 32 ? 1 : 0));
        var ballot = Emu.Pinned<uint>(n);
        var anyAll = Emu.Pinned<int>(2 * n);
        var active = Emu.Pinned<uint>(n);
        var count = Emu.Pinned<int>(grid);
        using var a = new KernelArgs().Ptr(pred).Ptr(ballot).Ptr(anyAll).Ptr(active).Ptr(count).Add(n);
        rt.Launch("selftest_ballot", new Dim3(grid), new Dim3(block), 0, IntPtr.Zero, a.Pointers);
        for (var b = 0; b < grid; b++)
        {
            Assert.Equal(pred.Skip(b * block).Take(block).Sum(), count[b]);
            for (var t = 0; t < block; t++)
            {
                int i = b * block + t, warpBase = t & ~31, lanes = Math.Min(32, block - warpBase);
                uint want = 0;
                for (var k = 0; k < lanes; k++)
                    if (pred[b * block + warpBase + k] != 0)
                        want |= 1u << k;
                var mask = lanes == 32 ? uint.MaxValue : (1u << lanes) - 1;
                Assert.Equal(want, ballot[i]);
                Assert.Equal(want != 0 ? 1 : 0, anyAll[2 * i]);
                Assert.Equal(want == mask ? 1 : 0, anyAll[2 * i + 1]);
                Assert.Equal(mask, active[i]);
            }
        }
        Assert.Equal(1, anyAll[2 * 32 + 1]); // lanes 32..39 of block 0: all true in a warp of 8
    }

    [Fact]
    public void Atomics_across_many_blocks_are_exact()
    {
        using var rt = new HostKernelRuntime(new HostEmulationOptions(Workers: 8));
        const int n = 200 * 128 - 17; // Σ x < 2^24, so float sums are exact
        var x = Emu.Pinned(Enumerable.Range(0, n).Select(i => i * 7919 % 1000));
        var accI = Emu.Pinned<int>(1);
        var accU = Emu.Pinned<ulong>(1);
        var accF = Emu.Pinned<float>(1);
        var accD = Emu.Pinned<double>(1);
        var extrema = Emu.Pinned(new[] { int.MinValue, int.MaxValue });
        var cas = Emu.Pinned<uint>(1);
        var slot = Emu.Pinned(new[] { -1 });
        var exchSum = Emu.Pinned<ulong>(1);
        using var a = new KernelArgs().Ptr(x).Add(n).Ptr(accI).Ptr(accU).Ptr(accF).Ptr(accD).Ptr(extrema).Ptr(cas)
            .Ptr(slot).Ptr(exchSum);
        rt.Launch("selftest_atomics", new Dim3(200), new Dim3(128), 0, IntPtr.Zero, a.Pointers);
        long sum = x.Sum(v => (long)v);
        Assert.Equal(sum, accI[0]);
        Assert.Equal((ulong)sum, accU[0]);
        Assert.Equal((float)sum, accF[0]); // |partial sums| < 2^24: exact in any order
        Assert.Equal(sum, accD[0]);
        Assert.Equal(x.Max(), extrema[0]);
        Assert.Equal(x.Min(), extrema[1]);
        Assert.Equal((uint)n, cas[0]);
        Assert.InRange(slot[0], 0, n - 1);
        Assert.Equal((ulong)n * (n + 1) / 2, exchSum[0] + (ulong)slot[0] + 1);
    }

    [Theory]
    [InlineData(64u)]
    [InlineData(1024u)]
    public void Dynamic_shared_memory_is_per_block(uint block)
    {
        using var rt = new HostKernelRuntime(new HostEmulationOptions(ShuffledSchedule: true, Seed: 8));
        var n = (int)block * 5 - 3;
        var x = Emu.IntegerFloats(n, 4);
        var y = Emu.Pinned<float>(n);
        using var a = new KernelArgs().Ptr(x).Ptr(y).Add(n);
        rt.Launch("selftest_dynamic_shared", new Dim3(5), new Dim3(block), 2 * block * sizeof(float), IntPtr.Zero, a.Pointers);
        for (var i = 0; i < n; i++)
        {
            uint b = (uint)i / block, t = (uint)i % block;
            float X(uint k) => b * block + k < n ? x[b * block + k] : 0f;
            Assert.Equal(X(block - 1 - t) + 2 * X((t + 1) % block), y[i]);
        }
    }

    [Fact]
    public void Three_dimensional_indices_are_written_for_every_thread()
    {
        using var rt = new HostKernelRuntime();
        var grid = new Dim3(3, 2, 4);
        var block = new Dim3(5, 3, 2);
        var o = Emu.Pinned<uint>((int)(12 * grid.Count * block.Count));
        using var a = new KernelArgs().Ptr(o);
        rt.Launch("selftest_indices", grid, block, 0, IntPtr.Zero, a.Pointers);
        var k = 0;
        for (uint z = 0; z < grid.Z; z++)
        for (uint y = 0; y < grid.Y; y++)
        for (uint x = 0; x < grid.X; x++)
        for (uint tz = 0; tz < block.Z; tz++)
        for (uint ty = 0; ty < block.Y; ty++)
        for (uint tx = 0; tx < block.X; tx++, k += 12)
            Assert.Equal(new[] { tx, ty, tz, x, y, z, block.X, block.Y, block.Z, grid.X, grid.Y, grid.Z }, o[k..(k + 12)]);
    }

    [Theory]
    [InlineData(1ul)]
    [InlineData(2ul)]
    [InlineData(20240611ul)]
    public void Missing_syncthreads_is_right_in_order_and_wrong_under_the_shuffled_schedule(ulong seed)
    {
        const int n = 4 * 256;
        var x = Emu.IntegerFloats(n, 5, 1, 9);
        int Wrong(HostEmulationOptions options)
        {
            using var rt = new HostKernelRuntime(options);
            var y = Emu.Pinned<float>(n);
            using var a = new KernelArgs().Ptr(x).Ptr(y).Add(n);
            rt.Launch("selftest_race_neighbor_sum", new Dim3(4), new Dim3(256), 0, IntPtr.Zero, a.Pointers);
            return Enumerable.Range(0, n).Count(i => y[i] != x[i] + (i % 256 > 0 ? x[i - 1] : 0f));
        }
        Assert.Equal(0, Wrong(new HostEmulationOptions()));
        // A shuffled order puts some thread before its left neighbour in every block (all but 1 in 256!
        // orders do): that thread reads stale shared memory, which never holds an input value.
        Assert.True(Wrong(new HostEmulationOptions(ShuffledSchedule: true, Seed: seed)) >= 4);
    }

    [Fact]
    public void Runtimes_with_different_schedules_on_parallel_threads_do_not_interfere()
    {
        const int n = 256;
        var x = Emu.IntegerFloats(n, 6, 1, 9);
        var failures = 0;
        Parallel.For(0, 16, i =>
        {
            using var rt = new HostKernelRuntime(new HostEmulationOptions(ShuffledSchedule: i % 2 == 1, Seed: (ulong)i));
            var y = Emu.Pinned<float>(n);
            using var a = new KernelArgs().Ptr(x).Ptr(y).Add(n);
            rt.Launch("selftest_race_neighbor_sum", new Dim3(1), new Dim3(256), 0, IntPtr.Zero, a.Pointers);
            var ok = Enumerable.Range(0, n).All(j => y[j] == x[j] + (j > 0 ? x[j - 1] : 0f));
            if (ok == (i % 2 == 1)) // in order must be right, shuffled must be caught
                Interlocked.Increment(ref failures);
        });
        Assert.Equal(0, failures);
    }

    [Fact]
    public void Launch_allocates_nothing_on_the_hot_path()
    {
        using var rt = new HostKernelRuntime(new HostEmulationOptions(Workers: 1));
        const int n = 64;
        var x = Emu.IntegerFloats(n, 7);
        var sums = Emu.Pinned<float>(1);
        using var a = new KernelArgs().Ptr(x).Ptr(sums).Add(n);
        rt.Launch("selftest_block_sum", new Dim3(1), new Dim3(64), 0, IntPtr.Zero, a.Pointers); // warm-up
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++)
            rt.Launch("selftest_block_sum", new Dim3(1), new Dim3(64), 0, IntPtr.Zero, a.Pointers);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(x.Sum(), sums[0]);
    }
}

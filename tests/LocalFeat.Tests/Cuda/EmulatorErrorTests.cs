using LocalFeat.Cuda;
using Xunit;

namespace LocalFeat.Tests.Cuda;

/// <summary>Failures of the host emulation surface as <see cref="CudaException"/> naming the call and the reason.</summary>
public sealed unsafe class EmulatorErrorTests
{
    [Fact]
    public void Diverged_barrier_throws_and_the_process_and_next_launch_survive()
    {
        using var rt = new HostKernelRuntime();
        var y = Emu.Pinned<float>(4 * 64);
        using (var a = new KernelArgs().Ptr(y).Add(33))
        {
            var e = Assert.Throws<CudaException>(() =>
                rt.Launch("selftest_diverged_barrier", new Dim3(4), new Dim3(64), 0, IntPtr.Zero, a.Pointers));
            Assert.StartsWith("lfk_launch(selftest_diverged_barrier): barrier divergence: 31 of 64 threads of block (", e.Message);
            Assert.EndsWith("exited while the others wait at __syncthreads()", e.Message);
        }
        using (var a = new KernelArgs().Ptr(y).Add(64))
            rt.Launch("selftest_diverged_barrier", new Dim3(4), new Dim3(64), 0, IntPtr.Zero, a.Pointers);
        for (var i = 0; i < y.Length; i++)
            Assert.Equal(i % 64 + 1, y[i]);
    }

    [Theory]
    [InlineData(0u, 1u, 1u, 32u, 1u, 1u, 0u, "grid (0,1,1) has a zero dimension")]
    [InlineData(1u, 1u, 1u, 32u, 0u, 1u, 0u, "block (32,0,1) has a zero dimension")]
    [InlineData(1u, 1u, 1u, 1025u, 1u, 1u, 0u, "blockDim.x = 1025 exceeds 1024")]
    [InlineData(1u, 1u, 1u, 32u, 32u, 2u, 0u, "block (32,32,2) has 2048 threads; the limit is 1024")]
    [InlineData(1u, 1u, 1u, 1u, 1u, 65u, 0u, "blockDim.z = 65 exceeds 64")]
    [InlineData(1u, 65536u, 1u, 32u, 1u, 1u, 0u, "gridDim.y = 65536 exceeds 65535")]
    [InlineData(1u, 1u, 65536u, 32u, 1u, 1u, 0u, "gridDim.z = 65536 exceeds 65535")]
    [InlineData(1u, 1u, 1u, 32u, 1u, 1u, 232449u, "232449 bytes of dynamic shared memory exceed the limit of 232448 bytes")]
    public void Bad_launch_configuration_throws_naming_the_problem(uint gx, uint gy, uint gz, uint bx, uint by, uint bz,
        uint shared, string expected)
    {
        using var rt = new HostKernelRuntime();
        var x = Emu.Pinned<float>(1);
        using var a = new KernelArgs().Ptr(x).Ptr(x).Add(0);
        var e = Assert.Throws<CudaException>(() =>
            rt.Launch("selftest_block_sum", new Dim3(gx, gy, gz), new Dim3(bx, by, bz), shared, IntPtr.Zero, a.Pointers));
        Assert.Equal($"lfk_launch(selftest_block_sum): {expected}", e.Message.Split(" (227 KiB)")[0]);
    }

    [Fact]
    public void Largest_dynamic_shared_memory_is_accepted()
    {
        using var rt = new HostKernelRuntime();
        const int n = 64;
        var x = Emu.IntegerFloats(n, 9);
        var y = Emu.Pinned<float>(n);
        using var a = new KernelArgs().Ptr(x).Ptr(y).Add(n);
        rt.Launch("selftest_dynamic_shared", new Dim3(1), new Dim3(64), HostEmulation.MaxDynamicSharedBytes, IntPtr.Zero, a.Pointers);
        Assert.Equal(x[63] + 2 * x[1], y[0]);
    }

    [Fact]
    public void Unknown_kernel_throws_naming_it()
    {
        using var rt = new HostKernelRuntime();
        var e = Assert.Throws<CudaException>(() =>
            rt.Launch("no_such_kernel", new Dim3(1), new Dim3(1), 0, IntPtr.Zero, null));
        Assert.StartsWith("lfk_launch(no_such_kernel): unknown kernel", e.Message);
    }

    [Fact]
    public void Null_arguments_for_a_kernel_with_parameters_throw()
    {
        using var rt = new HostKernelRuntime();
        var e = Assert.Throws<CudaException>(() =>
            rt.Launch("selftest_block_sum", new Dim3(1), new Dim3(32), 0, IntPtr.Zero, null));
        Assert.Equal("lfk_launch(selftest_block_sum): params is null but the kernel takes 3 parameters", e.Message);
    }

    [Fact]
    public void Bad_worker_count_throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new HostKernelRuntime(new HostEmulationOptions(Workers: 257)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new HostKernelRuntime(new HostEmulationOptions(Workers: -1)));
    }

    [Fact]
    public void Disposed_runtime_throws()
    {
        var rt = new HostKernelRuntime();
        rt.Dispose();
        Assert.Throws<ObjectDisposedException>(() => rt.Launch("selftest_indices", new Dim3(1), new Dim3(1), 0, IntPtr.Zero, null));
    }
}

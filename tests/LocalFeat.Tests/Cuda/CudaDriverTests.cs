using LocalFeat.Cuda;
using LocalFeat.Cuda.Cublas;
using LocalFeat.Cuda.Driver;
using LocalFeat.Cuda.Kernels;
using Xunit;

namespace LocalFeat.Tests.Cuda;

/// <summary>The CUDA driver API, the device runtime and cuBLAS on a real device; skipped (with the reason) without one.</summary>
public sealed unsafe class CudaDriverTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "lf-cuda-test-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir))
            Directory.Delete(_dir, recursive: true);
    }

    private CudaKernelRuntime NewRuntime() => new(0, new KernelCache(_dir, TestKernels.DeviceSources()));

    [GpuFact]
    public void Device_query_reports_sane_limits()
    {
        Assert.True(CudaDriver.DeviceCount >= 1);
        Assert.True(CudaDriver.Version >= 11000, $"driver version {CudaDriver.Version}");
        var d = CudaDevice.Get(0);
        Assert.False(string.IsNullOrWhiteSpace(d.Name));
        Assert.True(d.ComputeCapability.Major >= 5, d.ToString());
        Assert.True(d.MultiprocessorCount > 0);
        Assert.Equal(32, d.WarpSize);
        Assert.Equal(1024, d.MaxThreadsPerBlock);
        Assert.Equal(48 * 1024, d.MaxSharedMemoryPerBlock);
        Assert.True(d.MaxSharedMemoryPerBlockOptin >= d.MaxSharedMemoryPerBlock);
        Assert.True(d.TotalMemory > 0);
        Assert.Throws<ArgumentOutOfRangeException>(() => CudaDevice.Get(CudaDriver.DeviceCount));
    }

    [GpuFact]
    public void Saxpy_on_device_matches_cpu()
    {
        using var rt = NewRuntime();
        const int n = 1000;
        const float a = 1.5f;
        var x = Enumerable.Range(0, n).Select(i => MathF.Sin(i)).ToArray();
        var y = Enumerable.Range(0, n).Select(i => MathF.Cos(i)).ToArray();
        using var dx = DeviceMemory.FromHost<float>(rt.Context, x);
        using var dy = DeviceMemory.FromHost<float>(rt.Context, y);

        var count = n;
        var alpha = a;
        var px = dx.Pointer;
        var py = dy.Pointer;
        void** args = stackalloc void*[] { &count, &alpha, &px, &py };
        rt.Launch("lf_test_saxpy", new Dim3((n + 255) / 256), new Dim3(256), 0, IntPtr.Zero, args);
        rt.Synchronize();

        var result = dy.ToArray<float>();
        for (var i = 0; i < n; i++)
            Assert.True(MathF.Abs(result[i] - (a * x[i] + y[i])) <= 1e-6f, $"y[{i}] = {result[i]}, expected {a * x[i] + y[i]}");
        Assert.Equal(1, rt.Function("lf_test_saxpy").StaticSharedBytes / 1024);
    }

    [GpuFact]
    public void Dynamic_shared_memory_above_48_KiB_is_opted_into()
    {
        using var rt = NewRuntime();
        var n = Math.Min(rt.Device.MaxSharedMemoryPerBlockOptin, 96 * 1024) / sizeof(int);
        Assert.True(n * sizeof(int) > 48 * 1024, $"device opt-in limit {rt.Device.MaxSharedMemoryPerBlockOptin} B is not above 48 KiB");
        using var dout = DeviceMemory.Allocate(rt.Context, (ulong)(n * sizeof(int)));
        var p = dout.Pointer;
        var count = n;
        void** args = stackalloc void*[] { &p, &count };
        rt.Launch("lf_test_dynamic_shared", new Dim3(1), new Dim3(256), (uint)(n * sizeof(int)), IntPtr.Zero, args);
        rt.Synchronize();

        Assert.Equal(n * sizeof(int), rt.Function("lf_test_dynamic_shared").MaxDynamicSharedBytes);
        var result = dout.ToArray<int>();
        for (var i = 0; i < n; i++)
            Assert.Equal(n - 1 - i, result[i]);
    }

    [GpuFact]
    public void Launch_outside_the_limits_names_the_limit()
    {
        using var rt = NewRuntime();
        var dummy = 0UL;
        var v = 0f;
        var n = 0;
        void** args = stackalloc void*[] { &dummy, &v, &n };

        var e = Assert.Throws<CudaException>(() => rt.Launch("lf_test_fill", new Dim3(1), new Dim3(64, 32), 0, IntPtr.Zero, args));
        Assert.Contains("2048 threads per block exceeds the device's 1024", e.Message);
        // __launch_bounds__(128): the kernel itself allows 128 threads.
        e = Assert.Throws<CudaException>(() => rt.Launch("lf_test_fill", new Dim3(1), new Dim3(256), 0, IntPtr.Zero, args));
        Assert.Contains("exceeds the kernel's 128", e.Message);
        e = Assert.Throws<CudaException>(() => rt.Launch("lf_test_fill", new Dim3(1), new Dim3(2048), 0, IntPtr.Zero, args));
        Assert.Contains("maximum block extents", e.Message);
        e = Assert.Throws<CudaException>(() => rt.Launch("lf_test_fill", new Dim3(0), new Dim3(32), 0, IntPtr.Zero, args));
        Assert.Contains("at least 1", e.Message);
        e = Assert.Throws<CudaException>(() => rt.Launch("lf_test_fill", new Dim3(1), new Dim3(32),
            (uint)rt.Device.MaxSharedMemoryPerBlockOptin + 1, IntPtr.Zero, args));
        Assert.Contains("shared memory exceeds", e.Message);
        e = Assert.Throws<CudaException>(() => rt.Launch("no_such_kernel", new Dim3(1), new Dim3(32), 0, IntPtr.Zero, args));
        Assert.Contains("no_such_kernel", e.Message);
    }

    [GpuFact]
    public void Invalid_module_image_names_the_call_and_error()
    {
        using var rt = NewRuntime();
        var e = Assert.Throws<CudaDriverException>(() => CudaModule.Load(rt.Context, [0x7f, (byte)'E', (byte)'L', (byte)'F', 1, 2, 3, 4, 0], "garbage"));
        Assert.StartsWith("cuModuleLoadData(garbage): CUDA_ERROR_", e.Message);
        Assert.Contains("(", e.Message); // the error string follows the name
    }

    [GpuFact]
    public void Memory_copy_memset_and_event_timing()
    {
        using var rt = NewRuntime();
        using var a = DeviceMemory.Allocate(rt.Context, 4096);
        using var b = DeviceMemory.Allocate(rt.Context, 4096);
        a.Fill(0xdeadbeefu);
        b.CopyFrom(a, 4096);
        Assert.All(b.ToArray<uint>(), w => Assert.Equal(0xdeadbeefu, w));
        b.Fill((byte)0x11);
        Assert.All(b.ToArray<byte>(), x => Assert.Equal(0x11, x));
        Assert.Throws<ArgumentOutOfRangeException>(() => a.CopyFrom<byte>(new byte[4097]));

        using var stream = CudaStream.Create(rt.Context);
        using var start = CudaEvent.Create(rt.Context);
        using var end = CudaEvent.Create(rt.Context);
        start.Record(stream.DangerousGetHandle());
        var p = a.Pointer;
        var value = 2.5f;
        var count = 1024;
        void** args = stackalloc void*[] { &p, &value, &count };
        rt.Launch("lf_test_fill", new Dim3(8), new Dim3(128), 0, stream.DangerousGetHandle(), args);
        end.Record(stream.DangerousGetHandle());
        end.Synchronize();
        Assert.True(CudaEvent.ElapsedMilliseconds(start, end) >= 0);
        stream.Synchronize();
        Assert.All(a.ToArray<float>(), x => Assert.Equal(2.5f, x));
    }

    [GpuFact]
    public void Sgemm_matches_cpu_for_every_transpose()
    {
        using var rt = NewRuntime();
        var rng = new Random(7);
        const int m = 37, n = 23, k = 51;
        foreach (var (ta, tb) in new[] { (false, false), (true, false), (false, true), (true, true) })
        {
            // Column-major storage: A is m×k (or k×m when transposed), lda = its row count.
            int rowsA = ta ? k : m, colsA = ta ? m : k, rowsB = tb ? n : k, colsB = tb ? k : n;
            var a = Enumerable.Range(0, rowsA * colsA).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
            var b = Enumerable.Range(0, rowsB * colsB).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
            var c = Enumerable.Range(0, m * n).Select(_ => (float)rng.NextDouble()).ToArray();
            const float alpha = 0.75f, beta = -0.5f;
            float A(int i, int l) => ta ? a[l + i * rowsA] : a[i + l * rowsA];
            float B(int l, int j) => tb ? b[j + l * rowsB] : b[l + j * rowsB];

            using var da = DeviceMemory.FromHost<float>(rt.Context, a);
            using var db = DeviceMemory.FromHost<float>(rt.Context, b);
            using var dc = DeviceMemory.FromHost<float>(rt.Context, c);
            rt.Sgemm(ta, tb, m, n, k, alpha, (IntPtr)da.Pointer, rowsA, (IntPtr)db.Pointer, rowsB, beta, (IntPtr)dc.Pointer, m, IntPtr.Zero);
            rt.Synchronize();
            var result = dc.ToArray<float>();

            for (var j = 0; j < n; j++)
                for (var i = 0; i < m; i++)
                {
                    double dot = 0;
                    for (var l = 0; l < k; l++)
                        dot += (double)A(i, l) * B(l, j);
                    var expected = alpha * dot + beta * c[i + j * m];
                    Assert.True(Math.Abs(result[i + j * m] - expected) <= 1e-5 + 1e-4 * Math.Abs(expected),
                        $"trans ({ta},{tb}) C[{i},{j}] = {result[i + j * m]}, expected {expected}");
                }
        }
    }

    [GpuFact]
    public void Strided_batched_sgemm_matches_single_gemms()
    {
        using var rt = NewRuntime();
        const int m = 8, n = 5, k = 6, batch = 3;
        var rng = new Random(3);
        var a = Enumerable.Range(0, m * k * batch).Select(_ => (float)rng.NextDouble()).ToArray();
        var b = Enumerable.Range(0, k * n * batch).Select(_ => (float)rng.NextDouble()).ToArray();
        using var da = DeviceMemory.FromHost<float>(rt.Context, a);
        using var db = DeviceMemory.FromHost<float>(rt.Context, b);
        using var dc = DeviceMemory.Allocate(rt.Context, (ulong)(m * n * batch * sizeof(float)));
        rt.SgemmStridedBatched(false, false, m, n, k, 1f, (IntPtr)da.Pointer, m, m * k, (IntPtr)db.Pointer, k, k * n,
            0f, (IntPtr)dc.Pointer, m, m * n, batch, IntPtr.Zero);
        rt.Synchronize();
        var c = dc.ToArray<float>();
        for (var s = 0; s < batch; s++)
            for (var j = 0; j < n; j++)
                for (var i = 0; i < m; i++)
                {
                    double dot = 0;
                    for (var l = 0; l < k; l++)
                        dot += (double)a[s * m * k + i + l * m] * b[s * k * n + l + j * k];
                    Assert.True(Math.Abs(c[s * m * n + i + j * m] - dot) <= 1e-5 + 1e-4 * Math.Abs(dot));
                }
        Assert.Throws<ArgumentOutOfRangeException>(() => rt.Sgemm(false, false, m, n, k, 1f, (IntPtr)da.Pointer, m - 1,
            (IntPtr)db.Pointer, k, 0f, (IntPtr)dc.Pointer, m, IntPtr.Zero));
    }
}

/// <summary>The GPU tests' skip condition, checked where there is no GPU (here it must say why).</summary>
public sealed class GpuFactTests
{
    [Fact]
    public void Skip_reason_is_given_exactly_when_no_device_is_usable()
    {
        var available = CudaDriver.IsDeviceAvailable(out var reason);
        var attribute = new GpuFactAttribute();
        if (available)
        {
            Assert.Null(attribute.Skip);
        }
        else
        {
            Assert.Equal(reason, attribute.Skip);
            Assert.False(string.IsNullOrWhiteSpace(reason));
        }
    }

    [Fact]
    public void Sgemm_argument_checks_name_the_argument()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => CublasHandle.ValidateGemm(true, false, 4, 3, 5, 4, 5, 4, 1));
        Assert.Equal("lda", e.ParamName);
        e = Assert.Throws<ArgumentOutOfRangeException>(() => CublasHandle.ValidateGemm(false, false, 4, 3, 5, 4, 5, 3, 1));
        Assert.Equal("ldc", e.ParamName);
        CublasHandle.ValidateGemm(false, true, 4, 3, 5, 4, 3, 4, 1);
    }
}

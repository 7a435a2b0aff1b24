using System.Collections.Concurrent;
using LocalFeat.Cuda.Cublas;
using LocalFeat.Cuda.Driver;
using LocalFeat.Cuda.Kernels;

namespace LocalFeat.Cuda;

/// <summary>
/// Runs the kernels of <c>kernels/</c> on a CUDA device: the device's primary context (shared with the CUDA
/// runtime and libtorch, so their pointers and streams are valid), modules compiled by NVRTC for the
/// device's arch through the <see cref="KernelCache"/> and loaded on first use, one CUfunction per kernel name
/// cached, SGEMM through cuBLAS.
/// </summary>
public sealed unsafe class CudaKernelRuntime : IKernelRuntime
{
    /// <summary>Dynamic shared memory a kernel may use without opting in (CUDA's static 48 KiB limit).</summary>
    public const int DefaultSharedLimit = 48 * 1024;

    private readonly KernelCache _cache;
    private readonly ConcurrentDictionary<string, KernelFunction> _functions = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Lazy<CudaModule>> _modules = new(StringComparer.Ordinal);
    private readonly object _cublasLock = new();
    private CublasHandle? _cublas;
    private volatile bool _disposed;

    /// <param name="deviceOrdinal">CUDA device ordinal.</param>
    /// <param name="cache">Compile cache (and with it, the kernel sources); <see cref="KernelCache.Default"/> when null.</param>
    public CudaKernelRuntime(int deviceOrdinal = 0, KernelCache? cache = null)
    {
        CudaDriver.Initialize();
        Device = CudaDevice.Get(deviceOrdinal);
        Target = KernelTarget.ForDevice(Device.ComputeCapability.Major, Device.ComputeCapability.Minor);
        _cache = cache ?? KernelCache.Default;
        Context = PrimaryContext.Retain(Device);
        Name = $"cuda:{Device.Ordinal} {Device.Name} (sm_{Device.Arch}, kernels as {Target.ArchName})";
    }

    public string Name { get; }
    public CudaDevice Device { get; }
    public PrimaryContext Context { get; }

    /// <summary>What kernels are compiled to for this device: CUBIN for its arch, or PTX when NVRTC does not know it.</summary>
    public KernelTarget Target { get; }

    /// <summary>A loaded kernel: its CUfunction and the limits a launch is checked against.</summary>
    public sealed class KernelFunction
    {
        internal KernelFunction(string name, string file, IntPtr handle, int maxThreadsPerBlock, int staticSharedBytes,
            int registers, int localBytes, int maxDynamicSharedBytes)
        {
            Name = name;
            File = file;
            Handle = handle;
            MaxThreadsPerBlock = maxThreadsPerBlock;
            StaticSharedBytes = staticSharedBytes;
            Registers = registers;
            LocalBytes = localBytes;
            _maxDynamicSharedBytes = maxDynamicSharedBytes;
        }

        public string Name { get; }
        public string File { get; }

        /// <summary>The CUfunction.</summary>
        public IntPtr Handle { get; }

        /// <summary>CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK: the most threads a block may have given the kernel's registers and launch bounds.</summary>
        public int MaxThreadsPerBlock { get; }

        public int StaticSharedBytes { get; }
        public int Registers { get; }

        /// <summary>Local memory per thread (stack frame, spills).</summary>
        public int LocalBytes { get; }

        private readonly object _attributeLock = new();
        private int _maxDynamicSharedBytes;

        /// <summary>Current CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES; raised on demand by launches.</summary>
        public int MaxDynamicSharedBytes => Volatile.Read(ref _maxDynamicSharedBytes);

        internal void RaiseDynamicShared(int bytes)
        {
            lock (_attributeLock)
            {
                if (bytes <= _maxDynamicSharedBytes)
                    return;
                CudaDriver.Check(CudaDriverNative.cuFuncSetAttribute(Handle, CuFunctionAttribute.MaxDynamicSharedSizeBytes, bytes),
                    $"cuFuncSetAttribute({Name}, MAX_DYNAMIC_SHARED_SIZE_BYTES={bytes})");
                Volatile.Write(ref _maxDynamicSharedBytes, bytes);
            }
        }
    }

    /// <summary>The loaded kernel <paramref name="kernel"/>; compiles and loads its module on first use.</summary>
    public KernelFunction Function(string kernel)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _functions.TryGetValue(kernel, out var f) ? f : LoadFunction(kernel);
    }

    public void Launch(string kernel, Dim3 grid, Dim3 block, uint sharedBytes, IntPtr stream, void** args)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        // Hot path: a dictionary hit, a few comparisons and two driver calls; nothing allocated.
        if (!_functions.TryGetValue(kernel, out var f))
            f = LoadFunction(kernel);
        Validate(f, grid, block, sharedBytes);
        if (sharedBytes > (uint)f.MaxDynamicSharedBytes)
            f.RaiseDynamicShared((int)sharedBytes);
        Context.MakeCurrent();
        var rc = CudaDriverNative.cuLaunchKernel(f.Handle, grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z,
            sharedBytes, stream, args, null);
        if (rc != 0)
            throw new CudaDriverException($"cuLaunchKernel({kernel}, grid {Show(grid)}, block {Show(block)}, {sharedBytes} B dynamic shared)",
                rc, CudaDriver.Describe(rc));
    }

    public void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha, IntPtr a, int lda,
        IntPtr b, int ldb, float beta, IntPtr c, int ldc, IntPtr stream)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        // One handle, shared: SetStream + Sgemm must not interleave with another thread's pair.
        lock (_cublasLock)
        {
            _cublas ??= CublasHandle.Create(Context);
            Context.MakeCurrent();
            _cublas.SetStream(stream);
            _cublas.Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        }
    }

    /// <summary>Strided-batched SGEMM on <paramref name="stream"/> (see <see cref="CublasHandle.SgemmStridedBatched"/>).</summary>
    public void SgemmStridedBatched(bool transA, bool transB, int m, int n, int k, float alpha, IntPtr a, int lda, long strideA,
        IntPtr b, int ldb, long strideB, float beta, IntPtr c, int ldc, long strideC, int batchCount, IntPtr stream)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        lock (_cublasLock)
        {
            _cublas ??= CublasHandle.Create(Context);
            Context.MakeCurrent();
            _cublas.SetStream(stream);
            _cublas.SgemmStridedBatched(transA, transB, m, n, k, alpha, a, lda, strideA, b, ldb, strideB, beta, c, ldc, strideC, batchCount);
        }
    }

    /// <summary>Waits for all work on the device's primary context.</summary>
    public void Synchronize() => Context.Synchronize();

    /// <summary>Checks a launch against the device's and the kernel's limits, naming what is exceeded.</summary>
    private void Validate(KernelFunction f, Dim3 grid, Dim3 block, uint sharedBytes)
    {
        var d = Device;
        if (grid.X == 0 || grid.Y == 0 || grid.Z == 0 || block.X == 0 || block.Y == 0 || block.Z == 0)
            throw LaunchError(f, grid, block, sharedBytes, "grid and block extents must be at least 1");
        if (block.X > d.MaxBlockDim.X || block.Y > d.MaxBlockDim.Y || block.Z > d.MaxBlockDim.Z)
            throw LaunchError(f, grid, block, sharedBytes, $"block exceeds the device's maximum block extents {Show(d.MaxBlockDim)}");
        if (grid.X > d.MaxGridDim.X || grid.Y > d.MaxGridDim.Y || grid.Z > d.MaxGridDim.Z)
            throw LaunchError(f, grid, block, sharedBytes, $"grid exceeds the device's maximum grid extents {Show(d.MaxGridDim)}");
        var threads = block.Count;
        if (threads > (ulong)d.MaxThreadsPerBlock)
            throw LaunchError(f, grid, block, sharedBytes, $"{threads} threads per block exceeds the device's {d.MaxThreadsPerBlock}");
        if (threads > (ulong)f.MaxThreadsPerBlock)
            throw LaunchError(f, grid, block, sharedBytes,
                $"{threads} threads per block exceeds the kernel's {f.MaxThreadsPerBlock} (its {f.Registers} registers per thread or __launch_bounds__)");
        if ((ulong)f.StaticSharedBytes + sharedBytes > (ulong)d.MaxSharedMemoryPerBlockOptin)
            throw LaunchError(f, grid, block, sharedBytes,
                $"{f.StaticSharedBytes} B static + {sharedBytes} B dynamic shared memory exceeds the device's {d.MaxSharedMemoryPerBlockOptin} B per block");
    }

    private static CudaException LaunchError(KernelFunction f, Dim3 grid, Dim3 block, uint sharedBytes, string why) =>
        new($"cuLaunchKernel({f.Name}, grid {Show(grid)}, block {Show(block)}, {sharedBytes} B dynamic shared): {why}");

    private static string Show(Dim3 d) => $"({d.X},{d.Y},{d.Z})";

    private KernelFunction LoadFunction(string kernel)
    {
        var file = _cache.Sources.FileDefining(kernel);
        var lazy = _modules.GetOrAdd(file, fileName => new Lazy<CudaModule>(
            () => CudaModule.Load(Context, _cache.Get(fileName, Target).Image, $"{fileName} for {Target.ArchName}"),
            LazyThreadSafetyMode.ExecutionAndPublication));
        CudaModule module;
        try
        {
            module = lazy.Value;
        }
        catch
        {
            _modules.TryRemove(new KeyValuePair<string, Lazy<CudaModule>>(file, lazy));
            throw;
        }

        return _functions.GetOrAdd(kernel, name =>
        {
            Context.MakeCurrent();
            var handle = module.GetFunction(name);
            int Attr(CuFunctionAttribute a)
            {
                CudaDriver.Check(CudaDriverNative.cuFuncGetAttribute(out var v, a, handle), $"cuFuncGetAttribute({name}, {a})");
                return v;
            }
            return new KernelFunction(name, file, handle,
                Attr(CuFunctionAttribute.MaxThreadsPerBlock), Attr(CuFunctionAttribute.SharedSizeBytes),
                Attr(CuFunctionAttribute.NumRegs), Attr(CuFunctionAttribute.LocalSizeBytes),
                Attr(CuFunctionAttribute.MaxDynamicSharedSizeBytes));
        });
    }

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        lock (_cublasLock)
        {
            _cublas?.Dispose();
            _cublas = null;
        }
        _functions.Clear();
        foreach (var m in _modules.Values)
            if (m.IsValueCreated)
                m.Value.Dispose();
        _modules.Clear();
        Context.Dispose();
    }
}

using System.Collections.Concurrent;
using System.Text;

namespace LocalFeat.Cuda;

/// <summary>Settings of the host emulation.</summary>
/// <param name="Workers">Worker threads the blocks are spread over; 0 = hardware concurrency.</param>
/// <param name="ShuffledSchedule">
/// Run the threads of a block in a random order between barriers (seeded by <paramref name="Seed"/> and the
/// block index, so reproducible), so that a missing <c>__syncthreads()</c> changes results. Off: index order.
/// </param>
/// <param name="Seed">Seed of the shuffled schedule.</param>
public sealed record HostEmulationOptions(int Workers = 0, bool ShuffledSchedule = false, ulong Seed = 0);

/// <summary>
/// <see cref="IKernelRuntime"/> on the CPU: launches the kernels of <c>kernels/</c> through the host emulation
/// (<c>liblocalfeat_kernels_host.so</c>) on host memory, and runs GEMM with the CPU BLAS. Launches are
/// synchronous (the stream is ignored): when <see cref="Launch"/> returns, every block has finished.
/// Thread-safe; launches from several threads run concurrently.
/// </summary>
public sealed unsafe class HostKernelRuntime : IKernelRuntime
{
    // UTF-8, NUL-terminated kernel names, made once per name: a launch allocates nothing.
    private static readonly ConcurrentDictionary<string, byte[]> Utf8Names = new(StringComparer.Ordinal);

    private readonly int _workers;
    private readonly int _shuffled;
    private readonly ulong _seed;
    private bool _disposed;

    public HostKernelRuntime(HostEmulationOptions? options = null)
    {
        Options = options ?? new HostEmulationOptions();
        if (Options.Workers is < 0 or > 256)
            throw new ArgumentOutOfRangeException(nameof(options),
                $"HostEmulationOptions.Workers = {Options.Workers}: expected 0 (hardware concurrency) or 1..256");
        HostEmulation.EnsureLoaded();
        _workers = Options.Workers;
        _shuffled = Options.ShuffledSchedule ? 1 : 0;
        _seed = Options.Seed;
        var workers = _workers == 0 ? $"{Environment.ProcessorCount} workers" : $"{_workers} workers";
        Name = Options.ShuffledSchedule
            ? $"host emulation ({workers}, shuffled schedule, seed {_seed})"
            : $"host emulation ({workers})";
    }

    public HostEmulationOptions Options { get; }

    public string Name { get; }

    /// <summary>Names of the kernels the host library contains, sorted.</summary>
    public static IReadOnlyList<string> KernelNames => HostEmulation.KernelNames();

    public void Launch(string kernel, Dim3 grid, Dim3 block, uint sharedBytes, IntPtr stream, void** args)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(kernel);
        if (!Utf8Names.TryGetValue(kernel, out var name))
            name = Utf8Names.GetOrAdd(kernel, static k => Encoding.UTF8.GetBytes(k + "\0"));
        // The schedule and worker count are settings of the calling native thread: set them for this
        // runtime on every launch (two cheap calls), so runtimes with different options never interfere.
        HostEmulation.lfk_set_schedule(_shuffled, _seed);
        HostEmulation.lfk_set_workers(_workers);
        int rc;
        fixed (byte* p = name)
            rc = HostEmulation.lfk_launch(p, grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z, sharedBytes, args);
        if (rc != 0)
            throw new CudaException(HostEmulation.LastError());
    }

    public void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha, IntPtr a, int lda,
        IntPtr b, int ldb, float beta, IntPtr c, int ldc, IntPtr stream)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        HostBlas.Gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }

    /// <summary><see cref="Sgemm"/> over <paramref name="batchCount"/> matrices at the given element strides (as cuBLAS).</summary>
    public void SgemmStridedBatched(bool transA, bool transB, int m, int n, int k, float alpha, IntPtr a, int lda, long strideA,
        IntPtr b, int ldb, long strideB, float beta, IntPtr c, int ldc, long strideC, int batchCount, IntPtr stream)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Cublas.CublasHandle.ValidateGemm(transA, transB, m, n, k, lda, ldb, ldc, batchCount);
        for (var i = 0; i < batchCount; i++)
            HostBlas.Gemm(transA, transB, m, n, k, alpha, a + (nint)(i * strideA * sizeof(float)), lda,
                b + (nint)(i * strideB * sizeof(float)), ldb, beta, c + (nint)(i * strideC * sizeof(float)), ldc);
    }

    public void Dispose() => _disposed = true;
}

namespace LocalFeat.Cuda;

/// <summary>Grid or block extent of a kernel launch, as CUDA's dim3.</summary>
public readonly record struct Dim3(uint X, uint Y = 1, uint Z = 1)
{
    public ulong Count => (ulong)X * Y * Z;
}

/// <summary>
/// Where a kernel from <c>kernels/</c> runs: on a CUDA device (NVRTC + driver API) or on the CPU
/// through the host emulation. Op code is written once against this interface.
/// </summary>
public interface IKernelRuntime : IDisposable
{
    /// <summary>Human-readable description, e.g. "cuda:0 NVIDIA H100 (sm_90)" or "host emulation (2 workers)".</summary>
    string Name { get; }

    /// <summary>
    /// Launches the <c>extern "C" __global__</c> kernel <paramref name="kernel"/> with the argument array
    /// <c>cuLaunchKernel</c> takes: <paramref name="args"/>[i] points at the value of parameter i.
    /// Pointers inside the values are device pointers for a device runtime and host pointers for the emulation.
    /// Throws <see cref="CudaException"/> naming the call and the reason on any failure.
    /// </summary>
    unsafe void Launch(string kernel, Dim3 grid, Dim3 block, uint sharedBytes, IntPtr stream, void** args);

    /// <summary>
    /// Column-major SGEMM as cuBLAS defines it: C = alpha·op(A)·op(B) + beta·C with op(X) = Xᵀ when trans is set;
    /// m×n result, inner dimension k.
    /// </summary>
    void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha, IntPtr a, int lda,
        IntPtr b, int ldb, float beta, IntPtr c, int ldc, IntPtr stream);
}

using System.Runtime.InteropServices;

namespace LocalFeat.Cuda.Cublas;

/// <summary>Raw cuBLAS v2 entry points (cublas_api.h). Call only after <see cref="NativeLibraries.Cublas"/> loaded the library.</summary>
internal static unsafe partial class CublasNative
{
    private const string Lib = NativeLibraries.CublasName;

    [LibraryImport(Lib)] internal static partial int cublasCreate_v2(out IntPtr handle);
    [LibraryImport(Lib)] internal static partial int cublasDestroy_v2(IntPtr handle);
    [LibraryImport(Lib)] internal static partial int cublasGetVersion_v2(IntPtr handle, out int version);
    [LibraryImport(Lib)] internal static partial int cublasSetStream_v2(IntPtr handle, IntPtr stream);

    // alpha/beta are host pointers (CUBLAS_POINTER_MODE_HOST, the default); matrices are device pointers.
    [LibraryImport(Lib)]
    internal static partial int cublasSgemm_v2(IntPtr handle, CublasOperation transa, CublasOperation transb,
        int m, int n, int k, float* alpha, IntPtr a, int lda, IntPtr b, int ldb, float* beta, IntPtr c, int ldc);

    [LibraryImport(Lib)]
    internal static partial int cublasSgemmStridedBatched(IntPtr handle, CublasOperation transa, CublasOperation transb,
        int m, int n, int k, float* alpha, IntPtr a, int lda, long strideA, IntPtr b, int ldb, long strideB,
        float* beta, IntPtr c, int ldc, long strideC, int batchCount);
}

/// <summary>cublasOperation_t.</summary>
public enum CublasOperation
{
    N = 0,
    T = 1,
    C = 2,
}

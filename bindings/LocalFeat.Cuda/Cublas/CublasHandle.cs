using System.Runtime.InteropServices;
using LocalFeat.Cuda.Driver;

namespace LocalFeat.Cuda.Cublas;

/// <summary>
/// A cuBLAS handle (cublasCreate/cublasDestroy). cuBLAS runs in the CUDA runtime's context of the device, which
/// is the device's primary context, so create it with that context current (see <see cref="Create"/>).
/// A handle is not safe for concurrent use from several threads: callers serialise (as <see cref="CudaKernelRuntime"/> does).
/// </summary>
public sealed unsafe class CublasHandle : SafeHandle
{
    private CublasHandle() : base(IntPtr.Zero, ownsHandle: true) { }

    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <summary>Creates a handle for the device of <paramref name="context"/> (made current first).</summary>
    public static CublasHandle Create(PrimaryContext context)
    {
        _ = NativeLibraries.Cublas;
        context.MakeCurrent();
        var h = new CublasHandle();
        Check(CublasNative.cublasCreate_v2(out var raw), "cublasCreate");
        h.SetHandle(raw);
        return h;
    }

    /// <summary>cuBLAS version (e.g. 120304 for 12.3.4, per cublasGetVersion).</summary>
    public int Version
    {
        get
        {
            Check(CublasNative.cublasGetVersion_v2(handle, out var v), "cublasGetVersion");
            return v;
        }
    }

    /// <summary>Makes later calls run on <paramref name="stream"/> (a CUstream / cudaStream_t; IntPtr.Zero = default stream).</summary>
    public void SetStream(IntPtr stream) => Check(CublasNative.cublasSetStream_v2(handle, stream), "cublasSetStream");

    /// <summary>Column-major C = alpha·op(A)·op(B) + beta·C, C m×n, inner dimension k; device pointers.</summary>
    public void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha, IntPtr a, int lda,
        IntPtr b, int ldb, float beta, IntPtr c, int ldc)
    {
        ValidateGemm(transA, transB, m, n, k, lda, ldb, ldc, 1);
        Check(CublasNative.cublasSgemm_v2(handle, Op(transA), Op(transB), m, n, k, &alpha, a, lda, b, ldb, &beta, c, ldc),
            "cublasSgemm");
    }

    /// <summary><see cref="Sgemm"/> over <paramref name="batchCount"/> matrices at the given element strides.</summary>
    public void SgemmStridedBatched(bool transA, bool transB, int m, int n, int k, float alpha, IntPtr a, int lda, long strideA,
        IntPtr b, int ldb, long strideB, float beta, IntPtr c, int ldc, long strideC, int batchCount)
    {
        ValidateGemm(transA, transB, m, n, k, lda, ldb, ldc, batchCount);
        Check(CublasNative.cublasSgemmStridedBatched(handle, Op(transA), Op(transB), m, n, k, &alpha, a, lda, strideA,
            b, ldb, strideB, &beta, c, ldc, strideC, batchCount), "cublasSgemmStridedBatched");
    }

    /// <summary>The checks cuBLAS makes (it answers only CUBLAS_STATUS_INVALID_VALUE), with the reason.</summary>
    public static void ValidateGemm(bool transA, bool transB, int m, int n, int k, int lda, int ldb, int ldc, int batchCount)
    {
        if (m < 0 || n < 0 || k < 0 || batchCount < 0)
            throw new ArgumentOutOfRangeException(nameof(m), $"sgemm: sizes must be non-negative (m={m}, n={n}, k={k}, batch={batchCount})");
        var rowsA = transA ? k : m;
        var rowsB = transB ? n : k;
        if (lda < Math.Max(1, rowsA))
            throw new ArgumentOutOfRangeException(nameof(lda), $"sgemm: lda={lda} < rows of A as stored ({rowsA})");
        if (ldb < Math.Max(1, rowsB))
            throw new ArgumentOutOfRangeException(nameof(ldb), $"sgemm: ldb={ldb} < rows of B as stored ({rowsB})");
        if (ldc < Math.Max(1, m))
            throw new ArgumentOutOfRangeException(nameof(ldc), $"sgemm: ldc={ldc} < m ({m})");
    }

    protected override bool ReleaseHandle() => CublasNative.cublasDestroy_v2(handle) == 0;

    private static CublasOperation Op(bool trans) => trans ? CublasOperation.T : CublasOperation.N;

    /// <summary>Throws "call: CUBLAS_STATUS_X (text)" for a non-success cublasStatus_t.</summary>
    internal static void Check(int status, string call)
    {
        if (status != 0)
            throw new CudaException($"{call}: {StatusName(status)}");
    }

    /// <summary>cublasStatus_t name and meaning (a table: cublasGetStatusName exists only in newer cuBLAS 11 builds).</summary>
    public static string StatusName(int status) => status switch
    {
        0 => "CUBLAS_STATUS_SUCCESS",
        1 => "CUBLAS_STATUS_NOT_INITIALIZED (the CUDA runtime could not be initialised)",
        3 => "CUBLAS_STATUS_ALLOC_FAILED (resource allocation failed)",
        7 => "CUBLAS_STATUS_INVALID_VALUE (an unsupported value or parameter was passed)",
        8 => "CUBLAS_STATUS_ARCH_MISMATCH (the device lacks a required feature)",
        11 => "CUBLAS_STATUS_MAPPING_ERROR (access to GPU memory space failed)",
        13 => "CUBLAS_STATUS_EXECUTION_FAILED (the GPU program failed to execute)",
        14 => "CUBLAS_STATUS_INTERNAL_ERROR (an internal cuBLAS operation failed)",
        15 => "CUBLAS_STATUS_NOT_SUPPORTED (the functionality requested is not supported)",
        16 => "CUBLAS_STATUS_LICENSE_ERROR",
        _ => $"cublasStatus_t {status}",
    };
}

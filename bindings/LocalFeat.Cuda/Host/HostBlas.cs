using System.Runtime.InteropServices;

namespace LocalFeat.Cuda;

/// <summary>
/// Column-major SGEMM on the CPU through the system CBLAS (OpenBLAS on Debian: without it the
/// reference BLAS is ~35× slower): the GEMM of <see cref="HostKernelRuntime"/>.
/// </summary>
public static unsafe class HostBlas
{
    /// <summary>Libraries tried, in order, for <c>cblas_sgemm</c>.</summary>
    public static readonly IReadOnlyList<string> Candidates =
        ["libopenblas.so.0", "libblas.so.3", "libopenblas.so", "libblas.so"];

    private const int ColMajor = 102, NoTrans = 111, Trans = 112;

    private static readonly Lazy<(IntPtr Fn, string File)> Sgemm = new(Load);

    /// <summary>The library that provided <c>cblas_sgemm</c>; throws <see cref="NativeLibraryMissingException"/>.</summary>
    public static string LibraryFile => Sgemm.Value.File;

    /// <summary>
    /// C = alpha·op(A)·op(B) + beta·C, column-major, as cuBLAS defines it (host pointers). Arguments are
    /// validated like cuBLAS does, with the reason in the exception.
    /// </summary>
    public static void Gemm(bool transA, bool transB, int m, int n, int k, float alpha, IntPtr a, int lda,
        IntPtr b, int ldb, float beta, IntPtr c, int ldc)
    {
        Cublas.CublasHandle.ValidateGemm(transA, transB, m, n, k, lda, ldb, ldc, 1);
        if (m == 0 || n == 0)
            return;
        if (c == IntPtr.Zero || (k > 0 && alpha != 0 && (a == IntPtr.Zero || b == IntPtr.Zero)))
            throw new ArgumentNullException(c == IntPtr.Zero ? nameof(c) : a == IntPtr.Zero ? nameof(a) : nameof(b),
                "sgemm: null matrix pointer");
        var fn = (delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void>)Sgemm.Value.Fn;
        fn(ColMajor, transA ? Trans : NoTrans, transB ? Trans : NoTrans, m, n, k, alpha, (float*)a, lda,
            (float*)b, ldb, beta, (float*)c, ldc);
    }

    private static (IntPtr, string) Load()
    {
        foreach (var name in Candidates)
        {
            if (NativeLibrary.TryLoad(name, out var h))
            {
                if (NativeLibrary.TryGetExport(h, "cblas_sgemm", out var fn))
                    return (fn, name);
                NativeLibrary.Free(h);
            }
        }
        throw new NativeLibraryMissingException("CPU BLAS with cblas_sgemm (apt: libopenblas0-pthread)", Candidates);
    }
}

using LocalFeat.Cuda;
using Xunit;

namespace LocalFeat.Tests.Cuda;

/// <summary>The host runtime's GEMM: column-major SGEMM as cuBLAS defines it, on the CPU BLAS.</summary>
public sealed unsafe class EmulatorGemmTests
{
    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void Sgemm_matches_a_naive_column_major_product(bool transA, bool transB)
    {
        using var rt = new HostKernelRuntime();
        const int m = 7, n = 5, k = 9, pad = 3;
        int rowsA = transA ? k : m, colsA = transA ? m : k, rowsB = transB ? n : k, colsB = transB ? k : n;
        int lda = rowsA + pad, ldb = rowsB + pad, ldc = m + pad;
        var a = Emu.IntegerFloats(lda * colsA, 1, -4, 4);
        var b = Emu.IntegerFloats(ldb * colsB, 2, -4, 4);
        var c = Emu.IntegerFloats(ldc * n, 3, -4, 4);
        var c0 = c.ToArray();
        const float alpha = 2f, beta = -1f;
        float A(int i, int j) => transA ? a[j + i * lda] : a[i + j * lda];
        float B(int i, int j) => transB ? b[j + i * ldb] : b[i + j * ldb];
        rt.Sgemm(transA, transB, m, n, k, alpha, (IntPtr)Emu.Address(a), lda, (IntPtr)Emu.Address(b), ldb, beta,
            (IntPtr)Emu.Address(c), ldc, IntPtr.Zero);
        for (var j = 0; j < n; j++)
        for (var i = 0; i < ldc; i++)
        {
            if (i >= m)
            {
                Assert.Equal(c0[i + j * ldc], c[i + j * ldc]); // padding rows untouched
                continue;
            }
            var s = 0f;
            for (var p = 0; p < k; p++)
                s += A(i, p) * B(p, j);
            Assert.Equal(alpha * s + beta * c0[i + j * ldc], c[i + j * ldc]);
        }
    }

    [Fact]
    public void Sgemm_strided_batched_runs_each_matrix()
    {
        using var rt = new HostKernelRuntime();
        const int m = 3, n = 2, k = 4, batch = 3;
        var a = Emu.IntegerFloats(m * k * batch, 4, -3, 3);
        var b = Emu.IntegerFloats(k * n * batch, 5, -3, 3);
        var c = Emu.Pinned<float>(m * n * batch);
        rt.SgemmStridedBatched(false, false, m, n, k, 1f, (IntPtr)Emu.Address(a), m, m * k, (IntPtr)Emu.Address(b), k, k * n,
            0f, (IntPtr)Emu.Address(c), m, m * n, batch, IntPtr.Zero);
        for (var q = 0; q < batch; q++)
        for (var j = 0; j < n; j++)
        for (var i = 0; i < m; i++)
        {
            var s = 0f;
            for (var p = 0; p < k; p++)
                s += a[q * m * k + i + p * m] * b[q * k * n + p + j * k];
            Assert.Equal(s, c[q * m * n + i + j * m]);
        }
    }

    [Fact]
    public void Sgemm_with_a_too_small_leading_dimension_throws()
    {
        using var rt = new HostKernelRuntime();
        var a = Emu.Pinned<float>(64);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => rt.Sgemm(false, false, 4, 4, 4, 1f, (IntPtr)Emu.Address(a), 3,
            (IntPtr)Emu.Address(a), 4, 0f, (IntPtr)Emu.Address(a), 4, IntPtr.Zero));
        Assert.Contains("lda=3", e.Message);
    }

    [Fact]
    public void Cpu_blas_is_openblas_or_the_system_blas()
    {
        Assert.Contains(HostBlas.LibraryFile, HostBlas.Candidates);
    }
}

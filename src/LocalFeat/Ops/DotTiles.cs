using TorchSharp;
using static TorchSharp.torch;

namespace LocalFeat.Ops;

/// <summary>
/// Dot products of row blocks, A[i0:i1]·B[j0:j1]ᵀ, through libtorch's GEMM (OpenBLAS) into reused tile
/// buffers: the mining ops select from one tile at a time and never hold the N×M matrix (FAISS's scheme).
/// </summary>
internal sealed class DotTiles : IDisposable
{
    public const int Rows = 1024, Cols = 1024;
    private readonly Tensor _a, _b;
    private readonly Dictionary<(long, long), Tensor> _buffers = new();

    public DotTiles(Tensor a, Tensor b)
    {
        _a = a;
        _b = b;
    }

    /// <summary>The tile's dots, row-major [i1−i0, j1−j0], valid until the next call with the same tile shape.</summary>
    private unsafe float* Compute(long i0, long i1, long j0, long j1)
    {
        var key = (i1 - i0, j1 - j0);
        if (!_buffers.TryGetValue(key, out var buffer))
        {
            buffer = torch.empty([key.Item1, key.Item2]).DetachFromDisposeScope();
            _buffers[key] = buffer;
        }
        using var scope = torch.NewDisposeScope();
        var ta = _a.narrow(0, i0, i1 - i0);
        var tb = _b.narrow(0, j0, j1 - j0).t();
        buffer.addmm_(ta, tb, beta: 0, alpha: 1);  // beta = 0: the old tile contents are ignored, NaN included
        return (float*)buffer.data_ptr();
    }

    /// <summary>
    /// Calls <paramref name="scan"/>(i, dots, j0, j1) with row i's dots against columns [j0, j1), for every row
    /// and tile: the rows of a tile in parallel, the tiles of one row in increasing j (so "first j wins" merges hold).
    /// </summary>
    public unsafe void ScanRows(RowScanner scan)
    {
        long n = _a.size(0), m = _b.size(0);
        for (long i0 = 0; i0 < n; i0 += Rows)
        {
            long i1 = Math.Min(n, i0 + Rows);
            for (long j0 = 0; j0 < m; j0 += Cols)
            {
                long j1 = Math.Min(m, j0 + Cols);
                float* dots = Compute(i0, i1, j0, j1);
                long width = j1 - j0, blocks = (i1 - i0 + 31) / 32;
                Parallel.For(0, blocks, blk =>
                {
                    for (long i = i0 + blk * 32; i < Math.Min(i1, i0 + blk * 32 + 32); i++)
                        scan((int)i, dots + (i - i0) * width, (int)j0, (int)j1);
                });
            }
        }
    }

    public unsafe delegate void RowScanner(int row, float* dots, int j0, int j1);

    public void Dispose()
    {
        foreach (var t in _buffers.Values) t.Dispose();
    }
}

using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace LocalFeat.Ops;

// Fused CPU mining: dot products one 1024×1024 tile at a time through OpenBLAS (DotTiles), then a
// vectorised scan of each tile row that applies the safe window and keeps (value, index) per lane.
// Memory: O((N+M)·D) plus one tile; never N×M.
public static partial class HardestNegatives
{
    internal static unsafe (Tensor index, Tensor distance) CpuForward(Tensor anchors, Tensor candidates, Tensor anchorPos, Tensor candidatePos,
        float radius, SafeWindow window)
    {
        int n = (int)anchors.size(0), m = (int)candidates.size(0), d = (int)anchors.size(1);
        var index = torch.empty([n], ScalarType.Int64);
        var distance = torch.empty([n]);
        var best = new float[n];
        var bestJ = new int[n];
        Array.Fill(best, float.PositiveInfinity);
        Array.Fill(bestJ, -1);
        if (n > 0 && m > 0)
        {
            var an = RowSquaredNorms(HostMemory.Pointer<float>(anchors), n, d);
            var cn = RowSquaredNorms(HostMemory.Pointer<float>(candidates), m, d);
            var candidatePositions = Columns(HostMemory.Pointer<float>(candidatePos), m, window == SafeWindow.Square ? 2 : 3);
            float* ap = HostMemory.Pointer<float>(anchorPos);
            var scan = new RowScan(an, cn, candidatePositions, radius, window);
            using var tiles = new DotTiles(anchors, candidates);
            tiles.ScanRows((i, dots, j0, j1) => scan.Row(i, ap + (long)i * scan.K, dots, j0, j1, ref best[i], ref bestJ[i]));
        }
        var idx = HostMemory.Span<long>(index);
        var dist = HostMemory.Span<float>(distance);
        for (int i = 0; i < n; i++)
        {
            idx[i] = bestJ[i];
            dist[i] = bestJ[i] < 0 ? float.PositiveInfinity : best[i];
        }
        return (index, distance);
    }

    private static unsafe float[] RowSquaredNorms(float* rows, int count, int width)
    {
        var norms = new float[count];
        for (int i = 0; i < count; i++) norms[i] = TensorPrimitives.SumOfSquares(new ReadOnlySpan<float>(rows + (long)i * width, width));
        return norms;
    }

    /// <summary>Positions as K column arrays (structure of arrays) for vector loads.</summary>
    private static unsafe float[][] Columns(float* pos, int count, int k)
    {
        var cols = new float[k][];
        for (int c = 0; c < k; c++)
        {
            cols[c] = new float[count];
            for (int j = 0; j < count; j++) cols[c][j] = pos[(long)j * k + c];
        }
        return cols;
    }

    /// <summary>
    /// Scans one tile row: distance = max(‖a‖² + ‖c‖² − 2⟨a,c⟩, 0) (NaN kept), admissible when outside the window; a NaN
    /// offset is never admissible and a NaN or +Inf distance never selected (the contract of every backend).
    /// </summary>
    private sealed class RowScan(float[] an, float[] cn, float[][] cpos, float radius, SafeWindow window)
    {
        public int K { get; } = cpos.Length;

        public unsafe void Row(int i, float* anchorPosition, float* dots, int j0, int j1, ref float best, ref int bestJ)
        {
            bool square = window == SafeWindow.Square;
            float ai = an[i];
            float ax = anchorPosition[0], ay = anchorPosition[1], az = square ? 0 : anchorPosition[2];
            float r = square ? radius : radius * radius;
            var bv = Vector256.Create(float.PositiveInfinity);
            var bj = Vector256.Create(-1);
            var lane = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);
            int j = j0;
            fixed (float* cnp = cn, cx = cpos[0], cy = cpos[1], cz = square ? cpos[1] : cpos[2])
            {
                for (; j + 8 <= j1; j += 8)
                {
                    var dd = Vector256.Create(ai) + Vector256.Load(cnp + j) - Vector256.Create(2f) * Vector256.Load(dots + (j - j0));
                    dd = Vector256.ConditionalSelect(Vector256.LessThan(dd, Vector256<float>.Zero), Vector256<float>.Zero, dd);  // keeps NaN
                    var ox = Vector256.Load(cx + j) - Vector256.Create(ax);
                    var oy = Vector256.Load(cy + j) - Vector256.Create(ay);
                    Vector256<float> far;
                    if (square)
                    {
                        // Either offset beyond r, neither NaN: the Reference's NaN-propagating max, whatever Max does with NaN.
                        far = (Vector256.GreaterThan(Vector256.Abs(ox), Vector256.Create(r)) | Vector256.GreaterThan(Vector256.Abs(oy), Vector256.Create(r)))
                              & Vector256.Equals(ox, ox) & Vector256.Equals(oy, oy);
                    }
                    else
                    {
                        var oz = Vector256.Load(cz + j) - Vector256.Create(az);
                        far = Vector256.GreaterThan(ox * ox + oy * oy + oz * oz, Vector256.Create(r));
                    }
                    var take = far & Vector256.LessThan(dd, bv);
                    bv = Vector256.ConditionalSelect(take, dd, bv);
                    bj = Vector256.ConditionalSelect(take.AsInt32(), lane + Vector256.Create(j), bj);
                }
                // Lanes first (all their j are smaller than the tail's), ties → smaller j.
                float v = best;
                int vj = bestJ;
                float tileBest = float.PositiveInfinity;
                int tileJ = -1;
                for (int l = 0; l < 8; l++)
                {
                    int lj = bj.GetElement(l);
                    float lv = bv.GetElement(l);
                    if (lj >= 0 && (lv < tileBest || (lv == tileBest && lj < tileJ))) { tileBest = lv; tileJ = lj; }
                }
                for (; j < j1; j++)
                {
                    float ox = cx[j] - ax, oy = cy[j] - ay;
                    bool far = square
                        ? (MathF.Abs(ox) > r || MathF.Abs(oy) > r) && !float.IsNaN(ox) && !float.IsNaN(oy)
                        : ox * ox + oy * oy + (cz[j] - az) * (cz[j] - az) > r;
                    float dd = ai + cnp[j] - 2f * dots[j - j0];
                    if (dd < 0) dd = 0;
                    if (far && dd < tileBest) { tileBest = dd; tileJ = j; }
                }
                // Earlier tiles hold smaller j: only a strictly smaller distance replaces them.
                if (tileJ >= 0 && (vj < 0 || tileBest < v)) { best = tileBest; bestJ = tileJ; }
            }
        }
    }

    internal static unsafe (Tensor gradAnchors, Tensor gradCandidates) CpuBackward(Tensor anchors, Tensor candidates, Tensor index, Tensor gradDistance)
    {
        int n = (int)anchors.size(0), m = (int)candidates.size(0), d = (int)anchors.size(1);
        var ga = torch.zeros([n, d]);
        var gc = torch.zeros([m, d]);
        float* a = HostMemory.Pointer<float>(anchors), c = HostMemory.Pointer<float>(candidates);
        float* gap = HostMemory.Pointer<float>(ga), gcp = HostMemory.Pointer<float>(gc), g = HostMemory.Pointer<float>(gradDistance);
        long* idx = HostMemory.Pointer<long>(index);
        // ∂‖a−c‖²/∂a = 2(a − c) = −∂/∂c. Candidates accumulate in anchor order: deterministic.
        Parallel.For(0, n, i =>
        {
            long j = idx[i];
            if (j < 0 || g[i] == 0) return;
            var ai = new ReadOnlySpan<float>(a + (long)i * d, d);
            var cj = new ReadOnlySpan<float>(c + j * d, d);
            var gai = new Span<float>(gap + (long)i * d, d);
            TensorPrimitives.Subtract(ai, cj, gai);
            TensorPrimitives.Multiply(gai, 2f * g[i], gai);
        });
        for (int i = 0; i < n; i++)
        {
            long j = idx[i];
            if (j < 0 || g[i] == 0) continue;
            var gcj = new Span<float>(gcp + j * d, d);
            TensorPrimitives.Subtract(gcj, new ReadOnlySpan<float>(gap + (long)i * d, d), gcj);
        }
        return (ga, gc);
    }
}

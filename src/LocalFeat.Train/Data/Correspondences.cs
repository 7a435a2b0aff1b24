using TorchSharp;
using static TorchSharp.torch;

namespace LocalFeat.Train.Data;

/// <summary>
/// Ground-truth matches on the feature grid: every cell of image 1 whose centre, mapped by the homography, lands
/// inside image 2's grid. Stride convention (D2-Net, OPS.md): cell i ↔ pixel stride·i + (stride − 1)/2.
/// </summary>
public sealed class Correspondences : IDisposable
{
    private Correspondences(Tensor cells1, Tensor pos2) { Cells1 = cells1; Pos2 = pos2; }

    /// <summary>[N,2] int64 (row, col) cells of image 1.</summary>
    public Tensor Cells1 { get; }
    /// <summary>[N,2] float32 (row, col) positions in image 2's grid, in cells.</summary>
    public Tensor Pos2 { get; }
    public long Count => Cells1.size(0);

    public static double CellToPixel(double cell, int stride) => stride * cell + (stride - 1) / 2.0;
    public static double PixelToCell(double pixel, int stride) => (pixel - (stride - 1) / 2.0) / stride;

    /// <summary>Feature-grid size of an image of the given pixel size (floor of each 2× pooling).</summary>
    public static long GridSize(long pixels, int stride) => pixels / stride;

    /// <param name="h12">crop-1 pixel → crop-2 pixel.</param>
    public static Correspondences Grid(double[] h12, int height1, int width1, int height2, int width2, int stride)
    {
        long gh1 = GridSize(height1, stride), gw1 = GridSize(width1, stride);
        long gh2 = GridSize(height2, stride), gw2 = GridSize(width2, stride);
        var cells = new List<long>();
        var pos = new List<float>();
        for (long i = 0; i < gh1; i++)
        {
            for (long j = 0; j < gw1; j++)
            {
                double x = CellToPixel(j, stride), y = CellToPixel(i, stride);
                double w = h12[6] * x + h12[7] * y + h12[8];
                if (!(w > 1e-9)) continue;  // behind the camera of image 2: not visible
                var (x2, y2) = Homography.Apply(h12, x, y);
                double r = PixelToCell(y2, stride), c = PixelToCell(x2, stride);
                if (!(r >= 0 && r <= gh2 - 1 && c >= 0 && c <= gw2 - 1)) continue;
                cells.Add(i); cells.Add(j);
                pos.Add((float)r); pos.Add((float)c);
            }
        }
        // float32 rounding could push a position a hair past the last cell: clamp into the grid.
        for (int k = 0; k < pos.Count; k += 2)
        {
            pos[k] = Math.Min(pos[k], gh2 - 1);
            pos[k + 1] = Math.Min(pos[k + 1], gw2 - 1);
        }
        return FromLists(cells, pos);
    }

    /// <summary>From flat (row, col) lists: cells of image 1 and their positions in image 2's grid, two numbers per match.</summary>
    public static Correspondences FromLists(List<long> cells, List<float> pos)
    {
        int n = cells.Count / 2;
        return new Correspondences(torch.tensor(cells.ToArray(), new long[] { n, 2 }), torch.tensor(pos.ToArray(), new long[] { n, 2 }));
    }

    public void Dispose() { Cells1.Dispose(); Pos2.Dispose(); }
}

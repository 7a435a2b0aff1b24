using TorchSharp;

namespace LocalFeat.Train.Data.Scenes;

/// <summary>
/// Ground-truth matches from depth and relative pose, as D2-Net builds them for MegaDepth (lib/loss.py, warp): the centre
/// of each feature cell of image 1 (stride convention of <see cref="Correspondences"/>) is back-projected with its
/// bilinearly interpolated depth (all four neighbouring depths valid) and K1, moved into camera 2 by the relative pose,
/// projected with K2, and kept when it lands inside image 2's grid, in front of camera 2, and image 2's own depth there
/// (interpolated the same way) agrees with the point's z: |z − z₂| ≤ tolerance·z₂. The tolerance is relative
/// (D2-Net's is an absolute 0.05 in MegaDepth's units) because scene units differ between scenes; a point hidden behind
/// a nearer surface in view 2 fails it, so occluded cells are rejected.
/// </summary>
public static class DepthCorrespondences
{
    /// <param name="t12">camera 1 → camera 2, row-major 4×4 [R t; 0 1].</param>
    public static DepthMatches Compute(SceneView view1, SceneView view2, double[] t12, int stride, double tolerance)
    {
        var (d1, d2) = (view1.Depth, view2.Depth);
        var (c1, c2) = (view1.Camera, view2.Camera);
        long gh1 = Correspondences.GridSize(d1.Height, stride), gw1 = Correspondences.GridSize(d1.Width, stride);
        long gh2 = Correspondences.GridSize(d2.Height, stride), gw2 = Correspondences.GridSize(d2.Width, stride);
        var points1 = new float[gh1 * gw1 * 3];
        var points2 = new float[gh2 * gw2 * 3];
        var cells = new List<long>();
        var pos = new List<float>();
        for (long i = 0; i < gh1; i++)
        {
            for (long j = 0; j < gw1; j++)
            {
                long at = 3 * (i * gw1 + j);
                double x = Correspondences.CellToPixel(j, stride), y = Correspondences.CellToPixel(i, stride);
                double z1 = d1.Bilinear(x, y);
                if (double.IsNaN(z1)) { points1[at] = points1[at + 1] = points1[at + 2] = float.NaN; continue; }
                var p1 = c1.BackProject(x, y, z1);
                var p2 = new Vec3(
                    t12[0] * p1.X + t12[1] * p1.Y + t12[2] * p1.Z + t12[3],
                    t12[4] * p1.X + t12[5] * p1.Y + t12[6] * p1.Z + t12[7],
                    t12[8] * p1.X + t12[9] * p1.Y + t12[10] * p1.Z + t12[11]);
                (points1[at], points1[at + 1], points1[at + 2]) = ((float)p2.X, (float)p2.Y, (float)p2.Z);
                if (!(p2.Z > 1e-9)) continue;  // behind camera 2
                var (x2, y2) = c2.Project(p2);
                double r = Correspondences.PixelToCell(y2, stride), c = Correspondences.PixelToCell(x2, stride);
                if (!(r >= 0 && r <= gh2 - 1 && c >= 0 && c <= gw2 - 1)) continue;
                double z2 = d2.Bilinear(x2, y2);
                if (!(Math.Abs(p2.Z - z2) <= tolerance * z2)) continue;  // NaN (no depth there) fails too
                cells.Add(i); cells.Add(j);
                pos.Add((float)Math.Min(r, gh2 - 1)); pos.Add((float)Math.Min(c, gw2 - 1));
            }
        }
        for (long i = 0; i < gh2; i++)
        {
            for (long j = 0; j < gw2; j++)
            {
                long at = 3 * (i * gw2 + j);
                double x = Correspondences.CellToPixel(j, stride), y = Correspondences.CellToPixel(i, stride);
                double z = d2.Bilinear(x, y);
                var p = double.IsNaN(z) ? new Vec3(double.NaN, double.NaN, double.NaN) : c2.BackProject(x, y, z);
                (points2[at], points2[at + 1], points2[at + 2]) = ((float)p.X, (float)p.Y, (float)p.Z);
            }
        }
        return new DepthMatches(Correspondences.FromLists(cells, pos),
            torch.tensor(points1, new long[] { gh1, gw1, 3 }), torch.tensor(points2, new long[] { gh2, gw2, 3 }));
    }
}

namespace LocalFeat.Train.Data.Scenes;

/// <summary>
/// Renders textured planes seen by a pinhole camera: per pixel, the ray through the pixel centre meets every plane
/// (ray–plane intersection), the nearest hit wins (a z-buffer, so occlusions are real), and its texture is sampled
/// bilinearly. Depth is exact (the hit's z in the camera frame); pixels that meet no plane get depth 0 and intensity 0.
/// </summary>
public static class PlaneSceneRenderer
{
    // What a plane's test needs, relative to the camera centre C: hit at λ = Nc / (n·d), plane coordinates
    // u = Cu + λ·(d·U), v = Cv + λ·(d·V).
    private readonly record struct Prepared(Vec3 N, double Nc, Vec3 U, Vec3 V, double Cu, double Cv, double HalfU, double HalfV);

    public static (float[] image, DepthMap depth) Render(IReadOnlyList<ScenePlane> planes, PinholeCamera camera, int width, int height)
    {
        var image = new float[width * height];
        var depth = new float[width * height];
        var prepared = planes.Select(p =>
        {
            var rel = camera.C - p.Origin;
            return new Prepared(p.Normal, -p.Normal.Dot(rel), p.U, p.V, rel.Dot(p.U), rel.Dot(p.V), p.HalfU, p.HalfV);
        }).ToArray();
        // The ray of pixel (x, y) is row + x·step (world directions whose camera z is 1, so λ is the depth).
        var step = Rotation3.ApplyTransposed(camera.R, new Vec3(1 / camera.Fx, 0, 0));
        // One thread: the loader already builds batches on several.
        for (int y = 0; y < height; y++)
        {
            var row = camera.Ray(0, y);
            for (int x = 0; x < width; x++)
            {
                var d = row + x * step;
                double best = double.PositiveInfinity, bu = 0, bv = 0;
                int hit = -1;
                for (int k = 0; k < prepared.Length; k++)
                {
                    ref readonly var p = ref prepared[k];
                    double lambda = p.Nc / p.N.Dot(d);
                    if (!(lambda > 0 && lambda < best)) continue;  // behind, parallel (±∞ or NaN), or farther than the best
                    double u = p.Cu + lambda * d.Dot(p.U);
                    if (Math.Abs(u) > p.HalfU) continue;
                    double v = p.Cv + lambda * d.Dot(p.V);
                    if (Math.Abs(v) > p.HalfV) continue;
                    (best, hit, bu, bv) = (lambda, k, u, v);
                }
                if (hit < 0) continue;
                depth[y * width + x] = (float)best;
                image[y * width + x] = planes[hit].Shade(bu, bv);
            }
        }
        return (image, new DepthMap(width, height, depth));
    }
}

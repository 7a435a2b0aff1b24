namespace LocalFeat.Train.Data.Scenes;

/// <summary>
/// Renders textured planes seen by a pinhole camera: per pixel, the ray through the pixel centre meets every plane
/// (ray–plane intersection), the nearest hit wins (a z-buffer, so occlusions are real), and its texture is sampled
/// bilinearly. Depth is exact (the hit's z in the camera frame); pixels that meet no plane get depth 0 and intensity 0.
/// </summary>
public static class PlaneSceneRenderer
{
    public static (float[] image, DepthMap depth) Render(IReadOnlyList<ScenePlane> planes, PinholeCamera camera, int width, int height)
    {
        var image = new float[width * height];
        var depth = new float[width * height];
        // One thread: the loader already builds batches on several.
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                var d = camera.Ray(x, y);
                double best = double.PositiveInfinity, bu = 0, bv = 0;
                int hit = -1;
                for (int k = 0; k < planes.Count; k++)
                {
                    double l = planes[k].Intersect(camera.C, d, out double u, out double v);
                    if (l < best) { best = l; hit = k; bu = u; bv = v; }
                }
                if (hit < 0) continue;
                depth[y * width + x] = (float)best;
                image[y * width + x] = planes[hit].Shade(bu, bv);
            }
        }
        return (image, new DepthMap(width, height, depth));
    }
}

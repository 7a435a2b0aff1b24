namespace LocalFeat.Train.Data;

/// <summary>3×3 homographies as row-major double[9], acting on pixel coordinates (x, y, 1).</summary>
public static class Homography
{
    public static double[] Identity() => [1, 0, 0, 0, 1, 0, 0, 0, 1];

    public static double[] Translation(double tx, double ty) => [1, 0, tx, 0, 1, ty, 0, 0, 1];

    public static double[] Scale(double s) => [s, 0, 0, 0, s, 0, 0, 0, 1];

    public static double[] Rotation(double radians)
    {
        double c = Math.Cos(radians), s = Math.Sin(radians);
        return [c, -s, 0, s, c, 0, 0, 0, 1];
    }

    /// <summary><paramref name="m"/> acting about the point (<paramref name="cx"/>, <paramref name="cy"/>) instead of the origin: T(c)·m·T(−c).</summary>
    public static double[] About(double[] m, double cx, double cy) => Chain(Translation(cx, cy), m, Translation(-cx, -cy));

    /// <summary>
    /// A plane facing the camera (focal length <paramref name="focal"/> px, principal point at the origin) seen after
    /// rotating it by <paramref name="radians"/> about its vertical axis through the optical axis: K·(R + (I − R)·e₃e₃ᵀ)·K⁻¹
    /// for points of the plane z = 1, i.e. x' = cos θ·x / (1 − sin θ·x/f), y' = y / (1 − sin θ·x/f). Foreshortens x by cos θ at the origin.
    /// </summary>
    public static double[] PlaneTilt(double radians, double focal)
    {
        if (!(focal > 0)) throw new ArgumentException($"argument 'focal': expected > 0, got {focal}", nameof(focal));
        double c = Math.Cos(radians), s = Math.Sin(radians);
        return [c, 0, 0, 0, 1, 0, -s / focal, 0, 1];
    }

    /// <summary>a · b (apply b first).</summary>
    public static double[] Mul(double[] a, double[] b)
    {
        var r = new double[9];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                r[3 * i + j] = a[3 * i] * b[j] + a[3 * i + 1] * b[3 + j] + a[3 * i + 2] * b[6 + j];
        return r;
    }

    /// <summary>Product of several, the first applied last: Chain(A, B, C) = A·B·C.</summary>
    public static double[] Chain(params double[][] ms) => ms.Aggregate(Mul);

    public static double[] Inverse(double[] m)
    {
        double a = m[0], b = m[1], c = m[2], d = m[3], e = m[4], f = m[5], g = m[6], h = m[7], i = m[8];
        double A = e * i - f * h, B = -(d * i - f * g), C = d * h - e * g;
        double det = a * A + b * B + c * C;
        if (Math.Abs(det) < 1e-15) throw new ArgumentException("homography is singular", nameof(m));
        return
        [
            A / det, -(b * i - c * h) / det, (b * f - c * e) / det,
            B / det, (a * i - c * g) / det, -(a * f - c * d) / det,
            C / det, -(a * h - b * g) / det, (a * e - b * d) / det,
        ];
    }

    public static (double x, double y) Apply(double[] m, double x, double y)
    {
        double w = m[6] * x + m[7] * y + m[8];
        return ((m[0] * x + m[1] * y + m[2]) / w, (m[3] * x + m[4] * y + m[5]) / w);
    }

    /// <summary>The homography mapping the four <paramref name="src"/> points onto <paramref name="dst"/> (DLT, h33 = 1).</summary>
    public static double[] FromPoints((double x, double y)[] src, (double x, double y)[] dst)
    {
        if (src.Length != 4 || dst.Length != 4) throw new ArgumentException("FromPoints needs exactly 4 point pairs");
        var a = new double[8, 9];
        for (int k = 0; k < 4; k++)
        {
            var (x, y) = src[k];
            var (u, v) = dst[k];
            double[] r1 = [x, y, 1, 0, 0, 0, -u * x, -u * y, u];
            double[] r2 = [0, 0, 0, x, y, 1, -v * x, -v * y, v];
            for (int j = 0; j < 9; j++) { a[2 * k, j] = r1[j]; a[2 * k + 1, j] = r2[j]; }
        }
        // Gauss-Jordan with partial pivoting on the 8×8 system (last column = right-hand side).
        for (int col = 0; col < 8; col++)
        {
            int piv = col;
            for (int r = col + 1; r < 8; r++) if (Math.Abs(a[r, col]) > Math.Abs(a[piv, col])) piv = r;
            if (Math.Abs(a[piv, col]) < 1e-12) throw new ArgumentException("points are degenerate (three collinear)");
            for (int j = 0; j < 9; j++) (a[col, j], a[piv, j]) = (a[piv, j], a[col, j]);
            for (int r = 0; r < 8; r++)
            {
                if (r == col) continue;
                double f = a[r, col] / a[col, col];
                for (int j = col; j < 9; j++) a[r, j] -= f * a[col, j];
            }
        }
        var h = new double[9];
        for (int k = 0; k < 8; k++) h[k] = a[k, 8] / a[k, k];
        h[8] = 1;
        return h;
    }

    /// <summary>Mean distance between the image corners mapped by <paramref name="estimate"/> and by <paramref name="truth"/> (HPatches / SuperPoint convention: corners (0,0), (w,0), (0,h), (w,h)).</summary>
    public static double CornerError(double[] estimate, double[] truth, int width, int height)
    {
        (double, double)[] corners = [(0, 0), (width, 0), (0, height), (width, height)];
        double sum = 0;
        foreach (var (x, y) in corners)
        {
            var (ex, ey) = Apply(estimate, x, y);
            var (tx, ty) = Apply(truth, x, y);
            sum += Math.Sqrt((ex - tx) * (ex - tx) + (ey - ty) * (ey - ty));
        }
        return sum / 4;
    }

    /// <summary>Reads a 3×3 matrix written as 9 whitespace-separated numbers (HPatches H_1_k files).</summary>
    public static double[] ReadText(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"homography file not found: '{path}'", path);
        var parts = File.ReadAllText(path).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length != 9) throw new InvalidDataException($"'{path}': expected 9 numbers (a 3×3 homography), got {parts.Length}");
        return parts.Select(p => double.Parse(p, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
    }
}

namespace LocalFeat.Train.Data.Scenes;

/// <summary>
/// A textured plane of a synthetic scene: through <paramref name="Origin"/>, spanned by the orthonormal axes
/// <paramref name="U"/> and <paramref name="V"/>; a rectangle |u| ≤ HalfU, |v| ≤ HalfV (infinite when those are +∞).
/// Plane point Origin + u·U + v·V shows texture pixel (TexCx + u·PixelsPerUnit, TexCy + v·PixelsPerUnit).
/// </summary>
public sealed record ScenePlane(Vec3 Origin, Vec3 U, Vec3 V, double HalfU, double HalfV, Texture Texture, double TexCx, double TexCy, double PixelsPerUnit)
{
    public Vec3 Normal { get; } = U.Cross(V);  // stored: the renderer asks for it per pixel and plane

    /// <summary>Ray parameter λ of the hit of C + λ·d (λ &gt; 0, inside the rectangle), or +∞.</summary>
    public double Intersect(Vec3 c, Vec3 d, out double u, out double v)
    {
        var n = Normal;
        double denom = n.Dot(d);
        u = v = 0;
        if (Math.Abs(denom) < 1e-12) return double.PositiveInfinity;
        double lambda = n.Dot(Origin - c) / denom;
        if (!(lambda > 0)) return double.PositiveInfinity;
        var p = c + lambda * d - Origin;
        u = p.Dot(U);
        v = p.Dot(V);
        if (Math.Abs(u) > HalfU || Math.Abs(v) > HalfV) return double.PositiveInfinity;
        return lambda;
    }

    public float Shade(double u, double v) => Texture.Sample(TexCx + u * PixelsPerUnit, TexCy + v * PixelsPerUnit);
}

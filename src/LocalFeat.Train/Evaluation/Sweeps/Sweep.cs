using System.Globalization;
using LocalFeat.Train.Data;

namespace LocalFeat.Train.Evaluation.Sweeps;

/// <summary>A named robustness sweep: one <see cref="SweepKind"/> over a list of steps.</summary>
public sealed record Sweep(string Name, SweepKind Kind, double[] Steps)
{
    /// <summary>The sweeps of <c>--sweep</c> / <c>eval.sweeps</c>; "all" is the five full ones.</summary>
    public static readonly IReadOnlyList<Sweep> Known =
    [
        new("rotation", SweepKind.Rotation, Enumerable.Range(0, 13).Select(k => 15.0 * k).ToArray()),
        new("scale", SweepKind.Scale, [1, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.25]),
        new("tilt", SweepKind.Tilt, [0, 10, 20, 30, 40, 50, 60, 70]),
        new("blur", SweepKind.Blur, [0, 1, 2, 3, 4, 5, 6]),
        new("brightness", SweepKind.Brightness, [0.3, 0.45, 0.65, 1, 1.5, 2.2, 3]),
        // The end-of-training eval's quick look at the issue-13 goals (rotation up to 45°, scale down to 0.5).
        new("rotation_short", SweepKind.Rotation, [0, 15, 30, 45]),
        new("scale_short", SweepKind.Scale, [1, 0.7, 0.5]),
    ];

    public const string All = "all";
    public static readonly string[] AllNames = ["rotation", "scale", "tilt", "blur", "brightness"];

    /// <summary>Every accepted name, for messages.</summary>
    public static string Names => string.Join(" | ", Known.Select(s => s.Name).Append(All));

    /// <summary>
    /// The sweeps of a comma-separated list ("rotation,scale", "all"; empty or "none" = none), in order, without
    /// repeats. Throws <see cref="FormatException"/> naming the unknown entry.
    /// </summary>
    public static List<Sweep> ParseList(string? text)
    {
        var result = new List<Sweep>();
        if (string.IsNullOrWhiteSpace(text) || text.Trim() == "none") return result;
        foreach (var raw in text.Split(',', StringSplitOptions.TrimEntries))
        {
            var names = raw == All ? AllNames : [raw];
            foreach (var n in names)
            {
                var s = Known.FirstOrDefault(k => k.Name == n) ?? throw new FormatException($"unknown sweep '{raw}', expected a comma-separated list of {Names} (or none)");
                if (!result.Contains(s)) result.Add(s);
            }
        }
        return result;
    }

    public bool IsGeometric => Kind is SweepKind.Rotation or SweepKind.Scale or SweepKind.Tilt;

    public string Axis => Kind switch
    {
        SweepKind.Rotation => "rotation [°]",
        SweepKind.Scale => "scale",
        SweepKind.Tilt => "tilt [°]",
        SweepKind.Blur => "blur sigma [px]",
        _ => "exposure gain",
    };

    public string Label(double step) => Kind switch
    {
        SweepKind.Rotation or SweepKind.Tilt => string.Create(CultureInfo.InvariantCulture, $"{step:0.#}°"),
        SweepKind.Blur => string.Create(CultureInfo.InvariantCulture, $"σ {step:0.##}"),
        SweepKind.Scale => string.Create(CultureInfo.InvariantCulture, $"×{step:0.##}"),
        _ => string.Create(CultureInfo.InvariantCulture, $"gain {step:0.##}"),
    };

    /// <summary>Focal length of the tilt's pinhole camera, in units of the image side: no horizon inside image 2 up to 70°.</summary>
    public const double TiltFocal = 2.0;

    /// <summary>
    /// The change of one step as a homography of image-1 pixels about the centre (<paramref name="cx"/>, <paramref name="cy"/>)
    /// of an image of side <paramref name="side"/>; the identity for the photometric sweeps.
    /// </summary>
    public double[] Change(double step, double cx, double cy, double side) => Kind switch
    {
        SweepKind.Rotation => Homography.About(Homography.Rotation(step * Math.PI / 180), cx, cy),
        SweepKind.Scale => Homography.About(Homography.Scale(step), cx, cy),
        SweepKind.Tilt => Homography.About(Homography.PlaneTilt(step * Math.PI / 180, TiltFocal * side), cx, cy),
        _ => Homography.Identity(),
    };

    /// <summary>
    /// The smallest magnification of the change's Jacobian at the centre per axis (x, y): the anti-aliasing blur
    /// before a zoom-out or foreshortening warp.
    /// </summary>
    public (double sx, double sy) Shrink(double step) => Kind switch
    {
        SweepKind.Scale => (step, step),
        SweepKind.Tilt => (Math.Cos(step * Math.PI / 180), 1),
        _ => (1, 1),
    };
}

using LocalFeat.Train.Vision;
using OpenCvSharp;
using ScottPlot;
using static TorchSharp.torch;

namespace LocalFeat.Train.Reporting;

/// <summary>PNG charts (ScottPlot) and match pictures (OpenCV drawing).</summary>
public static class Plots
{
    public static readonly (byte, byte, byte) Blue = (31, 119, 180), Orange = (255, 127, 14), Green = (44, 160, 44),
        Red = (214, 39, 40), Purple = (148, 103, 189), Brown = (140, 86, 75), Grey = (160, 160, 160), Black = (0, 0, 0);

    /// <summary>A chart of width×height pixels with axes, title and legend; y range from the data unless given. Returns PNG bytes.</summary>
    public static byte[] LineChart(string title, string xLabel, string yLabel, IReadOnlyList<Series> series,
        int width = 640, int height = 420, double? yMin = null, double? yMax = null)
    {
        var plot = new Plot();
        foreach (var s in series)
        {
            // ScottPlot draws NaN as gaps; ±∞ (a pair without a homography) would break the axis limits.
            var y = s.Y.Select(v => double.IsFinite(v) ? v : double.NaN).ToArray();
            var line = plot.Add.ScatterLine(s.X, y, new ScottPlot.Color(s.Color.r, s.Color.g, s.Color.b));
            line.LineWidth = 2;
            line.LegendText = s.Name;
            if (s.X.Length == 1) { line.MarkerSize = 6; line.MarkerShape = MarkerShape.FilledCircle; }
        }
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(yLabel);
        plot.ShowLegend(Alignment.UpperRight);
        plot.Axes.AutoScale();
        if (yMin is not null || yMax is not null)
        {
            var limits = plot.Axes.GetLimits();
            double lo = yMin ?? limits.Bottom, hi = yMax ?? limits.Top;
            plot.Axes.SetLimitsY(lo, hi > lo ? hi : lo + 1);
        }
        return plot.GetImageBytes(width, height, ImageFormat.Png);
    }

    /// <summary>PNG panels side by side into one PNG (shorter ones padded with white below).</summary>
    public static void WritePanels(string path, params byte[][] panels)
    {
        var mats = panels.Select(p => Cv2.ImDecode(p, ImreadModes.Color)).ToList();
        try
        {
            int h = mats.Max(m => m.Rows);
            var padded = mats.Select(m => m.Rows == h ? m : m.CopyMakeBorder(0, h - m.Rows, 0, 0, BorderTypes.Constant, Scalar.White)).ToList();
            using var all = new Mat();
            Cv2.HConcat(padded.ToArray(), all);
            OpenCv.WriteMat(path, all);
            foreach (var m in padded.Except(mats)) m.Dispose();
        }
        finally { foreach (var m in mats) m.Dispose(); }
    }

    /// <summary>Loss per step (light) and its moving average over <paramref name="window"/> steps.</summary>
    public static void LossCurve(string path, IReadOnlyList<(long step, double loss)> rows, int window = 50, string recipe = "d2net")
    {
        var x = rows.Select(r => (double)r.step).ToArray();
        var y = rows.Select(r => r.loss).ToArray();
        var avg = new double[y.Length];
        double sum = 0;
        for (int i = 0; i < y.Length; i++)
        {
            sum += y[i];
            if (i >= window) sum -= y[i - window];
            avg[i] = sum / Math.Min(i + 1, window);
        }
        var finite = y.Where(double.IsFinite).DefaultIfEmpty(0).ToArray();
        var png = LineChart($"training loss ({recipe})", "step", "loss",
            [new Series("loss", (170, 200, 230), x, y), new Series($"mean of {window}", Blue, x, avg)], 760, 440,
            yMin: Math.Min(0, finite.Min()), yMax: Percentile(finite, 0.99));
        File.WriteAllBytes(path, png);
    }

    private static double Percentile(double[] v, double q)
    {
        var s = v.Order().ToArray();
        return s[(int)Math.Clamp(Math.Round(q * (s.Length - 1)), 0, s.Length - 1)];
    }

    /// <summary>Two grey uint8 [H,W] images side by side under a 30-px title strip, match lines green if <paramref name="correct"/>, red otherwise.</summary>
    public static void Matches(string path, Tensor gray1, Tensor gray2, IReadOnlyList<(double x1, double y1, double x2, double y2)> matches,
        IReadOnlyList<bool> correct, string title)
    {
        using var a = OpenCv.ToMat(gray1);
        using var b = OpenCv.ToMat(gray2);
        int h = Math.Max(a.Rows, b.Rows) + 30, w1 = a.Cols, w2 = b.Cols;
        using var canvas = new Mat(h, w1 + w2, MatType.CV_8UC3, Scalar.White);
        using (var roi = new Mat(canvas, new Rect(0, 30, w1, a.Rows))) Cv2.CvtColor(a, roi, ColorConversionCodes.GRAY2BGR);
        using (var roi = new Mat(canvas, new Rect(w1, 30, w2, b.Rows))) Cv2.CvtColor(b, roi, ColorConversionCodes.GRAY2BGR);
        const int shift = 4;  // sub-pixel end points
        for (int i = 0; i < matches.Count; i++)
        {
            var (ax, ay, bx, by) = matches[i];
            var color = correct[i] ? new Scalar(0, 200, 0) : new Scalar(0, 0, 230);  // BGR
            Cv2.Line(canvas, new OpenCvSharp.Point(Math.Round(ax * 16), Math.Round((ay + 30) * 16)),
                new OpenCvSharp.Point(Math.Round((bx + w1) * 16), Math.Round((by + 30) * 16)), color, 1, LineTypes.AntiAlias, shift);
        }
        Cv2.PutText(canvas, title, new OpenCvSharp.Point(8, 21), HersheyFonts.HersheySimplex, 0.6, Scalar.Black, 1, LineTypes.AntiAlias);
        OpenCv.WriteMat(path, canvas);
    }
}

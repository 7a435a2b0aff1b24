using System.Globalization;
using LocalFeat.Torch;
using LocalFeat.Torch.IO;
using LocalFeat.Torch.Vision;

namespace LocalFeat.Train.Reporting;

/// <summary>A named polyline of a chart.</summary>
public sealed record Series(string Name, (byte r, byte g, byte b) Color, double[] X, double[] Y);

/// <summary>PNG charts drawn into uint8 RGB tensors (OpenCV lines and Hershey text through the native library).</summary>
public static class Plots
{
    public static readonly (byte, byte, byte) Blue = (31, 119, 180), Orange = (255, 127, 14), Green = (44, 160, 44),
        Red = (214, 39, 40), Grey = (160, 160, 160), Black = (0, 0, 0);

    /// <summary>A line chart [height, width, 3] with axes, ticks, title and legend; y range from the data unless given.</summary>
    public static Tensor LineChart(string title, string xLabel, string yLabel, IReadOnlyList<Series> series,
        int width = 640, int height = 420, double? yMin = null, double? yMax = null)
    {
        var img = torch.full([height, width, 3], 255, ScalarType.UInt8).DetachFromDisposeScope();
        const int left = 62, right = 16, top = 34, bottom = 46;
        double x0 = series.SelectMany(s => s.X).DefaultIfEmpty(0).Min(), x1 = series.SelectMany(s => s.X).DefaultIfEmpty(1).Max();
        var ys = series.SelectMany(s => s.Y).Where(double.IsFinite).DefaultIfEmpty(0).ToArray();
        double y0 = yMin ?? ys.Min(), y1 = yMax ?? ys.Max();
        if (x1 <= x0) x1 = x0 + 1;
        if (y1 <= y0) { y1 = y0 + 1; }
        double Px(double x) => left + (x - x0) / (x1 - x0) * (width - left - right);
        double Py(double y) => height - bottom - (y - y0) / (y1 - y0) * (height - top - bottom);

        foreach (double fy in Ticks(y0, y1))
        {
            Draw.Line(img, left, Py(fy), width - right, Py(fy), (230, 230, 230));
            Draw.Text(img, Tick(fy), 4, Py(fy) + 4, Black, 0.4);
        }
        foreach (double fx in Ticks(x0, x1))
        {
            Draw.Line(img, Px(fx), top, Px(fx), height - bottom, (230, 230, 230));
            string label = Tick(fx);
            Draw.Text(img, label, Math.Min(Px(fx) - 4 * label.Length, width - 8 * label.Length), height - bottom + 16, Black, 0.4);
        }
        Draw.Line(img, left, top, left, height - bottom, Black);
        Draw.Line(img, left, height - bottom, width - right, height - bottom, Black);
        Draw.Text(img, title, left, 22, Black, 0.55);
        Draw.Text(img, xLabel, width / 2 - 4 * xLabel.Length, height - 10, Black, 0.45);
        Draw.Text(img, yLabel, 4, top - 8, Black, 0.4);

        for (int k = 0; k < series.Count; k++)
        {
            var s = series[k];
            for (int i = 1; i < s.X.Length; i++)
                if (double.IsFinite(s.Y[i - 1]) && double.IsFinite(s.Y[i]))
                    Draw.Line(img, Px(s.X[i - 1]), Py(Math.Clamp(s.Y[i - 1], y0, y1)), Px(s.X[i]), Py(Math.Clamp(s.Y[i], y0, y1)), s.Color, 2);
            if (s.X.Length == 1) Draw.Circle(img, Px(s.X[0]), Py(s.Y[0]), 3, s.Color, -1);
            double ly = top + 14 + 18 * k;
            Draw.Line(img, width - right - 150, ly - 4, width - right - 126, ly - 4, s.Color, 2);
            Draw.Text(img, s.Name, width - right - 120, ly, Black, 0.45);
        }
        return img;
    }

    /// <summary>Round tick values (1, 2 or 5 × 10^k apart, about five of them) inside [lo, hi].</summary>
    private static IEnumerable<double> Ticks(double lo, double hi)
    {
        double raw = (hi - lo) / 5, mag = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        double step = new[] { 1.0, 2.0, 5.0, 10.0 }.Select(m => m * mag).First(s => s >= raw);
        for (double v = Math.Ceiling(lo / step) * step; v <= hi + step * 1e-9; v += step) yield return Math.Abs(v) < step * 1e-9 ? 0 : v;
    }

    private static string Tick(double v) =>
        Math.Abs(v) >= 1000 ? v.ToString("0", CultureInfo.InvariantCulture)
        : Math.Abs(v) >= 10 ? v.ToString("0.#", CultureInfo.InvariantCulture)
        : v.ToString("0.##", CultureInfo.InvariantCulture);

    /// <summary>Panels side by side into one PNG.</summary>
    public static void WritePanels(string path, params Tensor[] panels)
    {
        using var scope = torch.NewDisposeScope();
        long h = panels.Max(p => p.size(0));
        var padded = panels.Select(p => p.size(0) == h ? p : torch.cat([p, torch.full([h - p.size(0), p.size(1), 3], 255, ScalarType.UInt8)])).ToArray();
        Image.Write(path, torch.cat(padded, 1).contiguous());
    }

    /// <summary>Loss per step (light) and its moving average over <paramref name="window"/> steps.</summary>
    public static void LossCurve(string path, IReadOnlyList<(long step, double loss)> rows, int window = 50)
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
        using var chart = LineChart("training loss (d2net)", "step", "loss",
            [new Series("loss", (170, 200, 230), x, y), new Series($"mean of {window}", Blue, x, avg)], 760, 440,
            yMin: Math.Min(0, finite.Min()), yMax: Percentile(finite, 0.99));
        Image.Write(path, chart);
    }

    private static double Percentile(double[] v, double q)
    {
        var s = v.Order().ToArray();
        return s[(int)Math.Clamp(Math.Round(q * (s.Length - 1)), 0, s.Length - 1)];
    }

    /// <summary>Two grey images side by side with match lines: green if <paramref name="correct"/>, red otherwise.</summary>
    public static void Matches(string path, Tensor gray1, Tensor gray2, IReadOnlyList<(double x1, double y1, double x2, double y2)> matches,
        IReadOnlyList<bool> correct, string title)
    {
        using var scope = torch.NewDisposeScope();
        long h = Math.Max(gray1.size(0), gray2.size(0)) + 30;
        long w1 = gray1.size(1), w2 = gray2.size(1);
        var canvas = torch.full([h, w1 + w2, 3], 255, ScalarType.UInt8);
        canvas.narrow(0, 30, gray1.size(0)).narrow(1, 0, w1).copy_(gray1.unsqueeze(2).expand(gray1.size(0), w1, 3));
        canvas.narrow(0, 30, gray2.size(0)).narrow(1, w1, w2).copy_(gray2.unsqueeze(2).expand(gray2.size(0), w2, 3));
        canvas = canvas.contiguous();
        for (int i = 0; i < matches.Count; i++)
        {
            var (ax, ay, bx, by) = matches[i];
            var color = correct[i] ? ((byte)0, (byte)200, (byte)0) : ((byte)230, (byte)0, (byte)0);
            Draw.Line(canvas, ax, ay + 30, bx + w1, by + 30, color);
        }
        Draw.Text(canvas, title, 8, 21, Black, 0.6);
        Image.Write(path, canvas);
    }
}

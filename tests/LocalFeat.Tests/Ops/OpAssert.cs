using LocalFeat.Ops;
using TorchSharp;
using static TorchSharp.torch;
using Xunit;

namespace LocalFeat.Tests.Ops;

internal static class OpAssert
{
    /// <summary>The backends compared with Reference. The Kernel backend runs through the host emulation.</summary>
    public static TheoryData<Backend> FastBackends => new() { Backend.Cpu, Backend.Kernel };

    /// <summary>OPS.md's float32 agreement: |a − b| ≤ 1e-5 + 1e-4·|ref| (infinities must match exactly).</summary>
    public static void Close(Tensor reference, Tensor actual, string what, double atol = 1e-5, double rtol = 1e-4)
    {
        Assert.Equal(reference.shape, actual.shape);
        var r = reference.@double().data<double>().ToArray();
        var a = actual.@double().data<double>().ToArray();
        for (int i = 0; i < r.Length; i++)
        {
            if (double.IsInfinity(r[i]) || double.IsInfinity(a[i])) { Assert.True(r[i] == a[i], $"{what}[{i}]: expected {r[i]}, got {a[i]}"); continue; }
            Assert.True(Math.Abs(r[i] - a[i]) <= atol + rtol * Math.Abs(r[i]), $"{what}[{i}]: expected {r[i]}, got {a[i]} (|diff| {Math.Abs(r[i] - a[i]):g3})");
        }
    }

    public static void Equal(Tensor expected, Tensor actual, string what)
    {
        Assert.Equal(expected.shape, actual.shape);
        var e = expected.data<long>().ToArray();
        var a = actual.data<long>().ToArray();
        for (int i = 0; i < e.Length; i++) Assert.True(e[i] == a[i], $"{what}[{i}]: expected {e[i]}, got {a[i]}");
    }

    /// <summary>Central differences of a scalar function (float64) with respect to every element of x.</summary>
    public static double[] NumericGradient(Func<Tensor, double> f, Tensor x, double h = 1e-6)
    {
        var values = x.data<double>().ToArray();
        var grad = new double[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            double keep = values[i];
            values[i] = keep + h;
            using (var plus = torch.tensor(values, x.shape)) grad[i] = f(plus);
            values[i] = keep - h;
            using (var minus = torch.tensor(values, x.shape)) grad[i] -= f(minus);
            grad[i] /= 2 * h;
            values[i] = keep;
        }
        return grad;
    }

    public static void GradientMatches(double[] numeric, Tensor analytic, string what, double tol = 1e-5)
    {
        var a = analytic.data<double>().ToArray();
        for (int i = 0; i < a.Length; i++)
            Assert.True(Math.Abs(numeric[i] - a[i]) <= tol * (1 + Math.Abs(numeric[i])), $"{what}[{i}]: finite differences {numeric[i]}, autograd {a[i]}");
    }

    /// <summary>Peak resident memory since the last reset (/proc/self/clear_refs "5").</summary>
    public static long PeakResidentBytesSinceReset(Action action)
    {
        File.WriteAllText("/proc/self/clear_refs", "5");
        long baseline = ReadStatus("VmRSS:");
        action();
        return ReadStatus("VmHWM:") - baseline;
    }

    private static long ReadStatus(string key)
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith(key, StringComparison.Ordinal))
                return long.Parse(line[key.Length..].Trim().Split(' ')[0]) * 1024;
        throw new InvalidOperationException($"{key} not in /proc/self/status");
    }
}

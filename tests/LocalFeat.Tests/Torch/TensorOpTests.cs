using LocalFeat.Torch;
using LocalFeat.Torch.nn;
using Xunit;

namespace LocalFeat.Tests.Torch;

/// <summary>Representative ops against results derived by hand or by plain C# loops.</summary>
public class TensorOpTests
{
    private static float[] Floats(int n, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
    }

    private static void Near(float[] expected, float[] actual, float tol = 1e-5f)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol + 1e-5f * Math.Abs(expected[i]), $"element {i}: expected {expected[i]}, got {actual[i]}");
    }

    [Fact]
    public void Factories_HaveTheirDefinedValues()
    {
        using var scope = torch.NewDisposeScope();
        Assert.Equal(new float[6], torch.zeros(2, 3).ToArray<float>());
        Assert.Equal(Enumerable.Repeat(1f, 4), torch.ones(4).ToArray<float>());
        Assert.Equal(Enumerable.Repeat(2.5, 3), torch.full([3], 2.5, ScalarType.Float64).ToArray<double>());
        Assert.Equal(new long[] { 0, 1, 2, 3, 4 }, torch.arange(5).ToArray<long>());
        Assert.Equal(new float[] { 1, 1.5f, 2, 2.5f }, torch.arange(1, 3, 0.5).ToArray<float>());
        Assert.Equal(new float[] { 1, 0, 0, 0, 1, 0, 0, 0, 1 }, torch.eye(3).ToArray<float>());
        Assert.Equal(new float[] { 0, 0.25f, 0.5f, 0.75f, 1 }, torch.linspace(0, 1, 5).ToArray<float>());
        var t = torch.tensor(new long[] { 1, 2, 3, 4, 5, 6 }, 2, 3);
        Assert.Equal(ScalarType.Int64, t.dtype);
        Assert.Equal(Device.CPU, t.device);
        Assert.Equal(new long[] { 2, 3 }, t.shape);
        Assert.Equal(new long[] { 3, 1 }, t.stride());
        Assert.True(t.is_contiguous());
    }

    [Fact]
    public void Tensor_FromData_RejectsAShapeThatDoesNotFit()
    {
        var e = Assert.Throws<ArgumentException>(() => torch.tensor(new float[] { 1, 2, 3 }, 2, 2));
        Assert.Contains("needs 4 elements, data has 3", e.Message);
        Assert.Equal("shape", e.ParamName);
    }

    [Fact]
    public void Elementwise_MatchesCSharp()
    {
        using var scope = torch.NewDisposeScope();
        float[] a = Floats(20, 1), b = Floats(20, 2);
        var ta = torch.tensor(a);
        var tb = torch.tensor(b);
        Near(a.Zip(b, (x, y) => (x + y) * 2 - 1).ToArray(), ((ta + tb) * 2 - 1).ToArray<float>());
        Near(a.Zip(b, (x, y) => x * y / (Math.Abs(y) + 1)).ToArray(), (ta * tb / (tb.abs() + 1)).ToArray<float>());
        Near(a.Select(x => MathF.Exp(x)).ToArray(), ta.exp().ToArray<float>());
        Near(a.Select(x => Math.Max(x, 0)).ToArray(), ta.relu().ToArray<float>());
        Near(a.Select(x => Math.Clamp(x, -0.5f, 0.25f)).ToArray(), ta.clamp(-0.5, 0.25).ToArray<float>());
        Near(a.Select(x => 1 - x).ToArray(), (1 - ta).ToArray<float>());
        Assert.Equal(a.Select(x => x > 0.1f).ToArray(), (ta > 0.1).ToArray<bool>());
    }

    [Fact]
    public void Matmul_MatchesTripleLoop()
    {
        using var scope = torch.NewDisposeScope();
        const int m = 5, k = 7, n = 3;
        float[] a = Floats(m * k, 3), b = Floats(k * n, 4);
        var expected = new float[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
                for (int p = 0; p < k; p++) expected[i * n + j] += a[i * k + p] * b[p * n + j];
        Near(expected, torch.tensor(a, m, k).matmul(torch.tensor(b, k, n)).ToArray<float>());
    }

    [Fact]
    public void Reductions_MatchCSharp()
    {
        using var scope = torch.NewDisposeScope();
        float[] a = Floats(12, 5);
        var t = torch.tensor(a, 3, 4);
        Assert.Equal(a.Sum(), t.sum().item<float>(), 1e-5);
        Assert.Equal(a.Average(), t.mean().item<float>(), 1e-5);
        Assert.Equal(a.Max(), t.max().item<float>());
        var rowSums = Enumerable.Range(0, 3).Select(r => a.Skip(4 * r).Take(4).Sum()).ToArray();
        Near(rowSums, t.sum(1).ToArray<float>());
        var colMax = Enumerable.Range(0, 4).Select(c => Enumerable.Range(0, 3).Max(r => a[4 * r + c])).ToArray();
        var colArg = Enumerable.Range(0, 4).Select(c => (long)Enumerable.Range(0, 3).MaxBy(r => a[4 * r + c])).ToArray();
        var (values, indexes) = t.max(0);
        Near(colMax, values.ToArray<float>());
        Assert.Equal(colArg, indexes.ToArray<long>());
        Near(colMax, t.amax(0).ToArray<float>());
        Assert.Equal(new long[] { 4 }, t.amax(0).shape);
        Assert.Equal(new long[] { 1, 4 }, t.amax(0, keepdim: true).shape);
        Near(a.Select((_, i) => a.Take(i + 1).Sum()).ToArray(), t.flatten().cumsum(0).ToArray<float>());
    }

    [Fact]
    public void Softmax_IsExpOverSumOfExp()
    {
        using var scope = torch.NewDisposeScope();
        float[] a = Floats(8, 6);
        var e = a.Select(x => Math.Exp(x)).ToArray();
        Near(e.Select(x => (float)(x / e.Sum())).ToArray(), torch.softmax(torch.tensor(a), 0).ToArray<float>());
        Near(e.Select(x => (float)Math.Log(x / e.Sum())).ToArray(), torch.log_softmax(torch.tensor(a), 0).ToArray<float>());
    }

    [Fact]
    public void Conv2d_BoxFilter_SumsTheNeighbourhood()
    {
        using var scope = torch.NewDisposeScope();
        const int h = 5, w = 6;
        float[] img = Floats(h * w, 7);
        var x = torch.tensor(img, 1, 1, h, w);
        var weight = torch.ones(1, 1, 3, 3);
        var bias = torch.tensor(new float[] { 0.5f });
        float[] got = functional.conv2d(x, weight, bias, padding: 1).ToArray<float>();
        for (int i = 0; i < h; i++)
            for (int j = 0; j < w; j++)
            {
                float s = 0.5f;
                for (int di = -1; di <= 1; di++)
                    for (int dj = -1; dj <= 1; dj++)
                        if (i + di is >= 0 and < h && j + dj is >= 0 and < w) s += img[(i + di) * w + j + dj];
                Assert.Equal(s, got[i * w + j], 1e-4);
            }
    }

    [Fact]
    public void Pooling_MatchesHandComputation()
    {
        using var scope = torch.NewDisposeScope();
        var x = torch.tensor(new float[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 }, 1, 1, 4, 4);
        Assert.Equal(new float[] { 6, 8, 14, 16 }, functional.max_pool2d(x, 2).ToArray<float>());
        Assert.Equal(new float[] { 3.5f, 5.5f, 11.5f, 13.5f }, functional.avg_pool2d(x, 2).ToArray<float>());
    }

    [Fact]
    public void TopkAndSort_OrderValuesWithTheirIndexes()
    {
        using var scope = torch.NewDisposeScope();
        var x = torch.tensor(new float[] { 0.3f, -1, 2, 0.5f, 7 });
        var (v, i) = x.topk(3);
        Assert.Equal(new float[] { 7, 2, 0.5f }, v.ToArray<float>());
        Assert.Equal(new long[] { 4, 2, 3 }, i.ToArray<long>());
        var (sv, si) = x.sort();
        Assert.Equal(new float[] { -1, 0.3f, 0.5f, 2, 7 }, sv.ToArray<float>());
        Assert.Equal(new long[] { 1, 0, 3, 2, 4 }, si.ToArray<long>());
    }

    [Fact]
    public void Indexing_SelectsTheExpectedElements()
    {
        using var scope = torch.NewDisposeScope();
        var t = torch.arange(0, 12, 1, ScalarType.Float32).view(3, 4);
        Assert.Equal(new float[] { 4, 5, 6, 7 }, t[1].ToArray<float>());
        Assert.Equal(new float[] { 1, 5, 9 }, t.select(1, 1).ToArray<float>());
        Assert.Equal(new float[] { 1, 2, 5, 6, 9, 10 }, t.narrow(1, 1, 2).ToArray<float>());
        Assert.Equal(new float[] { 0, 2, 8, 10 }, t.slice(0, 0, null, 2).slice(1, 0, 4, 2).ToArray<float>());
        var tr = t.transpose(0, 1);
        Assert.False(tr.is_contiguous());
        Assert.Equal(new float[] { 0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11 }, tr.ToArray<float>());
        Assert.Equal(new long[] { 4, 3 }, t.permute(1, 0).shape);
        var idx = torch.tensor(new long[] { 2, 0 });
        Assert.Equal(new float[] { 8, 9, 10, 11, 0, 1, 2, 3 }, t.index_select(0, idx).ToArray<float>());
        Assert.Equal(new float[] { 8, 9, 10, 11, 0, 1, 2, 3 }, t.index(idx).ToArray<float>());
        var g = torch.tensor(new long[] { 3, 0, 1 }, 3, 1);
        Assert.Equal(new float[] { 3, 4, 9 }, t.gather(1, g).ToArray<float>());
        Assert.Equal(new float[] { 0, 1, -1, -1 }, torch.where(t[0] < 2, t[0], -1).ToArray<float>());
        Assert.Equal(new long[] { 6, 4 }, torch.cat([t, t], 0).shape);
        Assert.Equal(new long[] { 3, 2, 4 }, torch.stack([t, t], 1).shape);
    }

    [Fact]
    public void Normalize_GivesUnitRows()
    {
        using var scope = torch.NewDisposeScope();
        float[] a = Floats(4 * 6, 8);
        var n = functional.normalize(torch.tensor(a, 4, 6), dim: 1);
        foreach (float norm in n.pow(2).sum(1).sqrt().ToArray<float>()) Assert.Equal(1f, norm, 1e-5);
    }

    [Fact]
    public void Interpolate_AndGridSample_AgreeWithTheirDefinitions()
    {
        using var scope = torch.NewDisposeScope();
        var x = torch.tensor(new float[] { 0, 2, 4, 6 }, 1, 1, 2, 2);
        var up = functional.interpolate(x, [3, 3], align_corners: true);
        Assert.Equal(new float[] { 0, 1, 2, 2, 3, 4, 4, 5, 6 }, up.ToArray<float>());
        // The identity grid (pixel centres, align_corners=false) reproduces the input.
        var img = torch.tensor(Floats(12, 9), 1, 1, 3, 4);
        var xs = torch.linspace(-1 + 1.0 / 4, 1 - 1.0 / 4, 4);
        var ys = torch.linspace(-1 + 1.0 / 3, 1 - 1.0 / 3, 3);
        var mesh = torch.meshgrid([ys, xs]);
        var grid = torch.stack([mesh[1], mesh[0]], -1).unsqueeze(0);
        Near(img.ToArray<float>(), functional.grid_sample(img, grid).ToArray<float>());
    }

    [Fact]
    public void Conversions_AndToArrayTypeCheck()
    {
        using var scope = torch.NewDisposeScope();
        var f = torch.tensor(new float[] { 1.7f, -2.2f, 3 });
        Assert.Equal(new long[] { 1, -2, 3 }, f.to(ScalarType.Int64).ToArray<long>());
        Assert.Equal(new double[] { 1.7f, -2.2f, 3 }, f.@double().ToArray<double>());
        var e = Assert.Throws<InvalidOperationException>(() => f.ToArray<double>());
        Assert.Contains("Float32", e.Message);
    }

    [Fact]
    public void Random_IsReproducibleFromASeedAndAGeneratorState()
    {
        using var scope = torch.NewDisposeScope();
        using var g1 = new Generator(42);
        using var g2 = new Generator(42);
        Assert.Equal(torch.randn([100], g1).ToArray<float>(), torch.randn([100], g2).ToArray<float>());
        var state = g1.GetState();
        var a = torch.rand([50], g1).ToArray<float>();
        g1.SetState(state);
        Assert.Equal(a, torch.rand([50], g1).ToArray<float>());
        Assert.All(a, v => Assert.InRange(v, 0f, 1f - float.Epsilon));
        Assert.NotEqual(a, torch.rand([50], g1).ToArray<float>());
        var r = torch.randint(3, 9, [1000], g1).ToArray<long>();
        Assert.All(r, v => Assert.InRange(v, 3, 8));
        Assert.Equal(6, r.Distinct().Count());
        torch.manual_seed(7);
        var d1 = torch.randn(10).ToArray<float>();
        torch.manual_seed(7);
        Assert.Equal(d1, torch.randn(10).ToArray<float>());
        var normal = torch.randn([20000], g2);
        Assert.InRange(normal.mean().item<float>(), -0.05f, 0.05f);
        Assert.InRange(normal.std().item<float>(), 0.95f, 1.05f);
    }

    [Fact]
    public void GenericOp_FillsDefaults_AcceptsNamesAndRepeatsIntLists()
    {
        using var scope = torch.NewDisposeScope();
        var add = Op.Get("aten::add", "Tensor");
        Assert.Contains("Scalar alpha=1", add.Schema);
        var x = torch.tensor(new float[] { 1, 2 });
        Assert.Equal(new float[] { 2, 4 }, add.CallTensor(x, x).ToArray<float>());
        Assert.Equal(new float[] { 4, 8 }, add.CallTensor(x, x, ((OpArg)3).Named("alpha")).ToArray<float>());
        // kernel_size given as one int fills int[2], as in Python.
        var pooled = Op.Get("aten::max_pool2d").CallTensor(torch.ones(1, 1, 4, 4), 2);
        Assert.Equal(new long[] { 1, 1, 2, 2 }, pooled.shape);
        var results = Op.Get("aten::max", "dim").Call(torch.tensor(new float[] { 1, 5, 2 }), 0);
        Assert.Equal(2, results.Length);
        Assert.Equal(1L, ((Tensor)results[1]!).item<long>());
        Assert.True((bool)Op.Get("aten::equal").Call(x, x)[0]!);
        Assert.Equal(2L, Op.Get("aten::size", "int").Call(x, 0)[0]);
    }
}

using LocalFeat.Ops;
using TorchSharp;
using static TorchSharp.torch;
using Xunit;

namespace LocalFeat.Tests.Ops;

/// <summary>
/// Issue 16 item 12, the non-finite contract of the ops' XML docs: where value checks run, NaN/±Inf is an ArgumentException
/// naming the argument; where they do not, every backend gives the same indices and the same NaN pattern. Serial: the tests
/// set the process-wide <see cref="OpChecks.CheckValues"/>.
/// </summary>
[Collection(SerialCollection.Name)]
public class NonFiniteInputTests
{
    public static TheoryData<Backend> AllBackends => new() { Backend.Reference, Backend.Cpu, Backend.Kernel };

    private static float[] Values(Tensor t) => t.detach().contiguous().data<float>().ToArray();

    public static IEnumerable<object[]> D2Cases()
    {
        foreach (var backend in new[] { Backend.Reference, Backend.Cpu, Backend.Kernel })
            foreach (var bad in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
                yield return [backend, bad];
    }

    [Theory]
    [MemberData(nameof(D2Cases))]
    public void D2SoftDetect_Unchecked_ASampleWithANonFiniteFeature_IsAllNaN_OthersAsWithoutIt(Backend backend, float bad)
    {
        using var checks = new ValueChecksScope(ValueChecks.Never);
        using var scope = torch.NewDisposeScope();
        using var gen = new Generator(21);
        var x = torch.randn([3, 4, 5, 6], generator: gen);
        var g = torch.rand([3, 5, 6], generator: gen);
        x[1, 2, 3, 1] = torch.tensor(bad);
        var xb = x.clone().requires_grad_();
        var scores = D2SoftDetect.Apply(xb, backend: backend);
        (scores * g).sum().backward();
        Assert.All(Values(scores[1]), v => Assert.True(float.IsNaN(v), $"score {v} in the non-finite sample"));
        Assert.All(Values(xb.grad![1]), v => Assert.True(float.IsNaN(v), $"gradient {v} in the non-finite sample"));

        // Samples 0 and 2: exactly what the Reference gives for them alone.
        var keep = torch.tensor(new long[] { 0, 2 });
        var clean = x.index_select(0, keep).requires_grad_();
        var expected = D2SoftDetect.Apply(clean, backend: Backend.Reference);
        (expected * g.index_select(0, keep)).sum().backward();
        OpAssert.Close(expected, scores.index_select(0, keep), "scores of the finite samples");
        OpAssert.Close(clean.grad!, xb.grad.index_select(0, keep), "gradient of the finite samples", atol: 1e-5, rtol: 1e-3);
    }

    [Theory]
    [MemberData(nameof(AllBackends))]
    public void D2SoftDetect_Checked_NonFiniteFeatures_AreRejected(Backend backend)
    {
        using var checks = new ValueChecksScope(ValueChecks.CpuOnly);
        using var scope = torch.NewDisposeScope();
        foreach (var bad in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
        {
            var x = torch.randn([2, 3, 4, 4], generator: new Generator(22));
            x[0, 1, 2, 2] = torch.tensor(bad);
            var e = Assert.Throws<ArgumentException>(() => D2SoftDetect.Apply(x, backend: backend));
            Assert.Equal("features", e.ParamName);
            Assert.Contains("NaN or Inf", e.Message);
        }
    }

    /// <summary>OPS.md §2 by derivation in float64: admissible iff the offset distance &gt; r (NaN compares false), finite distance.</summary>
    private static (long[] index, double[] distance) ExpectedNearest(Tensor anchors, Tensor candidates, Tensor anchorPos, Tensor candidatePos,
        double radius, SafeWindow window, Func<int, int, bool> overflows)
    {
        var a = anchors.@double().data<double>().ToArray();
        var c = candidates.@double().data<double>().ToArray();
        var ap = anchorPos.@double().data<double>().ToArray();
        var cp = candidatePos.@double().data<double>().ToArray();
        int n = (int)anchors.size(0), m = (int)candidates.size(0), d = (int)anchors.size(1), k = (int)anchorPos.size(1);
        var index = new long[n];
        var distance = new double[n];
        for (int i = 0; i < n; i++)
        {
            index[i] = -1;
            distance[i] = double.PositiveInfinity;
            for (int j = 0; j < m; j++)
            {
                double far = 0;
                for (int q = 0; q < k; q++)
                {
                    double o = ap[i * k + q] - cp[j * k + q];
                    far = window == SafeWindow.Square ? (double.IsNaN(o) || double.IsNaN(far) ? double.NaN : Math.Max(far, Math.Abs(o))) : far + o * o;
                }
                if (window == SafeWindow.Sphere) far = Math.Sqrt(far);
                if (!(far > radius) || overflows(i, j)) continue;
                double dist = 0;
                for (int q = 0; q < d; q++) dist += (a[i * d + q] - c[j * d + q]) * (a[i * d + q] - c[j * d + q]);
                if (double.IsFinite(dist) && dist < distance[i]) { distance[i] = dist; index[i] = j; }
            }
        }
        return (index, distance);
    }

    private static void AssertNearest((long[] index, double[] distance) expected, Tensor index, Tensor distance, string what)
    {
        Assert.Equal(expected.index, index.data<long>().ToArray());
        var actual = distance.@double().data<double>().ToArray();
        for (int i = 0; i < actual.Length; i++)
        {
            if (expected.index[i] < 0) { Assert.True(actual[i] == double.PositiveInfinity, $"{what}[{i}]: expected +∞, got {actual[i]}"); continue; }
            Assert.True(Math.Abs(actual[i] - expected.distance[i]) <= 1e-5 + 1e-4 * expected.distance[i], $"{what}[{i}]: expected {expected.distance[i]}, got {actual[i]}");
        }
    }

    public static IEnumerable<object[]> WindowCases()
    {
        foreach (var backend in new[] { Backend.Reference, Backend.Cpu, Backend.Kernel })
            foreach (var window in new[] { SafeWindow.Square, SafeWindow.Sphere })
                yield return [backend, window];
    }

    /// <summary>NaN and ±Inf positions: a NaN offset is never admissible (the old Kernel's fmaxf admitted it), ±Inf offsets compare as numbers.</summary>
    private static (Tensor a, Tensor c, Tensor ap, Tensor cp) NonFinitePositions(int n, int m, SafeWindow window, ulong seed)
    {
        int k = window == SafeWindow.Square ? 2 : 3;
        using var gen = new Generator(seed);
        var a = torch.nn.functional.normalize(torch.randn([n, 5], generator: gen), dim: 1);
        var c = torch.nn.functional.normalize(torch.randn([m, 5], generator: gen), dim: 1);
        var ap = torch.rand([n, k], generator: gen) * 10;
        var cp = torch.rand([m, k], generator: gen) * 10;
        ap[1, 0] = torch.tensor(float.NaN);                   // anchor 1: nothing admissible
        cp[4, k - 1] = torch.tensor(float.NaN);               // candidate 4: never admissible
        ap[3] = torch.full([k], float.PositiveInfinity);      // anchor 3: everything finite is far
        cp[6, 0] = torch.tensor(float.NegativeInfinity);      // candidate 6: far from every anchor, +Inf's too
        cp[7] = torch.full([k], float.PositiveInfinity);      // candidate 7: Inf − Inf = NaN against anchor 3
        return (a, c, ap, cp);
    }

    [Theory]
    [MemberData(nameof(WindowCases))]
    public void HardestNegatives_Unchecked_NaNPositions_AreNeverAdmissible(Backend backend, SafeWindow window)
    {
        using var checks = new ValueChecksScope(ValueChecks.Never);
        using var scope = torch.NewDisposeScope();
        double radius = window == SafeWindow.Square ? 2.5 : 3;
        var (a, c, ap, cp) = NonFinitePositions(6, 9, window, 23);
        var expected = ExpectedNearest(a, c, ap, cp, radius, window, (_, _) => false);
        Assert.Equal(-1, expected.index[1]);
        Assert.DoesNotContain(4L, expected.index);
        var (index, distance) = HardestNegatives.Apply(a, c, ap, cp, radius, window, backend);
        AssertNearest(expected, index, distance, $"{backend} {window}");
    }

    [Theory]
    [InlineData(SafeWindow.Square)]
    [InlineData(SafeWindow.Sphere)]
    public void HardestNegatives_Unchecked_NaNPositions_KernelSplitsAgree(SafeWindow window)
    {
        using var checks = new ValueChecksScope(ValueChecks.Never);
        using var scope = torch.NewDisposeScope();
        var (a, c, ap, cp) = NonFinitePositions(70, 200, window, 24);
        cp[150, 0] = torch.tensor(float.NaN);
        var expected = ExpectedNearest(a, c, ap, cp, 2, window, (_, _) => false);
        foreach (int splits in new[] { 1, 3 })
        {
            var (index, distance) = HardestNegatives.KernelForward(a, c, ap, cp, 2f, window, splits);
            AssertNearest(expected, index, distance, $"{window}, {splits} splits");
        }
    }

    [Theory]
    [MemberData(nameof(AllBackends))]
    public void HardestNegatives_NaNDescriptorsAndOverflowedDistances_AreNeverSelected(Backend backend)
    {
        using var scope = torch.NewDisposeScope();
        using var gen = new Generator(25);
        var a = torch.nn.functional.normalize(torch.randn([5, 4], generator: gen), dim: 1);
        var c = torch.nn.functional.normalize(torch.randn([8, 4], generator: gen), dim: 1);
        var ap = torch.zeros(5, 2);
        var cp = torch.full([8, 2], 100f);
        c[3] = torch.full([4], 1e20f);  // finite, but ‖c‖² overflows float32: distance +Inf for every anchor
        {
            // Finite input: checked, and still the defined result.
            using var checks = new ValueChecksScope(ValueChecks.CpuOnly);
            var expected = ExpectedNearest(a, c, ap, cp, 1, SafeWindow.Square, (_, j) => j == 3);
            var (index, distance) = HardestNegatives.Apply(a, c, ap, cp, 1, SafeWindow.Square, backend);
            AssertNearest(expected, index, distance, $"{backend}, overflow");
        }
        {
            using var checks = new ValueChecksScope(ValueChecks.Never);
            a[2, 1] = torch.tensor(float.NaN);  // anchor 2: every distance NaN → (−1, +∞)
            c[5, 0] = torch.tensor(float.NaN);  // candidate 5: never selected
            var expected = ExpectedNearest(a, c, ap, cp, 1, SafeWindow.Square, (_, j) => j == 3);
            Assert.Equal(-1, expected.index[2]);
            var (index, distance) = HardestNegatives.Apply(a, c, ap, cp, 1, SafeWindow.Square, backend);
            AssertNearest(expected, index, distance, $"{backend}, NaN descriptors");
        }
    }

    [Theory]
    [MemberData(nameof(AllBackends))]
    public void HardestNegatives_Checked_NonFinitePositions_AreRejected(Backend backend)
    {
        using var checks = new ValueChecksScope(ValueChecks.CpuOnly);
        using var scope = torch.NewDisposeScope();
        var (a, c) = (torch.randn([3, 4], generator: new Generator(26)), torch.randn([4, 4], generator: new Generator(27)));
        var (ap, cp) = (torch.zeros(3, 2), torch.zeros(4, 2));
        var bad = ap.clone();
        bad[0, 1] = torch.tensor(float.NaN);
        var e = Assert.Throws<ArgumentException>(() => HardestNegatives.Apply(a, c, bad, cp, 1, SafeWindow.Square, backend));
        Assert.Equal("anchorPos", e.ParamName);
        bad = cp.clone();
        bad[2, 0] = torch.tensor(float.PositiveInfinity);
        e = Assert.Throws<ArgumentException>(() => HardestNegatives.Apply(a, c, ap, bad, 1, SafeWindow.Square, backend));
        Assert.Equal("candidatePos", e.ParamName);
        bad = c.clone();
        bad[1, 1] = torch.tensor(float.NegativeInfinity);
        e = Assert.Throws<ArgumentException>(() => HardestNegatives.Apply(a, bad, ap, cp, 1, SafeWindow.Square, backend));
        Assert.Equal("candidates", e.ParamName);
    }

    /// <summary>OPS.md §3 by derivation in float64, pairs with a non-finite float32 similarity left out.</summary>
    private static long[] ExpectedTopK(Tensor anchors, Tensor positives, long[] group, int k, NegativeScope scope)
    {
        var a = anchors.@double().data<double>().ToArray();
        var p = positives.@double().data<double>().ToArray();
        var sim32 = anchors.mm(positives.t()).data<float>().ToArray();
        int n = (int)anchors.size(0), d = (int)anchors.size(1);
        var index = new long[n * k];
        for (int i = 0; i < n; i++)
        {
            var picks = new List<(double v, int j)>();
            for (int j = 0; j < n; j++)
            {
                bool admissible = scope switch
                {
                    NegativeScope.OtherGroups => group[j] != group[i],
                    NegativeScope.SameGroup => group[j] == group[i] && j != i,
                    _ => j != i,
                };
                if (!admissible || !float.IsFinite(sim32[i * n + j])) continue;
                double v = 0;
                for (int q = 0; q < d; q++) v += a[i * d + q] * p[j * d + q];
                picks.Add((v, j));
            }
            var top = picks.OrderByDescending(t => t.v).ThenBy(t => t.j).Take(k).Select(t => (long)t.j).ToList();
            while (top.Count < k) top.Add(-1);
            top.CopyTo(index, i * k);
        }
        return index;
    }

    public static IEnumerable<object[]> ScopeCases()
    {
        foreach (var backend in new[] { Backend.Reference, Backend.Cpu, Backend.Kernel })
            foreach (var scope in new[] { NegativeScope.OtherGroups, NegativeScope.AllButSelf })
                yield return [backend, scope];
    }

    [Theory]
    [MemberData(nameof(ScopeCases))]
    public void InBatchHardestNegatives_NonFiniteSimilarities_AreNeverPicked(Backend backend, NegativeScope negativeScope)
    {
        using var scope = torch.NewDisposeScope();
        using var gen = new Generator(28);
        var a = torch.randn([8, 4], generator: gen);
        var p = torch.randn([8, 4], generator: gen);
        long[] groups = [0, 0, 1, 1, 2, 2, 3, 3];
        var group = torch.tensor(groups);
        a[0] = torch.full([4], 1e30f);  // finite; ⟨a_0, p_7⟩ overflows float32 to ±Inf, the others of row 0 do not
        p[7] = torch.full([4], 1e30f);
        foreach (var setting in new[] { ValueChecks.CpuOnly, ValueChecks.Never })
        {
            using var checks = new ValueChecksScope(setting);
            if (setting == ValueChecks.Never)
            {
                a[1, 2] = torch.tensor(float.NaN);                 // row 1: k × (−1, −∞)
                p[5, 0] = torch.tensor(float.NaN);                 // positive 5: never picked
                p[6] = torch.full([4], float.PositiveInfinity);    // positive 6: ±Inf or NaN, never picked
            }
            var expected = ExpectedTopK(a, p, groups, 3, negativeScope);
            var (index, similarity) = InBatchHardestNegatives.Apply(a, p, group, 3, negativeScope, backend);
            var got = index.data<long>().ToArray();
            Assert.Equal(expected, got);
            Assert.DoesNotContain(7L, got.Take(3));
            if (setting == ValueChecks.Never)
            {
                Assert.Equal([-1L, -1L, -1L], got.Skip(3).Take(3));
                Assert.DoesNotContain(5L, got);
                Assert.DoesNotContain(6L, got);
            }
            var values = Values(similarity);
            for (int e = 0; e < got.Length; e++)
                Assert.True(got[e] < 0 ? values[e] == float.NegativeInfinity : float.IsFinite(values[e]), $"{setting}: similarity[{e}] = {values[e]} for index {got[e]}");
        }
    }

    [Theory]
    [MemberData(nameof(AllBackends))]
    public void InBatchHardestNegatives_Checked_NonFiniteDescriptors_AreRejected(Backend backend)
    {
        using var checks = new ValueChecksScope(ValueChecks.CpuOnly);
        using var scope = torch.NewDisposeScope();
        var a = torch.randn([4, 3], generator: new Generator(29));
        var bad = a.clone();
        bad[2, 0] = torch.tensor(float.PositiveInfinity);
        var group = torch.zeros([4], ScalarType.Int64);
        Assert.Equal("anchors", Assert.Throws<ArgumentException>(() => InBatchHardestNegatives.Apply(bad, a, group, 1, NegativeScope.AllButSelf, backend)).ParamName);
        Assert.Equal("positives", Assert.Throws<ArgumentException>(() => InBatchHardestNegatives.Apply(a, bad, group, 1, NegativeScope.AllButSelf, backend)).ParamName);
    }
}

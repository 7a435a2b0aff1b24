using LocalFeat.Ops;
using TorchSharp;
using static TorchSharp.torch;
using Xunit;

namespace LocalFeat.Tests.Ops;

public class InBatchHardestNegativesTests
{
    public static TheoryData<Backend> Backends => OpAssert.FastBackends;

    public static IEnumerable<object[]> Cases()
    {
        foreach (var backend in new[] { Backend.Cpu, Backend.Kernel })
            foreach (var scope in Enum.GetValues<NegativeScope>())
                foreach (var (n, d, k, groupSize) in new[] { (45, 13, 1, 2), (45, 13, 5, 2), (70, 32, 20, 7), (3, 4, 5, 1) })
                    yield return [backend, scope, n, d, k, groupSize];
    }

    /// <summary>Small-integer descriptors: exact dot products in any order, so ties are exact and common (see HardestNegativesTests).</summary>
    private static (Tensor a, Tensor p, Tensor g) Inputs(int n, int d, int groupSize, ulong seed)
    {
        using var gen = new Generator(seed);
        var a = torch.randint(-3, 4, [n, d], generator: gen).@float();
        var p = torch.randint(-3, 4, [n, d], generator: gen).@float();
        var g = torch.arange(n).div(groupSize).floor().@long();
        return (a, p, g);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ForwardAndBackward_MatchReference(Backend backend, NegativeScope scope, int n, int d, int k, int groupSize)
    {
        using var disposeScope = torch.NewDisposeScope();
        var (a, p, g) = Inputs(n, d, groupSize, (ulong)(n + 31 * k));
        var (ar, pr) = (a.clone().requires_grad_(), p.clone().requires_grad_());
        var (ab, pb) = (a.clone().requires_grad_(), p.clone().requires_grad_());
        var (ir, sr) = InBatchHardestNegatives.Apply(ar, pr, g, k, scope, Backend.Reference);
        var (ib, sb) = InBatchHardestNegatives.Apply(ab, pb, g, k, scope, backend);
        OpAssert.Equal(ir, ib, "index");
        OpAssert.Close(sr, sb, "similarity");
        var w = torch.rand([n, k], generator: new Generator(2));
        torch.where(ir.ge(0), sr, 0.0).mul(w).sum().backward();
        torch.where(ib.ge(0), sb, 0.0).mul(w).sum().backward();
        OpAssert.Close(ar.grad!, ab.grad!, "grad anchors");
        OpAssert.Close(pr.grad!, pb.grad!, "grad positives");
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void SeveralTiles_MatchReference(Backend backend)
    {
        int n = backend == Backend.Cpu ? 2500 : 600;
        using var disposeScope = torch.NewDisposeScope();
        var (a, p, g) = Inputs(n, 16, 2, 5);
        var (ir, sr) = InBatchHardestNegatives.Apply(a, p, g, 20, NegativeScope.OtherGroups, Backend.Reference);
        var (ib, sb) = InBatchHardestNegatives.Apply(a, p, g, 20, NegativeScope.OtherGroups, backend);
        OpAssert.Equal(ir, ib, "index");
        OpAssert.Close(sr, sb, "similarity");
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void FewerAdmissibleThanK_PadsWithMinusOneAndMinusInfinity_TiesKeepIndexOrder(Backend backend)
    {
        using var disposeScope = torch.NewDisposeScope();
        // All positives equal: every similarity ties, so the order is by j. Pairs (0,1), (2,3).
        var a = torch.ones(4, 2);
        var p = torch.ones(4, 2);
        var g = torch.tensor(new long[] { 0, 0, 1, 1 });
        var (i, s) = InBatchHardestNegatives.Apply(a, p, g, 3, NegativeScope.OtherGroups, backend);
        Assert.Equal(new long[] { 2, 3, -1, 2, 3, -1, 0, 1, -1, 0, 1, -1 }, i.data<long>().ToArray());
        Assert.Equal(new float[] { 2, 2, float.NegativeInfinity }, s[0].data<float>().ToArray());
        var (iSame, _) = InBatchHardestNegatives.Apply(a, p, g, 2, NegativeScope.SameGroup, backend);
        Assert.Equal(new long[] { 1, -1, 0, -1, 3, -1, 2, -1 }, iSame.data<long>().ToArray());
        var (iAll, _) = InBatchHardestNegatives.Apply(a, p, g, 3, NegativeScope.AllButSelf, backend);
        Assert.Equal(new long[] { 1, 2, 3 }, iAll[0].data<long>().ToArray());
        var (i0, s0) = InBatchHardestNegatives.Apply(torch.zeros(0, 2), torch.zeros(0, 2), torch.zeros([0], ScalarType.Int64), 4, NegativeScope.AllButSelf, backend);
        Assert.Equal(new long[] { 0, 4 }, i0.shape);
        Assert.Equal(new long[] { 0, 4 }, s0.shape);
    }

    [Fact]
    public void ReferenceGradient_MatchesFiniteDifferences()
    {
        using var disposeScope = torch.NewDisposeScope();
        using var gen = new Generator(12);
        var a = torch.randn([7, 3], ScalarType.Float64, generator: gen);
        var p = torch.randn([7, 3], ScalarType.Float64, generator: gen);
        var g = torch.tensor(new long[] { 0, 0, 1, 1, 2, 2, 3 });
        var w = torch.rand([7, 3], ScalarType.Float64, generator: gen);
        double Loss(Tensor x, Tensor y)
        {
            var (i, s) = InBatchHardestNegatives.Reference(x, y, g, 3, NegativeScope.OtherGroups);
            return torch.where(i.ge(0), s, 0.0).mul(w).sum().item<double>();
        }
        var (ar, pr) = (a.clone().requires_grad_(), p.clone().requires_grad_());
        var (ir, sr) = InBatchHardestNegatives.Reference(ar, pr, g, 3, NegativeScope.OtherGroups);
        torch.where(ir.ge(0), sr, 0.0).mul(w).sum().backward();
        OpAssert.GradientMatches(OpAssert.NumericGradient(x => Loss(x, p), a), ar.grad!, "d/danchors");
        OpAssert.GradientMatches(OpAssert.NumericGradient(y => Loss(a, y), p), pr.grad!, "d/dpositives");
    }

    [Fact]
    public void BadInputs_NameTheArgument()
    {
        using var disposeScope = torch.NewDisposeScope();
        var (a, p, g) = Inputs(6, 4, 2, 1);
        Assert.Equal("k", Assert.Throws<ArgumentOutOfRangeException>(() => InBatchHardestNegatives.Apply(a, p, g, 0, NegativeScope.OtherGroups)).ParamName);
        Assert.Equal("k", Assert.Throws<ArgumentOutOfRangeException>(() => InBatchHardestNegatives.Apply(a, p, g, 65, NegativeScope.OtherGroups)).ParamName);
        var e = Assert.Throws<ArgumentException>(() => InBatchHardestNegatives.Apply(a, p, g.@float(), 1, NegativeScope.OtherGroups));
        Assert.Equal("group", e.ParamName);
        Assert.Contains("expected a contiguous Int64 tensor [N], got Float32 [6]", e.Message);
        e = Assert.Throws<ArgumentException>(() => InBatchHardestNegatives.Apply(a, torch.zeros(5, 4), g, 1, NegativeScope.OtherGroups));
        Assert.Contains("expected rows N (as anchors) = 6, got 5", e.Message);
        Assert.Equal("scope", Assert.Throws<ArgumentOutOfRangeException>(() => InBatchHardestNegatives.Apply(a, p, g, 1, (NegativeScope)9)).ParamName);
        var inf = p.clone();
        inf[0].fill_(double.PositiveInfinity);
        Assert.Equal("positives", Assert.Throws<ArgumentException>(() => InBatchHardestNegatives.Apply(a, inf, g, 1, NegativeScope.OtherGroups)).ParamName);
    }
}

using LocalFeat.Ops;
using TorchSharp;
using static TorchSharp.torch;
using Xunit;

namespace LocalFeat.Tests.Ops;

public class D2SoftDetectTests
{
    public static TheoryData<Backend> Backends => OpAssert.FastBackends;

    public static IEnumerable<object[]> Cases()
    {
        long[][] shapes = [[2, 8, 16, 16], [1, 3, 1, 1], [2, 5, 7, 9], [1, 1, 5, 1], [3, 17, 4, 33]];
        foreach (var backend in new[] { Backend.Cpu, Backend.Kernel })
            foreach (var s in shapes) yield return [backend, s];
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ForwardAndBackward_MatchReference(Backend backend, long[] shape)
    {
        using var scope = torch.NewDisposeScope();
        using var gen = new Generator(11);
        var x = torch.randn(shape, generator: gen);
        var g = torch.rand([shape[0], shape[2], shape[3]], generator: gen);
        var xr = x.clone().requires_grad_();
        var xb = x.clone().requires_grad_();
        var reference = D2SoftDetect.Apply(xr, backend: Backend.Reference);
        var actual = D2SoftDetect.Apply(xb, backend: backend);
        OpAssert.Close(reference, actual, "scores");
        (reference * g).sum().backward();
        (actual * g).sum().backward();
        OpAssert.Close(xr.grad!, xb.grad!, "grad", atol: 1e-5, rtol: 1e-3);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void ScoresOfASample_SumToOne_AndNonPositiveFeaturesScoreZero(Backend backend)
    {
        using var scope = torch.NewDisposeScope();
        var x = torch.randn([2, 4, 6, 5], generator: new Generator(3));
        var s = D2SoftDetect.Apply(x, backend: backend);
        foreach (float total in s.sum([1, 2]).data<float>().ToArray()) Assert.Equal(1f, total, 1e-5);
        // A sample with no positive activation: every score is 0, never NaN.
        var dead = D2SoftDetect.Apply(torch.full([1, 3, 4, 4], -1.0), backend: backend);
        Assert.All(dead.data<float>().ToArray(), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void ReferenceGradient_MatchesFiniteDifferences()
    {
        using var scope = torch.NewDisposeScope();
        var x = torch.randn([2, 3, 4, 5], ScalarType.Float64, generator: new Generator(5));
        var g = torch.rand([2, 4, 5], ScalarType.Float64, generator: new Generator(6));
        double F(Tensor t) => (D2SoftDetect.Reference(t, 1e-12) * g).sum().item<double>();
        var xr = x.clone().requires_grad_();
        (D2SoftDetect.Reference(xr, 1e-12) * g).sum().backward();
        OpAssert.GradientMatches(OpAssert.NumericGradient(F, x), xr.grad!, "d/dx");
    }

    [Fact]
    public void Reference_IsTheD2NetFormula_OnAHandExample()
    {
        // One channel, 1×2 map, x = (1, 2): M = 2, E = (e^0.5, e^1); each window sees both pixels and 4 border ones.
        using var scope = torch.NewDisposeScope();
        var s = D2SoftDetect.Apply(torch.tensor(new float[] { 1, 2 }, 1, 1, 1, 2), backend: Backend.Reference).data<float>().ToArray();
        double e1 = Math.Exp(0.5), e2 = Math.E, window = e1 + e2 + 4;
        double g1 = e1 / window * 1, g2 = e2 / window * 1;  // beta = x / channel max = 1 for a single channel
        Assert.Equal(g1 / (g1 + g2), s[0], 1e-6);
        Assert.Equal(g2 / (g1 + g2), s[1], 1e-6);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void EmptyBatch_GivesAnEmptyResult(Backend backend)
    {
        using var scope = torch.NewDisposeScope();
        Assert.Equal(new long[] { 0, 3, 4 }, D2SoftDetect.Apply(torch.zeros(0, 2, 3, 4), backend: backend).shape);
    }

    [Fact]
    public void BadInputs_NameTheArgument()
    {
        using var scope = torch.NewDisposeScope();
        var e = Assert.Throws<ArgumentException>(() => D2SoftDetect.Apply(torch.zeros(2, 3, 4)));
        Assert.Equal("features", e.ParamName);
        Assert.Contains("expected a contiguous Float32 tensor [B, C, H, W], got Float32 [2, 3, 4]", e.Message);
        e = Assert.Throws<ArgumentException>(() => D2SoftDetect.Apply(torch.zeros([1, 2, 3, 4], ScalarType.Float64)));
        Assert.Contains("got Float64", e.Message);
        e = Assert.Throws<ArgumentException>(() => D2SoftDetect.Apply(torch.zeros(1, 2, 4, 3).transpose(2, 3)));
        Assert.Contains("non-contiguous", e.Message);
        e = Assert.Throws<ArgumentException>(() => D2SoftDetect.Apply(torch.zeros(1, 0, 4, 3)));
        Assert.Contains("at least one channel", e.Message);
        Assert.Equal("eps", Assert.Throws<ArgumentOutOfRangeException>(() => D2SoftDetect.Apply(torch.zeros(1, 1, 2, 2), eps: 0)).ParamName);
        Assert.Throws<ArgumentNullException>(() => D2SoftDetect.Apply(null!));
    }
}

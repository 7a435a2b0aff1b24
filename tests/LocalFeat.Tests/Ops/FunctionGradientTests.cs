using LocalFeat.Ops;
using TorchSharp;
using static TorchSharp.torch;
using Xunit;

namespace LocalFeat.Tests.Ops;

/// <summary>
/// The Cpu and Kernel autograd nodes against finite differences of their own forward, independent of the Reference.
/// Both ops are float32-only; their outputs are quadratic (distance) or linear (similarity) in each input, so central
/// differences are exact up to float32 rounding, and well-separated random inputs keep every selection fixed under h.
/// </summary>
public class FunctionGradientTests
{
    public static TheoryData<Backend> Backends => OpAssert.FastBackends;

    [Theory]
    [MemberData(nameof(Backends))]
    public void HardestNegatives_Backward_MatchesFiniteDifferences(Backend backend)
    {
        using var scope = torch.NewDisposeScope();
        using var g = new Generator(31);
        var a = torch.randn([6, 4], generator: g);
        var c = torch.randn([9, 4], generator: g);
        var ap = torch.randint(0, 6, [6, 2], generator: g).@float();
        var cp = torch.randint(0, 6, [9, 2], generator: g).@float();
        var w = torch.rand([6], generator: g).add(0.5);
        double F(Tensor x, Tensor y)
        {
            using var inner = torch.NewDisposeScope();
            var (i, d) = HardestNegatives.Apply(x, y, ap, cp, 1, SafeWindow.Square, backend);
            return torch.where(i.ge(0), d, 0.0).mul(w).sum().item<float>();
        }
        var (ab, cb) = (a.clone().requires_grad_(), c.clone().requires_grad_());
        var (ib, db) = HardestNegatives.Apply(ab, cb, ap, cp, 1, SafeWindow.Square, backend);
        Assert.True(ib.ge(0).all().item<bool>(), "the test wants every anchor matched");
        torch.where(ib.ge(0), db, 0.0).mul(w).sum().backward();
        OpAssert.GradientMatches(OpAssert.NumericGradient(x => F(x, c), a, h: 1e-2), ab.grad!, "d/danchors", tol: 2e-3);
        OpAssert.GradientMatches(OpAssert.NumericGradient(y => F(a, y), c, h: 1e-2), cb.grad!, "d/dcandidates", tol: 2e-3);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void InBatchHardestNegatives_Backward_MatchesFiniteDifferences(Backend backend)
    {
        using var scope = torch.NewDisposeScope();
        using var g = new Generator(32);
        var a = torch.randn([8, 3], generator: g);
        var p = torch.randn([8, 3], generator: g);
        var group = torch.arange(8).div(2).floor().@long();
        var w = torch.rand([8, 3], generator: g).add(0.5);
        double F(Tensor x, Tensor y)
        {
            using var inner = torch.NewDisposeScope();
            var (i, s) = InBatchHardestNegatives.Apply(x, y, group, 3, NegativeScope.OtherGroups, backend);
            return torch.where(i.ge(0), s, 0.0).mul(w).sum().item<float>();
        }
        var (ab, pb) = (a.clone().requires_grad_(), p.clone().requires_grad_());
        var (ib, sb) = InBatchHardestNegatives.Apply(ab, pb, group, 3, NegativeScope.OtherGroups, backend);
        torch.where(ib.ge(0), sb, 0.0).mul(w).sum().backward();
        OpAssert.GradientMatches(OpAssert.NumericGradient(x => F(x, p), a, h: 1e-3), ab.grad!, "d/danchors", tol: 2e-3);
        OpAssert.GradientMatches(OpAssert.NumericGradient(y => F(a, y), p, h: 1e-3), pb.grad!, "d/dpositives", tol: 2e-3);
    }
}

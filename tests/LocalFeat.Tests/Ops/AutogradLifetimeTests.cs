using LocalFeat.Ops;
using TorchSharp;
using static TorchSharp.torch;
using Xunit;

namespace LocalFeat.Tests.Ops;

/// <summary>
/// The ops' TorchSharp autograd nodes outlive the dispose scope of their forward: a training step may run the op
/// in an inner scope, move only the loss out, and call backward later. TorchSharp keeps per-node tensors in the
/// scope that was current at the forward; a backward that needs them once that scope is gone crashed the process.
/// </summary>
public class AutogradLifetimeTests
{
    public static TheoryData<Backend> FunctionBackends => OpAssert.FastBackends;

    [Theory]
    [MemberData(nameof(FunctionBackends))]
    public void HardestNegatives_BackwardAfterTheForwardScope_MatchesTheReference(Backend backend)
    {
        using var scope = torch.NewDisposeScope();
        var a = torch.randint(-3, 4, [20, 6], generator: new Generator(1)).@float();
        var c = torch.randint(-3, 4, [30, 6], generator: new Generator(2)).@float();
        var ap = torch.randint(0, 12, [20, 2], generator: new Generator(3)).@float();
        var cp = torch.randint(0, 12, [30, 2], generator: new Generator(4)).@float();
        Tensor Loss(Tensor x, Tensor y, Backend b)
        {
            using var inner = torch.NewDisposeScope();
            var (i, d) = HardestNegatives.Apply(x, y, ap, cp, 4, SafeWindow.Square, b);
            return torch.where(i.ge(0), d, 0.0).sum().MoveToOuterDisposeScope();
        }
        var (ar, cr, ab, cb) = (a.clone().requires_grad_(), c.clone().requires_grad_(), a.clone().requires_grad_(), c.clone().requires_grad_());
        var expected = Loss(ar, cr, Backend.Reference);
        var actual = Loss(ab, cb, backend);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        expected.backward();
        actual.backward();
        OpAssert.Close(ar.grad!, ab.grad!, "grad anchors");
        OpAssert.Close(cr.grad!, cb.grad!, "grad candidates");
    }

    [Theory]
    [MemberData(nameof(FunctionBackends))]
    public void InBatchHardestNegatives_BackwardAfterTheForwardScope_MatchesTheReference(Backend backend)
    {
        using var scope = torch.NewDisposeScope();
        var a = torch.randint(-3, 4, [24, 5], generator: new Generator(5)).@float();
        var p = torch.randint(-3, 4, [24, 5], generator: new Generator(6)).@float();
        var g = torch.arange(24).div(2).floor().@long();
        Tensor Loss(Tensor x, Tensor y, Backend b)
        {
            using var inner = torch.NewDisposeScope();
            var (i, s) = InBatchHardestNegatives.Apply(x, y, g, 4, NegativeScope.OtherGroups, b);
            return torch.where(i.ge(0), s, 0.0).sum().MoveToOuterDisposeScope();
        }
        var (ar, pr, ab, pb) = (a.clone().requires_grad_(), p.clone().requires_grad_(), a.clone().requires_grad_(), p.clone().requires_grad_());
        var expected = Loss(ar, pr, Backend.Reference);
        var actual = Loss(ab, pb, backend);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        expected.backward();
        actual.backward();
        OpAssert.Close(ar.grad!, ab.grad!, "grad anchors");
        OpAssert.Close(pr.grad!, pb.grad!, "grad positives");
    }

    [Theory]
    [MemberData(nameof(FunctionBackends))]
    public void D2SoftDetect_BackwardAfterTheForwardScope_MatchesTheReference(Backend backend)
    {
        using var scope = torch.NewDisposeScope();
        var x = torch.randn([2, 5, 7, 9], generator: new Generator(7));
        Tensor Loss(Tensor t, Backend b)
        {
            using var inner = torch.NewDisposeScope();
            return D2SoftDetect.Apply(t, backend: b).pow(2).sum().MoveToOuterDisposeScope();
        }
        var (xr, xb) = (x.clone().requires_grad_(), x.clone().requires_grad_());
        var expected = Loss(xr, Backend.Reference);
        var actual = Loss(xb, backend);
        expected.backward();
        actual.backward();
        OpAssert.Close(xr.grad!, xb.grad!, "grad", atol: 1e-5, rtol: 1e-3);
    }
}

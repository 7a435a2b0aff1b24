using LocalFeat.Ops;
using TorchSharp;
using static TorchSharp.torch;
using Xunit;

namespace LocalFeat.Tests.Ops;

/// <summary>OPS.md: N = 0 is valid, returns empty results and keeps an autograd link, on every backend.</summary>
public class EmptyInputTests
{
    public static TheoryData<Backend> AllBackends => new() { Backend.Reference, Backend.Cpu, Backend.Kernel };

    private static void ZeroGradient(Tensor leaf, long[] shape, string what)
    {
        Assert.False(leaf.grad is null, $"{what}: no gradient reached the input");
        Assert.Equal(shape, leaf.grad!.shape);
        Assert.Equal(0.0, leaf.grad.abs().sum().item<float>());
    }

    [Theory]
    [MemberData(nameof(AllBackends))]
    public void D2SoftDetect_EmptyBatchOrMap_IsLinkedToTheGraph(Backend backend)
    {
        using var scope = torch.NewDisposeScope();
        foreach (long[] shape in new long[][] { [0, 2, 3, 4], [2, 3, 0, 4], [1, 3, 4, 0] })
        {
            var x = torch.zeros(shape).requires_grad_();
            var s = D2SoftDetect.Apply(x, backend: backend);
            Assert.Equal(new[] { shape[0], shape[2], shape[3] }, s.shape);
            Assert.True(s.requires_grad, $"{string.Join('x', shape)}: result detached from the graph");
            s.sum().backward();
            ZeroGradient(x, shape, "features");
        }
    }

    [Theory]
    [MemberData(nameof(AllBackends))]
    public void HardestNegatives_NoAnchorsOrNoCandidates_AreLinkedToTheGraph(Backend backend)
    {
        using var scope = torch.NewDisposeScope();
        foreach (var (n, m) in new[] { (0, 5), (3, 0), (0, 0) })
        {
            var a = torch.ones(n, 4).requires_grad_();
            var c = torch.ones(m, 4).requires_grad_();
            var (index, distance) = HardestNegatives.Apply(a, c, torch.zeros(n, 2), torch.zeros(m, 2), 1, SafeWindow.Square, backend);
            Assert.Equal(new long[] { n }, index.shape);
            Assert.Equal(new long[] { n }, distance.shape);
            Assert.All(index.data<long>().ToArray(), v => Assert.Equal(-1L, v));
            Assert.All(distance.data<float>().ToArray(), v => Assert.Equal(float.PositiveInfinity, v));
            Assert.True(distance.requires_grad, $"N = {n}, M = {m}: distance detached from the graph");
            Assert.False(index.requires_grad);
            torch.where(index.ge(0), distance, 0.0).sum().backward();
            ZeroGradient(a, [n, 4], "anchors");
            ZeroGradient(c, [m, 4], "candidates");
        }
    }

    [Theory]
    [MemberData(nameof(AllBackends))]
    public void InBatchHardestNegatives_NoAnchors_IsLinkedToTheGraph(Backend backend)
    {
        using var scope = torch.NewDisposeScope();
        var a = torch.ones(0, 6).requires_grad_();
        var p = torch.ones(0, 6).requires_grad_();
        var (index, similarity) = InBatchHardestNegatives.Apply(a, p, torch.zeros([0], ScalarType.Int64), 3, NegativeScope.OtherGroups, backend);
        Assert.Equal(new long[] { 0, 3 }, index.shape);
        Assert.Equal(new long[] { 0, 3 }, similarity.shape);
        Assert.True(similarity.requires_grad, "similarity detached from the graph");
        similarity.sum().backward();
        ZeroGradient(a, [0, 6], "anchors");
        ZeroGradient(p, [0, 6], "positives");
    }
}

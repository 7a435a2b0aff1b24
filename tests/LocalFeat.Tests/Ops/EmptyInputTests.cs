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

    [Theory]
    [MemberData(nameof(AllBackends))]
    public void PatchPHash_NoImagesOrNoKeypoints_GiveEmptyHashes(Backend backend)
    {
        using var scope = torch.NewDisposeScope();
        foreach (var (b, n) in new[] { (0, 4), (2, 0), (0, 0) })
        {
            var hash = LocalFeat.Ops.PatchPHash.Apply(torch.zeros([b, 1, 6, 7]), torch.zeros([b, n, 2]), 32, backend);
            Assert.Equal(new long[] { b, n }, hash.shape);
            Assert.Equal(ScalarType.Int64, hash.dtype);
        }
        Assert.Equal(new long[] { 0 }, IntrinsicImportance.Apply(torch.zeros([0], ScalarType.Int32), torch.zeros([0], ScalarType.Int32), backend).shape);
    }

    [Theory]
    [MemberData(nameof(AllBackends))]
    public void TaspLosses_EmptyInputs_AreLinkedToTheGraph(Backend backend)
    {
        using var scope = torch.NewDisposeScope();
        using var h = new DiwHistogram(margin: 0.5);
        var dPos = torch.zeros([0]).requires_grad_();
        var dNeg = torch.zeros([0]).requires_grad_();
        var loss = TaspTripletLoss.Apply(dPos, dNeg, torch.zeros([0]), h, backend);
        Assert.True(loss.requires_grad, "triplet loss detached from the graph");
        loss.backward();
        ZeroGradient(dPos, [0], "dPos");
        ZeroGradient(dNeg, [0], "dNeg");

        // No positives, or no negatives: the other side still gets its gradient, the empty one a zero-size one.
        foreach (var (n, k) in new[] { (0, 3), (3, 0), (0, 0) })
        {
            var p = torch.full([n], 0.5f).requires_grad_();
            var q = torch.full([k], 0.25f).requires_grad_();
            var kl = TaskAlignedKeypointLoss.Apply(p, torch.zeros([n]), torch.ones([n]), q, 0.5, 0.5, backend);
            Assert.True(kl.requires_grad, $"N = {n}, K = {k}: keypoint loss detached from the graph");
            kl.backward();
            Assert.Equal(new long[] { n }, p.grad!.shape);
            Assert.Equal(new long[] { k }, q.grad!.shape);
            // d/dq of −log(1 − q) = 1/(1 − q) = 4/3 for every negative sample, whatever N is.
            Assert.All(q.grad.data<float>().ToArray(), v => Assert.Equal(4f / 3f, v, 1e-6f));
        }
    }
}

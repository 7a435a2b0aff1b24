using LocalFeat.Ops;
using LocalFeat.Tests.Ops.PatchPHash;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace LocalFeat.Tests.Ops.TaspLoss;

/// <summary>DiwHistogram, TaspTripletLoss and TaskAlignedKeypointLoss (OPS.md §5) on every backend.</summary>
public class TaspLossTests
{
    private static Tensor T(params float[] v) => torch.tensor(v);

    private static void Close(Tensor expected, Tensor actual, string what, double atol = 1e-5, double rtol = 1e-4)
    {
        Assert.Equal(expected.shape, actual.shape);
        var e = expected.to(ScalarType.Float64).data<double>().ToArray();
        var a = actual.to(ScalarType.Float64).data<double>().ToArray();
        for (int i = 0; i < e.Length; i++)
            Assert.True(Math.Abs(e[i] - a[i]) <= atol + rtol * Math.Abs(e[i]), $"{what}[{i}]: expected {e[i]:R}, got {a[i]:R}");
    }

    /// <summary>
    /// Three batches through 5 bins over [0, 4] (bin b at x = b), margin 1, momentum 0.1, computed by hand:
    /// 1: x = {1, 2.5} → batch [0, .5, .25, .25, 0] replaces the state; CDF [0, .5, .75, 1, 1]; L = (.5·1 + .75·2.5)/2.
    /// 2: M = {0, 4} → batch [.5, 0, 0, 0, .5]; state [.05, .45, .225, .225, .05]; CDF(3) = .95; L = .95·4/2.
    /// 3: s = {10 → 4, −1 → 0}, M = {.25, 1.5}, x = {1, 0} → batch [.5, .5, 0, 0, 0]; state [.095, .455, .2025, .2025, .045];
    ///    CDF(1) = .55; L = .55·1/2; ∂L/∂dPos = {.55·4/2, 0}.
    /// </summary>
    [Theory]
    [MemberData(nameof(PHashTestUtil.AllBackends), MemberType = typeof(PHashTestUtil))]
    public void Diw_ThreeBatches_HandComputed(Backend backend)
    {
        using var scope = torch.NewDisposeScope();
        using var h = new DiwHistogram(margin: 1, bins: 5, xmax: 4, momentum: 0.1);
        Assert.Equal(0f, h.State.sum().item<float>());

        var l1 = TaspTripletLoss.Apply(T(0.5f, 2f), T(0.5f, 0.5f), T(1, 1), h, backend);
        Assert.Equal(1.1875, l1.item<float>(), 5);
        Close(T(0, .5f, .25f, .25f, 0), h.State, "state 1", 1e-6, 0);

        var l2 = TaspTripletLoss.Apply(T(0, 3f), T(3, 0), T(1, 1), h, backend);
        Assert.Equal(1.9, l2.item<float>(), 5);
        Close(T(.05f, .45f, .225f, .225f, .05f), h.State, "state 2", 1e-6, 0);

        var dPos = T(0.25f, 0.5f).requires_grad_();
        var dNeg = T(1, 0).requires_grad_();
        var l3 = TaspTripletLoss.Apply(dPos, dNeg, T(10, -1), h, backend);
        Assert.Equal(0.275, l3.item<float>(), 5);
        Close(T(.095f, .455f, .2025f, .2025f, .045f), h.State, "state 3", 1e-6, 0);
        l3.backward();
        Close(T(1.1f, 0), dPos.grad!, "grad dPos", 1e-6, 0);
        Close(T(-1.1f, 0), dNeg.grad!, "grad dNeg", 1e-6, 0);
    }

    private static (Tensor dPos, Tensor dNeg, Tensor s) Batch(int n, ulong seed)
    {
        using var g = new Generator(seed);
        var dPos = torch.rand([n], generator: g).mul(1.5f);
        var dNeg = torch.rand([n], generator: g).mul(2f);
        var s = torch.rand([n], generator: g).mul(5f).sub(0.5f);  // some clipped at 0 and at sMax
        return (dPos, dNeg, s);
    }

    [Theory]
    [InlineData(Backend.Cpu, 1000)]
    [InlineData(Backend.Kernel, 1000)]
    [InlineData(Backend.Cpu, 3000)]
    [InlineData(Backend.Kernel, 3000)]
    public void Triplet_MatchesReference_OverBatches_ForwardBackwardAndState(Backend backend, int n)
    {
        using var scope = torch.NewDisposeScope();
        using var hr = new DiwHistogram(margin: 0.5);
        using var hb = new DiwHistogram(margin: 0.5);
        for (int step = 0; step < 3; step++)
        {
            var (dPos, dNeg, s) = Batch(n, (ulong)(10 + step));
            var (pr, nr) = (dPos.clone().requires_grad_(), dNeg.clone().requires_grad_());
            var (pb, nb) = (dPos.clone().requires_grad_(), dNeg.clone().requires_grad_());
            var lr = TaspTripletLoss.Apply(pr, nr, s, hr, Backend.Reference);
            var lb = TaspTripletLoss.Apply(pb, nb, s, hb, backend);
            Close(lr, lb, $"loss {step}");
            Close(hr.State, hb.State, $"state {step}", 1e-7, 1e-5);
            lr.mul(1.7).backward();
            lb.mul(1.7).backward();
            Close(pr.grad!, pb.grad!, $"grad dPos {step}");
            Close(nr.grad!, nb.grad!, $"grad dNeg {step}");
        }
    }

    [Theory]
    [InlineData(1UL)]
    [InlineData(2UL)]
    public void Triplet_Kernel_IsDeterministic_UnderShuffledSchedule_AndEqualsCpu(ulong seed)
    {
        using var scope = torch.NewDisposeScope();
        var (dPos, dNeg, s) = Batch(2500, seed);
        using var plain = new DiwHistogram(margin: 0.5);
        using var shuffled = new DiwHistogram(margin: 0.5);
        using var cpu = new DiwHistogram(margin: 0.5);
        for (int step = 0; step < 2; step++)
        {
            var l0 = TaspTripletLoss.Apply(dPos, dNeg, s, plain, Backend.Kernel);
            Tensor l1;
            using (var runtime = PHashTestUtil.Shuffled(seed + 7))
            using (KernelRuntimes.UseHost(runtime))
                l1 = TaspTripletLoss.Apply(dPos, dNeg, s, shuffled, Backend.Kernel);
            var lc = TaspTripletLoss.Apply(dPos, dNeg, s, cpu, Backend.Cpu);
            Assert.Equal(l0.item<float>(), l1.item<float>());
            // The histogram is integer-exact on both: states bit-identical, not merely close.
            Assert.Equal(plain.State.data<float>().ToArray(), shuffled.State.data<float>().ToArray());
            Assert.Equal(cpu.State.data<float>().ToArray(), plain.State.data<float>().ToArray());
            Close(lc, l0, "Cpu vs Kernel", 1e-6, 1e-6);
        }
    }

    [Theory]
    [MemberData(nameof(PHashTestUtil.AllBackends), MemberType = typeof(PHashTestUtil))]
    public void Triplet_StateSaveRestore_ContinuesIdentically(Backend backend)
    {
        using var scope = torch.NewDisposeScope();
        using var a = new DiwHistogram(margin: 0.5);
        TaspTripletLoss.Apply(Batch(500, 1).dPos, Batch(500, 1).dNeg, Batch(500, 1).s, a, backend);
        var saved = a.State.clone();
        using var b = new DiwHistogram(margin: 0.5);
        b.SetState(saved);
        var (dPos, dNeg, s) = Batch(500, 2);
        var la = TaspTripletLoss.Apply(dPos, dNeg, s, a, backend);
        var lb = TaspTripletLoss.Apply(dPos, dNeg, s, b, backend);
        Assert.Equal(la.item<float>(), lb.item<float>());
        Assert.Equal(a.State.data<float>().ToArray(), b.State.data<float>().ToArray());
        Assert.Equal("state", Assert.Throws<ArgumentException>(() => b.SetState(torch.zeros([511]))).ParamName);
        Assert.Equal("state", Assert.Throws<ArgumentException>(() => b.SetState(torch.full([512], -1f))).ParamName);
    }

    [Theory]
    [MemberData(nameof(PHashTestUtil.AllBackends), MemberType = typeof(PHashTestUtil))]
    public void EmptyN_GivesZeroLoss_WithAutogradLink_AndKeepsState(Backend backend)
    {
        using var scope = torch.NewDisposeScope();
        using var h = new DiwHistogram(margin: 0.5);
        TaspTripletLoss.Apply(Batch(100, 3).dPos, Batch(100, 3).dNeg, Batch(100, 3).s, h, backend);
        var before = h.State.clone();
        var dPos = torch.empty([0]).requires_grad_();
        var dNeg = torch.empty([0]).requires_grad_();
        var loss = TaspTripletLoss.Apply(dPos, dNeg, torch.empty([0]), h, backend);
        Assert.Equal(0f, loss.item<float>());
        loss.backward();
        Assert.Equal([0L], dPos.grad!.shape);
        Assert.Equal(before.data<float>().ToArray(), h.State.data<float>().ToArray());

        var p = torch.empty([0]).requires_grad_();
        var q = torch.empty([0]).requires_grad_();
        var kl = TaskAlignedKeypointLoss.Apply(p, torch.empty([0]), torch.empty([0]), q, 0.5, 0.5, backend);
        Assert.Equal(0f, kl.item<float>());
        kl.backward();
        Assert.Equal([0L], p.grad!.shape);
    }

    [Fact]
    public void BadArguments_NameTheArgument()
    {
        using var scope = torch.NewDisposeScope();
        using var h = new DiwHistogram(margin: 0.5);
        var x = torch.rand([4]);
        Assert.Equal("dNeg", Assert.Throws<ArgumentException>(() => TaspTripletLoss.Apply(x, torch.rand([5]), x, h)).ParamName);
        Assert.Equal("importance", Assert.Throws<ArgumentException>(() => TaspTripletLoss.Apply(x, x, torch.rand([4, 1]), h)).ParamName);
        Assert.Equal("dPos", Assert.Throws<ArgumentException>(() => TaspTripletLoss.Apply(T(1, float.NaN, 0, 0), x, x, h)).ParamName);
        Assert.Equal("importance", Assert.Throws<ArgumentException>(() => TaspTripletLoss.Apply(x, x, T(1, float.PositiveInfinity, 0, 0), h)).ParamName);
        Assert.Equal("negative", Assert.Throws<ArgumentException>(() => TaskAlignedKeypointLoss.Apply(x, x, x, torch.rand([3], ScalarType.Float64), 0.5)).ParamName);
        Assert.Equal("dNeg", Assert.Throws<ArgumentException>(() => TaskAlignedKeypointLoss.Apply(x, x, torch.rand([3]), x, 0.5)).ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => new DiwHistogram(margin: -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DiwHistogram(margin: 1, momentum: 0));
    }

    private static (Tensor p, Tensor dPos, Tensor dNeg, Tensor q) KeypointInputs(int n, int k, ulong seed, ScalarType dtype = ScalarType.Float32)
    {
        using var g = new Generator(seed);
        var p = torch.rand([n], generator: g).mul(0.98).add(0.01).to(dtype);
        var dPos = torch.rand([n], generator: g).mul(1.5).to(dtype);
        var dNeg = torch.rand([n], generator: g).mul(2).to(dtype);
        var q = torch.rand([k], generator: g).mul(0.98).add(0.01).to(dtype);
        return (p, dPos, dNeg, q);
    }

    [Theory]
    [InlineData(Backend.Cpu)]
    [InlineData(Backend.Kernel)]
    public void Keypoint_MatchesReference_ForwardBackward_ClippedLogsIncluded(Backend backend)
    {
        using var scope = torch.NewDisposeScope();
        var (p, dPos, dNeg, q) = KeypointInputs(1500, 2100, 4);
        p[0] = torch.tensor(0f);   // log clipped at −100: gradient 0
        q[0] = torch.tensor(1f);
        var (pr, qr) = (p.clone().requires_grad_(), q.clone().requires_grad_());
        var (pb, qb) = (p.clone().requires_grad_(), q.clone().requires_grad_());
        var lr = TaskAlignedKeypointLoss.Apply(pr, dPos, dNeg, qr, 0.5, 0.5, Backend.Reference);
        var lb = TaskAlignedKeypointLoss.Apply(pb, dPos, dNeg, qb, 0.5, 0.5, backend);
        Close(lr, lb, "loss");
        lr.backward();
        lb.backward();
        Close(pr.grad!, pb.grad!, "grad positive");
        Close(qr.grad!, qb.grad!, "grad negative");
    }

    [Fact]
    public void Keypoint_Reference_MatchesFloat64FiniteDifferences()
    {
        using var scope = torch.NewDisposeScope();
        var (p, dPos, dNeg, q) = KeypointInputs(7, 5, 8, ScalarType.Float64);
        var (pg, qg) = (p.clone().requires_grad_(), q.clone().requires_grad_());
        TaskAlignedKeypointLoss.Apply(pg, dPos, dNeg, qg, 0.5, 0.5, Backend.Reference).backward();
        const double eps = 1e-6;
        foreach (var (x, grad, isP) in new[] { (p, pg.grad!, true), (q, qg.grad!, false) })
            for (int i = 0; i < x.size(0); i++)
            {
                double Loss(double d)
                {
                    var y = x.clone();
                    y[i] = y[i] + d;
                    return TaskAlignedKeypointLoss.Apply(isP ? y : p, dPos, dNeg, isP ? q : y, 0.5, 0.5, Backend.Reference).item<double>();
                }
                double fd = (Loss(eps) - Loss(-eps)) / (2 * eps);
                Assert.Equal(fd, grad[i].item<double>(), 6);
            }
    }

    [Fact]
    public void Keypoint_HandComputed()
    {
        using var scope = torch.NewDisposeScope();
        // m = 1, t = 0.5: M = {0, 1} → δ = {e^0.5, 1}; L = −e^0.5·ln .5 − ln .25 − ln(1 − .75).
        double expected = -Math.Exp(0.5) * Math.Log(0.5) - Math.Log(0.25) - Math.Log(0.25);
        foreach (var backend in PHashTestUtil.Backends)
            Assert.Equal(expected, TaskAlignedKeypointLoss.Apply(T(.5f, .25f), T(0, 1), T(2, 1), T(.75f), 1, 0.5, backend).item<float>(), 5);
    }
}

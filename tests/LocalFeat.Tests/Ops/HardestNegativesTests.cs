using LocalFeat.Ops;
using TorchSharp;
using static TorchSharp.torch;
using Xunit;

namespace LocalFeat.Tests.Ops;

public class HardestNegativesTests
{
    public static TheoryData<Backend> Backends => OpAssert.FastBackends;

    public static IEnumerable<object[]> Cases()
    {
        foreach (var backend in new[] { Backend.Cpu, Backend.Kernel })
            foreach (var window in new[] { SafeWindow.Square, SafeWindow.Sphere })
                foreach (var (n, m, d) in new[] { (37, 53, 19), (1, 1, 1), (64, 200, 32), (130, 9, 7) })
                    yield return [backend, window, n, m, d];
    }

    /// <summary>
    /// Small-integer descriptors and grid positions (12×12 cells or a 12³ cube). Integer dot products are exact
    /// in float32 whatever the summation order, so every backend sees the same distances and exact ties are
    /// common: the tie rule is tested, and rounding can never reorder near-ties.
    /// </summary>
    private static (Tensor a, Tensor c, Tensor ap, Tensor cp) Inputs(int n, int m, int d, SafeWindow window, ulong seed)
    {
        using var g = new Generator(seed);
        var a = torch.randint(-3, 4, [n, d], generator: g).@float();
        var c = torch.randint(-3, 4, [m, d], generator: g).@float();
        int k = window == SafeWindow.Square ? 2 : 3;
        var ap = torch.randint(0, 12, [n, k], generator: g).@float();
        var cp = torch.randint(0, 12, [m, k], generator: g).@float();
        return (a, c, ap, cp);
    }

    private static double Radius(SafeWindow w) => w == SafeWindow.Square ? 4 : 5.5;

    [Theory]
    [MemberData(nameof(Cases))]
    public void ForwardAndBackward_MatchReference(Backend backend, SafeWindow window, int n, int m, int d)
    {
        using var scope = torch.NewDisposeScope();
        var (a, c, ap, cp) = Inputs(n, m, d, window, (ulong)(n * 1000 + m));
        var (ar, cr) = (a.clone().requires_grad_(), c.clone().requires_grad_());
        var (ab, cb) = (a.clone().requires_grad_(), c.clone().requires_grad_());
        var (ir, dr) = HardestNegatives.Apply(ar, cr, ap, cp, Radius(window), window, Backend.Reference);
        var (ib, db) = HardestNegatives.Apply(ab, cb, ap, cp, Radius(window), window, backend);
        OpAssert.Equal(ir, ib, "index");
        OpAssert.Close(dr, db, "distance");
        var g = torch.rand([n], generator: new Generator(9));
        torch.where(ir.ge(0), dr, 0.0).mul(g).sum().backward();
        torch.where(ib.ge(0), db, 0.0).mul(g).sum().backward();
        OpAssert.Close(ar.grad!, ab.grad!, "grad anchors");
        OpAssert.Close(cr.grad!, cb.grad!, "grad candidates");
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void SeveralTiles_MatchReference(Backend backend)
    {
        // Crosses the Cpu tiles (1024) and any kernel tile size in both dimensions.
        int n = backend == Backend.Cpu ? 1500 : 300, m = backend == Backend.Cpu ? 2100 : 700;
        using var scope = torch.NewDisposeScope();
        var (a, c, ap, cp) = Inputs(n, m, 24, SafeWindow.Square, 3);
        var (ir, dr) = HardestNegatives.Apply(a, c, ap, cp, 4, SafeWindow.Square, Backend.Reference);
        var (ib, db) = HardestNegatives.Apply(a, c, ap, cp, 4, SafeWindow.Square, backend);
        OpAssert.Equal(ir, ib, "index");
        OpAssert.Close(dr, db, "distance");
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void ExactTies_PickTheSmallestIndex(Backend backend)
    {
        using var scope = torch.NewDisposeScope();
        // Candidates 2 and 5 are copies of the anchor's nearest vector; both admissible.
        var a = torch.tensor(new float[] { 1, 0, 0 }, 1, 3);
        var c = torch.tensor(new float[] { 0, 1, 0, 0, 0, 1, 0.6f, 0.8f, 0, -1, 0, 0, 0, -1, 0, 0.6f, 0.8f, 0 }, 6, 3);
        var ap = torch.tensor(new float[] { 0, 0 }, 1, 2);
        var cp = torch.tensor(new float[] { 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9 }, 6, 2);
        var (i, d) = HardestNegatives.Apply(a, c, ap, cp, 4, SafeWindow.Square, backend);
        Assert.Equal(2L, i.item<long>());
        Assert.Equal(0.8f, d.item<float>(), 1e-5);  // ‖(1,0,0) − (0.6,0.8,0)‖² = 0.16 + 0.64
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void SafeWindow_IsStrict_AndExcludesNearCandidates(Backend backend)
    {
        using var scope = torch.NewDisposeScope();
        // Candidate 0 equals the anchor but sits at Chebyshev distance 4 (= radius: excluded); 1 is at 5.
        var a = torch.tensor(new float[] { 1, 0 }, 1, 2);
        var c = torch.tensor(new float[] { 1, 0, 0, 1 }, 2, 2);
        var ap = torch.tensor(new float[] { 10, 10 }, 1, 2);
        var cp = torch.tensor(new float[] { 14, 7, 15, 10 }, 2, 2);
        var (i, d) = HardestNegatives.Apply(a, c, ap, cp, 4, SafeWindow.Square, backend);
        Assert.Equal(1L, i.item<long>());
        Assert.Equal(2f, d.item<float>(), 1e-5);
        // Sphere: candidate 0 at Euclidean distance 5 > 4.5 is admissible again.
        var ap3 = torch.tensor(new float[] { 0, 0, 0 }, 1, 3);
        var cp3 = torch.tensor(new float[] { 3, 4, 0, 1, 1, 1 }, 2, 3);
        var (i3, d3) = HardestNegatives.Apply(a, c, ap3, cp3, 4.5, SafeWindow.Sphere, backend);
        Assert.Equal(0L, i3.item<long>());
        Assert.Equal(0f, d3.item<float>());
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void EdgeCases_HaveDefinedResults(Backend backend)
    {
        using var scope = torch.NewDisposeScope();
        var (a, c, ap, cp) = Inputs(5, 7, 4, SafeWindow.Square, 1);
        // All masked: a radius covering the whole grid.
        var ar = a.clone().requires_grad_();
        var (i, d) = HardestNegatives.Apply(ar, c, ap, cp, 100, SafeWindow.Square, backend);
        Assert.All(i.data<long>().ToArray(), v => Assert.Equal(-1L, v));
        Assert.All(d.data<float>().ToArray(), v => Assert.Equal(float.PositiveInfinity, v));
        torch.where(i.ge(0), d, 0.0).sum().backward();
        Assert.All(ar.grad!.data<float>().ToArray(), v => Assert.Equal(0f, v));
        // N = 0 and M = 0.
        var (i0, d0) = HardestNegatives.Apply(torch.zeros(0, 4), c, torch.zeros(0, 2), cp, 4, SafeWindow.Square, backend);
        Assert.Equal(new long[] { 0 }, i0.shape);
        Assert.Equal(new long[] { 0 }, d0.shape);
        var (im, dm) = HardestNegatives.Apply(a, torch.zeros(0, 4), ap, torch.zeros(0, 2), 4, SafeWindow.Square, backend);
        Assert.All(im.data<long>().ToArray(), v => Assert.Equal(-1L, v));
        Assert.All(dm.data<float>().ToArray(), v => Assert.Equal(float.PositiveInfinity, v));
    }

    [Fact]
    public void ReferenceGradient_MatchesFiniteDifferences()
    {
        using var scope = torch.NewDisposeScope();
        using var g = new Generator(4);
        var a = torch.randn([6, 5], ScalarType.Float64, generator: g);
        var c = torch.randn([9, 5], ScalarType.Float64, generator: g);
        var ap = torch.randint(0, 6, [6, 2], generator: g).to(ScalarType.Float64);
        var cp = torch.randint(0, 6, [9, 2], generator: g).to(ScalarType.Float64);
        var w = torch.rand([6], ScalarType.Float64, generator: g);
        double F(Tensor x, Tensor y)
        {
            var (i, d) = HardestNegatives.Reference(x, y, ap, cp, 1, SafeWindow.Square);
            return torch.where(i.ge(0), d, 0.0).mul(w).sum().item<double>();
        }
        var (ar, cr) = (a.clone().requires_grad_(), c.clone().requires_grad_());
        var (ir, dr) = HardestNegatives.Reference(ar, cr, ap, cp, 1, SafeWindow.Square);
        torch.where(ir.ge(0), dr, 0.0).mul(w).sum().backward();
        OpAssert.GradientMatches(OpAssert.NumericGradient(x => F(x, c), a), ar.grad!, "d/danchors");
        OpAssert.GradientMatches(OpAssert.NumericGradient(y => F(a, y), c), cr.grad!, "d/dcandidates");
    }

    [Fact]
    public void BadInputs_NameTheArgumentExpectedAndReceived()
    {
        using var scope = torch.NewDisposeScope();
        var (a, c, ap, cp) = Inputs(4, 6, 8, SafeWindow.Square, 2);
        void Throws<T>(string param, string text, Action act) where T : ArgumentException
        {
            var e = Assert.Throws<T>(act);
            Assert.Equal(param, e.ParamName);
            Assert.Contains(text, e.Message);
        }
        Throws<ArgumentException>("candidates", "expected descriptor width D (as anchors) = 8, got 5", () => HardestNegatives.Apply(a, torch.zeros(6, 5), ap, cp, 4, SafeWindow.Square));
        Throws<ArgumentException>("anchorPos", "expected columns K for the Sphere window = 3, got 2", () => HardestNegatives.Apply(a, c, ap, torch.zeros(6, 3), 4, SafeWindow.Sphere));
        Throws<ArgumentException>("anchorPos", "expected rows N (as anchors) = 4, got 3", () => HardestNegatives.Apply(a, c, torch.zeros(3, 2), cp, 4, SafeWindow.Square));
        Throws<ArgumentException>("candidatePos", "expected rows M (as candidates) = 6, got 5", () => HardestNegatives.Apply(a, c, ap, torch.zeros(5, 2), 4, SafeWindow.Square));
        Throws<ArgumentException>("anchors", "got Float64", () => HardestNegatives.Apply(a.@double(), c, ap, cp, 4, SafeWindow.Square));
        Throws<ArgumentException>("candidates", "non-contiguous", () => HardestNegatives.Apply(a, torch.zeros(8, 6).t(), ap, cp, 4, SafeWindow.Square));
        Throws<ArgumentOutOfRangeException>("radius", "expected radius ≥ 0", () => HardestNegatives.Apply(a, c, ap, cp, double.NaN, SafeWindow.Square));
        Throws<ArgumentOutOfRangeException>("radius", "expected radius ≥ 0", () => HardestNegatives.Apply(a, c, ap, cp, -1, SafeWindow.Square));
        Throws<ArgumentOutOfRangeException>("window", "expected Square or Sphere", () => HardestNegatives.Apply(a, c, ap, cp, 4, (SafeWindow)7));
        var nan = a.clone();
        nan[1].fill_(double.NaN);
        Throws<ArgumentException>("anchors", "expected finite values, got NaN or Inf", () => HardestNegatives.Apply(nan, c, ap, cp, 4, SafeWindow.Square));
        Throws<ArgumentException>("anchors", "expected D ≥ 1", () => HardestNegatives.Apply(torch.zeros(4, 0), torch.zeros(6, 0), ap, cp, 4, SafeWindow.Square));
    }
}

using LocalFeat.Ops;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace LocalFeat.Tests.Ops.SoftByol;

/// <summary><see cref="SoftByolLoss"/>: every backend against the Reference and against independent derivations.</summary>
public class SoftByolLossTests
{
    private static readonly Backend[] Fused = [Backend.Cpu, Backend.Kernel];

    /// <summary>Random inputs; scores positive (as detector scores), label features correlated with each other.</summary>
    internal static (Tensor q, Tensor z, Tensor u, Tensor u2, Tensor s1, Tensor s2) Inputs(long c, long d, ulong seed, ScalarType dtype = ScalarType.Float32)
    {
        using var g = new Generator(seed);
        var q = torch.randn([c, d], dtype, generator: g);
        var z = (q * 0.7 + torch.randn([c, d], dtype, generator: g));  // positive similarity on average
        var u = torch.randn([c, d], dtype, generator: g);
        var u2 = u + 0.8 * torch.randn([c, d], dtype, generator: g);
        var s1 = torch.rand([c], dtype, generator: g) + 0.05;
        var s2 = torch.rand([c], dtype, generator: g) + 0.05;
        return (q, z, u, u2, s1, s2);
    }

    private sealed record Run(Tensor Loss, Tensor Gq, Tensor Gs1, Tensor Gs2);

    private static Run Evaluate(Backend backend, Tensor q, Tensor z, Tensor u, Tensor u2, Tensor s1, Tensor s2, double alpha, double lambda, ByolLabel mode)
    {
        var (qq, a, b) = (q.detach().clone().requires_grad_(), s1.detach().clone().requires_grad_(), s2.detach().clone().requires_grad_());
        var loss = SoftByolLoss.Apply(qq, z, u, u2, a, b, alpha, lambda, mode, backend);
        Assert.Equal(0, loss.dim());
        // A non-unit upstream gradient, so the backward's use of it is tested too.
        loss.backward([torch.tensor(1.7f)]);
        return new Run(loss.detach(), qq.grad!, a.grad!, b.grad!);
    }

    public static IEnumerable<object[]> Cases()
    {
        foreach (var mode in new[] { ByolLabel.Hard, ByolLabel.Soft })
            foreach (var (c, d) in new[] { (1, 1), (3, 5), (8, 32), (37, 33), (129, 128), (300, 7), (1000, 64), (2100, 3) })  // 2100: 263 row blocks, more than sb_finalize's 256 threads
                yield return [mode, c, d];
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Fused_backends_match_Reference_forward_and_backward(ByolLabel mode, int c, int d)
    {
        using var scope = torch.NewDisposeScope();
        var (q, z, u, u2, s1, s2) = Inputs(c, d, (ulong)(13 * c + d));
        var r = Evaluate(Backend.Reference, q, z, u, u2, s1, s2, 1.5, 0.7, mode);
        foreach (var backend in Fused)
        {
            var k = Evaluate(backend, q, z, u, u2, s1, s2, 1.5, 0.7, mode);
            SoftByolAssert.Close(r.Loss, k.Loss, $"{backend} loss");
            SoftByolAssert.Close(r.Gq, k.Gq, $"{backend} gq");
            SoftByolAssert.Close(r.Gs1, k.Gs1, $"{backend} gs1");
            SoftByolAssert.Close(r.Gs2, k.Gs2, $"{backend} gs2");
        }
    }

    [Theory]
    [InlineData(ByolLabel.Hard)]
    [InlineData(ByolLabel.Soft)]
    public void Reference_gradients_match_float64_finite_differences(ByolLabel mode)
    {
        using var scope = torch.NewDisposeScope();
        var (q, z, u, u2, s1, s2) = Inputs(6, 5, 21, ScalarType.Float64);
        Tensor L(Tensor qq, Tensor a, Tensor b) => SoftByolLoss.Reference(qq, z, u, u2, a, b, 1.2, 0.5, mode);
        var (qg, ag, bg) = (q.clone().requires_grad_(), s1.clone().requires_grad_(), s2.clone().requires_grad_());
        L(qg, ag, bg).backward();
        const double h = 1e-6;
        foreach (var (x, grad, name) in new[] { (q, qg.grad!, "q"), (s1, ag.grad!, "s1"), (s2, bg.grad!, "s2") })
        {
            var flat = x.view(-1);
            var expected = torch.zeros_like(flat);
            for (long i = 0; i < flat.numel(); i++)
            {
                double v = flat[i].item<double>();
                flat[i] = v + h;
                double up = L(q, s1, s2).item<double>();
                flat[i] = v - h;
                double down = L(q, s1, s2).item<double>();
                flat[i] = v;
                expected[i] = (up - down) / (2 * h);
            }
            SoftByolAssert.Close(expected, grad.view(-1), $"d/d{name}", atol: 1e-8, rtol: 1e-6);
        }
    }

    [Theory]
    [InlineData(ByolLabel.Hard)]
    [InlineData(ByolLabel.Soft)]
    public void Fused_float32_gradients_match_the_float64_reference(ByolLabel mode)
    {
        // The float64 Reference is checked by finite differences above; the float32 backends against it.
        using var scope = torch.NewDisposeScope();
        var (q, z, u, u2, s1, s2) = Inputs(50, 24, 5, ScalarType.Float64);
        var r = Evaluate64(q, z, u, u2, s1, s2, mode);
        foreach (var backend in Fused)
        {
            var k = Evaluate(backend, q.@float(), z.@float(), u.@float(), u2.@float(), s1.@float(), s2.@float(), 0.9, 0.4, mode);
            SoftByolAssert.Close(r.Loss, k.Loss, $"{backend} loss");
            SoftByolAssert.Close(r.Gq, k.Gq, $"{backend} gq");
            SoftByolAssert.Close(r.Gs1, k.Gs1, $"{backend} gs1");
            SoftByolAssert.Close(r.Gs2, k.Gs2, $"{backend} gs2");
        }
    }

    private static Run Evaluate64(Tensor q, Tensor z, Tensor u, Tensor u2, Tensor s1, Tensor s2, ByolLabel mode)
    {
        var (qq, a, b) = (q.clone().requires_grad_(), s1.clone().requires_grad_(), s2.clone().requires_grad_());
        var loss = SoftByolLoss.Reference(qq, z, u, u2, a, b, 0.9, 0.4, mode);
        loss.backward([torch.tensor(1.7, ScalarType.Float64)]);
        return new Run(loss.detach(), qq.grad!, a.grad!, b.grad!);
    }

    [Fact]
    public void Soft_mode_with_alpha_zero_regresses_to_label_one()
    {
        using var scope = torch.NewDisposeScope();
        var (q, z, u, u2, s1, s2) = Inputs(40, 16, 9);
        // Independent: (1/C)·Σ w_c (1 − cos(q_c, z_c))² with the cosine written out.
        var (qg, ag, bg) = (q.clone().requires_grad_(), s1.clone().requires_grad_(), s2.clone().requires_grad_());
        var cos = (qg * z).sum(1) / (qg.pow(2).sum(1).sqrt() * z.pow(2).sum(1).sqrt());
        var w = ag * bg / (ag * bg).sum();
        var expected = (w * (1 - cos).pow(2)).sum() / 40;
        expected.backward([torch.tensor(1.7f)]);
        var want = new Run(expected.detach(), qg.grad!, ag.grad!, bg.grad!);
        foreach (var backend in new[] { Backend.Reference, Backend.Cpu, Backend.Kernel })
        {
            var k = Evaluate(backend, q, z, u, u2, s1, s2, 0, 0.3, ByolLabel.Soft);
            SoftByolAssert.Close(want.Loss, k.Loss, $"{backend} loss");
            SoftByolAssert.Close(want.Gq, k.Gq, $"{backend} gq");
            SoftByolAssert.Close(want.Gs1, k.Gs1, $"{backend} gs1");
            SoftByolAssert.Close(want.Gs2, k.Gs2, $"{backend} gs2");
        }
    }

    /// <summary>
    /// q̂ = (1,0), (0,1), (0.6,0.8); ẑ = (1,0), (1,0), (0,1) → sim = 1, 0, 0.8. p = s1·s2 = 1, 1, 2, S = 4.
    /// Hard: e = 0, 1, 0.2 → L = (0.25 + 0.1)/3 = 0.35/3. Soft, alpha/lambda = ln 2, ⟨û,û2⟩ = 1, 0, −1 → l = 1, 0.5, 0.25,
    /// e = 0, 0.25, 0.3025 → L = (0.0625 + 0.15125)/3 = 0.07125.
    /// Hard gradients: γ_c = w_c·(−1)/3; gq_c = γ_c(ẑ − sim·q̂)/‖q‖ → (0,0), (−1/24, 0), (0.016, −0.012);
    /// ∂L/∂p_c = (e_c/3 − L)/4 → gs1_2 = (1/3 − 0.35/3)/4 · 0.5 = 0.65/24, gs2_2 = 0.65/6, gs1_1 = −0.35/12.
    /// </summary>
    [Theory]
    [InlineData(Backend.Reference)]
    [InlineData(Backend.Cpu)]
    [InlineData(Backend.Kernel)]
    public void Hand_computed_three_correspondences(Backend backend)
    {
        using var scope = torch.NewDisposeScope();
        var q = torch.tensor(new float[] { 1, 0, 0, 2, 3, 4 }).view(3, 2);
        var z = torch.tensor(new float[] { 1, 0, 1, 0, 0, 1 }).view(3, 2);
        var u = torch.tensor(new float[] { 1, 0, 1, 0, 1, 0 }).view(3, 2);
        var u2 = torch.tensor(new float[] { 1, 0, 0, 1, -1, 0 }).view(3, 2);
        var s1 = torch.tensor(new float[] { 1, 2, 1 });
        var s2 = torch.tensor(new float[] { 1, 0.5f, 2 });
        double alpha = 2 * Math.Log(2), lambda = 2;

        var soft = SoftByolLoss.Apply(q, z, u, u2, s1, s2, alpha, lambda, ByolLabel.Soft, backend);
        Assert.Equal(0.07125, soft.item<float>(), 6);

        var hard = Evaluate(backend, q, z, u, u2, s1, s2, alpha, lambda, ByolLabel.Hard);
        Assert.Equal(0.35 / 3, hard.Loss.item<float>(), 6);
        var g = 1.7;  // Evaluate's upstream gradient
        SoftByolAssert.Close(torch.tensor(new[] { 0, 0, -1 / 24.0, 0, 0.016, -0.012 }).view(3, 2) * g, hard.Gq, "gq", atol: 1e-6);
        Assert.Equal(-0.35 / 12 * g, hard.Gs1[0].item<float>(), 6);
        Assert.Equal(0.65 / 24 * g, hard.Gs1[1].item<float>(), 6);
        Assert.Equal(0.65 / 6 * g, hard.Gs2[1].item<float>(), 6);
    }

    [Theory]
    [InlineData(ByolLabel.Hard)]
    [InlineData(ByolLabel.Soft)]
    public void Scores_summing_to_zero_give_zero_loss_and_zero_gradients_on_every_backend(ByolLabel mode)
    {
        using var scope = torch.NewDisposeScope();
        var (q, z, u, u2, _, _) = Inputs(3, 4, 3);
        var s1 = torch.tensor(new float[] { 1, -1, 2 });
        var s2 = torch.tensor(new float[] { 1, 1, 0 });  // p = 1, −1, 0: Σ = 0 exactly
        foreach (var backend in new[] { Backend.Reference, Backend.Cpu, Backend.Kernel })
        {
            var k = Evaluate(backend, q, z, u, u2, s1, s2, 1, 1, mode);
            Assert.Equal(0f, k.Loss.item<float>());
            foreach (var (t, name) in new[] { (k.Gq, "gq"), (k.Gs1, "gs1"), (k.Gs2, "gs2") })
                Assert.True(t.eq(0).all().item<bool>(), $"{backend} {name} is not all zero");
        }
    }

    [Theory]
    [InlineData(Backend.Reference)]
    [InlineData(Backend.Cpu)]
    [InlineData(Backend.Kernel)]
    public void Zero_correspondences_give_zero_loss_with_an_autograd_link(Backend backend)
    {
        using var scope = torch.NewDisposeScope();
        var (q, z, u, u2, s1, s2) = Inputs(0, 8, 1);
        var k = Evaluate(backend, q, z, u, u2, s1, s2, 1, 1, ByolLabel.Soft);
        Assert.Equal(0f, k.Loss.item<float>());
        Assert.Equal([0L, 8L], k.Gq.shape);
        Assert.Equal([0L], k.Gs1.shape);
        Assert.Equal([0L], k.Gs2.shape);
    }

    [Theory]
    [InlineData(Backend.Reference)]
    [InlineData(Backend.Cpu)]
    [InlineData(Backend.Kernel)]
    public void Targets_and_label_features_receive_no_gradient(Backend backend)
    {
        using var scope = torch.NewDisposeScope();
        var (q, z, u, u2, s1, s2) = Inputs(10, 6, 2);
        var (zg, ug, u2g, qg) = (z.requires_grad_(), u.requires_grad_(), u2.requires_grad_(), q.requires_grad_());
        SoftByolLoss.Apply(qg, zg, ug, u2g, s1, s2, 1, 1, ByolLabel.Soft, backend).backward();
        Assert.NotNull(qg.grad);
        Assert.Null(zg.grad);
        Assert.Null(ug.grad);
        Assert.Null(u2g.grad);
    }

    [Theory]
    [InlineData("q", ByolLabel.Hard)]
    [InlineData("z", ByolLabel.Hard)]
    [InlineData("s1", ByolLabel.Hard)]
    [InlineData("s2", ByolLabel.Soft)]
    [InlineData("u", ByolLabel.Soft)]
    [InlineData("u2", ByolLabel.Soft)]
    public void Non_finite_inputs_are_rejected_naming_the_argument(string which, ByolLabel mode)
    {
        using var scope = torch.NewDisposeScope();
        var (q, z, u, u2, s1, s2) = Inputs(5, 4, 4);
        var bad = which switch { "q" => q, "z" => z, "u" => u, "u2" => u2, "s1" => s1, _ => s2 };
        bad.view(-1)[1] = which == "s2" ? float.PositiveInfinity : float.NaN;
        foreach (var backend in new[] { Backend.Reference, Backend.Cpu, Backend.Kernel })
        {
            var e = Assert.Throws<ArgumentException>(() => SoftByolLoss.Apply(q, z, u, u2, s1, s2, 1, 1, mode, backend));
            Assert.Equal(which, e.ParamName);
            Assert.Contains("finite", e.Message);
        }
    }

    [Fact]
    public void Bad_arguments_name_the_argument()
    {
        using var scope = torch.NewDisposeScope();
        var (q, z, u, u2, s1, s2) = Inputs(5, 4, 4);
        Assert.Equal("z", Assert.Throws<ArgumentException>(() => SoftByolLoss.Apply(q, z[..4], u, u2, s1, s2, 1, 1, ByolLabel.Hard)).ParamName);
        Assert.Equal("u2", Assert.Throws<ArgumentException>(() => SoftByolLoss.Apply(q, z, u, u2[.., ..3].contiguous(), s1, s2, 1, 1, ByolLabel.Hard)).ParamName);
        Assert.Equal("s1", Assert.Throws<ArgumentException>(() => SoftByolLoss.Apply(q, z, u, u2, s1[..3], s2, 1, 1, ByolLabel.Hard)).ParamName);
        Assert.Equal("q", Assert.Throws<ArgumentException>(() => SoftByolLoss.Apply(q.t(), z, u, u2, s1, s2, 1, 1, ByolLabel.Hard)).ParamName);
        Assert.Equal("q", Assert.Throws<ArgumentException>(() => SoftByolLoss.Apply(q.@double(), z, u, u2, s1, s2, 1, 1, ByolLabel.Hard)).ParamName);
        Assert.Equal("s2", Assert.Throws<ArgumentException>(() => SoftByolLoss.Apply(q, z, u, u2, s1, s2.view(5, 1), 1, 1, ByolLabel.Hard)).ParamName);
        Assert.Equal("alpha", Assert.Throws<ArgumentOutOfRangeException>(() => SoftByolLoss.Apply(q, z, u, u2, s1, s2, -1, 1, ByolLabel.Soft)).ParamName);
        Assert.Equal("alpha", Assert.Throws<ArgumentOutOfRangeException>(() => SoftByolLoss.Apply(q, z, u, u2, s1, s2, double.NaN, 1, ByolLabel.Soft)).ParamName);
        Assert.Equal("lambda", Assert.Throws<ArgumentOutOfRangeException>(() => SoftByolLoss.Apply(q, z, u, u2, s1, s2, 1, 0, ByolLabel.Soft)).ParamName);
        Assert.Equal("mode", Assert.Throws<ArgumentOutOfRangeException>(() => SoftByolLoss.Apply(q, z, u, u2, s1, s2, 1, 1, (ByolLabel)7)).ParamName);
    }

    [Fact]
    public void Kernel_is_deterministic_under_the_shuffled_schedule()
    {
        using var scope = torch.NewDisposeScope();
        var (q, z, u, u2, s1, s2) = Inputs(203, 45, 17);
        var plain = Evaluate(Backend.Kernel, q, z, u, u2, s1, s2, 1.1, 0.6, ByolLabel.Soft);
        var r = Evaluate(Backend.Reference, q, z, u, u2, s1, s2, 1.1, 0.6, ByolLabel.Soft);
        SoftByolAssert.Close(r.Loss, plain.Loss, "loss");
        foreach (var seed in new ulong[] { 1, 2, 3 })
        {
            using var rt = SoftByolAssert.Shuffled(seed);
            using var use = KernelRuntimes.UseHost(rt);
            var k = Evaluate(Backend.Kernel, q, z, u, u2, s1, s2, 1.1, 0.6, ByolLabel.Soft);
            SoftByolAssert.BitEqual(plain.Loss, k.Loss, $"seed {seed} loss");
            SoftByolAssert.BitEqual(plain.Gq, k.Gq, $"seed {seed} gq");
            SoftByolAssert.BitEqual(plain.Gs1, k.Gs1, $"seed {seed} gs1");
            SoftByolAssert.BitEqual(plain.Gs2, k.Gs2, $"seed {seed} gs2");
        }
    }

    [Fact]
    public void Zero_rows_of_q_follow_the_eps_clamp_like_the_Reference()
    {
        using var scope = torch.NewDisposeScope();
        var (q, z, u, u2, s1, s2) = Inputs(9, 8, 6);
        q[2] = torch.zeros(8);
        var r = Evaluate(Backend.Reference, q, z, u, u2, s1, s2, 1, 1, ByolLabel.Hard);
        foreach (var backend in Fused)
        {
            var k = Evaluate(backend, q, z, u, u2, s1, s2, 1, 1, ByolLabel.Hard);
            SoftByolAssert.Close(r.Loss, k.Loss, $"{backend} loss");
            SoftByolAssert.Close(r.Gs1, k.Gs1, $"{backend} gs1");
            // The zero row's gradient is ẑ/1e-12 scaled: huge; compare relatively.
            SoftByolAssert.Close(r.Gq, k.Gq, $"{backend} gq");
        }
    }
}

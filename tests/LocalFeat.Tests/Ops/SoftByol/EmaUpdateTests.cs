using LocalFeat.Models;
using LocalFeat.Ops;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace LocalFeat.Tests.Ops.SoftByol;

/// <summary><see cref="EmaUpdate"/>: the fused backends against the per-tensor loop, the τ schedule, buffers, bad input.</summary>
public class EmaUpdateTests
{
    private static (FeatureNet target, FeatureNet online) Models()
    {
        torch.manual_seed(1);
        var target = FeatureNet.Tiny();
        torch.manual_seed(2);
        var online = FeatureNet.Tiny();
        return (target, online);
    }

    private static Tensor[] Snapshot(nn.Module m) => m.parameters().Select(p => p.detach().clone()).ToArray();

    [Theory]
    [InlineData(Backend.Cpu)]
    [InlineData(Backend.Kernel)]
    public void Tiny_model_equals_the_per_tensor_loop_bit_for_bit(Backend backend)
    {
        using var scope = torch.NewDisposeScope();
        var (t1, online) = Models();
        var (t2, _) = Models();
        Assert.Equal(10, t1.parameters().Count());
        Assert.Equal(98_240, t1.parameters().Sum(p => p.numel()));
        foreach (var tau in new[] { 0.996, EmaUpdate.Tau(300, 1000), 0.5 })
        {
            EmaUpdate.Apply(t1, online, tau, Backend.Reference);
            EmaUpdate.Apply(t2, online, tau, backend);
        }
        var expected = Snapshot(t1);
        var actual = Snapshot(t2);
        for (int i = 0; i < expected.Length; i++) SoftByolAssert.BitEqual(expected[i], actual[i], $"parameter {i}");
        // And the update moved the target: t − o shrank by τ each step (independent of any backend).
        var before = Snapshot(Models().target);
        var o = Snapshot(online);
        double shrink = 0.996 * EmaUpdate.Tau(300, 1000) * 0.5;
        for (int i = 0; i < expected.Length; i++)
            SoftByolAssert.Close((before[i] - o[i]) * shrink, actual[i] - o[i], $"parameter {i} − online", atol: 1e-6, rtol: 1e-4);
        t1.Dispose();
        t2.Dispose();
        online.Dispose();
    }

    [Fact]
    public void Kernel_under_the_shuffled_schedule_equals_the_loop()
    {
        using var scope = torch.NewDisposeScope();
        var (t1, online) = Models();
        var (t2, _) = Models();
        EmaUpdate.Apply(t1, online, 0.99, Backend.Reference);
        using (var rt = SoftByolAssert.Shuffled(5))
        using (KernelRuntimes.UseHost(rt))
            EmaUpdate.Apply(t2, online, 0.99, Backend.Kernel);
        var (e, a) = (Snapshot(t1), Snapshot(t2));
        for (int i = 0; i < e.Length; i++) SoftByolAssert.BitEqual(e[i], a[i], $"parameter {i}");
    }

    public static IEnumerable<object[]> Shapes()
    {
        // Any shape: 0-dim, empty, a chunk boundary (4096, 32768) ± 1, many tiny tensors, a larger one.
        long[][] shapes = [[], [0], [3, 0, 2], [1], [4095], [4096], [4097], [32769], [7, 3, 3, 3], [64, 64, 3, 3], [5], [2, 2]];
        foreach (var backend in new[] { Backend.Cpu, Backend.Kernel })
            yield return [backend, shapes];
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Tensor_lists_of_any_shape_match_the_loop(Backend backend, long[][] shapes)
    {
        using var scope = torch.NewDisposeScope();
        using var g = new Generator(3);
        var online = shapes.Select(s => torch.randn(s, generator: g)).ToArray();
        var t1 = shapes.Select(s => torch.randn(s, generator: g)).ToArray();
        var t2 = t1.Select(t => t.clone()).ToArray();
        EmaUpdate.Apply(t1, online, 0.9, Backend.Reference);
        EmaUpdate.Apply(t2, online, 0.9, backend);
        for (int i = 0; i < t1.Length; i++) SoftByolAssert.BitEqual(t1[i], t2[i], $"tensor {i}");
    }

    [Fact]
    public void Update_is_in_place_and_leaves_no_autograd_history()
    {
        using var scope = torch.NewDisposeScope();
        var t = torch.ones([4]).requires_grad_();
        var o = torch.zeros([4]).requires_grad_();
        var storage = t.data_ptr();
        foreach (var backend in new[] { Backend.Reference, Backend.Cpu, Backend.Kernel })
            EmaUpdate.Apply([t], [o], 0.5, backend);
        Assert.Equal(storage, t.data_ptr());
        Assert.True(t.is_leaf);
        Assert.Equal(0.125f, t[0].item<float>());  // 1 · 0.5³
    }

    [Fact]
    public void Buffers_are_copied_not_averaged()
    {
        using var scope = torch.NewDisposeScope();
        var target = nn.BatchNorm1d(3);
        var online = nn.BatchNorm1d(3);
        online.train();
        online.forward(torch.randn([8, 3]) * 3 + 1);  // moves running stats and the int64 counter
        foreach (var backend in new[] { Backend.Reference, Backend.Cpu, Backend.Kernel })
        {
            EmaUpdate.Apply(target, online, 0.9, backend);
            var tb = target.named_buffers().ToDictionary(b => b.name, b => b.buffer);
            foreach (var (name, buffer) in online.named_buffers())
                Assert.True(tb[name].eq(buffer).all().item<bool>(), $"{backend}: buffer {name} not copied");
        }
        Assert.Equal(ScalarType.Int64, target.named_buffers().Single(b => b.name == "num_batches_tracked").buffer.dtype);
    }

    [Fact]
    public void Tau_follows_the_BYOL_cosine_schedule()
    {
        Assert.Equal(0.996, EmaUpdate.Tau(0, 100), 15);
        Assert.Equal(0.998, EmaUpdate.Tau(50, 100), 15);
        Assert.Equal(1.0, EmaUpdate.Tau(100, 100), 15);
        Assert.Equal(1.0, EmaUpdate.Tau(250, 100), 15);
        // 1 − 0.004·(cos(π/4) + 1)/2 at a quarter.
        Assert.Equal(1 - 0.004 * (Math.Sqrt(0.5) + 1) / 2, EmaUpdate.Tau(25, 100), 15);
        Assert.Equal(0.9, EmaUpdate.Tau(0, 10, tauBase: 0.9), 15);
        var taus = Enumerable.Range(0, 101).Select(k => EmaUpdate.Tau(k, 100)).ToArray();
        Assert.True(taus.Zip(taus.Skip(1)).All(p => p.First <= p.Second), "not monotone");
        Assert.Equal("totalSteps", Assert.Throws<ArgumentOutOfRangeException>(() => EmaUpdate.Tau(0, 0)).ParamName);
        Assert.Equal("step", Assert.Throws<ArgumentOutOfRangeException>(() => EmaUpdate.Tau(-1, 10)).ParamName);
    }

    [Fact]
    public void Bad_input_is_rejected_with_the_argument_named()
    {
        using var scope = torch.NewDisposeScope();
        var a = torch.zeros([3]);
        var b = torch.zeros([4]);
        Assert.Equal("online", Assert.Throws<ArgumentException>(() => EmaUpdate.Apply([a], [b], 0.9)).ParamName);
        Assert.Equal("online", Assert.Throws<ArgumentException>(() => EmaUpdate.Apply([a], [a, b], 0.9)).ParamName);
        Assert.Equal("target[0]", Assert.Throws<ArgumentException>(() => EmaUpdate.Apply([a.@double()], [a], 0.9)).ParamName);
        Assert.Equal("online[0]", Assert.Throws<ArgumentException>(() => EmaUpdate.Apply([torch.zeros([2, 3])], [torch.zeros([3, 2]).t()], 0.9)).ParamName);
        Assert.Equal("tau", Assert.Throws<ArgumentOutOfRangeException>(() => EmaUpdate.Apply([a], [a], 1.5)).ParamName);
        Assert.Equal("tau", Assert.Throws<ArgumentOutOfRangeException>(() => EmaUpdate.Apply([a], [a], double.NaN)).ParamName);
        using var m1 = FeatureNet.Tiny();
        using var m2 = nn.Linear(2, 2);
        var e = Assert.Throws<ArgumentException>(() => EmaUpdate.Apply(m1, m2, 0.9));
        Assert.Equal("online", e.ParamName);
        Assert.Contains("unpaired", e.Message);
    }
}

using LocalFeat.Torch;
using LocalFeat.Torch.nn;
using LocalFeat.Torch.optim;
using Xunit;

namespace LocalFeat.Tests.Torch;

public class NnOptimTests
{
    private static Sequential SmallNet() => new(new Conv2d(2, 4, 3, padding: 1), new BatchNorm2d(4), new ReLU(), new MaxPool2d(2));

    [Fact]
    public void Linear_IsXTimesWTransposedPlusB()
    {
        using var scope = torch.NewDisposeScope();
        using var lin = new Linear(3, 2);
        var x = torch.randn(4, 3);
        float[] xs = x.ToArray<float>(), w = lin.weight.ToArray<float>(), b = lin.bias!.ToArray<float>();
        float[] y = lin.forward(x).ToArray<float>();
        for (int i = 0; i < 4; i++)
            for (int o = 0; o < 2; o++)
            {
                float e = b[o];
                for (int k = 0; k < 3; k++) e += xs[i * 3 + k] * w[o * 3 + k];
                Assert.Equal(e, y[i * 2 + o], 1e-5);
            }
        // PyTorch's default init bound 1/sqrt(fan_in).
        Assert.All(w, v => Assert.InRange(v, -1 / MathF.Sqrt(3), 1 / MathF.Sqrt(3)));
    }

    [Fact]
    public void BatchNorm2d_Training_NormalisesAndUpdatesRunningStatistics()
    {
        using var scope = torch.NewDisposeScope();
        using var bn = new BatchNorm2d(2);
        var x = torch.randn(3, 2, 4, 4).mul(3).add(1);
        var y = bn.forward(x);
        float[] xs = x.ToArray<float>(), ys = y.ToArray<float>();
        var stats = bn.state_dict();
        for (int c = 0; c < 2; c++)
        {
            var vals = Enumerable.Range(0, 3).SelectMany(n => Enumerable.Range(0, 16).Select(i => (n * 2 + c) * 16 + i)).ToArray();
            double mean = vals.Average(i => (double)xs[i]);
            double var = vals.Sum(i => (xs[i] - mean) * (xs[i] - mean)) / vals.Length;
            foreach (int i in vals) Assert.Equal((xs[i] - mean) / Math.Sqrt(var + 1e-5), ys[i], 1e-4);
            Assert.Equal(0.1 * mean, stats["running_mean"].ToArray<float>()[c], 1e-5);
            Assert.Equal(0.9 + 0.1 * var * vals.Length / (vals.Length - 1), stats["running_var"].ToArray<float>()[c], 1e-5);
        }
        Assert.Equal(1L, stats["num_batches_tracked"].item<long>());
    }

    [Fact]
    public void Module_NamesParametersAndBuffers_AndStateDictRoundTrips()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(1);
        using var a = SmallNet();
        torch.manual_seed(2);
        using var b = SmallNet();
        Assert.Equal(["0.weight", "0.bias", "1.weight", "1.bias"], a.named_parameters().Select(p => p.name));
        Assert.Equal(["1.running_mean", "1.running_var", "1.num_batches_tracked"], a.named_buffers().Select(p => p.name));
        var x = torch.randn(2, 2, 8, 8);
        a.forward(x).Dispose();  // moves a's running statistics
        a.eval(); b.eval();
        Assert.False(a.forward(x).equal(b.forward(x)));
        b.load_state_dict(a.state_dict());
        Assert.True(a.forward(x).equal(b.forward(x)));

        var bad = a.state_dict();
        bad["0.bias"] = torch.zeros(5);
        var e = Assert.Throws<ArgumentException>(() => b.load_state_dict(bad));
        Assert.Contains("'0.bias': expected shape [4], got [5]", e.Message);
        bad.Remove("0.bias");
        bad["extra"] = torch.zeros(1);
        e = Assert.Throws<ArgumentException>(() => b.load_state_dict(bad));
        Assert.Contains("missing [0.bias], unexpected [extra]", e.Message);
    }

    [Fact]
    public void BackwardThroughTheModel_ReachesEveryParameter()
    {
        using var scope = torch.NewDisposeScope();
        using var net = SmallNet();
        net.forward(torch.randn(2, 2, 8, 8)).sum().backward();
        foreach (var (name, p) in net.named_parameters())
            Assert.True(p.grad is { } g && g.abs().sum().item<float>() > 0, $"{name} has no gradient");
        net.zero_grad();
        Assert.All(net.parameters(), p => Assert.Null(p.grad));
    }

    /// <summary>Adam from the paper (bias-corrected moments) on f(p) = ½‖p‖², whose gradient is p.</summary>
    private static double[] AdamByHand(double[] p, int steps, double lr, double b1 = 0.9, double b2 = 0.999, double eps = 1e-8)
    {
        p = (double[])p.Clone();
        var m = new double[p.Length];
        var v = new double[p.Length];
        for (int t = 1; t <= steps; t++)
            for (int i = 0; i < p.Length; i++)
            {
                double g = p[i];
                m[i] = b1 * m[i] + (1 - b1) * g;
                v[i] = b2 * v[i] + (1 - b2) * g * g;
                double mh = m[i] / (1 - Math.Pow(b1, t)), vh = v[i] / (1 - Math.Pow(b2, t));
                p[i] -= lr * mh / (Math.Sqrt(vh) + eps);
            }
        return p;
    }

    private static void HalfSquaredNormStep(Optimizer opt, Tensor p)
    {
        opt.zero_grad();
        using var scope = torch.NewDisposeScope();
        p.pow(2).sum().mul(0.5).backward();
        opt.step();
    }

    [Fact]
    public void Adam_FollowsThePaper()
    {
        double[] p0 = [1.0, -0.5, 2.0, 1e-3];
        using var p = torch.tensor(p0).requires_grad_();
        using var adam = new Adam([p], lr: 0.1);
        for (int i = 0; i < 5; i++) HalfSquaredNormStep(adam, p);
        var expected = AdamByHand(p0, 5, 0.1);
        var got = p.ToArray<double>();
        for (int i = 0; i < p0.Length; i++) Assert.Equal(expected[i], got[i], 1e-12);
    }

    [Fact]
    public void SgdWithMomentum_FollowsItsRecurrence()
    {
        double[] p0 = [1.0, -2.0];
        using var p = torch.tensor(p0).requires_grad_();
        using var sgd = new SGD([p], lr: 0.1, momentum: 0.9);
        double[] q = (double[])p0.Clone(), buf = new double[2];
        for (int t = 0; t < 4; t++)
        {
            HalfSquaredNormStep(sgd, p);
            for (int i = 0; i < 2; i++)
            {
                buf[i] = t == 0 ? q[i] : 0.9 * buf[i] + q[i];
                q[i] -= 0.1 * buf[i];
            }
        }
        var got = p.ToArray<double>();
        for (int i = 0; i < 2; i++) Assert.Equal(q[i], got[i], 1e-12);
    }

    [Fact]
    public void OptimizerState_SavedAndRestored_ContinuesExactly()
    {
        double[] p0 = [0.3, -1.2, 0.7];
        using var straight = torch.tensor(p0).requires_grad_();
        using var adam1 = new Adam([straight], lr: 0.05);
        for (int i = 0; i < 6; i++) HalfSquaredNormStep(adam1, straight);

        using var first = torch.tensor(p0).requires_grad_();
        using var adam2 = new Adam([first], lr: 0.05);
        for (int i = 0; i < 2; i++) HalfSquaredNormStep(adam2, first);
        var saved = adam2.state_dict();
        using var resumed = first.detach().clone().requires_grad_();
        using var adam3 = new Adam([resumed], lr: 999);
        adam3.load_state_dict(saved);
        Assert.Equal(0.05, adam3.lr);
        Assert.Equal(2, adam3.step_count);
        for (int i = 0; i < 4; i++) HalfSquaredNormStep(adam3, resumed);
        Assert.Equal(straight.ToArray<double>(), resumed.ToArray<double>());
        foreach (var t in saved.Values) t.Dispose();
    }

    [Fact]
    public void Optimizer_RejectsBadSettings()
    {
        using var p = torch.ones([1], requires_grad: true);
        Assert.Equal("lr", Assert.Throws<ArgumentOutOfRangeException>(() => new Adam([p], lr: double.NaN)).ParamName);
        Assert.Equal("beta1", Assert.Throws<ArgumentOutOfRangeException>(() => new Adam([p], beta1: 1)).ParamName);
        Assert.Throws<ArgumentException>(() => new SGD([], lr: 0.1));
    }
}

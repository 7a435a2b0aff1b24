using LocalFeat.Torch;
using LocalFeat.Torch.Autograd;
using LocalFeat.Torch.nn;
using Xunit;

namespace LocalFeat.Tests.Torch;

/// <summary>
/// y = scale·w·x³ (elementwise) and s = Σx, two inputs and two outputs, with saved tensors and a
/// non-tensor value (scale) kept in the context.
/// </summary>
internal sealed class ScaledCube : Function
{
    private readonly double _scale;

    public ScaledCube(double scale) => _scale = scale;

    protected override Tensor[] Forward(FunctionContext ctx, Tensor[] inputs)
    {
        var (x, w) = (inputs[0], inputs[1]);
        ctx.SaveForBackward(x, w);
        ctx.Data["scale"] = _scale;
        return [x.pow(3).mul(w).mul(_scale), x.sum()];
    }

    protected override Tensor?[] Backward(FunctionContext ctx, Tensor[] grads)
    {
        var saved = ctx.SavedTensors;
        var (x, w) = (saved[0], saved[1]);
        double scale = (double)ctx.Data["scale"]!;
        var (gy, gs) = (grads[0], grads[1]);
        var gx = gy.mul(w).mul(x.pow(2)).mul(3 * scale).add(gs);
        var gw = ctx.NeedsInputGrad(1) ? gy.mul(x.pow(3)).mul(scale) : null;
        return [gx, gw];
    }
}

internal sealed class ThrowingBackward : Function
{
    protected override Tensor[] Forward(FunctionContext ctx, Tensor[] inputs) => [inputs[0].mul(2)];
    protected override Tensor?[] Backward(FunctionContext ctx, Tensor[] grads) => throw new InvalidOperationException("deliberate failure in Backward");
}

/// <summary>Returns the argmax (int64, not differentiable) and the max value.</summary>
internal sealed class MaxWithIndex : Function
{
    protected override Tensor[] Forward(FunctionContext ctx, Tensor[] inputs)
    {
        var index = inputs[0].argmax();
        ctx.MarkNonDifferentiable(index);
        ctx.SaveForBackward(index);
        ctx.Data["n"] = inputs[0].numel();
        return [inputs[0].max(), index];
    }

    protected override Tensor?[] Backward(FunctionContext ctx, Tensor[] grads)
    {
        var g = torch.zeros([(long)ctx.Data["n"]!], ScalarType.Float64);
        g.index_put_([ctx.SavedTensors[0].unsqueeze(0)], grads[0].unsqueeze(0));
        return [g];
    }
}

public class AutogradTests
{
    /// <summary>Central differences of a scalar function of <paramref name="x"/> (float64), element by element.</summary>
    private static double[] NumericGradient(Func<Tensor, double> f, double[] x, long[] shape, double h = 1e-6)
    {
        var g = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            var plus = (double[])x.Clone(); plus[i] += h;
            var minus = (double[])x.Clone(); minus[i] -= h;
            using var tp = torch.tensor(plus, shape);
            using var tm = torch.tensor(minus, shape);
            g[i] = (f(tp) - f(tm)) / (2 * h);
        }
        return g;
    }

    private static double[] Random(int n, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
    }

    private static void Close(double[] expected, double[] actual, double tol = 1e-6)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol * (1 + Math.Abs(expected[i])), $"element {i}: expected {expected[i]}, got {actual[i]}");
    }

    [Fact]
    public void CustomFunction_GradientsMatchFiniteDifferences()
    {
        double[] x0 = Random(6, 1), w0 = Random(6, 2), c0 = Random(6, 3);
        long[] shape = [2, 3];
        using var scope = torch.NewDisposeScope();
        var c = torch.tensor(c0, shape);
        double Loss(Tensor x, Tensor w)
        {
            var outs = new ScaledCube(1.5).Apply(x, w);
            return (outs[0].mul(c).sum() + outs[1].mul(2)).item<double>();
        }

        var xt = torch.tensor(x0, shape).requires_grad_();
        var wt = torch.tensor(w0, shape).requires_grad_();
        var y = new ScaledCube(1.5).Apply(xt, wt);
        Assert.True(y[0].requires_grad);
        var loss = y[0].mul(c).sum() + y[1].mul(2);
        loss.backward();

        var wConst = torch.tensor(w0, shape);
        var xConst = torch.tensor(x0, shape);
        Close(NumericGradient(x => Loss(x, wConst), x0, shape), xt.grad!.ToArray<double>());
        Close(NumericGradient(w => Loss(xConst, w), w0, shape), wt.grad!.ToArray<double>());
    }

    [Fact]
    public void Conv2dBackward_MatchesFiniteDifferences()
    {
        long[] xs = [1, 2, 5, 5], ws = [3, 2, 3, 3];
        double[] x0 = Random(50, 4), w0 = Random(54, 5), b0 = Random(3, 6);
        using var scope = torch.NewDisposeScope();
        var b = torch.tensor(b0);
        double Loss(Tensor x, Tensor w) => functional.conv2d(x, w, b, padding: 1).pow(2).sum().item<double>();

        var xt = torch.tensor(x0, xs).requires_grad_();
        var wt = torch.tensor(w0, ws).requires_grad_();
        functional.conv2d(xt, wt, b, padding: 1).pow(2).sum().backward();

        var xc = torch.tensor(x0, xs);
        var wc = torch.tensor(w0, ws);
        Close(NumericGradient(x => Loss(x, wc), x0, xs), xt.grad!.ToArray<double>());
        Close(NumericGradient(w => Loss(xc, w), w0, ws), wt.grad!.ToArray<double>());
    }

    [Fact]
    public void ExceptionInBackward_IsATorchException_AndTheProcessSurvives()
    {
        using var scope = torch.NewDisposeScope();
        var x = torch.ones([2], requires_grad: true);
        var y = new ThrowingBackward().Apply(x)[0].sum();
        var e = Assert.Throws<TorchException>(() => y.backward());
        Assert.Contains("deliberate failure in Backward", e.Message);
        Assert.Contains("ThrowingBackward", e.Message);
        var z = (x * 3).sum();
        z.backward();
        Assert.Equal(new float[] { 3, 3 }, x.grad!.ToArray<float>());
    }

    [Fact]
    public void NonDifferentiableIndexOutput_CarriesNoGradient()
    {
        using var scope = torch.NewDisposeScope();
        var x = torch.tensor(new double[] { 0.5, 3, -1, 2 }).requires_grad_();
        var outs = new MaxWithIndex().Apply(x);
        Assert.False(outs[1].requires_grad);
        Assert.Equal(1L, outs[1].item<long>());
        outs[0].mul(5).backward();
        Assert.Equal(new double[] { 0, 5, 0, 0 }, x.grad!.ToArray<double>());
    }

    [Fact]
    public void AutogradGrad_ReturnsGradientsWithoutAccumulating()
    {
        using var scope = torch.NewDisposeScope();
        var x = torch.tensor(new double[] { 1, 2, 3 }).requires_grad_();
        var y = x.pow(2).sum();
        var g = torch.autograd.grad([y], [x], create_graph: true);
        Assert.Equal(new double[] { 2, 4, 6 }, g[0]!.ToArray<double>());
        Assert.Null(x.grad);
        // Second derivative through create_graph.
        var g2 = torch.autograd.grad([g[0]!.sum()], [x]);
        Assert.Equal(new double[] { 2, 2, 2 }, g2[0]!.ToArray<double>());
        var unused = torch.ones([1], requires_grad: true);
        Assert.Null(torch.autograd.grad([x.sum()], [unused], allow_unused: true)[0]);
    }
}

[Collection(SerialCollection.Name)]
public class AutogradLifetimeTests
{
    [Fact]
    public void CustomFunction_BackwardOnAnotherThread_AndNodesAreReleased()
    {
        long before = Function.LiveContexts;
        for (int i = 0; i < 200; i++)
        {
            using var scope = torch.NewDisposeScope();
            var x = torch.randn([4], dtype: ScalarType.Float64).requires_grad_();
            var w = torch.ones([4], ScalarType.Float64);
            var outs = new ScaledCube(1).Apply(x, w);
            var loss = outs[0].sum();
            // Forward here, backward from another thread.
            Exception? error = null;
            var other = new Thread(() => { try { loss.backward(); } catch (Exception e) { error = e; } });
            other.Start();
            other.Join();
            Assert.Null(error);
            var expected = x.detach().pow(2).mul(3).add(0).ToArray<double>();
            Assert.Equal(expected, x.grad!.ToArray<double>());
        }
        // Every graph above is gone with its scope: the C# contexts were released.
        Assert.Equal(before, Function.LiveContexts);
    }

    [Fact]
    public void CustomFunction_WithoutGradients_RecordsNothing()
    {
        using var scope = torch.NewDisposeScope();
        long before = Function.LiveContexts;
        var x = torch.ones(3);
        var y = new ScaledCube(2).Apply(x, x);
        Assert.False(y[0].requires_grad);
        Assert.Equal(new float[] { 2, 2, 2 }, y[0].ToArray<float>());
        Assert.Equal(before, Function.LiveContexts);
        var xg = torch.ones([3], requires_grad: true);
        using (torch.no_grad())
        {
            Assert.False(torch.is_grad_enabled());
            Assert.False(new ScaledCube(2).Apply(xg, xg)[0].requires_grad);
        }
        Assert.True(torch.is_grad_enabled());
    }
}

using System.Globalization;

namespace LocalFeat.Torch.optim;

/// <summary>
/// Base of the optimizers: one parameter group with a learning rate, per-parameter state tensors kept by
/// name, and a state dict of tensors (so it saves with safetensors next to the model).
/// </summary>
public abstract class Optimizer : IDisposable
{
    private readonly Dictionary<string, Tensor> _state = new();

    protected Optimizer(IEnumerable<Tensor> parameters, double lr)
    {
        Parameters = parameters.ToArray();
        if (Parameters.Length == 0) throw new ArgumentException("optimizer got an empty parameter list", nameof(parameters));
        if (!(lr >= 0)) throw new ArgumentOutOfRangeException(nameof(lr), lr, "learning rate must be ≥ 0");
        this.lr = lr;
    }

    protected Tensor[] Parameters { get; }

    /// <summary>Learning rate of the next step (a schedule sets it before each step).</summary>
    public double lr { get; set; }

    /// <summary>Steps taken so far.</summary>
    public long step_count { get; private set; }

    public void zero_grad()
    {
        foreach (var p in Parameters) p.grad = null;
    }

    /// <summary>Updates every parameter that has a gradient.</summary>
    public void step()
    {
        step_count++;
        using var guard = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        for (int i = 0; i < Parameters.Length; i++)
        {
            using var g = Parameters[i].grad;
            if (g is null) continue;
            Update(i, Parameters[i], g);
        }
    }

    protected abstract void Update(int index, Tensor parameter, Tensor grad);

    /// <summary>The state tensor <paramref name="name"/> of parameter <paramref name="index"/>, created by <paramref name="init"/> on first use.</summary>
    protected Tensor State(int index, string name, Func<Tensor> init)
    {
        string key = Key(index, name);
        if (!_state.TryGetValue(key, out var t))
        {
            t = init().DetachFromDisposeScope();
            _state[key] = t;
        }
        return t;
    }

    private static string Key(int index, string name) => $"state.{index.ToString(CultureInfo.InvariantCulture)}.{name}";

    /// <summary>State tensors plus "lr" and "step" (new handles; the caller disposes them).</summary>
    public Dictionary<string, Tensor> state_dict()
    {
        var result = _state.ToDictionary(kv => kv.Key, kv => kv.Value.clone().DetachFromDisposeScope());
        result["lr"] = torch.tensor(new[] { lr }).DetachFromDisposeScope();
        result["step"] = torch.tensor(new[] { step_count }).DetachFromDisposeScope();
        return result;
    }

    public void load_state_dict(IReadOnlyDictionary<string, Tensor> state)
    {
        if (!state.TryGetValue("lr", out var lrT) || !state.TryGetValue("step", out var stepT))
            throw new ArgumentException("optimizer state_dict lacks 'lr' or 'step'", nameof(state));
        foreach (var key in state.Keys.Where(k => k.StartsWith("state.", StringComparison.Ordinal)))
        {
            var parts = key.Split('.');
            if (parts.Length != 3 || !int.TryParse(parts[1], CultureInfo.InvariantCulture, out int i) || i < 0 || i >= Parameters.Length)
                throw new ArgumentException($"optimizer state_dict key '{key}' does not match {Parameters.Length} parameters", nameof(state));
        }
        foreach (var t in _state.Values) t.Dispose();
        _state.Clear();
        foreach (var (key, t) in state)
            if (key.StartsWith("state.", StringComparison.Ordinal)) _state[key] = t.clone().DetachFromDisposeScope();
        lr = lrT.item<double>();
        step_count = stepT.item<long>();
    }

    public void Dispose()
    {
        foreach (var t in _state.Values) t.Dispose();
        _state.Clear();
        GC.SuppressFinalize(this);
    }
}

/// <summary>Adam (Kingma and Ba), as torch.optim.Adam with L2 weight decay added to the gradient.</summary>
public sealed class Adam : Optimizer
{
    public Adam(IEnumerable<Tensor> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weight_decay = 0)
        : base(parameters, lr)
    {
        if (beta1 is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(beta1), beta1, "must be in [0, 1)");
        if (beta2 is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(beta2), beta2, "must be in [0, 1)");
        if (!(eps > 0)) throw new ArgumentOutOfRangeException(nameof(eps), eps, "must be > 0");
        (Beta1, Beta2, Eps, WeightDecay) = (beta1, beta2, eps, weight_decay);
    }

    public double Beta1 { get; }
    public double Beta2 { get; }
    public double Eps { get; }
    public double WeightDecay { get; }

    protected override void Update(int index, Tensor p, Tensor grad)
    {
        var g = WeightDecay != 0 ? grad.add(p, WeightDecay) : grad;
        var expAvg = State(index, "exp_avg", () => torch.zeros_like(p));
        var expAvgSq = State(index, "exp_avg_sq", () => torch.zeros_like(p));
        var stepT = State(index, "step", () => torch.zeros([], ScalarType.Float64));
        stepT.add_(1);
        double t = stepT.item<double>();
        expAvg.lerp_(g, 1 - Beta1);
        expAvgSq.mul_(Beta2).addcmul_(g, g, 1 - Beta2);
        double bias1 = 1 - Math.Pow(Beta1, t), bias2 = 1 - Math.Pow(Beta2, t);
        var denom = expAvgSq.sqrt().div_(Math.Sqrt(bias2)).add_(Eps);
        p.addcdiv_(expAvg, denom, -lr / bias1);
    }
}

/// <summary>Stochastic gradient descent with optional momentum (PyTorch's formulation) and weight decay.</summary>
public sealed class SGD : Optimizer
{
    public SGD(IEnumerable<Tensor> parameters, double lr, double momentum = 0, double weight_decay = 0, bool nesterov = false)
        : base(parameters, lr)
    {
        if (momentum < 0) throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "must be ≥ 0");
        (Momentum, WeightDecay, Nesterov) = (momentum, weight_decay, nesterov);
    }

    public double Momentum { get; }
    public double WeightDecay { get; }
    public bool Nesterov { get; }

    protected override void Update(int index, Tensor p, Tensor grad)
    {
        var d = WeightDecay != 0 ? grad.add(p, WeightDecay) : grad;
        if (Momentum != 0)
        {
            bool fresh = false;
            var buf = State(index, "momentum_buffer", () => { fresh = true; return d.clone(); });
            if (!fresh) buf.mul_(Momentum).add_(d);
            d = Nesterov ? d.add(buf, Momentum) : buf;
        }
        p.add_(d, -lr);
    }
}

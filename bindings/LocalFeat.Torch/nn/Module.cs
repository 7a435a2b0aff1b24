namespace LocalFeat.Torch.nn;

/// <summary>
/// A layer or model with named parameters, buffers and submodules, as torch.nn.Module. Parameters and
/// buffers belong to the module (no dispose scope frees them); <see cref="Dispose"/> frees them.
/// </summary>
public abstract class Module : IDisposable
{
    private readonly List<(string Name, Tensor Value)> _parameters = [];
    private readonly List<(string Name, Tensor Value)> _buffers = [];
    private readonly List<(string Name, Module Value)> _modules = [];

    public bool training { get; private set; } = true;

    public abstract Tensor forward(Tensor input);

    public Tensor call(Tensor input) => forward(input);

    protected Tensor register_parameter(string name, Tensor value)
    {
        CheckName(name);
        value.DetachFromDisposeScope().requires_grad_();
        _parameters.Add((name, value));
        return value;
    }

    protected Tensor register_buffer(string name, Tensor value)
    {
        CheckName(name);
        _buffers.Add((name, value.DetachFromDisposeScope()));
        return value;
    }

    protected T register_module<T>(string name, T module) where T : Module
    {
        CheckName(name);
        _modules.Add((name, module));
        return module;
    }

    private void CheckName(string name)
    {
        if (string.IsNullOrEmpty(name) || name.Contains('.'))
            throw new ArgumentException($"a module member name must be non-empty without '.', got '{name}'", nameof(name));
        if (_parameters.Any(p => p.Name == name) || _buffers.Any(b => b.Name == name) || _modules.Any(m => m.Name == name))
            throw new ArgumentException($"'{name}' is already registered in {GetType().Name}", nameof(name));
    }

    /// <summary>The parameter or buffer registered as <paramref name="name"/> in this module.</summary>
    protected Tensor this[string name] =>
        _parameters.Concat(_buffers).FirstOrDefault(p => p.Name == name).Value
        ?? throw new KeyNotFoundException($"{GetType().Name} has no parameter or buffer '{name}'");

    public IEnumerable<(string name, Tensor parameter)> named_parameters(bool recurse = true) =>
        Walk(m => m._parameters, recurse);

    public IEnumerable<Tensor> parameters(bool recurse = true) => named_parameters(recurse).Select(p => p.parameter);

    public IEnumerable<(string name, Tensor buffer)> named_buffers(bool recurse = true) => Walk(m => m._buffers, recurse);

    public IEnumerable<(string name, Module module)> named_children() => _modules.Select(m => (m.Name, m.Value));

    private IEnumerable<(string, Tensor)> Walk(Func<Module, List<(string Name, Tensor Value)>> items, bool recurse, string prefix = "")
    {
        foreach (var (name, value) in items(this)) yield return (prefix + name, value);
        if (!recurse) yield break;
        foreach (var (name, module) in _modules)
            foreach (var item in module.Walk(items, true, prefix + name + "."))
                yield return item;
    }

    /// <summary>Parameters and buffers by dotted name (new handles; the caller disposes them).</summary>
    public Dictionary<string, Tensor> state_dict()
    {
        var result = new Dictionary<string, Tensor>();
        foreach (var (name, t) in named_parameters().Concat(named_buffers())) result[name] = t.detach().DetachFromDisposeScope();
        return result;
    }

    /// <summary>
    /// Copies values into the parameters and buffers. <paramref name="strict"/>: every key must match a member
    /// and every member must be present. Shapes must match. Returns the missing and unexpected keys.
    /// </summary>
    public (List<string> missing, List<string> unexpected) load_state_dict(IReadOnlyDictionary<string, Tensor> values, bool strict = true)
    {
        var own = named_parameters().Concat(named_buffers()).ToDictionary(p => p.Item1, p => p.Item2);
        var missing = own.Keys.Where(k => !values.ContainsKey(k)).ToList();
        var unexpected = values.Keys.Where(k => !own.ContainsKey(k)).ToList();
        if (strict && (missing.Count > 0 || unexpected.Count > 0))
            throw new ArgumentException($"state_dict does not match {GetType().Name}: missing [{string.Join(", ", missing)}], unexpected [{string.Join(", ", unexpected)}]", nameof(values));
        using var guard = torch.no_grad();
        foreach (var (name, target) in own)
        {
            if (!values.TryGetValue(name, out var source)) continue;
            var (want, got) = (target.shape, source.shape);
            if (!want.SequenceEqual(got))
                throw new ArgumentException($"state_dict entry '{name}': expected shape [{string.Join(", ", want)}], got [{string.Join(", ", got)}]", nameof(values));
            using var converted = source.to(target.device, target.dtype);
            target.copy_(converted).Dispose();
        }
        return (missing, unexpected);
    }

    public Module train(bool mode = true)
    {
        training = mode;
        foreach (var (_, m) in _modules) m.train(mode);
        return this;
    }

    public Module eval() => train(false);

    public void zero_grad()
    {
        foreach (var p in parameters()) p.grad = null;
    }

    /// <summary>Moves every parameter and buffer to <paramref name="device"/>.</summary>
    public Module to(Device device)
    {
        Move(_parameters, device, parameter: true);
        Move(_buffers, device, parameter: false);
        foreach (var (_, m) in _modules) m.to(device);
        return this;
    }

    private static void Move(List<(string Name, Tensor Value)> items, Device device, bool parameter)
    {
        for (int i = 0; i < items.Count; i++)
        {
            var (name, old) = items[i];
            if (old.device == device) continue;
            using var guard = torch.no_grad();
            var moved = old.to(device).DetachFromDisposeScope();
            if (parameter) moved.requires_grad_();
            items[i] = (name, moved);
            old.Dispose();
        }
    }

    public virtual void Dispose()
    {
        foreach (var (_, t) in _parameters.Concat(_buffers)) t.Dispose();
        foreach (var (_, m) in _modules) m.Dispose();
        GC.SuppressFinalize(this);
    }
}

namespace LocalFeat.Torch;

/// <summary>
/// Collects every tensor created on this thread while it is the innermost open scope and disposes them
/// when the scope is disposed, so temporaries in a loop are freed without manual Dispose:
/// <code>using (torch.NewDisposeScope()) { ... } </code>
/// Keep a result beyond the scope with <see cref="Tensor.MoveToOuterDisposeScope"/> or <see cref="Tensor.DetachFromDisposeScope"/>.
/// </summary>
public sealed class DisposeScope : IDisposable
{
    [ThreadStatic] private static DisposeScope? t_current;
    private readonly HashSet<Tensor> _tensors = new(ReferenceEqualityComparer.Instance);
    private readonly DisposeScope? _outer;
    private bool _disposed;

    internal DisposeScope()
    {
        _outer = t_current;
        t_current = this;
    }

    internal static DisposeScope? Current => t_current;

    internal DisposeScope? Outer => _outer;

    /// <summary>Tensors this scope will dispose.</summary>
    public int Count => _tensors.Count;

    internal void Add(Tensor t) => _tensors.Add(t);

    internal void Remove(Tensor t) => _tensors.Remove(t);

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (t_current != this)
            throw new InvalidOperationException("dispose scopes must be disposed in reverse order of creation, on the thread that created them");
        t_current = _outer;
        foreach (var t in _tensors) t.DisposeFromScope();
        _tensors.Clear();
    }
}

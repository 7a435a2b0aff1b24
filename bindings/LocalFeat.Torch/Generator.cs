using LocalFeat.Torch.Interop;

namespace LocalFeat.Torch;

/// <summary>A seeded CPU random generator, passed to random factories for reproducible streams.</summary>
public sealed class Generator : IDisposable
{
    private readonly bool _owned;
    private IntPtr _handle;

    public Generator(ulong seed)
    {
        Native.Check(Native.lft_generator_new(seed, out _handle));
        _owned = true;
    }

    private Generator(IntPtr handle) { _handle = handle; }

    /// <summary>The process-wide default CPU generator (the one <see cref="torch.manual_seed"/> seeds).</summary>
    public static Generator Default { get; } = CreateDefault();

    private static Generator CreateDefault()
    {
        Native.Check(Native.lft_default_generator(out IntPtr h));
        return new Generator(h);
    }

    internal IntPtr Handle => _handle != IntPtr.Zero ? _handle : throw new ObjectDisposedException(nameof(Generator));

    /// <summary>The full generator state as a uint8 tensor; restore it with <see cref="SetState"/>.</summary>
    public Tensor GetState()
    {
        Native.Check(Native.lft_generator_get_state(Handle, out IntPtr s));
        return new Tensor(s);
    }

    public void SetState(Tensor state) => Native.Check(Native.lft_generator_set_state(Handle, state.Handle));

    public void Dispose()
    {
        if (_owned && _handle != IntPtr.Zero) Native.Check(Native.lft_generator_free(_handle));
        _handle = IntPtr.Zero;
    }
}

using System.Runtime.InteropServices;
using LocalFeat.Torch.Interop;

namespace LocalFeat.Torch;

internal sealed class TensorHandle : SafeHandle
{
    public TensorHandle(IntPtr h) : base(IntPtr.Zero, ownsHandle: true) => SetHandle(h);
    public override bool IsInvalid => handle == IntPtr.Zero;
    protected override bool ReleaseHandle() => Native.lft_tensor_free(handle) == 0;
}

/// <summary>
/// A libtorch tensor. Owns one reference to the native tensor, released by <see cref="Dispose"/>, by the
/// enclosing <see cref="DisposeScope"/>, or at the latest by the finalizer. Method names follow PyTorch.
/// </summary>
public sealed partial class Tensor : IDisposable
{
    private readonly TensorHandle _handle;
    private DisposeScope? _scope;

    internal Tensor(IntPtr handle)
    {
        if (handle == IntPtr.Zero) throw new TorchException("libtorch returned an undefined tensor");
        _handle = new TensorHandle(handle);
        _scope = DisposeScope.Current;
        _scope?.Add(this);
    }

    internal IntPtr Handle
    {
        get
        {
            if (_handle.IsClosed) throw new ObjectDisposedException(nameof(Tensor), "the tensor was disposed (directly or by its DisposeScope)");
            return _handle.DangerousGetHandle();
        }
    }

    public bool IsDisposed => _handle.IsClosed;

    public void Dispose()
    {
        _scope?.Remove(this);
        _scope = null;
        _handle.Dispose();
    }

    internal void DisposeFromScope()
    {
        _scope = null;
        _handle.Dispose();
    }

    /// <summary>Hands this tensor to the scope enclosing the current one (or to none), so it outlives the current scope.</summary>
    public Tensor MoveToOuterDisposeScope()
    {
        var outer = _scope?.Outer;
        _scope?.Remove(this);
        _scope = outer;
        outer?.Add(this);
        return this;
    }

    /// <summary>Takes this tensor out of every dispose scope: the caller disposes it.</summary>
    public Tensor DetachFromDisposeScope()
    {
        _scope?.Remove(this);
        _scope = null;
        return this;
    }

    /// <summary>A new handle to the same tensor (shares storage and autograd history).</summary>
    public Tensor alias()
    {
        Native.Check(Native.lft_tensor_alias(Handle, out IntPtr h));
        return new Tensor(h);
    }

    private LftTensorInfo Info
    {
        get
        {
            Native.Check(Native.lft_tensor_info(Handle, out var info));
            return info;
        }
    }

    public ScalarType dtype => (ScalarType)Info.Dtype;
    public Device device { get { var i = Info; return new Device((DeviceType)i.DeviceType, i.DeviceIndex); } }
    public int dim() => Info.Ndim;
    public long numel() => Info.Numel;
    public bool is_contiguous() => Info.IsContiguous != 0;
    public bool is_leaf => Info.IsLeaf != 0;
    public bool is_cuda => Info.DeviceType == (int)DeviceType.CUDA;

    /// <summary>Address of the first element (host or device memory); valid while the tensor lives.</summary>
    public IntPtr data_ptr() => Info.Data;

    public unsafe long[] shape
    {
        get
        {
            var sizes = new long[Info.Ndim];
            fixed (long* p = sizes) Native.Check(Native.lft_tensor_shape(Handle, p, null));
            return sizes;
        }
    }

    public long size(int dim)
    {
        var s = shape;
        int d = dim < 0 ? dim + s.Length : dim;
        if (d < 0 || d >= s.Length) throw new ArgumentOutOfRangeException(nameof(dim), dim, $"tensor has {s.Length} dimensions");
        return s[d];
    }

    public unsafe long[] stride()
    {
        var strides = new long[Info.Ndim];
        fixed (long* p = strides) Native.Check(Native.lft_tensor_shape(Handle, null, p));
        return strides;
    }

    public bool requires_grad
    {
        get => Info.RequiresGrad != 0;
        set => Native.Check(Native.lft_set_requires_grad(Handle, value ? 1 : 0));
    }

    /// <summary>Sets requires_grad and returns this tensor, for chaining.</summary>
    public Tensor requires_grad_(bool value = true)
    {
        requires_grad = value;
        return this;
    }

    /// <summary>The accumulated gradient, or null. Each read returns a new handle to it.</summary>
    public Tensor? grad
    {
        get
        {
            Native.Check(Native.lft_tensor_grad(Handle, out IntPtr g));
            return g == IntPtr.Zero ? null : new Tensor(g);
        }
        set => Native.Check(Native.lft_tensor_set_grad(Handle, value?.Handle ?? IntPtr.Zero));
    }

    /// <summary>Copies the elements (made contiguous, moved to the CPU) into a new array.</summary>
    public unsafe T[] ToArray<T>() where T : unmanaged
    {
        var info = Info;
        var want = ScalarTypeExtensions.Of<T>();
        if ((ScalarType)info.Dtype != want)
            throw new InvalidOperationException($"tensor is {(ScalarType)info.Dtype}, not {want} ({typeof(T).Name}); convert with to({want}) first");
        var result = new T[info.Numel];
        fixed (T* p = result) Native.Check(Native.lft_tensor_copy_to(Handle, p, info.Numel * sizeof(T)));
        return result;
    }

    /// <summary>The value of a one-element tensor.</summary>
    public T item<T>() where T : unmanaged
    {
        long n = numel();
        if (n != 1) throw new InvalidOperationException($"item() needs a tensor with one element, this one has {n}");
        return ToArray<T>()[0];
    }

    /// <summary>backward() of this tensor (a scalar, unless <paramref name="gradient"/> is given).</summary>
    public unsafe void backward(Tensor? gradient = null, bool? retain_graph = null, bool create_graph = false)
    {
        IntPtr t = Handle, g = gradient?.Handle ?? IntPtr.Zero;
        Native.Check(Native.lft_backward(&t, &g, 1, retain_graph is null ? -1 : retain_graph.Value ? 1 : 0, create_graph ? 1 : 0));
        GC.KeepAlive(this);
        GC.KeepAlive(gradient);
    }

    public override string ToString()
    {
        if (IsDisposed) return "Tensor(disposed)";
        return $"Tensor[{string.Join(", ", shape)}] {dtype} {device}{(requires_grad ? " requires_grad" : "")}";
    }
}

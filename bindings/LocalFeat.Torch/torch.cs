using System.Runtime.InteropServices;
using LocalFeat.Torch.Interop;

namespace LocalFeat.Torch;

/// <summary>Tensor factories, math and engine settings, named as in PyTorch (<c>torch.randn</c>, ...).</summary>
public static class torch
{
    private static Tensor Call(string name, string overload, params ReadOnlySpan<OpArg> args) =>
        Op.Get(name, overload).CallTensor(args);

    private static OpArg Dtype(ScalarType? dtype) => ((OpArg)dtype).Named("dtype");
    private static OpArg Dev(Device? device) => (device is null ? OpArg.None : (OpArg)device.Value).Named("device");

    private static Tensor Finish(Tensor t, bool requires_grad) => requires_grad ? t.requires_grad_() : t;

    // --- factories ----------------------------------------------------------------------------
    public static Tensor zeros(long[] size, ScalarType? dtype = null, Device? device = null, bool requires_grad = false) =>
        Finish(Call("aten::zeros", "", size, Dtype(dtype), Dev(device)), requires_grad);
    public static Tensor zeros(params long[] size) => zeros(size, null);
    public static Tensor ones(long[] size, ScalarType? dtype = null, Device? device = null, bool requires_grad = false) =>
        Finish(Call("aten::ones", "", size, Dtype(dtype), Dev(device)), requires_grad);
    public static Tensor ones(params long[] size) => ones(size, null);
    public static Tensor empty(long[] size, ScalarType? dtype = null, Device? device = null) =>
        Call("aten::empty", "memory_format", size, Dtype(dtype), Dev(device));
    public static Tensor full(long[] size, double value, ScalarType? dtype = null, Device? device = null) =>
        Call("aten::full", "", size, value, Dtype(dtype), Dev(device));
    public static Tensor arange(double start, double end, double step = 1, ScalarType? dtype = null, Device? device = null) =>
        Call("aten::arange", "start_step", start, end, step, Dtype(dtype), Dev(device));
    public static Tensor arange(long end, ScalarType? dtype = null, Device? device = null) =>
        Call("aten::arange", "start_step", 0L, end, 1L, Dtype(dtype ?? ScalarType.Int64), Dev(device));
    public static Tensor linspace(double start, double end, long steps, ScalarType? dtype = null) =>
        Call("aten::linspace", "", start, end, steps, Dtype(dtype));
    public static Tensor eye(long n, ScalarType? dtype = null) => Call("aten::eye", "", n, Dtype(dtype));
    public static Tensor zeros_like(Tensor t) => Call("aten::zeros_like", "", t);
    public static Tensor ones_like(Tensor t) => Call("aten::ones_like", "", t);
    public static Tensor empty_like(Tensor t) => Call("aten::empty_like", "", t);
    public static Tensor full_like(Tensor t, double value) => Call("aten::full_like", "", t, value);

    /// <summary>Standard normal samples; <paramref name="generator"/> null = the default generator.</summary>
    public static Tensor randn(long[] size, Generator? generator = null, ScalarType? dtype = null, Device? device = null, bool requires_grad = false) =>
        Finish(Call("aten::randn", "generator", size, generator, Dtype(dtype), Dev(device)), requires_grad);
    public static Tensor randn(params long[] size) => randn(size, null);
    /// <summary>Uniform samples in [0, 1).</summary>
    public static Tensor rand(long[] size, Generator? generator = null, ScalarType? dtype = null, Device? device = null, bool requires_grad = false) =>
        Finish(Call("aten::rand", "generator", size, generator, Dtype(dtype), Dev(device)), requires_grad);
    public static Tensor rand(params long[] size) => rand(size, null);
    /// <summary>Integers uniform in [low, high), int64 unless <paramref name="dtype"/> says otherwise.</summary>
    public static Tensor randint(long low, long high, long[] size, Generator? generator = null, ScalarType? dtype = null) =>
        Call("aten::randint", "low_generator", low, high, size, generator, Dtype(dtype ?? ScalarType.Int64));
    public static Tensor randperm(long n, Generator? generator = null) =>
        Call("aten::randperm", "generator", n, generator, Dtype(ScalarType.Int64));

    /// <summary>A tensor holding a copy of <paramref name="data"/> with the given shape (default: 1-D).</summary>
    public static unsafe Tensor tensor<T>(ReadOnlySpan<T> data, long[]? shape = null, bool requires_grad = false) where T : unmanaged
    {
        shape ??= [data.Length];
        long n = 1;
        foreach (long s in shape)
        {
            if (s < 0) throw new ArgumentException($"shape has a negative size: [{string.Join(", ", shape)}]", nameof(shape));
            n *= s;
        }
        if (n != data.Length)
            throw new ArgumentException($"shape [{string.Join(", ", shape)}] needs {n} elements, data has {data.Length}", nameof(shape));
        IntPtr h;
        fixed (T* p = data)
        fixed (long* sp = shape)
            Native.Check(Native.lft_tensor_from_data(p, (long)data.Length * sizeof(T), (int)ScalarTypeExtensions.Of<T>(), sp, shape.Length, out h));
        return Finish(new Tensor(h), requires_grad);
    }

    public static Tensor tensor<T>(T[] data, params long[] shape) where T : unmanaged =>
        tensor<T>(data.AsSpan(), shape.Length == 0 ? null : shape);

    public static Tensor scalar_tensor(double value, ScalarType dtype = ScalarType.Float32) =>
        Call("aten::scalar_tensor", "", value, Dtype(dtype));

    // --- combining and math ---------------------------------------------------------------------
    public static Tensor cat(Tensor[] tensors, long dim = 0) => Call("aten::cat", "", tensors, dim);
    public static Tensor stack(Tensor[] tensors, long dim = 0) => Call("aten::stack", "", tensors, dim);
    public static Tensor where(Tensor condition, Tensor x, Tensor y) => Call("aten::where", "self", condition, x, y);
    public static Tensor where(Tensor condition, Tensor x, double y) => Call("aten::where", "ScalarOther", condition, x, y);
    public static Tensor matmul(Tensor a, Tensor b) => a.matmul(b);
    public static Tensor mm(Tensor a, Tensor b) => a.mm(b);
    public static Tensor exp(Tensor x) => x.exp();
    public static Tensor log(Tensor x) => x.log();
    public static Tensor sqrt(Tensor x) => x.sqrt();
    public static Tensor maximum(Tensor a, Tensor b) => a.maximum(b);
    public static Tensor minimum(Tensor a, Tensor b) => a.minimum(b);
    public static Tensor softmax(Tensor x, long dim) => Call("aten::softmax", "int", x, dim);
    public static Tensor log_softmax(Tensor x, long dim) => Call("aten::log_softmax", "int", x, dim);
    public static Tensor cumsum(Tensor x, long dim) => x.cumsum(dim);
    public static Tensor[] meshgrid(Tensor[] tensors, string indexing = "ij") =>
        Op.Get("aten::meshgrid", "indexing").CallTensors(tensors, indexing);

    // --- engine -------------------------------------------------------------------------------
    /// <summary>Seeds the default generator (and so every random factory called without a generator).</summary>
    public static void manual_seed(ulong seed) => Native.Check(Native.lft_manual_seed(seed));

    public static DisposeScope NewDisposeScope() => new();

    /// <summary>Disables gradient recording on this thread until the returned guard is disposed.</summary>
    public static GradModeGuard no_grad() => new(false);
    public static GradModeGuard enable_grad() => new(true);
    public static bool is_grad_enabled() => Native.lft_grad_enabled() != 0;

    public static int get_num_threads() => Native.lft_get_num_threads();
    public static void set_num_threads(int n)
    {
        if (n < 1) throw new ArgumentOutOfRangeException(nameof(n), n, "thread count must be at least 1");
        Native.Check(Native.lft_set_num_threads(n));
    }

    /// <summary>Versions and settings of the engine: torch, threads, BLAS library, OpenCV, CUDA support.</summary>
    public static unsafe IReadOnlyDictionary<string, string> system_report()
    {
        byte* buf = stackalloc byte[4096];
        Native.Check(Native.lft_system_report(buf, 4096));
        var result = new Dictionary<string, string>();
        foreach (string line in Marshal.PtrToStringUTF8((IntPtr)buf)!.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = line.IndexOf('=');
            result[line[..eq]] = line[(eq + 1)..];
        }
        return result;
    }

    /// <summary>torch.autograd: gradients without accumulating into .grad.</summary>
    public static class autograd
    {
        /// <summary>
        /// d(outputs)/d(inputs) weighted by <paramref name="grad_outputs"/> (null: ones for scalar outputs).
        /// An input that does not reach the outputs gets null when <paramref name="allow_unused"/>, else an error.
        /// </summary>
        public static unsafe Tensor?[] grad(Tensor[] outputs, Tensor[] inputs, Tensor?[]? grad_outputs = null,
            bool? retain_graph = null, bool create_graph = false, bool allow_unused = false)
        {
            if (grad_outputs != null && grad_outputs.Length != outputs.Length)
                throw new ArgumentException($"grad_outputs has {grad_outputs.Length} entries, outputs {outputs.Length}", nameof(grad_outputs));
            IntPtr* o = stackalloc IntPtr[outputs.Length];
            IntPtr* g = stackalloc IntPtr[outputs.Length];
            IntPtr* i = stackalloc IntPtr[inputs.Length];
            IntPtr* r = stackalloc IntPtr[inputs.Length];
            for (int k = 0; k < outputs.Length; k++) { o[k] = outputs[k].Handle; g[k] = grad_outputs?[k]?.Handle ?? IntPtr.Zero; }
            for (int k = 0; k < inputs.Length; k++) i[k] = inputs[k].Handle;
            Native.Check(Native.lft_autograd_grad(o, g, outputs.Length, i, inputs.Length,
                retain_graph is null ? -1 : retain_graph.Value ? 1 : 0, create_graph ? 1 : 0, allow_unused ? 1 : 0, r));
            GC.KeepAlive(outputs); GC.KeepAlive(inputs); GC.KeepAlive(grad_outputs);
            var result = new Tensor?[inputs.Length];
            for (int k = 0; k < inputs.Length; k++) result[k] = r[k] == IntPtr.Zero ? null : new Tensor(r[k]);
            return result;
        }
    }
}

/// <summary>Sets the thread's grad mode and restores the previous one on dispose.</summary>
public readonly struct GradModeGuard : IDisposable
{
    private readonly bool _previous;

    internal GradModeGuard(bool enabled)
    {
        _previous = Native.lft_grad_enabled() != 0;
        Native.lft_set_grad_enabled(enabled ? 1 : 0);
    }

    public void Dispose() => Native.lft_set_grad_enabled(_previous ? 1 : 0);
}

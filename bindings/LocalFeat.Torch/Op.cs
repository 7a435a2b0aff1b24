using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Text;
using LocalFeat.Torch.Interop;

namespace LocalFeat.Torch;

/// <summary>
/// A libtorch operator looked up by schema name and overload, called through the c10 dispatcher.
/// Missing trailing arguments take the schema's defaults. Handles are cached: look an op up once.
/// <code>var add = Op.Get("aten::add", "Tensor"); using var z = add.CallTensor(x, y, 2.0);</code>
/// </summary>
public sealed class Op
{
    private const int MaxResults = 16;
    private static readonly ConcurrentDictionary<(string, string), Op> Cache = new();
    private readonly IntPtr _handle;

    private Op(string name, string overload, IntPtr handle)
    {
        Name = name; Overload = overload; _handle = handle;
    }

    public string Name { get; }
    public string Overload { get; }

    /// <summary>Finds the operator; throws <see cref="TorchException"/> when libtorch has no such schema.</summary>
    public static Op Get(string name, string overload = "") =>
        Cache.GetOrAdd((name, overload), static key =>
        {
            Native.Check(Native.lft_op_find(key.Item1, key.Item2, out IntPtr h));
            return new Op(key.Item1, key.Item2, h);
        });

    /// <summary>The schema text, e.g. "aten::add.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor".</summary>
    public unsafe string Schema
    {
        get
        {
            byte* buf = stackalloc byte[4096];
            Native.Check(Native.lft_op_schema(_handle, buf, 4096));
            return Marshal.PtrToStringUTF8((IntPtr)buf)!;
        }
    }

    public override string ToString() => Overload.Length == 0 ? Name : $"{Name}.{Overload}";

    /// <summary>Calls the operator and returns its single (or first) tensor result.</summary>
    public Tensor CallTensor(params ReadOnlySpan<OpArg> args)
    {
        Span<LftValue> results = stackalloc LftValue[MaxResults];
        int n = Invoke(args, results);
        if (n < 1 || results[0].Kind != (int)LftKind.Tensor)
        {
            FreeResults(results[..n]);
            throw new TorchException($"{this}: expected a tensor result, got {Describe(results[..n])}");
        }
        for (int i = 1; i < n; i++) FreeResults(results.Slice(i, 1));
        return new Tensor(results[0].P);
    }

    /// <summary>Calls the operator and returns all tensor results (tuples and tensor lists flattened).</summary>
    public Tensor[] CallTensors(params ReadOnlySpan<OpArg> args)
    {
        var values = Call(args);
        var list = new List<Tensor>();
        foreach (object? v in values)
        {
            if (v is Tensor t) list.Add(t);
            else if (v is Tensor[] ts) list.AddRange(ts);
        }
        return list.ToArray();
    }

    /// <summary>
    /// Calls the operator; each result is a <see cref="Tensor"/>, <see cref="Tensor"/>[], long, double, bool or null.
    /// </summary>
    public object?[] Call(params ReadOnlySpan<OpArg> args)
    {
        Span<LftValue> results = stackalloc LftValue[MaxResults];
        int n = Invoke(args, results);
        var values = new object?[n];
        for (int i = 0; i < n; i++) values[i] = ToObject(results[i]);
        return values;
    }

    private unsafe int Invoke(ReadOnlySpan<OpArg> args, Span<LftValue> results)
    {
        // Scratch space for lists and strings lives on the stack: a call allocates nothing for its arguments.
        int longs = 0, ptrs = 0, bytes = 0;
        foreach (ref readonly OpArg a in args)
        {
            switch (a.Ref)
            {
                case long[] l: longs += l.Length; break;
                case double[] d: longs += d.Length; break;
                case Tensor?[] t: ptrs += t.Length; break;
                case string s: bytes += Encoding.UTF8.GetMaxByteCount(s.Length) + 1; break;
            }
            if (a.Name != null) bytes += Encoding.UTF8.GetMaxByteCount(a.Name.Length) + 1;
        }
        if (bytes > 16384) throw new ArgumentException($"{this}: string arguments too long");
        long* longBuf = stackalloc long[Math.Max(longs, 1)];
        IntPtr* ptrBuf = stackalloc IntPtr[Math.Max(ptrs, 1)];
        byte* byteBuf = stackalloc byte[Math.Max(bytes, 1)];
        LftValue* values = stackalloc LftValue[Math.Max(args.Length, 1)];
        int li = 0, pi = 0, bi = 0;
        for (int i = 0; i < args.Length; i++)
        {
            ref readonly OpArg a = ref args[i];
            var v = new LftValue { Kind = (int)a.Kind };
            switch (a.Kind)
            {
                case LftKind.Tensor: v.P = ((Tensor)a.Ref!).Handle; break;
                case LftKind.TensorList:
                    var ts = (Tensor?[])a.Ref!;
                    v.P = (IntPtr)(ptrBuf + pi); v.Len = ts.Length;
                    foreach (Tensor? t in ts) ptrBuf[pi++] = t?.Handle ?? IntPtr.Zero;
                    break;
                case LftKind.Int: case LftKind.Bool: v.I = a.I; break;
                case LftKind.Device: v.I = a.I; v.Len = (int)a.D; break;
                case LftKind.Double: v.D = a.D; break;
                case LftKind.IntList:
                    var l = (long[])a.Ref!;
                    v.P = (IntPtr)(longBuf + li); v.Len = l.Length;
                    l.CopyTo(new Span<long>(longBuf + li, l.Length)); li += l.Length;
                    break;
                case LftKind.DoubleList:
                    var d = (double[])a.Ref!;
                    v.P = (IntPtr)(longBuf + li); v.Len = d.Length;
                    d.CopyTo(new Span<double>(longBuf + li, d.Length)); li += d.Length;
                    break;
                case LftKind.String: v.P = (IntPtr)(byteBuf + bi); bi += PutUtf8((string)a.Ref!, byteBuf + bi); break;
                case LftKind.Generator: v.P = ((Generator)a.Ref!).Handle; break;
            }
            if (a.Name != null) { v.Name = (IntPtr)(byteBuf + bi); bi += PutUtf8(a.Name, byteBuf + bi); }
            values[i] = v;
        }
        int status, n;
        fixed (LftValue* r = results)
            status = Native.lft_op_call(_handle, values, args.Length, r, results.Length, out n);
        // Keep the argument tensors alive until libtorch has taken its own references.
        foreach (ref readonly OpArg a in args) GC.KeepAlive(a.Ref);
        Native.Check(status);
        return n;

        static int PutUtf8(string s, byte* dst)
        {
            int len = Encoding.UTF8.GetBytes(s, new Span<byte>(dst, Encoding.UTF8.GetMaxByteCount(s.Length)));
            dst[len] = 0;
            return len + 1;
        }
    }

    private static unsafe object? ToObject(in LftValue v) => (LftKind)v.Kind switch
    {
        LftKind.Tensor => new Tensor(v.P),
        LftKind.TensorList => TensorList(v),
        LftKind.Int => v.I,
        LftKind.Double => v.D,
        LftKind.Bool => v.I != 0,
        _ => null,
    };

    private static unsafe Tensor[] TensorList(in LftValue v)
    {
        var arr = new Tensor[v.Len];
        var p = (IntPtr*)v.P;
        for (int i = 0; i < v.Len; i++) arr[i] = new Tensor(p[i]);
        Native.lft_free(v.P);
        return arr;
    }

    private static void FreeResults(Span<LftValue> results)
    {
        foreach (var r in results)
        {
            switch (ToObject(r))
            {
                case Tensor t: t.Dispose(); break;
                case Tensor[] ts: foreach (var x in ts) x.Dispose(); break;
            }
        }
    }

    private static string Describe(Span<LftValue> results)
    {
        if (results.Length == 0) return "nothing";
        var sb = new StringBuilder();
        foreach (var r in results) sb.Append((LftKind)r.Kind).Append(' ');
        return sb.ToString().TrimEnd();
    }
}

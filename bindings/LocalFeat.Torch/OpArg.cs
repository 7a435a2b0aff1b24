using LocalFeat.Torch.Interop;

namespace LocalFeat.Torch;

/// <summary>
/// One argument of a dispatcher call: a tensor, tensor list, int, int list, float, float list, bool,
/// string, scalar type, generator, device or None, optionally named after the schema argument.
/// Converts implicitly from the C# values, so <c>op.Call(x, 2, true)</c> reads like Python.
/// </summary>
public readonly struct OpArg
{
    internal readonly LftKind Kind;
    internal readonly long I;
    internal readonly double D;
    internal readonly object? Ref;
    internal readonly string? Name;

    private OpArg(LftKind kind, long i = 0, double d = 0, object? reference = null, string? name = null)
    {
        Kind = kind; I = i; D = d; Ref = reference; Name = name;
    }

    public static readonly OpArg None = new(LftKind.None);

    /// <summary>The same value passed by schema argument name (keyword argument).</summary>
    public OpArg Named(string name) => new(Kind, I, D, Ref, name);

    public static implicit operator OpArg(Tensor? t) => t is null ? None : new(LftKind.Tensor, reference: t);
    public static implicit operator OpArg(Tensor?[] ts) => new(LftKind.TensorList, reference: ts);
    public static implicit operator OpArg(long v) => new(LftKind.Int, v);
    public static implicit operator OpArg(int v) => new(LftKind.Int, v);
    public static implicit operator OpArg(long[] v) => new(LftKind.IntList, reference: v);
    public static implicit operator OpArg(double v) => new(LftKind.Double, d: v);
    public static implicit operator OpArg(double[] v) => new(LftKind.DoubleList, reference: v);
    public static implicit operator OpArg(bool v) => new(LftKind.Bool, v ? 1 : 0);
    public static implicit operator OpArg(string? v) => v is null ? None : new(LftKind.String, reference: v);
    public static implicit operator OpArg(ScalarType v) => new(LftKind.Int, (long)v);
    public static implicit operator OpArg(ScalarType? v) => v is null ? None : new(LftKind.Int, (long)v.Value);
    public static implicit operator OpArg(Generator? g) => g is null ? None : new(LftKind.Generator, reference: g);
    public static implicit operator OpArg(Device d) => new(LftKind.Device, (long)d.Type, d.Index);
    public static implicit operator OpArg(long? v) => v is null ? None : new(LftKind.Int, v.Value);
    public static implicit operator OpArg(double? v) => v is null ? None : new(LftKind.Double, d: v.Value);
    public static implicit operator OpArg(bool? v) => v is null ? None : new(LftKind.Bool, v.Value ? 1 : 0);
}

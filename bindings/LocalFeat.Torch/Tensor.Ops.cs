namespace LocalFeat.Torch;

// Typed wrappers of the dispatcher ops most code needs, named as in PyTorch. Anything else:
// Op.Get("aten::name", "overload").CallTensor(...).
public sealed partial class Tensor
{
    private static Tensor Call(string name, string overload, params ReadOnlySpan<OpArg> args) =>
        Op.Get(name, overload).CallTensor(args);

    private static (Tensor, Tensor) Call2(string name, string overload, params ReadOnlySpan<OpArg> args)
    {
        var r = Op.Get(name, overload).CallTensors(args);
        return (r[0], r[1]);
    }

    // --- arithmetic ---------------------------------------------------------------------------
    // alpha is passed only when given: a float alpha is an error on integer tensors.
    public Tensor add(Tensor other) => Call("aten::add", "Tensor", this, other);
    public Tensor add(Tensor other, double alpha) => Call("aten::add", "Tensor", this, other, alpha);
    public Tensor add(double other) => Call("aten::add", "Scalar", this, other);
    // Integer scalars keep integer tensors integer, as Python ints do.
    public Tensor add(long other) => Call("aten::add", "Scalar", this, other);
    public Tensor sub(Tensor other) => Call("aten::sub", "Tensor", this, other);
    public Tensor sub(Tensor other, double alpha) => Call("aten::sub", "Tensor", this, other, alpha);
    public Tensor sub(double other) => Call("aten::sub", "Scalar", this, other);
    public Tensor sub(long other) => Call("aten::sub", "Scalar", this, other);
    public Tensor mul(Tensor other) => Call("aten::mul", "Tensor", this, other);
    public Tensor mul(double other) => Call("aten::mul", "Scalar", this, other);
    public Tensor mul(long other) => Call("aten::mul", "Scalar", this, other);
    public Tensor div(Tensor other) => Call("aten::div", "Tensor", this, other);
    public Tensor div(double other) => Call("aten::div", "Scalar", this, other);
    public Tensor add_(Tensor other) => Call("aten::add_", "Tensor", this, other);
    public Tensor add_(Tensor other, double alpha) => Call("aten::add_", "Tensor", this, other, alpha);
    public Tensor add_(double other) => Call("aten::add_", "Scalar", this, other);
    public Tensor add_(long other) => Call("aten::add_", "Scalar", this, other);
    public Tensor sub_(Tensor other) => Call("aten::sub_", "Tensor", this, other);
    public Tensor sub_(Tensor other, double alpha) => Call("aten::sub_", "Tensor", this, other, alpha);
    public Tensor mul_(Tensor other) => Call("aten::mul_", "Tensor", this, other);
    public Tensor mul_(double other) => Call("aten::mul_", "Scalar", this, other);
    public Tensor mul_(long other) => Call("aten::mul_", "Scalar", this, other);
    public Tensor div_(Tensor other) => Call("aten::div_", "Tensor", this, other);
    public Tensor div_(double other) => Call("aten::div_", "Scalar", this, other);
    public Tensor addcmul_(Tensor t1, Tensor t2, double value = 1) => Call("aten::addcmul_", "", this, t1, t2, value);
    public Tensor addcdiv_(Tensor t1, Tensor t2, double value = 1) => Call("aten::addcdiv_", "", this, t1, t2, value);
    public Tensor lerp_(Tensor end, double weight) => Call("aten::lerp_", "Scalar", this, end, weight);
    public Tensor neg() => Call("aten::neg", "", this);
    public Tensor pow(double exponent) => Call("aten::pow", "Tensor_Scalar", this, exponent);
    public Tensor pow(Tensor exponent) => Call("aten::pow", "Tensor_Tensor", this, exponent);
    public Tensor abs() => Call("aten::abs", "", this);
    public Tensor sqrt() => Call("aten::sqrt", "", this);
    public Tensor rsqrt() => Call("aten::rsqrt", "", this);
    public Tensor exp() => Call("aten::exp", "", this);
    public Tensor log() => Call("aten::log", "", this);
    public Tensor relu() => Call("aten::relu", "", this);
    public Tensor sigmoid() => Call("aten::sigmoid", "", this);
    public Tensor tanh() => Call("aten::tanh", "", this);
    public Tensor square() => Call("aten::square", "", this);
    public Tensor reciprocal() => Call("aten::reciprocal", "", this);
    public Tensor sign() => Call("aten::sign", "", this);
    public Tensor floor() => Call("aten::floor", "", this);
    public Tensor round() => Call("aten::round", "", this);
    public Tensor cos() => Call("aten::cos", "", this);
    public Tensor sin() => Call("aten::sin", "", this);
    public Tensor clamp(double? min = null, double? max = null) => Call("aten::clamp", "", this, min, max);
    public Tensor clamp_min(double min) => Call("aten::clamp_min", "", this, min);
    public Tensor clamp_max(double max) => Call("aten::clamp_max", "", this, max);
    public Tensor clamp_min(long min) => Call("aten::clamp_min", "", this, min);
    public Tensor clamp_max(long max) => Call("aten::clamp_max", "", this, max);
    public Tensor maximum(Tensor other) => Call("aten::maximum", "", this, other);
    public Tensor minimum(Tensor other) => Call("aten::minimum", "", this, other);
    public Tensor matmul(Tensor other) => Call("aten::matmul", "", this, other);
    public Tensor mm(Tensor other) => Call("aten::mm", "", this, other);
    public Tensor bmm(Tensor other) => Call("aten::bmm", "", this, other);
    public Tensor dot(Tensor other) => Call("aten::dot", "", this, other);
    public Tensor isnan() => Call("aten::isnan", "", this);
    public Tensor isfinite() => Call("aten::isfinite", "", this);

    // --- comparison and logic -----------------------------------------------------------------
    public Tensor eq(Tensor other) => Call("aten::eq", "Tensor", this, other);
    public Tensor eq(double other) => Call("aten::eq", "Scalar", this, other);
    public Tensor ne(Tensor other) => Call("aten::ne", "Tensor", this, other);
    public Tensor ne(double other) => Call("aten::ne", "Scalar", this, other);
    public Tensor gt(Tensor other) => Call("aten::gt", "Tensor", this, other);
    public Tensor gt(double other) => Call("aten::gt", "Scalar", this, other);
    public Tensor lt(Tensor other) => Call("aten::lt", "Tensor", this, other);
    public Tensor lt(double other) => Call("aten::lt", "Scalar", this, other);
    public Tensor ge(Tensor other) => Call("aten::ge", "Tensor", this, other);
    public Tensor ge(double other) => Call("aten::ge", "Scalar", this, other);
    public Tensor le(Tensor other) => Call("aten::le", "Tensor", this, other);
    public Tensor le(double other) => Call("aten::le", "Scalar", this, other);
    public Tensor logical_and(Tensor other) => Call("aten::logical_and", "", this, other);
    public Tensor logical_or(Tensor other) => Call("aten::logical_or", "", this, other);
    public Tensor logical_not() => Call("aten::logical_not", "", this);
    public bool allclose(Tensor other, double rtol = 1e-5, double atol = 1e-8) =>
        (bool)Op.Get("aten::allclose").Call(this, other, rtol, atol)[0]!;
    public bool equal(Tensor other) => (bool)Op.Get("aten::equal").Call(this, other)[0]!;

    // --- reductions ---------------------------------------------------------------------------
    public Tensor sum() => Call("aten::sum", "", this);
    public Tensor sum(long[] dim, bool keepdim = false) => Call("aten::sum", "dim_IntList", this, dim, keepdim);
    public Tensor sum(long dim, bool keepdim = false) => sum([dim], keepdim);
    public Tensor mean() => Call("aten::mean", "", this);
    public Tensor mean(long[] dim, bool keepdim = false) => Call("aten::mean", "dim", this, dim, keepdim);
    public Tensor mean(long dim, bool keepdim = false) => mean([dim], keepdim);
    public Tensor max() => Call("aten::max", "", this);
    public (Tensor values, Tensor indexes) max(long dim, bool keepdim = false) => Call2("aten::max", "dim", this, dim, keepdim);
    public Tensor min() => Call("aten::min", "", this);
    public (Tensor values, Tensor indexes) min(long dim, bool keepdim = false) => Call2("aten::min", "dim", this, dim, keepdim);
    public Tensor amax(long[] dim, bool keepdim = false) => Call("aten::amax", "", this, dim, keepdim);
    public Tensor amax(long dim, bool keepdim = false) => amax([dim], keepdim);
    public Tensor amin(long[] dim, bool keepdim = false) => Call("aten::amin", "", this, dim, keepdim);
    public Tensor amin(long dim, bool keepdim = false) => amin([dim], keepdim);
    public Tensor argmax(long? dim = null, bool keepdim = false) => Call("aten::argmax", "", this, dim, keepdim);
    public Tensor argmin(long? dim = null, bool keepdim = false) => Call("aten::argmin", "", this, dim, keepdim);
    public Tensor norm(double p = 2, long[]? dim = null, bool keepdim = false) =>
        Call("aten::linalg_vector_norm", "", this, p, dim is null ? OpArg.None : dim, keepdim);
    public Tensor cumsum(long dim) => Call("aten::cumsum", "", this, dim);
    public Tensor prod() => Call("aten::prod", "", this);
    public Tensor all() => Call("aten::all", "", this);
    public Tensor any() => Call("aten::any", "", this);
    public Tensor std() => Call("aten::std", "", this);
    public (Tensor values, Tensor indexes) topk(long k, long dim = -1, bool largest = true, bool sorted = true) =>
        Call2("aten::topk", "", this, k, dim, largest, sorted);
    public (Tensor values, Tensor indexes) sort(long dim = -1, bool descending = false, bool stable = false) =>
        Call2("aten::sort", "stable", this, stable, dim, descending);

    // --- shape and indexing ---------------------------------------------------------------------
    public Tensor view(params long[] shape) => Call("aten::view", "", this, shape);
    public Tensor reshape(params long[] shape) => Call("aten::reshape", "", this, shape);
    public Tensor permute(params long[] dims) => Call("aten::permute", "", this, dims);
    public Tensor transpose(long dim0, long dim1) => Call("aten::transpose", "int", this, dim0, dim1);
    public Tensor t() => Call("aten::t", "", this);
    public Tensor contiguous() => Call("aten::contiguous", "", this);
    public Tensor unsqueeze(long dim) => Call("aten::unsqueeze", "", this, dim);
    public Tensor squeeze(long dim) => Call("aten::squeeze", "dim", this, dim);
    public Tensor squeeze() => Call("aten::squeeze", "", this);
    public Tensor flatten(long start_dim = 0, long end_dim = -1) => Call("aten::flatten", "using_ints", this, start_dim, end_dim);
    public Tensor expand(params long[] size) => Call("aten::expand", "", this, size);
    public Tensor repeat(params long[] repeats) => Call("aten::repeat", "", this, repeats);
    public Tensor narrow(long dim, long start, long length) => Call("aten::narrow", "", this, dim, start, length);
    public Tensor select(long dim, long index) => Call("aten::select", "int", this, dim, index);
    public Tensor slice(long dim, long? start, long? end, long step = 1) => Call("aten::slice", "Tensor", this, dim, start, end, step);
    public Tensor index_select(long dim, Tensor index) => Call("aten::index_select", "", this, dim, index);
    public Tensor gather(long dim, Tensor index) => Call("aten::gather", "", this, dim, index);
    public Tensor scatter_add(long dim, Tensor index, Tensor src) => Call("aten::scatter_add", "", this, dim, index, src);
    public Tensor masked_fill(Tensor mask, double value) => Call("aten::masked_fill", "Scalar", this, mask, value);
    /// <summary>Advanced indexing, as x[i0, i1, ...] with index tensors in Python (null = full slice).</summary>
    public Tensor index(params Tensor?[] indices) => Call("aten::index", "Tensor", this, indices);
    public Tensor index_put_(Tensor?[] indices, Tensor values, bool accumulate = false) =>
        Call("aten::index_put_", "", this, indices, values, accumulate);
    public Tensor[] chunk(long chunks, long dim = 0) => Op.Get("aten::chunk").CallTensors(this, chunks, dim);
    public Tensor[] split(long splitSize, long dim = 0) => Op.Get("aten::split", "Tensor").CallTensors(this, splitSize, dim);

    /// <summary>x[i]: the sub-tensor at index i of the first dimension (negative counts from the end).</summary>
    public Tensor this[long i] => select(0, i);

    // --- dtype, device, copies ---------------------------------------------------------------
    public Tensor to(ScalarType type) => Call("aten::to", "dtype", this, type);
    public Tensor to(Device device) => Call("aten::to", "dtype_layout", this, OpArg.None, OpArg.None, device);
    public Tensor to(Device device, ScalarType type) => Call("aten::to", "device", this, device, type);
    public Tensor cpu() => to(Device.CPU);
    public Tensor @float() => to(ScalarType.Float32);
    public Tensor @double() => to(ScalarType.Float64);
    public Tensor @long() => to(ScalarType.Int64);
    public Tensor clone() => Call("aten::clone", "", this);
    public Tensor detach() => Call("aten::detach", "", this);
    public Tensor zero_() => Call("aten::zero_", "", this);
    public Tensor fill_(double value) => Call("aten::fill_", "Scalar", this, value);
    public Tensor copy_(Tensor src) => Call("aten::copy_", "", this, src);

    // --- operators ----------------------------------------------------------------------------
    public static Tensor operator +(Tensor a, Tensor b) => a.add(b);
    public static Tensor operator +(Tensor a, double b) => a.add(b);
    public static Tensor operator +(double a, Tensor b) => b.add(a);
    public static Tensor operator +(Tensor a, long b) => a.add(b);
    public static Tensor operator +(long a, Tensor b) => b.add(a);
    public static Tensor operator -(Tensor a, Tensor b) => a.sub(b);
    public static Tensor operator -(Tensor a, double b) => a.sub(b);
    public static Tensor operator -(Tensor a, long b) => a.sub(b);
    public static Tensor operator -(double a, Tensor b) => Call("aten::rsub", "Scalar", b, a);
    public static Tensor operator -(Tensor a) => a.neg();
    public static Tensor operator *(Tensor a, Tensor b) => a.mul(b);
    public static Tensor operator *(Tensor a, double b) => a.mul(b);
    public static Tensor operator *(double a, Tensor b) => b.mul(a);
    public static Tensor operator *(Tensor a, long b) => a.mul(b);
    public static Tensor operator *(long a, Tensor b) => b.mul(a);
    public static Tensor operator /(Tensor a, Tensor b) => a.div(b);
    public static Tensor operator /(Tensor a, double b) => a.div(b);
    public static Tensor operator /(double a, Tensor b) => b.reciprocal().mul(a);
    public static Tensor operator >(Tensor a, Tensor b) => a.gt(b);
    public static Tensor operator <(Tensor a, Tensor b) => a.lt(b);
    public static Tensor operator >=(Tensor a, Tensor b) => a.ge(b);
    public static Tensor operator <=(Tensor a, Tensor b) => a.le(b);
    public static Tensor operator >(Tensor a, double b) => a.gt(b);
    public static Tensor operator <(Tensor a, double b) => a.lt(b);
    public static Tensor operator >=(Tensor a, double b) => a.ge(b);
    public static Tensor operator <=(Tensor a, double b) => a.le(b);
    public static Tensor operator &(Tensor a, Tensor b) => a.logical_and(b);
    public static Tensor operator |(Tensor a, Tensor b) => a.logical_or(b);
    public static Tensor operator !(Tensor a) => a.logical_not();
}

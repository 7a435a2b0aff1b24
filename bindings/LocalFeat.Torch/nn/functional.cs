namespace LocalFeat.Torch.nn;

/// <summary>torch.nn.functional: stateless layers, named and defaulted as in PyTorch.</summary>
public static class functional
{
    private static Tensor Call(string name, string overload, params ReadOnlySpan<OpArg> args) =>
        Op.Get(name, overload).CallTensor(args);

    public static Tensor conv2d(Tensor input, Tensor weight, Tensor? bias = null, long stride = 1, long padding = 0, long dilation = 1, long groups = 1) =>
        Call("aten::conv2d", "", input, weight, bias, stride, padding, dilation, groups);

    public static Tensor linear(Tensor input, Tensor weight, Tensor? bias = null) => Call("aten::linear", "", input, weight, bias);

    public static Tensor batch_norm(Tensor input, Tensor? running_mean, Tensor? running_var, Tensor? weight = null, Tensor? bias = null,
        bool training = false, double momentum = 0.1, double eps = 1e-5) =>
        Call("aten::batch_norm", "", input, weight, bias, running_mean, running_var, training, momentum, eps, true);

    public static Tensor relu(Tensor x) => x.relu();

    public static Tensor max_pool2d(Tensor x, long kernel_size, long? stride = null, long padding = 0, long dilation = 1, bool ceil_mode = false) =>
        Call("aten::max_pool2d", "", x, kernel_size, stride ?? kernel_size, padding, dilation, ceil_mode);

    public static Tensor avg_pool2d(Tensor x, long kernel_size, long? stride = null, long padding = 0, bool ceil_mode = false, bool count_include_pad = true) =>
        Call("aten::avg_pool2d", "", x, kernel_size, stride ?? kernel_size, padding, ceil_mode, count_include_pad);

    /// <summary>Pads the last dimensions: <paramref name="pad"/> = (left, right, top, bottom, ...) as in PyTorch.</summary>
    public static Tensor pad(Tensor x, long[] pad, string mode = "constant", double value = 0) => mode switch
    {
        "constant" => Call("aten::constant_pad_nd", "", x, pad, value),
        "reflect" => Call("aten::reflection_pad2d", "", x, pad),
        "replicate" => Call("aten::replication_pad2d", "", x, pad),
        _ => throw new ArgumentException($"pad mode must be constant, reflect or replicate, got '{mode}'", nameof(mode)),
    };

    /// <summary>Resizes [B,C,H,W] to <paramref name="size"/> (H,W) by "bilinear" or "nearest".</summary>
    public static Tensor interpolate(Tensor x, long[] size, string mode = "bilinear", bool align_corners = false) => mode switch
    {
        "bilinear" => Call("aten::upsample_bilinear2d", "vec", x, size, align_corners, OpArg.None),
        "nearest" => Call("aten::upsample_nearest2d", "vec", x, size, OpArg.None),
        _ => throw new ArgumentException($"interpolate mode must be bilinear or nearest, got '{mode}'", nameof(mode)),
    };

    /// <summary>Samples [B,C,H,W] at grid [B,h,w,2] of (x,y) in [-1,1]; mode bilinear|nearest, padding zeros|border|reflection.</summary>
    public static Tensor grid_sample(Tensor input, Tensor grid, string mode = "bilinear", string padding_mode = "zeros", bool align_corners = false)
    {
        long m = mode switch { "bilinear" => 0, "nearest" => 1, "bicubic" => 2, _ => throw new ArgumentException($"unknown grid_sample mode '{mode}'", nameof(mode)) };
        long p = padding_mode switch { "zeros" => 0, "border" => 1, "reflection" => 2, _ => throw new ArgumentException($"unknown padding_mode '{padding_mode}'", nameof(padding_mode)) };
        return Call("aten::grid_sampler", "", input, grid, m, p, align_corners);
    }

    public static Tensor softmax(Tensor x, long dim) => torch.softmax(x, dim);
    public static Tensor log_softmax(Tensor x, long dim) => torch.log_softmax(x, dim);

    /// <summary>x / max(‖x‖_p, eps) along <paramref name="dim"/>.</summary>
    public static Tensor normalize(Tensor x, double p = 2, long dim = 1, double eps = 1e-12)
    {
        using var norm = x.norm(p, [dim], keepdim: true);
        using var clamped = norm.clamp_min(eps);
        return x.div(clamped);
    }

    public static Tensor pixel_shuffle(Tensor x, long upscale_factor) => Call("aten::pixel_shuffle", "", x, upscale_factor);
    public static Tensor dropout(Tensor x, double p, bool training) => Call("aten::dropout", "", x, p, training);
    public static Tensor mse_loss(Tensor input, Tensor target) => Call("aten::mse_loss", "", input, target);
}

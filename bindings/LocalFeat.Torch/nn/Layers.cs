namespace LocalFeat.Torch.nn;

/// <summary>Initialisation shared by Conv2d and Linear: PyTorch's default, U(−1/√fan_in, 1/√fan_in).</summary>
internal static class Init
{
    public static Tensor Uniform(long[] shape, long fanIn)
    {
        double bound = 1.0 / Math.Sqrt(fanIn);
        using var u = torch.rand(shape);
        return u.mul(2 * bound).sub(bound);
    }
}

public sealed class Conv2d : Module
{
    public Conv2d(long in_channels, long out_channels, long kernel_size, long stride = 1, long padding = 0, long dilation = 1, bool bias = true)
    {
        if (in_channels < 1 || out_channels < 1 || kernel_size < 1)
            throw new ArgumentException($"Conv2d needs positive channels and kernel size, got in={in_channels}, out={out_channels}, kernel={kernel_size}");
        Stride = stride; Padding = padding; Dilation = dilation;
        long fanIn = in_channels * kernel_size * kernel_size;
        register_parameter("weight", Init.Uniform([out_channels, in_channels, kernel_size, kernel_size], fanIn));
        if (bias) register_parameter("bias", Init.Uniform([out_channels], fanIn));
        HasBias = bias;
    }

    public long Stride { get; }
    public long Padding { get; }
    public long Dilation { get; }
    private bool HasBias { get; }
    public Tensor weight => this["weight"];
    public Tensor? bias => HasBias ? this["bias"] : null;

    public override Tensor forward(Tensor input) => functional.conv2d(input, weight, bias, Stride, Padding, Dilation);
}

public sealed class Linear : Module
{
    public Linear(long in_features, long out_features, bool bias = true)
    {
        if (in_features < 1 || out_features < 1)
            throw new ArgumentException($"Linear needs positive sizes, got in={in_features}, out={out_features}");
        register_parameter("weight", Init.Uniform([out_features, in_features], in_features));
        if (bias) register_parameter("bias", Init.Uniform([out_features], in_features));
        HasBias = bias;
    }

    private bool HasBias { get; }
    public Tensor weight => this["weight"];
    public Tensor? bias => HasBias ? this["bias"] : null;

    public override Tensor forward(Tensor input) => functional.linear(input, weight, bias);
}

public sealed class BatchNorm2d : Module
{
    public BatchNorm2d(long num_features, double eps = 1e-5, double momentum = 0.1)
    {
        if (num_features < 1) throw new ArgumentException($"BatchNorm2d needs num_features ≥ 1, got {num_features}", nameof(num_features));
        Eps = eps; Momentum = momentum;
        register_parameter("weight", torch.ones(num_features));
        register_parameter("bias", torch.zeros(num_features));
        register_buffer("running_mean", torch.zeros(num_features));
        register_buffer("running_var", torch.ones(num_features));
        register_buffer("num_batches_tracked", torch.zeros([], ScalarType.Int64));
    }

    public double Eps { get; }
    public double Momentum { get; }

    public override Tensor forward(Tensor input)
    {
        if (training)
        {
            using var guard = torch.no_grad();
            this["num_batches_tracked"].add_(1).Dispose();
        }
        return functional.batch_norm(input, this["running_mean"], this["running_var"], this["weight"], this["bias"], training, Momentum, Eps);
    }
}

public sealed class ReLU : Module
{
    public override Tensor forward(Tensor input) => input.relu();
}

public sealed class MaxPool2d : Module
{
    public MaxPool2d(long kernel_size, long? stride = null, long padding = 0)
    {
        KernelSize = kernel_size; Stride = stride ?? kernel_size; Padding = padding;
    }

    public long KernelSize { get; }
    public long Stride { get; }
    public long Padding { get; }

    public override Tensor forward(Tensor input) => functional.max_pool2d(input, KernelSize, Stride, Padding);
}

/// <summary>Runs its modules in order; named "0", "1", ... unless names are given (as PyTorch).</summary>
public sealed class Sequential : Module
{
    private readonly List<Module> _layers = [];

    public Sequential(params Module[] modules)
    {
        for (int i = 0; i < modules.Length; i++) _layers.Add(register_module(i.ToString(System.Globalization.CultureInfo.InvariantCulture), modules[i]));
    }

    public Sequential(params (string name, Module module)[] modules)
    {
        foreach (var (name, m) in modules) _layers.Add(register_module(name, m));
    }

    public int Count => _layers.Count;
    public Module this[int i] => _layers[i];

    /// <summary>Intermediate results are disposed as soon as the next layer has consumed them.</summary>
    public override Tensor forward(Tensor input)
    {
        Tensor x = input;
        foreach (var layer in _layers)
        {
            var next = layer.forward(x);
            if (!ReferenceEquals(x, input)) x.Dispose();
            x = next;
        }
        return ReferenceEquals(x, input) ? input.alias() : x;
    }
}

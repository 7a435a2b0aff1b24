using LocalFeat.Torch;
using LocalFeat.Torch.IO;
using LocalFeat.Torch.nn;
using F = LocalFeat.Torch.nn.functional;

namespace LocalFeat.Train.Models;

/// <summary>
/// A fully convolutional backbone: blocks of 3×3 convolutions (ReLU between) separated by 2×2 max pools, giving
/// raw dense features [B,C,H/stride,W/stride] (no ReLU on the last convolution, as D2-Net's conv4_3 output) for
/// descriptors and D2 soft detection. Input: grey images [B,1,H,W] in [0,1].
/// <para>Dense mode (D2-Net's test-time modification, lib/model_test.py): the last pool becomes a 2×2 average pool
/// of stride 1 and the convolutions after it are dilated by 2, so the same weights give a map of half the stride.</para>
/// </summary>
public sealed class FeatureNet : Module
{
    private readonly Conv2d?[] _layers;  // null = pool between blocks; the Conv2d are registered under their torchvision index
    private readonly bool _rgbImageNet;
    private readonly bool _normalizeOutput;

    private FeatureNet(string name, int[][] blocks, int inChannels, bool rgbImageNet, bool normalizeOutput, string container)
    {
        Name = name;
        _rgbImageNet = rgbImageNet;
        _normalizeOutput = normalizeOutput;
        var layers = new List<Conv2d?>();
        var holder = new Container();
        int index = 0, c = inChannels;
        for (int b = 0; b < blocks.Length; b++)
        {
            if (b > 0) { layers.Add(null); index += 1; }  // pool
            foreach (int width in blocks[b])
            {
                var conv = holder.Add(index.ToString(System.Globalization.CultureInfo.InvariantCulture), new Conv2d(c, width, 3, padding: 1));
                layers.Add(conv);
                c = width;
                index += 2;  // conv + ReLU, as torchvision's vgg.features indices
            }
        }
        register_module(container, holder);
        _layers = layers.ToArray();
        Channels = c;
        Pools = blocks.Length - 1;
    }

    public string Name { get; }
    public int Channels { get; }
    public int Pools { get; }
    /// <summary>Training stride (2^pools); dense mode halves it.</summary>
    public int Stride => 1 << Pools;
    public int StrideFor(bool dense) => dense && Pools > 0 ? Stride / 2 : Stride;

    /// <summary>
    /// Cells by which the map is shifted against the stride convention (cell i ↔ pixel stride·i + (stride − 1)/2):
    /// dense mode's 2×2 average pool of stride 1 puts cell i at the midpoint of the finer cells i and i + 1.
    /// </summary>
    public double CellOffsetFor(bool dense) => dense && Pools > 0 ? 0.5 : 0;

    /// <summary>
    /// 8-16-32-64-128 channels, stride 8, 128-d descriptors; about 8 steps/s on two cores at 256×256, batch 2.
    /// Its output is instance-normalised (each channel zero mean, unit variance over the map): trained from
    /// scratch, the hardest-negative margin loss otherwise collapses all descriptors to one vector (loss = margin).
    /// </summary>
    public static FeatureNet Tiny() => new("tiny", [[8], [16], [32], [64, 128]], 1, rgbImageNet: false, normalizeOutput: true, "features");

    /// <summary>D2-Net's backbone: torchvision VGG16 features up to conv4_3 (keys features.0 … features.21), stride 8, 512-d.</summary>
    public static FeatureNet Vgg16() => new("vgg16", [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512]], 3, rgbImageNet: true, normalizeOutput: false, "features");

    public static FeatureNet Create(string name) => name switch
    {
        "tiny" => Tiny(),
        "vgg16" => Vgg16(),
        _ => throw new ArgumentException($"model must be tiny or vgg16, got '{name}'", nameof(name)),
    };

    public override Tensor forward(Tensor input) => Forward(input, dense: false);

    public Tensor Forward(Tensor images, bool dense)
    {
        var shape = images.shape;
        if (shape.Length != 4 || shape[1] != 1)
            throw new ArgumentException($"argument 'images': expected grey images [B,1,H,W], got [{string.Join(", ", shape)}]", nameof(images));
        using var scope = torch.NewDisposeScope();
        var x = _rgbImageNet
            ? (images.expand(shape[0], 3, shape[2], shape[3]) - ImageNetMean()) / ImageNetStd()
            : (images - 0.5) / 0.25;
        int poolsSeen = 0;
        long dilation = 1;
        for (int i = 0; i < _layers.Length; i++)
        {
            var conv = _layers[i];
            if (conv is null)
            {
                poolsSeen++;
                bool last = poolsSeen == Pools;
                if (dense && last)
                {
                    x = F.avg_pool2d(x, 2, stride: 1);
                    dilation = 2;
                }
                else x = F.max_pool2d(x, 2);
                continue;
            }
            x = F.conv2d(x, conv.weight, conv.bias, stride: 1, padding: dilation, dilation: dilation);
            if (i < _layers.Length - 1) x = x.relu();
        }
        if (_normalizeOutput)
        {
            var centred = x - x.mean([2, 3], keepdim: true);
            x = centred / (centred.square().mean([2, 3], keepdim: true) + 1e-5).sqrt();
        }
        return x.contiguous().MoveToOuterDisposeScope();
    }

    private static Tensor ImageNetMean() => torch.tensor([0.485f, 0.456f, 0.406f], 1, 3, 1, 1);
    private static Tensor ImageNetStd() => torch.tensor([0.229f, 0.224f, 0.225f], 1, 3, 1, 1);

    /// <summary>Freezes all but the last convolution (D2-Net fine-tunes only conv4_3 of the ImageNet VGG16).</summary>
    public void FreezeAllButLast()
    {
        var last = _layers.Last(l => l != null)!;
        foreach (var p in parameters()) p.requires_grad = false;
        last.weight.requires_grad = true;
        last.bias!.requires_grad = true;
    }

    public IEnumerable<Tensor> TrainableParameters() => parameters().Where(p => p.requires_grad);

    /// <summary>
    /// Loads torchvision VGG16 weights (<c>torch.save(torchvision.models.vgg16(weights="IMAGENET1K_V1").state_dict())</c>,
    /// a .pth, or the same keys in .safetensors): features.0 … features.21 are taken, the classifier ignored.
    /// </summary>
    public void LoadTorchvisionVgg16(string path)
    {
        if (Name != "vgg16") throw new InvalidOperationException($"torchvision VGG16 weights need model vgg16, this is {Name}");
        if (!File.Exists(path)) throw new FileNotFoundException($"VGG16 weights not found: '{path}' (config 'vgg16_weights'; see README: Training → VGG16 weights)", path);
        var all = path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase) ? Safetensors.Load(path) : Serialization.LoadStateDict(path);
        try
        {
            var own = state_dict();
            var wanted = new Dictionary<string, Tensor>();
            foreach (var key in own.Keys)
            {
                if (!all.TryGetValue(key, out var t))
                    throw new InvalidDataException($"'{path}' lacks '{key}': expected torchvision VGG16 state_dict keys (features.0.weight … features.21.bias)");
                wanted[key] = t;
            }
            foreach (var t in own.Values) t.Dispose();
            load_state_dict(wanted);
        }
        finally
        {
            foreach (var t in all.Values) t.Dispose();
        }
    }

    /// <summary>A module that only holds the numbered convolutions (state_dict prefix "features.").</summary>
    private sealed class Container : Module
    {
        public Conv2d Add(string name, Conv2d conv) => register_module(name, conv);
        public override Tensor forward(Tensor input) => throw new NotSupportedException("the container is run by FeatureNet");
    }
}

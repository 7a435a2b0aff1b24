using System.Globalization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace LocalFeat.Models;

/// <summary>
/// A fully convolutional backbone for dense local features: blocks of 3×3 convolutions (ReLU between) separated by
/// 2×2 max pools. Input: grey images [B,1,H,W] in [0,1]; output: raw dense features [B,C,H/stride,W/stride] (no ReLU
/// on the last convolution, as D2-Net's conv4_3), for descriptors and D2 soft/hard detection.
/// <para>Dense mode (D2-Net's test-time modification, lib/model_test.py): the last pool becomes a 2×2 average pool of
/// stride 1 and the convolutions after it are dilated by 2, so the same weights give a map of half the stride.</para>
/// <para>The convolutions are registered as <c>features.N</c> with N their index in torchvision's <c>vgg.features</c>,
/// so <c>state_dict()</c> keys match torchvision's VGG16.</para>
/// </summary>
public sealed class FeatureNet : nn.Module<Tensor, Tensor>
{
    // Registered by RegisterComponents() under the field name: state_dict keys "features.0.weight", ...
    private readonly ModuleDict<Conv2d> features;
    private readonly (Conv2d conv, int poolsBefore)[] _layers;  // the same convolutions in order, each with how many pools precede it  // per convolution: how many pools precede it
    private readonly bool _rgbImageNet;
    private readonly bool _normalizeOutput;

    private FeatureNet(FeatureNetKind kind, int[][] blocks, int inChannels, bool rgbImageNet, bool normalizeOutput) : base(kind.ToString().ToLowerInvariant())
    {
        Kind = kind;
        _rgbImageNet = rgbImageNet;
        _normalizeOutput = normalizeOutput;
        var convs = new List<(string, Conv2d)>();
        var poolsBefore = new List<int>();
        int index = 0, c = inChannels;
        for (int b = 0; b < blocks.Length; b++)
        {
            if (b > 0) index += 1;  // the pool's index in torchvision's features
            foreach (int width in blocks[b])
            {
                convs.Add((index.ToString(CultureInfo.InvariantCulture), nn.Conv2d(c, width, 3, padding: 1)));
                poolsBefore.Add(b);
                c = width;
                index += 2;  // conv + ReLU
            }
        }
        features = nn.ModuleDict(convs.ToArray());
        _layers = convs.Select((c, k) => (c.Item2, poolsBefore[k])).ToArray();
        Channels = c;
        Pools = blocks.Length - 1;
        RegisterComponents();
    }

    /// <summary>Which architecture this is.</summary>
    public FeatureNetKind Kind { get; }
    /// <summary>Descriptor width C of the output map.</summary>
    public int Channels { get; }
    /// <summary>Number of 2×2 pools.</summary>
    public int Pools { get; }
    /// <summary>Training stride (2^pools); dense mode halves it.</summary>
    public int Stride => 1 << Pools;
    /// <summary>The stride of the output map in normal or dense mode.</summary>
    public int StrideFor(bool dense) => dense && Pools > 0 ? Stride / 2 : Stride;

    /// <summary>
    /// Cells by which the map is shifted against the stride convention (cell i ↔ pixel stride·i + (stride − 1)/2):
    /// dense mode's 2×2 average pool of stride 1 puts cell i at the midpoint of the finer cells i and i + 1.
    /// </summary>
    public double CellOffsetFor(bool dense) => dense && Pools > 0 ? 0.5 : 0;

    /// <summary>
    /// 8-16-32-64-128 channels, stride 8, 128-d, instance-normalised output (each channel zero mean, unit variance
    /// over the map): trained from scratch, the hardest-negative margin loss otherwise collapses all descriptors.
    /// </summary>
    public static FeatureNet Tiny() => new(FeatureNetKind.Tiny, [[8], [16], [32], [64, 128]], 1, rgbImageNet: false, normalizeOutput: true);

    /// <summary>D2-Net's backbone: torchvision VGG16 features up to conv4_3 (keys features.0 … features.21), stride 8, 512-d.</summary>
    public static FeatureNet Vgg16() => new(FeatureNetKind.Vgg16, [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512]], 3, rgbImageNet: true, normalizeOutput: false);

    /// <summary>A freshly initialised model of the given kind.</summary>
    public static FeatureNet Create(FeatureNetKind kind) => kind switch
    {
        FeatureNetKind.Tiny => Tiny(),
        FeatureNetKind.Vgg16 => Vgg16(),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "expected Tiny or Vgg16"),
    };

    /// <summary>Features [B,C,H/stride,W/stride] of grey images [B,1,H,W] in [0,1] (training mode: not dense).</summary>
    public override Tensor forward(Tensor input) => Forward(input, dense: false);

    /// <summary>Features [B,C,h,w] of grey images [B,1,H,W] in [0,1]; <paramref name="dense"/> gives half the stride.</summary>
    public Tensor Forward(Tensor images, bool dense)
    {
        var shape = images.shape;
        if (shape.Length != 4 || shape[1] != 1)
            throw new ArgumentException($"argument 'images': expected grey images [B,1,H,W], got [{string.Join(", ", shape)}]", nameof(images));
        using var scope = NewDisposeScope();
        var x = _rgbImageNet
            ? (images.expand(shape[0], 3, shape[2], shape[3]) - ImageNetMean(images.device)) / ImageNetStd(images.device)
            : (images - 0.5) / 0.25;
        long dilation = 1;
        int seen = 0, k = 0;
        foreach (var (conv, poolsBefore) in _layers)
        {
            for (; seen < poolsBefore; seen++)
            {
                if (dense && seen + 1 == Pools) { x = F.avg_pool2d(x, 2, stride: 1); dilation = 2; }
                else x = F.max_pool2d(x, 2);
            }
            x = F.conv2d(x, conv.weight!, conv.bias, padding: [dilation, dilation], dilation: [dilation, dilation]);
            if (++k < _layers.Length) x = x.relu();
        }
        if (_normalizeOutput)
        {
            var centred = x - x.mean([2, 3], keepdim: true);
            x = centred / (centred.square().mean([2, 3], keepdim: true) + 1e-5).sqrt();
        }
        return x.contiguous().MoveToOuterDisposeScope();
    }

    private static Tensor ImageNetMean(Device d) => tensor(new[] { 0.485f, 0.456f, 0.406f }, device: d).view(1, 3, 1, 1);
    private static Tensor ImageNetStd(Device d) => tensor(new[] { 0.229f, 0.224f, 0.225f }, device: d).view(1, 3, 1, 1);

    /// <summary>Freezes all but the last convolution (D2-Net fine-tunes only conv4_3 of the ImageNet VGG16).</summary>
    public void FreezeAllButLast()
    {
        foreach (var p in parameters()) p.requires_grad = false;
        var last = _layers[^1].conv;
        last.weight!.requires_grad = true;
        last.bias!.requires_grad = true;
    }

    /// <summary>The parameters that require gradients (what the optimizer gets).</summary>
    public IEnumerable<Parameter> TrainableParameters() => parameters().Where(p => p.requires_grad);

    /// <summary>
    /// Loads torchvision VGG16 weights: a PyTorch <c>.pth</c> written by
    /// <c>torch.save(torchvision.models.vgg16(weights="IMAGENET1K_V1").state_dict(), path)</c>, or the same keys in
    /// <c>.safetensors</c>. features.0 … features.21 are taken, everything else (the classifier) ignored.
    /// </summary>
    /// <exception cref="FileNotFoundException">no file at <paramref name="path"/>.</exception>
    /// <exception cref="InvalidDataException">the file is unreadable or lacks a key or has a wrong shape.</exception>
    public void LoadTorchvisionVgg16(string path)
    {
        if (Kind != FeatureNetKind.Vgg16) throw new InvalidOperationException($"torchvision VGG16 weights need model vgg16, this is {Kind.ToString().ToLowerInvariant()}");
        if (!File.Exists(path)) throw new FileNotFoundException($"VGG16 weights not found: '{path}' (config 'model.vgg16_weights'; see README: Training → VGG16 weights)", path);
        var all = StateDicts.Load(path);
        try
        {
            var wanted = new Dictionary<string, Tensor>();
            foreach (var (key, own) in state_dict())
            {
                if (!all.TryGetValue(key, out var t))
                    throw new InvalidDataException($"'{path}' lacks '{key}': expected torchvision VGG16 state_dict keys (features.0.weight … features.21.bias)");
                if (!t.shape.SequenceEqual(own.shape))
                    throw new InvalidDataException($"'{path}': '{key}' has shape [{string.Join(", ", t.shape)}], expected [{string.Join(", ", own.shape)}]");
                wanted[key] = t;
            }
            load_state_dict(wanted, strict: true);
        }
        finally
        {
            foreach (var t in all.Values) t.Dispose();
        }
    }
}

// TrainToy: a small TorchSharp model trained with LocalFeat's ops, D2-Net style, on one synthetic image pair.
// usage: dotnet run [-- Auto|Cpu|Kernel|Reference] [steps]    (Kernel on CPU tensors: the CUDA kernels, host-emulated)
using LocalFeat.Ops;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

var backend = args.Length > 0 ? Enum.Parse<Backend>(args[0], ignoreCase: true) : Backend.Auto;
var steps = args.Length > 1 ? int.Parse(args[1]) : 20;
var device = cuda.is_available() ? CUDA : CPU;
manual_seed(0);

// Two 64×64 views of one smooth random image, view 1 shifted by 8 pixels: with the model's stride 2, feature
// cell (i, j) of view 1 sees what cell (i + 4, j + 4) of view 2 sees. Those are the known correspondences.
const int Size = 64, Shift = 8, Cells = Size / 2, CellShift = Shift / 2;
var image = F.avg_pool2d(rand(1, 1, Size + Shift, Size + Shift), 3, stride: 1, padding: 1);
var views = cat([image[.., .., Shift.., Shift..], image[.., .., ..Size, ..Size]]).contiguous().to(device); // [2,1,64,64]

var r = arange(Cells - CellShift, dtype: int64, device: device);
var rc = meshgrid([r, r], indexing: "ij");
var cells1 = stack([rc[0].flatten(), rc[1].flatten()], 1);      // [N,2] (row, col) in view 1
var cells2 = cells1 + CellShift;                                  // their correspondences in view 2
var index1 = cells1[.., 0] * Cells + cells1[.., 1];               // flat cell indices
var index2 = cells2[.., 0] * Cells + cells2[.., 1];
var all = arange(Cells, dtype: float32, device: device);
var allRc = meshgrid([all, all], indexing: "ij");
var grid2 = stack([allRc[0].flatten(), allRc[1].flatten()], 1);  // [M,2] every cell of view 2: the candidates' positions
var anchorPos = cells2.to(float32);

var model = new TinyFeatures().to(device);
var optimizer = optim.Adam(model.parameters(), lr: 1e-3);
for (var step = 1; step <= steps; step++)
{
    using var scope = NewDisposeScope();
    var features = model.forward(views);                                   // [2,C,32,32]
    var scores = D2SoftDetect.Apply(features, backend: backend).flatten(1); // [2,H·W], each sums to 1
    var descriptors = F.normalize(features.flatten(2).transpose(1, 2), dim: 2); // [2,H·W,C] unit rows
    var anchors = descriptors[0].index_select(0, index1).contiguous();
    var candidates = descriptors[1].contiguous();
    var positive = (anchors - candidates.index_select(0, index2)).pow(2).sum(1);
    // The nearest descriptor of view 2 more than 4 cells away from the true match: the hardest negative.
    var (_, negative) = HardestNegatives.Apply(anchors, candidates, anchorPos, grid2, radius: 4, SafeWindow.Square, backend);
    // D2-Net: margin ranking loss, weighted by the detection scores of both views at each correspondence.
    var weight = scores[0].index_select(0, index1) * scores[1].index_select(0, index2);
    var loss = (weight * F.relu(1 + positive - negative)).sum() / weight.sum();

    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    Console.WriteLine($"step {step,3}  loss {loss.item<float>():F5}");
}

/// <summary>Three 3×3 convolutions, the middle one of stride 2: dense C=32 features at half resolution.</summary>
sealed class TinyFeatures : nn.Module<Tensor, Tensor>
{
    private readonly Conv2d conv1 = nn.Conv2d(1, 16, 3, padding: 1);
    private readonly Conv2d conv2 = nn.Conv2d(16, 32, 3, stride: 2, padding: 1);
    private readonly Conv2d conv3 = nn.Conv2d(32, 32, 3, padding: 1);

    public TinyFeatures() : base(nameof(TinyFeatures)) => RegisterComponents();

    public override Tensor forward(Tensor x) =>
        conv3.forward(F.relu(conv2.forward(F.relu(conv1.forward(x)))));
}

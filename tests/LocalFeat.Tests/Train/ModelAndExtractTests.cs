using TorchSharp;
using static TorchSharp.torch;
using LocalFeat.Train.Vision;
using LocalFeat.Features;
using LocalFeat.Train.Commands;
using LocalFeat.Train.Evaluation;
using LocalFeat.Models;
using LocalFeat.Train.Training;
using Xunit;

namespace LocalFeat.Tests.Train;

[Collection(SerialCollection.Name)]  // seeds the process-wide generator
public class ModelAndExtractTests
{
    private static string Python(string script) => TrainFixture.Python(script);

    [Fact]
    public void Models_HaveTheDocumentedStrideAndWidth()
    {
        torch.manual_seed(1);
        using var tiny = FeatureNet.Tiny();
        using var x = torch.rand(1, 1, 64, 96);
        using (torch.no_grad())
        {
            using var f = tiny.Forward(x, dense: false);
            Assert.Equal(new long[] { 1, 128, 8, 12 }, f.shape);
            using var d = tiny.Forward(x, dense: true);  // last pool: 2×2 average of stride 1 → 16−1 by 24−1 cells
            Assert.Equal(new long[] { 1, 128, 15, 23 }, d.shape);
        }
        Assert.Equal(8, tiny.Stride);
        Assert.Equal(4, tiny.StrideFor(dense: true));
        Assert.Equal(0.0, tiny.CellOffsetFor(dense: false));
        Assert.Equal(0.5, tiny.CellOffsetFor(dense: true));  // the stride-1 average pool centres cell i between fine cells i and i+1
    }

    [Fact]
    public void Vgg16_LoadsTorchvisionKeysFromAPthFile()
    {
        // A state_dict with torchvision's VGG16 names and shapes (values random; the classifier must be ignored).
        string path = Path.Combine(TrainFixture.TempDir("vgg"), "vgg16.pth");
        Python($$"""
            import torch
            cfg = [(0,3,64),(2,64,64),(5,64,128),(7,128,128),(10,128,256),(12,256,256),(14,256,256),(17,256,512),(19,512,512),(21,512,512),(24,512,512)]
            g = torch.Generator().manual_seed(0)
            sd = {}
            for i, cin, cout in cfg:
                sd[f"features.{i}.weight"] = torch.randn(cout, cin, 3, 3, generator=g)
                sd[f"features.{i}.bias"] = torch.arange(cout, dtype=torch.float32) + i
            sd["classifier.0.weight"] = torch.zeros(4, 4)
            torch.save(sd, "{{path}}")
            """);
        using var model = FeatureNet.Vgg16();
        model.LoadTorchvisionVgg16(path);
        var own = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        Assert.Equal(20, own.Count);  // conv1_1 … conv4_3
        Assert.Equal(Enumerable.Range(0, 512).Select(k => k + 21f).ToArray(), own["features.21.bias"].detach().data<float>().ToArray());
        Assert.Equal(new long[] { 64, 3, 3, 3 }, own["features.0.weight"].shape);
        model.FreezeAllButLast();
        Assert.Equal(["features.21.weight", "features.21.bias"], model.named_parameters().Where(p => p.parameter.requires_grad).Select(p => p.name));

        var e = Assert.Throws<FileNotFoundException>(() => FeatureNet.Vgg16().LoadTorchvisionVgg16("/nonexistent/vgg16.pth"));
        Assert.Contains("config 'model.vgg16_weights'", e.Message);
    }

    [Fact]
    public void Extract_WritesNpzThatNumpyReads()
    {
        string run = TrainFixture.TempDir("extract-run");
        var c = TrainFixture.Config(run);
        c.Eval.Budget = 50;
        torch.manual_seed(5);
        using (var model = FeatureNet.Tiny())
        using (var trainer = new Trainer(model, c, torch.CPU))
            Checkpoint.Save(run, model, trainer.Optimizer, 0, c);

        string images = TrainFixture.TempDir("extract-in");
        using (var photo = OpenCv.ReadImage(Path.Combine(TrainFixture.OpenCvData, "baboon.jpg")))
        using (var crop = photo.narrow(0, 0, 160).narrow(1, 0, 200).contiguous())
            OpenCv.WriteImage(Path.Combine(images, "baboon.png"), crop);
        File.WriteAllBytes(Path.Combine(images, "broken.jpg"), [0xFF, 0xD8, 0xFF, 0x00]);
        string output = TrainFixture.TempDir("extract-out");
        var warnings = new List<string>();
        int code = ExtractCommand.Run(run, images, output, [], warnings.Add);
        Assert.Equal(2, code);  // one image skipped
        Assert.Contains(warnings, w => w.Contains("skipping 'broken.jpg'"));

        string npz = Path.Combine(output, "baboon.png.npz");
        string report = Python($$"""
            import numpy
            f = numpy.load("{{npz}}")
            k, s, d = f["keypoints"], f["scores"], f["descriptors"]
            assert sorted(f.files) == ["descriptors", "keypoints", "scores"], f.files
            assert k.dtype == numpy.float32 and s.dtype == numpy.float32 and d.dtype == numpy.float32
            assert k.shape[1] == 3 and s.shape == (k.shape[0],) and d.shape == (k.shape[0], 128)
            print("%d %.2f %.4f %.4f" % (k.shape[0], k[:, 0].astype(numpy.float64).sum(), numpy.linalg.norm(d, axis=1).mean(), k[:, 2].max()))
            """);
        // The same extraction in C#: count, Σx, unit descriptors, scale 1.
        var info = Checkpoint.ReadInfo(run);
        using var m = Checkpoint.LoadModel(info);
        using var img = OpenCv.ReadImage(Path.Combine(images, "baboon.png"));
        using var f = new NetExtractor(m, LocalFeat.Train.Commands.TrainedModel.Options(info.Config)).Extract(img);  // the saved eval.* (budget 50, scales)
        Assert.True(f.Count is > 0 and <= 50);
        Assert.Equal(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{f.Count} {f.X.Sum(v => (double)v):F2} 1.0000 1.0000"), report);
    }
}

public class StateDictTests
{
    [Fact]
    public void PythonWrittenStateDict_IsReadWithItsDtypesShapesAndViews()
    {
        // Fixtures/state_dict.pt: scripts/fixtures/make_state_dict.py (python3-torch), values by formula.
        var sd = LocalFeat.Models.StateDicts.Load(Path.Combine(AppContext.BaseDirectory, "Fixtures", "state_dict.pt"));
        try
        {
            Assert.Equal(["bn.num_batches_tracked", "bn.running_var", "conv.bias", "conv.weight", "head.weight"], sd.Keys.Order());
            var w = sd["conv.weight"];
            Assert.Equal(new long[] { 2, 3, 3, 3 }, w.shape);
            Assert.Equal(Enumerable.Range(0, 54).Select(i => i * 0.25f - 3f), w.data<float>().ToArray());
            Assert.Equal(new float[] { 0.5f, -1.5f }, sd["conv.bias"].data<float>().ToArray());
            Assert.Equal(new[] { 0.5, 1.0, 1.5, 2.0 }, sd["bn.running_var"].data<double>().ToArray());
            Assert.Equal(123456789012L, sd["bn.num_batches_tracked"].item<long>());
            // (arange(6).reshape(2,3) ** 2).t(): element [i, j] = (3j + i)².
            var head = sd["head.weight"];
            Assert.Equal(new long[] { 3, 2 }, head.shape);
            Assert.Equal(new float[] { 0, 9, 1, 16, 4, 25 }, head.contiguous().data<float>().ToArray());
        }
        finally { foreach (var t in sd.Values) t.Dispose(); }
    }

    [Fact]
    public void StateDict_MissingOrWrongFile_IsAClearError()
    {
        Assert.Throws<FileNotFoundException>(() => LocalFeat.Models.StateDicts.Load("/nonexistent/weights.pth"));
        string path = Path.Combine(TrainFixture.TempDir("sd"), "bad.pth");
        File.WriteAllText(path, "not a checkpoint");
        var e = Assert.Throws<InvalidDataException>(() => LocalFeat.Models.StateDicts.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("PyTorchUnpickler", e.Message);
    }
}

using System.Diagnostics;
using LocalFeat.Torch;
using LocalFeat.Torch.IO;
using Xunit;

namespace LocalFeat.Tests.Torch;

public class IOTests
{
    private const string OpenCvData = "/usr/share/doc/opencv-doc/examples/data";

    private static string TempFile(string ext) => Path.Combine(Path.GetTempPath(), $"lf-test-{Guid.NewGuid():N}{ext}");

    [Fact]
    public void Safetensors_RoundTripsEveryDtypeAndMetadata()
    {
        string path = TempFile(".safetensors");
        using var scope = torch.NewDisposeScope();
        var tensors = new Dictionary<string, Tensor>
        {
            ["f32"] = torch.randn(3, 4),
            ["f64"] = torch.tensor(new[] { Math.PI, -1e300 }),
            ["i64"] = torch.tensor(new long[] { long.MinValue, 0, long.MaxValue }),
            ["i32"] = torch.tensor(new[] { -7, 7 }),
            ["u8"] = torch.tensor(new byte[] { 0, 255, 3, 4 }, 2, 2),
            ["bool"] = torch.tensor(new[] { true, false }),
            ["empty"] = torch.zeros(0, 5),
            ["transposed"] = torch.arange(0, 6, 1, ScalarType.Float32).view(2, 3).t(),
        };
        try
        {
            Safetensors.Save(path, tensors, new Dictionary<string, string> { ["step"] = "42" });
            var back = Safetensors.Load(path, out var meta);
            Assert.Equal("42", meta["step"]);
            Assert.Equal(tensors.Keys.Order(), back.Keys.Order());
            foreach (var (name, t) in tensors)
            {
                Assert.Equal(t.dtype, back[name].dtype);
                Assert.Equal(t.shape, back[name].shape);
                Assert.True(t.equal(back[name]), name);
            }
            Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(path)!, Path.GetFileName(path) + ".tmp*"));
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Safetensors_FileIsReadableByAnIndependentPythonReader()
    {
        string path = TempFile(".safetensors");
        using var scope = torch.NewDisposeScope();
        try
        {
            Safetensors.Save(path, new Dictionary<string, Tensor>
            {
                ["a"] = torch.tensor(new float[] { 1.5f, -2, 3.25f }),
                ["b"] = torch.tensor(new long[] { 10, 20, 30, 40 }, 2, 2),
            });
            // The safetensors spec with numpy only: u64 header length, JSON, little-endian data.
            string script = """
                import json, struct, sys, numpy as np
                d = open(sys.argv[1], 'rb').read()
                n = struct.unpack('<Q', d[:8])[0]
                h = json.loads(d[8:8 + n])
                types = {'F32': '<f4', 'I64': '<i8'}
                for k in sorted(h):
                    s, e = h[k]['data_offsets']
                    a = np.frombuffer(d[8 + n + s:8 + n + e], dtype=types[h[k]['dtype']]).reshape(h[k]['shape'])
                    print(k, a.shape, a.ravel().tolist())
                """;
            string output = RunPython(script, path);
            Assert.Contains("a (3,) [1.5, -2.0, 3.25]", output);
            Assert.Contains("b (2, 2) [10, 20, 30, 40]", output);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Safetensors_CorruptFile_IsAClearError()
    {
        string path = TempFile(".safetensors");
        try
        {
            File.WriteAllBytes(path, [255, 255, 0, 0, 0, 0, 0, 0, (byte)'{']);
            var e = Assert.Throws<InvalidDataException>(() => Safetensors.Load(path));
            Assert.Contains("exceeds the file size", e.Message);
            File.WriteAllBytes(path, [2, 0, 0, 0, 0, 0, 0, 0, (byte)'{', (byte)'x']);
            e = Assert.Throws<InvalidDataException>(() => Safetensors.Load(path));
            Assert.Contains("corrupt safetensors header", e.Message);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void StateDict_WrittenByPythonTorch_LoadsWithIdenticalValues()
    {
        // Fixture from scripts/fixtures/make_state_dict.py; the expected values are its formulas.
        using var scope = torch.NewDisposeScope();
        var sd = Serialization.LoadStateDict(Path.Combine(AppContext.BaseDirectory, "Fixtures", "state_dict.pt"));
        Assert.Equal(["bn.num_batches_tracked", "bn.running_var", "conv.bias", "conv.weight", "head.weight"], sd.Keys.Order());
        var w = sd["conv.weight"];
        Assert.Equal(new long[] { 2, 3, 3, 3 }, w.shape);
        Assert.Equal(Enumerable.Range(0, 54).Select(i => i * 0.25f - 3f), w.ToArray<float>());
        Assert.Equal(new float[] { 0.5f, -1.5f }, sd["conv.bias"].ToArray<float>());
        Assert.Equal(new[] { 0.5, 1.0, 1.5, 2.0 }, sd["bn.running_var"].ToArray<double>());
        Assert.Equal(123456789012L, sd["bn.num_batches_tracked"].item<long>());
        // (arange(6).reshape(2,3) ** 2).t(): element [i, j] = (3j + i)².
        var head = sd["head.weight"];
        Assert.Equal(new long[] { 3, 2 }, head.shape);
        Assert.Equal(new float[] { 0, 9, 1, 16, 4, 25 }, head.ToArray<float>());
    }

    [Fact]
    public void StateDict_MissingOrWrongFile_IsAClearError()
    {
        Assert.Throws<FileNotFoundException>(() => Serialization.LoadStateDict("/nonexistent/weights.pth"));
        string path = TempFile(".pth");
        try
        {
            File.WriteAllText(path, "not a checkpoint");
            var e = Assert.Throws<TorchException>(() => Serialization.LoadStateDict(path));
            Assert.Contains("load_state_dict", e.Message);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void ReadGraf1_HasTheKnownSize_AndPngRoundTrips()
    {
        using var scope = torch.NewDisposeScope();
        var gray = Image.Read(Path.Combine(OpenCvData, "graf1.png"));
        Assert.Equal(new long[] { 640, 800 }, gray.shape);  // graf1.png is 800×640
        Assert.Equal(ScalarType.UInt8, gray.dtype);
        var rgb = Image.Read(Path.Combine(OpenCvData, "graf1.png"), color: true);
        Assert.Equal(new long[] { 640, 800, 3 }, rgb.shape);
        string path = TempFile(".png");
        try
        {
            Image.Write(path, rgb);
            Assert.True(Image.Read(path, color: true).equal(rgb));
            var small = torch.tensor(new byte[] { 0, 50, 100, 150, 200, 250 }, 2, 3);
            Image.Write(path, small);
            Assert.Equal(small.ToArray<byte>(), Image.Read(path).ToArray<byte>());
        }
        finally { File.Delete(path); }
    }

    internal static string RunPython(string script, params string[] args)
    {
        var psi = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(script);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd();
        string stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"python failed: {stderr}");
        return stdout;
    }
}

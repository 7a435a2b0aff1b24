using LocalFeat.Train.Commands;
using LocalFeat.Train.Training;
using Xunit;

namespace LocalFeat.Tests.Train;

public class ConfigTests
{
    private static string Message(Action a) => Assert.Throws<ConfigException>(a).Message;

    [Theory]
    [InlineData("lr", "-1", "config 'lr': expected a number > 0, got -1")]
    [InlineData("steps", "0", "config 'steps': expected an integer ≥ 1, got 0")]
    [InlineData("crop_size", "100", "config 'crop_size': expected a multiple of 8 in [32, 2048], got 100")]
    [InlineData("model", "resnet", "config 'model': expected one of tiny | vgg16, got 'resnet'")]
    [InlineData("device", "tpu", "config 'device': expected one of cpu | cuda, got 'tpu'")]
    [InlineData("blur_prob", "1.5", "config 'blur_prob': expected a probability in [0, 1], got 1.5")]
    public void OutOfRangeValues_NameKeyExpectedAndReceived(string key, string value, string expected)
    {
        var c = new TrainConfig();
        c.Set(key, value);
        Assert.Equal(expected, Message(c.Validate));
    }

    [Fact]
    public void WrongTypesAndUnknownKeys_AreRejectedWhenSet()
    {
        Assert.Equal("config 'steps': expected an integer, got \"many\"", Message(() => new TrainConfig().Set("steps", "many")));
        Assert.Equal("config 'steps': expected an integer, got 2.5", Message(() => new TrainConfig().Set("steps", "2.5")));
        Assert.Equal("config 'eval_after': expected true or false, got 1", Message(() => new TrainConfig().Set("eval_after", "1")));
        var m = Message(() => new TrainConfig().Set("learning_rate", "0.1"));
        Assert.StartsWith("config: unknown key 'learning_rate'; known keys: ", m);
        Assert.Contains(" lr,", m);
    }

    [Fact]
    public void FileThenOverrides_AndTheResolvedConfigRoundTrips()
    {
        string dir = TrainFixture.TempDir("cfg");
        string file = Path.Combine(dir, "c.json");
        File.WriteAllText(file, """{ "steps": 123, "lr": 0.0005, "model": "tiny", "vgg16_weights": null }""");
        var c = TrainConfig.Resolve(file, [("steps", "7"), ("grad_clip", "2.5")]);
        Assert.Equal(7, c.Steps);
        Assert.Equal(0.0005, c.Lr);
        Assert.Equal(2.5, c.GradClip);
        var back = TrainConfig.Parse(c.ToJson(), "round trip");
        Assert.Equal(c.ToJson(), back.ToJson());
        Assert.Equal(TrainConfig.KeyNames.Count, System.Text.Json.Nodes.JsonNode.Parse(c.ToJson())!.AsObject().Count);  // every setting is saved
    }

    [Fact]
    public void BadConfigFiles_NameTheFile()
    {
        string dir = TrainFixture.TempDir("cfgbad");
        string broken = Path.Combine(dir, "broken.json");
        File.WriteAllText(broken, "{ \"steps\": ");
        Assert.StartsWith($"config file '{broken}' is not valid JSON", Message(() => TrainConfig.Load(broken)));
        string wrong = Path.Combine(dir, "wrong.json");
        File.WriteAllText(wrong, """{ "batch_size": "two" }""");
        Assert.Equal($"config file '{wrong}': config 'batch_size': expected an integer, got \"two\"", Message(() => TrainConfig.Load(wrong)));
        Assert.Equal($"config file not found: '{dir}/none.json'", Message(() => TrainConfig.Load(Path.Combine(dir, "none.json"))));
    }
}

[Collection(SerialCollection.Name)]  // redirects Console.Error
public class CommandLineTests
{
    private static (int code, string stderr) Invoke(System.CommandLine.Command cmd, params string[] args)
    {
        var previous = Console.Error;
        var err = new StringWriter();
        Console.SetError(err);
        try { return (cmd.Parse(args).Invoke(), err.ToString()); }
        finally { Console.SetError(previous); }
    }

    [Fact]
    public void Train_BadValueExitsWithOneClearLine()
    {
        var (code, stderr) = Invoke(TrainCommand.Create(), "--steps", "0", "--out", TrainFixture.TempDir("cli"));
        Assert.Equal(1, code);
        Assert.Equal("error: config 'steps': expected an integer ≥ 1, got 0", stderr.Trim());
    }

    [Fact]
    public void Train_MissingImageFolderIsNamed()
    {
        string missing = "/nonexistent/photos";
        var (code, stderr) = Invoke(TrainCommand.Create(), "--images", missing, "--steps", "1", "--out", TrainFixture.TempDir("cli2"));
        Assert.Equal(1, code);
        Assert.Contains($"image folder not found: '{missing}'", stderr);
    }

    [Fact]
    public void Train_ResumeWithoutCheckpointSaysSo()
    {
        string dir = TrainFixture.TempDir("cli3");
        var (code, stderr) = Invoke(TrainCommand.Create(), "--resume", "--out", dir);
        Assert.Equal(1, code);
        Assert.Contains($"no checkpoint in '{dir}'", stderr);
    }

    [Fact]
    public void Eval_NeedsExactlyOneSource()
    {
        var (code, stderr) = Invoke(EvalCommand.Create());
        Assert.Equal(1, code);
        Assert.Contains("exactly one of --run DIR or --checkpoint FILE", stderr);
    }
}

using LocalFeat.Train.Commands;
using LocalFeat.Train.Training;
using Xunit;

namespace LocalFeat.Tests.Train;

public class ConfigTests
{
    private static string Message(Action a) => Assert.Throws<ConfigException>(a).Message;

    [Theory]
    [InlineData("optimizer.lr", "-1", "config 'optimizer.lr': expected a number > 0, got -1")]
    [InlineData("run.steps", "0", "config 'run.steps': expected an integer ≥ 1, got 0")]
    [InlineData("data.crop_size", "100", "config 'data.crop_size': expected a multiple of 8 in [32, 2048], got 100")]
    [InlineData("model.kind", "resnet", "config 'model.kind': expected one of tiny | vgg16, got 'resnet'")]
    [InlineData("run.device", "tpu", "config 'run.device': expected one of cpu | cuda, got 'tpu'")]
    [InlineData("model.finetune", "conv5", "config 'model.finetune': expected one of conv4_3 | all, got 'conv5'")]
    [InlineData("optimizer.lr_schedule", "linear", "config 'optimizer.lr_schedule': expected one of cosine | step | constant, got 'linear'")]
    [InlineData("eval.detection", "3", "config 'eval.detection': expected one of hard | soft, got 3")]
    [InlineData("data.blur_prob", "1.5", "config 'data.blur_prob': expected a probability in [0, 1], got 1.5")]
    public void OutOfRangeValues_NameKeyExpectedAndReceived(string key, string value, string expected)
    {
        // Ranges are checked by Validate; enum names already when set.
        var c = new TrainConfig();
        Assert.Equal(expected, Message(() => { c.Set(key, value); c.Validate(); }));
    }

    [Fact]
    public void WrongTypesAndUnknownKeys_AreRejectedWhenSet()
    {
        Assert.Equal("config 'run.steps': expected an integer, got \"many\"", Message(() => new TrainConfig().Set("run.steps", "many")));
        Assert.Equal("config 'run.steps': expected an integer, got 2.5", Message(() => new TrainConfig().Set("run.steps", "2.5")));
        Assert.Equal("config 'run.eval_after': expected true or false, got 1", Message(() => new TrainConfig().Set("run.eval_after", "1")));
        var m = Message(() => new TrainConfig().Set("learning_rate", "0.1"));
        Assert.StartsWith("config: unknown key 'learning_rate'; known keys: ", m);
        Assert.Contains(" optimizer.lr,", m);
        // A key without its group names the dotted one.
        Assert.StartsWith("config: unknown key 'lr' (did you mean 'optimizer.lr'?); known keys: ", Message(() => new TrainConfig().Set("lr", "0.1")));
    }

    [Fact]
    public void FileThenOverrides_AndTheResolvedConfigRoundTrips()
    {
        string dir = TrainFixture.TempDir("cfg");
        string file = Path.Combine(dir, "c.json");
        File.WriteAllText(file, """{ "run": { "steps": 123 }, "optimizer": { "lr": 0.0005 }, "model": { "kind": "tiny", "vgg16_weights": null } }""");
        var c = TrainConfig.Resolve(file, [("run.steps", "7"), ("optimizer.grad_clip", "2.5")]);
        Assert.Equal(7, c.Run.Steps);
        Assert.Equal(0.0005, c.Optimizer.Lr);
        Assert.Equal(2.5, c.Optimizer.GradClip);
        var back = TrainConfig.Parse(c.ToJson(), "round trip");
        Assert.Equal(c.ToJson(), back.ToJson());
        var saved = System.Text.Json.Nodes.JsonNode.Parse(c.ToJson())!.AsObject();
        Assert.Equal(TrainConfig.KeyNames.Count, saved.Sum(g => g.Value!.AsObject().Count));  // every setting is saved
        Assert.Equal("tiny", saved["model"]!["kind"]!.GetValue<string>());             // enums as their config names
        Assert.Equal("conv4_3", saved["model"]!["finetune"]!.GetValue<string>());
    }

    [Fact]
    public void BadConfigFiles_NameTheFile()
    {
        string dir = TrainFixture.TempDir("cfgbad");
        string broken = Path.Combine(dir, "broken.json");
        File.WriteAllText(broken, "{ \"steps\": ");
        Assert.StartsWith($"config file '{broken}' is not valid JSON", Message(() => TrainConfig.Load(broken)));
        string wrong = Path.Combine(dir, "wrong.json");
        File.WriteAllText(wrong, """{ "optimizer": { "batch_size": "two" } }""");
        Assert.Equal($"config file '{wrong}': config 'optimizer.batch_size': expected an integer, got \"two\"", Message(() => TrainConfig.Load(wrong)));
        string flat = Path.Combine(dir, "flat.json");
        File.WriteAllText(flat, """{ "optimizer": 3 }""");
        Assert.Equal($"config file '{flat}': config 'optimizer': expected an object of settings, got 3", Message(() => TrainConfig.Load(flat)));
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
        Assert.Equal("error: config 'run.steps': expected an integer ≥ 1, got 0", stderr.Trim());
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

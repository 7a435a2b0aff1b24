using LocalFeat.Train.Training;

namespace LocalFeat.Tests.Train;

/// <summary>
/// A tiny photo folder (three opencv-doc photos and one corrupt file) and a config small enough for
/// seconds-long training runs: 96×96 crops, batch 2, tiny model.
/// </summary>
public static class TrainFixture
{
    public const string OpenCvData = "/usr/share/doc/opencv-doc/examples/data";
    public static readonly string[] Photos = ["baboon.jpg", "butterfly.jpg", "messi5.jpg"];
    public const string CorruptName = "zz_corrupt.png";

    private static readonly Lazy<string> Folder = new(() =>
    {
        string dir = Path.Combine(Path.GetTempPath(), $"lf-train-photos-{Environment.ProcessId}");
        Directory.CreateDirectory(dir);
        foreach (var p in Photos) File.Copy(Path.Combine(OpenCvData, p), Path.Combine(dir, p), overwrite: true);
        // A PNG signature followed by garbage: OpenCV cannot decode it.
        File.WriteAllBytes(Path.Combine(dir, CorruptName), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 1, 2, 3, 4, 5]);
        return dir;
    });

    public static string Photos3WithCorrupt => Folder.Value;

    public static string TempDir(string tag)
    {
        string dir = Path.Combine(Path.GetTempPath(), $"lf-{tag}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>Runs a script with Debian's python3 (python3-torch, numpy); returns its trimmed stdout, fails the test on an error.</summary>
    public static string Python(string script)
    {
        var psi = new System.Diagnostics.ProcessStartInfo("/usr/bin/python3", ["-c", script]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = System.Diagnostics.Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd(), stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Xunit.Assert.True(p.ExitCode == 0, $"python failed: {stderr}");
        return stdout.Trim();
    }

    public static TrainConfig Config(string outDir, long steps = 4)
    {
        var c = new TrainConfig
        {
            Run = new() { Out = outDir, Steps = steps, CheckpointEvery = 2, LogEvery = 1, Seed = 7, Threads = 2 },
            Optimizer = new() { BatchSize = 2, WarmupSteps = 0 },
            Data = new() { Images = Photos3WithCorrupt, CropSize = 96, MinCorrespondences = 16 },
            Eval = new() { SyntheticPairs = 0, SyntheticPosePairs = 0 },
        };
        c.Validate();
        return c;
    }
}

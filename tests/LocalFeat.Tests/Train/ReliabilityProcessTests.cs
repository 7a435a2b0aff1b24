using LocalFeat.Train.Training;
using OpenCvSharp;
using Xunit;

namespace LocalFeat.Tests.Train;

/// <summary>
/// Issue 16, the console as a user runs it (the built apphost as a child process): every fault ends with its exit code,
/// one "error:" line naming the path or key and the cause (no stack trace, no .NET type names, no help dump), and
/// a run folder whose <c>latest</c> names a complete checkpoint. Tiny crops and a few steps keep each test short.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]  // runuser, tmpfs mounts, Unix file modes
[Collection(SerialCollection.Name)]  // child processes share the two cores with nothing else
public class ReliabilityProcessTests
{
    private static string[] Small(string outDir, string? images = null, long steps = 2) =>
    [
        "train", "--out", outDir, "--images", images ?? TrainFixture.Photos3WithCorrupt, "--steps", steps.ToString(), "--no-eval",
        "--set", "data.crop_size=96", "--set", "data.min_correspondences=16", "--set", "eval.synthetic_pairs=0", "--set", "run.threads=2",
    ];

    private static readonly Lazy<string> TrainedRun = new(() =>
    {
        string run = TrainFixture.TempDir("trained");
        var (code, _, err) = ConsoleProcess.Run(Small(run, steps: 2));
        Assert.True(code == 0, err);
        return run;
    });

    /// <summary>The one line on stderr that starts with "error:" (fails unless there is exactly one, and no trace).</summary>
    private static string OneError(int code, string stderr, int expectedCode = 1)
    {
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var errors = lines.Where(l => l.StartsWith("error:", StringComparison.Ordinal)).ToList();
        Assert.True(errors.Count == 1, $"expected one error line, got: {stderr}");
        Assert.DoesNotContain(lines, l => l.StartsWith("at ", StringComparison.Ordinal));  // a stack frame
        Assert.DoesNotContain("System.", stderr);
        Assert.DoesNotContain("Description:", stderr);  // System.CommandLine's help text
        Assert.Equal(expectedCode, code);
        return errors[0];
    }

    private static void AssertLatestComplete(string run, long expectedStep)
    {
        var info = Checkpoint.ReadInfo(run);
        Assert.Equal(expectedStep, info.Step);
        using var model = Checkpoint.LoadModel(info);  // complete and loadable
    }

    private static string[] Partial(string run) => Directory.GetDirectories(Checkpoint.Folder(run), ".step-*");

    // Item 1 ---------------------------------------------------------------------------------------------------

    [Fact]
    public void UnreadableImageFolderOrSubfolder_AsAnUnprivilegedUser_NamesTheFolder()
    {
        // Root ignores permission bits, so the console runs as 'nobody' (runuser): this proves the EACCES path.
        if (Mounts.Sh("runuser", "-u", "nobody", "--", "true") != 0) return;  // not root, or no runuser here: nothing to prove
        string root = TrainFixture.TempDir("unreadable");
        File.SetUnixFileMode(root, (UnixFileMode)0x1FF);
        string photos = Path.Combine(root, "photos"), sub = Path.Combine(photos, "sub");
        Directory.CreateDirectory(sub);
        foreach (var p in TrainFixture.Photos) File.Copy(Path.Combine(TrainFixture.OpenCvData, p), Path.Combine(photos, p));
        File.Copy(Path.Combine(TrainFixture.OpenCvData, "baboon.jpg"), Path.Combine(sub, "b.jpg"));
        File.SetUnixFileMode(sub, UnixFileMode.None);
        var (code, _, err) = ConsoleProcess.Run(Small(Path.Combine(root, "run"), photos), asUser: "nobody");
        Assert.Equal($"error: file system: cannot read image folder '{sub}' (permission denied)", OneError(code, err));

        File.SetUnixFileMode(photos, UnixFileMode.None);
        (code, _, err) = ConsoleProcess.Run(Small(Path.Combine(root, "run"), photos), asUser: "nobody");
        Assert.Equal($"error: file system: cannot read image folder '{photos}' (permission denied)", OneError(code, err));
        File.SetUnixFileMode(photos, (UnixFileMode)0x1ED);
        File.SetUnixFileMode(sub, (UnixFileMode)0x1ED);
    }

    [Fact]
    public void OutInsideAReadOnlyFolder_NamesThePath()
    {
        // A read-only tmpfs refuses root too (EROFS), unlike permission bits.
        using var ro = Mounts.Tmpfs("ro,size=1m");
        if (ro is null) return;  // mounting not permitted here: covered by the 'nobody' case below
        string outDir = Path.Combine(ro.Path, "run");
        var (code, _, err) = ConsoleProcess.Run(Small(outDir));
        string line = OneError(code, err);
        Assert.Contains($"'{outDir}'", line);
        Assert.Contains("Read-only file system", line);
    }

    [Fact]
    public void OutNamingAFile_TrainExtractEval_NamesTheFile()
    {
        string file = Path.Combine(TrainFixture.TempDir("outfile"), "not-a-folder");
        File.WriteAllText(file, "x");
        var (code, _, err) = ConsoleProcess.Run(Small(file));
        Assert.Equal($"error: file system: run folder (--out / config 'run.out') '{file}' is a file, expected a folder", OneError(code, err));
        (code, _, err) = ConsoleProcess.Run(["extract", "--checkpoint", TrainedRun.Value, "--images", TrainFixture.Photos3WithCorrupt, "--out", file]);
        Assert.Equal($"error: file system: extract --out '{file}' is a file, expected a folder", OneError(code, err));
        (code, _, err) = ConsoleProcess.Run(["eval", "--run", TrainedRun.Value, "--out", file, "--set", "eval.synthetic_pairs=0"]);
        Assert.Equal($"error: file system: eval --out '{file}' is a file, expected a folder", OneError(code, err));
        Assert.Equal("x", File.ReadAllText(file));
    }

    [Fact]
    public void DiskFullDuringACheckpoint_AndResumeOnTheFullDisk_KeepTheLastCompleteCheckpoint()
    {
        // A 3 MB tmpfs holds about two checkpoints of the tiny model (≈1.2 MB each): the third write hits ENOSPC.
        using var disk = Mounts.Tmpfs("size=3m");
        if (disk is null) return;  // mounting not permitted: the in-process crash test covers the write path
        string run = Path.Combine(disk.Path, "run");
        var args = Small(run, steps: 20).Concat(["--set", "run.checkpoint_every=1", "--set", "run.keep_checkpoints=5"]).ToArray();
        var (code, _, err) = ConsoleProcess.Run(args);
        string line = OneError(code, err);
        Assert.Contains("No space left on device", line);
        Assert.Contains(Checkpoint.Folder(run), line);
        long last = Checkpoint.ReadInfo(run).Step;
        Assert.True(last >= 1, line);
        Assert.Contains($"step-{last:D8}, stays current", line);
        AssertLatestComplete(run, last);
        int rows = File.ReadLines(Path.Combine(run, TrainSession.MetricsFile)).Count();
        var partial = Partial(run);  // the failed write's folder (a kill leaves one too)

        // Resume on the still-full disk: one line again, the same checkpoint current, metrics.csv not truncated.
        (code, _, err) = ConsoleProcess.Run(["train", "--out", run, "--resume", "--steps", "30"]);
        Assert.Contains("No space left on device", OneError(code, err));
        AssertLatestComplete(run, last);
        Assert.True(File.ReadLines(Path.Combine(run, TrainSession.MetricsFile)).Count() >= rows - 1);
        Assert.Empty(Partial(run).Intersect(partial));  // stale partial checkpoints are removed at start
    }

    // Items 2, 3, 10 -------------------------------------------------------------------------------------------

    [Fact]
    public void ASecondWriterIsRefused_NamingTheHolder_AndHugeStepCountsPrintAnEta()
    {
        string run = TrainFixture.TempDir("locked");
        // --steps 10^14 with output to a pipe: the plain progress line's ETA once overflowed a TimeSpan (item 3).
        var args = Small(run, steps: 99999999999999).Concat(["--set", "run.log_every=1", "--set", "run.checkpoint_every=1"]).ToArray();
        using var first = ConsoleProcess.Start(args);
        Assert.True(first.WaitForOutput("step 2/99999999999999", 60), first.Stdout + first.Stderr);
        Assert.Matches(@"step 1/99999999999999 .* ETA (\d+:\d\d:\d\d|> 10\^6 h)", first.Stdout);

        var (code, _, err) = ConsoleProcess.Run(Small(run, steps: 10));
        string line = OneError(code, err);
        Assert.Contains($"run folder '{run}' is in use by another localfeat train (pid {first.Pid} on ", line);
        (code, _, err) = ConsoleProcess.Run(["train", "--out", run, "--resume", "--steps", "10"]);
        Assert.Contains($"(pid {first.Pid} on ", OneError(code, err));

        first.Signal("TERM");
        Assert.Equal(130, first.Wait(60));
        long step = Checkpoint.ReadInfo(run).Step;
        Assert.Contains($"stopped at step {step}: checkpoint {Path.Combine(Checkpoint.Folder(run), $"step-{step:D8}")}", first.Stdout);
        Assert.DoesNotContain("error", first.Stderr);

        // The lock died with its holder: the folder can be resumed now.
        (code, _, err) = ConsoleProcess.Run(["train", "--out", run, "--resume", "--steps", (step + 1).ToString(), "--no-eval"]);
        Assert.True(code == 0, err);
    }

    [Fact]
    public void InterruptAtStart_NamesNoCheckpointOrPlotThatDoesNotExist()
    {
        string run = TrainFixture.TempDir("ctrlc");
        using var p = ConsoleProcess.Start(Small(run, steps: 1000));
        Assert.True(p.WaitForOutput("localfeat train:", 30), p.Stderr);
        p.Signal("INT");  // Ctrl-C, moments after start: while the photos are scanned and read, or at the first steps
        Assert.Equal(130, p.Wait(60));
        string all = p.Stdout + p.Stderr;
        Assert.DoesNotMatch(@"checkpoint\s*(;|$)", all);  // "checkpoint " with an empty path
        foreach (var m in System.Text.RegularExpressions.Regex.Matches(all, @"checkpoint (/\S+)").Select(m => m.Groups[1].Value.TrimEnd(';', ','))) Assert.True(Directory.Exists(m), $"named {m}, which does not exist: {all}");
        if (all.Contains(TrainSession.LossPlotFile)) Assert.True(File.Exists(Path.Combine(run, TrainSession.LossPlotFile)), all);
        Assert.Contains("stopped", all);
    }

    // Items 5, 6, 7 --------------------------------------------------------------------------------------------

    [Fact]
    public void ThreadsAreBoundedInValidation()
    {
        var (code, _, err) = ConsoleProcess.Run(Small(TrainFixture.TempDir("threads")).Concat(["--set", "run.threads=100000"]), timeoutS: 30);
        int max = 4 * Environment.ProcessorCount;
        Assert.Equal($"error: config 'run.threads': expected an integer in [0, {max}] (0 = one per core; at most 4 per core of this machine's {Environment.ProcessorCount}), got 100000", OneError(code, err));
    }

    [Fact]
    public void SymlinkLoopsAndSelfLinks_AreWalkedOnce()
    {
        string photos = TrainFixture.TempDir("loop"), sub = Path.Combine(photos, "sub");
        Directory.CreateDirectory(sub);
        foreach (var p in TrainFixture.Photos) File.Copy(Path.Combine(TrainFixture.OpenCvData, p), Path.Combine(sub, p));
        File.CreateSymbolicLink(Path.Combine(sub, "up"), "..");     // a loop
        File.CreateSymbolicLink(Path.Combine(sub, "self"), ".");    // a self-link
        var (code, stdout, err) = ConsoleProcess.Run(Small(TrainFixture.TempDir("looprun"), photos, steps: 1), timeoutS: 60);
        Assert.True(code == 0, err);
        var held = TrainFixture.Photos.Count(p => LocalFeat.Train.Data.ImageFolder.IsHeldOut("sub/" + p));
        Assert.Contains($"data: {3 - held} training photos from {photos} ({held} held out)", stdout);
    }

    [Theory]
    [InlineData("2.5", "error: config 'run.steps': expected an integer, got 2.5")]
    [InlineData("abc", "error: config 'run.steps': expected an integer, got \"abc\"")]
    public void BadStepCounts_OneLineWithoutTypeNamesOrHelp(string steps, string expected)
    {
        var (code, _, err) = ConsoleProcess.Run(["train", "--steps", steps, "--out", TrainFixture.TempDir("steps")], timeoutS: 30);
        Assert.Equal(expected, OneError(code, err));
    }

    [Fact]
    public void DuplicateKeyInAConfigFile_NamesTheFileAndTheKey()
    {
        string file = Path.Combine(TrainFixture.TempDir("dup"), "c.json");
        File.WriteAllText(file, """{ "run": { "steps": 3, "steps": 4 } }""");
        var (code, _, err) = ConsoleProcess.Run(["train", "--config", file, "--out", TrainFixture.TempDir("duprun")], timeoutS: 30);
        Assert.Equal($"error: config file '{file}': duplicate key 'run.steps' (each setting may appear once)", OneError(code, err));
    }

    [Fact]
    public void NonCheckpointFileAsVgg16Weights_NamesTheKeyAndTheFile()
    {
        string file = Path.Combine(TrainFixture.TempDir("vgg"), "weights.pth");
        File.WriteAllText(file, "not a state_dict");
        var (code, _, err) = ConsoleProcess.Run(Small(TrainFixture.TempDir("vggrun")).Concat(["--model", "vgg16", "--set", $"model.vgg16_weights={file}"]));
        Assert.StartsWith($"error: config 'model.vgg16_weights': expected torchvision VGG16 weights (.pth or .safetensors), got '{file}': ", OneError(code, err));
    }

    [Fact]
    public void ADivergingLearningRate_SaysTrainingDiverged()
    {
        string run = TrainFixture.TempDir("diverge");
        var (code, _, err) = ConsoleProcess.Run(Small(run, steps: 6).Concat(["--set", "optimizer.lr=1e8", "--set", "optimizer.warmup_steps=0", "--set", "run.checkpoint_every=1"]));
        string line = OneError(code, err);
        Assert.Matches(@"^error: training diverged at step \d+: ", line);
        Assert.DoesNotContain("argument", line);
        // Checkpoints before the divergence are complete; none holds non-finite weights.
        if (File.Exists(Path.Combine(Checkpoint.Folder(run), "latest"))) AssertLatestComplete(run, Checkpoint.ReadInfo(run).Step);
    }

    // Items 4, 8, 11 -------------------------------------------------------------------------------------------

    private static string WriteImage(string dir, string name, int w, int h)
    {
        string path = Path.Combine(dir, name);
        using var m = new Mat(h, w, MatType.CV_8UC1);
        Cv2.Randu(m, new Scalar(0), new Scalar(255));
        Cv2.GaussianBlur(m, m, new OpenCvSharp.Size(0, 0), 2);
        if (name.EndsWith(".ppm", StringComparison.Ordinal)) Cv2.CvtColor(m, m, ColorConversionCodes.GRAY2BGR);  // PPM is colour
        Assert.True(Cv2.ImWrite(path, m), $"cannot write {path}");
        return path;
    }

    [Fact]
    public void TinyThinAndLargeImages_InExtract_AreSkippedOrShrunkWithANote()
    {
        string images = TrainFixture.TempDir("sizes");
        WriteImage(images, "a_one.png", 1, 1);
        WriteImage(images, "b_thin.png", 5000, 2);
        WriteImage(images, "c_large.png", 3000, 2400);
        File.Copy(Path.Combine(TrainFixture.OpenCvData, "baboon.jpg"), Path.Combine(images, "d_baboon.jpg"));
        string outDir = TrainFixture.TempDir("sizes-out");
        var (code, stdout, err) = ConsoleProcess.Run(["extract", "--checkpoint", TrainedRun.Value, "--images", images, "--out", outDir, "--set", "eval.max_image_side=1024"]);
        Assert.True(code == 2, err);  // 2: some skipped
        Assert.Contains($"warning: skipping 'a_one.png': cv::imread('{Path.Combine(images, "a_one.png")}'): 1×1 px, expected at least 16 px on the shorter side", err);
        Assert.Contains("warning: skipping 'b_thin.png': ", err);
        Assert.Contains("(note: resized 3000×2400 → 512×410 px (eval.max_image_side 1024 ÷ largest eval.scales 2); keypoints in original pixels)", stdout);
        Assert.True(File.Exists(Path.Combine(outDir, "c_large.png.npz")));
        Assert.True(File.Exists(Path.Combine(outDir, "d_baboon.jpg.npz")));
        Assert.Contains("extracted 2 image(s)", stdout);
        // Keypoints come back in the original 3000×2400 pixels, beyond the 1024 px working size.
        string maxX = TrainFixture.Python($"import numpy; k = numpy.load('{Path.Combine(outDir, "c_large.png.npz")}')['keypoints']; print(float(k[:, 0].max()) > 1100, float(k[:, 0].max()) < 3000)");
        Assert.Equal("True True", maxX);
    }

    [Fact]
    public void ExtractOfALargeImage_StaysWithinTheWorkingSizeMemory()
    {
        // 6000×6000 px with the default cap (2048 ÷ the default eval.scales 2): the uncapped run needed ~10 GB here; capped it stays near 2048² work.
        string images = TrainFixture.TempDir("huge");
        WriteImage(images, "huge.png", 6000, 6000);
        string outDir = TrainFixture.TempDir("huge-out");
        // ru_maxrss of the child (KiB), through python's resource module: the peak, not a sample.
        string peak = TrainFixture.Python($$"""
            import resource, subprocess, sys
            r = subprocess.run(["{{ConsoleProcess.Exe}}", "extract", "--checkpoint", "{{TrainedRun.Value}}", "--images", "{{images}}", "--out", "{{outDir}}"], capture_output=True, text=True)
            print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024, "resized 6000×6000 → 1024×1024" in r.stdout)
            """);
        var parts = peak.Split(' ');
        Assert.Equal("0", parts[0]);
        Assert.Equal("True", parts[2]);
        Assert.True(int.Parse(parts[1]) < 3000, $"peak resident memory {parts[1]} MiB");
    }

    [Fact]
    public void Match_TinyImageWithOrb_AndOutNamingAFolder()
    {
        string dir = TrainFixture.TempDir("match-sizes");
        string tiny = WriteImage(dir, "one.png", 1, 1);
        string photo = Path.Combine(TrainFixture.OpenCvData, "graf1.png");
        var (code, _, err) = ConsoleProcess.Run(["match", tiny, photo, "--method", "orb"]);
        Assert.Equal($"error: cv::imread('{tiny}'): 1×1 px, expected at least 16 px on the shorter side", OneError(code, err));

        string folder = TrainFixture.TempDir("match-out");
        var (code2, stdout, err2) = ConsoleProcess.Run(["match", photo, Path.Combine(TrainFixture.OpenCvData, "graf3.png"), "--method", "orb", "--out", folder]);
        Assert.True(code2 == 0, err2);
        string picture = Path.Combine(folder, "graf1_graf3_matches.png");
        Assert.True(File.Exists(picture));
        Assert.Contains($"matches drawn in {picture}", stdout);
    }

    [Fact]
    public void Eval_SkipsTinyHPatchesImagesWithAWarning()
    {
        string root = TrainFixture.TempDir("hp"), seq = Path.Combine(root, "v_tiny");
        Directory.CreateDirectory(seq);
        using (var g = Cv2.ImRead(Path.Combine(TrainFixture.OpenCvData, "graf1.png"), ImreadModes.Grayscale))
        using (var grey = g.Resize(new OpenCvSharp.Size(200, 160)))
        using (var small = grey.CvtColor(ColorConversionCodes.GRAY2BGR))
        {
            Cv2.ImWrite(Path.Combine(seq, "1.ppm"), small);
            Cv2.ImWrite(Path.Combine(seq, "2.ppm"), small);
        }
        WriteImage(seq, "3.ppm", 1, 1);
        foreach (var k in new[] { 2, 3 }) File.WriteAllText(Path.Combine(seq, $"H_1_{k}"), "1 0 0\n0 1 0\n0 0 1\n");
        var (code, stdout, err) = ConsoleProcess.Run(["eval", "--run", TrainedRun.Value, "--pairs", root, "--out", TrainFixture.TempDir("hp-out"), "--set", "eval.synthetic_pairs=0"]);
        Assert.True(code == 0, err);
        Assert.Contains($"skipping v_tiny 1→3: cv::imread('{Path.Combine(seq, "3.ppm")}'): 1×1 px", err);
        Assert.Contains($"HPatches {Path.GetFileName(root)}", stdout);  // the set of the remaining pair was evaluated
    }

    [Fact]
    public void ATruncatedJpeg_IsReportedAsTheConsolesWarning_AndOpenCvLogLinesDoNotLeak()
    {
        string photos = TrainFixture.TempDir("trunc");
        foreach (var p in TrainFixture.Photos) File.Copy(Path.Combine(TrainFixture.OpenCvData, p), Path.Combine(photos, p));
        byte[] jpeg = File.ReadAllBytes(Path.Combine(TrainFixture.OpenCvData, "fruits.jpg"));
        File.WriteAllBytes(Path.Combine(photos, "a_truncated.jpg"), jpeg[..(jpeg.Length / 2)]);
        File.WriteAllBytes(Path.Combine(photos, "b_corrupt.png"), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 1, 2, 3]);
        var (code, stdout, err) = ConsoleProcess.Run(Small(TrainFixture.TempDir("truncrun"), photos, steps: 1));
        Assert.True(code == 0, err);
        string all = stdout + err;
        var lines = all.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Contains(lines, l => l.StartsWith("warning: image 'a_truncated.jpg': decoder: ", StringComparison.Ordinal) && l.Contains("JPEG"));
        Assert.Contains(lines, l => l.StartsWith("warning: skipping image 'b_corrupt.png': ", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.StartsWith("[ WARN", StringComparison.Ordinal) || l.StartsWith("Premature end", StringComparison.Ordinal) || l.StartsWith("Corrupt JPEG", StringComparison.Ordinal) || l.StartsWith("libpng", StringComparison.Ordinal));
    }

    // Item 9 ---------------------------------------------------------------------------------------------------

    [Fact]
    public void ALatestPointingOutsideTheRun_IsRefused()
    {
        string run = TrainFixture.TempDir("outside");
        Directory.CreateDirectory(Checkpoint.Folder(run));
        string latest = Path.Combine(Checkpoint.Folder(run), "latest");
        File.WriteAllText(latest, "../../../" + Path.GetFileName(TrainedRun.Value) + "/checkpoints/step-00000002");
        var (code, _, err) = ConsoleProcess.Run(["eval", "--run", run]);
        Assert.StartsWith($"error: '{latest}': expected the name of a checkpoint folder beside it (step-NNNNNNNN), got '../../../", OneError(code, err));
    }
}

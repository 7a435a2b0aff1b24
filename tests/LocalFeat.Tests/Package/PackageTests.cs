using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Xunit;
using Xunit.Abstractions;

namespace LocalFeat.Tests.Package;

/// <summary>
/// SLOW (a minute or two): packs LocalFeat with scripts/pack.sh under a version used once, builds a copy of
/// samples/TrainToy against that package from the folder feed, runs it with the Kernel backend (the packaged
/// host emulation and, on Debian 12, the packaged patched libLibTorchSharp.so) and checks that its loss falls.
/// Skip it with --filter "Category!=Package". Only this version's LocalFeat folders are removed from the
/// global NuGet packages folder afterwards; TorchSharp and libtorch come from the cache as usual.
/// </summary>
[Trait("Category", "Package")]
// Alone: it packs, builds and trains in child processes, which would starve parallel tests on two cores.
[Collection(SerialCollection.Name)]
public sealed partial class PackageTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(5);

    [Fact]
    public void PackedSample_TrainsToy_LossFalls()
    {
        var root = RepoRoot();
        // A version no earlier run restored, so the global packages folder cannot hand back a stale LocalFeat.
        var version = $"0.1.0-test.{DateTimeOffset.UtcNow.ToUnixTimeSeconds()}.{Environment.ProcessId}";
        var feed = Path.Combine(root, "build", "packages");
        var work = Directory.CreateTempSubdirectory("localfeat-package-test-").FullName;
        var globalPackages = Run("dotnet", ["nuget", "locals", "global-packages", "--list"], root)
            .Trim().Replace("global-packages: ", "");
        try
        {
            Run(Path.Combine(root, "scripts", "pack.sh"), [$"-p:Version={version}"], root);
            Assert.True(File.Exists(Path.Combine(feed, $"LocalFeat.{version}.nupkg")), $"pack.sh made no LocalFeat.{version}.nupkg in {feed}");

            // The sample as a user has it: its own folder, a nuget.config adding the feed, nothing of this repo above it.
            var sample = Path.Combine(work, "TrainToy");
            Directory.CreateDirectory(sample);
            foreach (var file in new[] { "Program.cs", "TrainToy.csproj" })
                File.Copy(Path.Combine(root, "samples", "TrainToy", file), Path.Combine(sample, file));
            File.WriteAllText(Path.Combine(work, "nuget.config"), $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration>
                  <packageSources>
                    <add key="localfeat-test" value="{feed}" />
                  </packageSources>
                </configuration>
                """);
            Run("dotnet", ["build", "-c", "Release", "--nologo", "-v", "quiet", "-clp:ErrorsOnly", $"-p:LocalFeatVersion={version}"], sample);
            Assert.True(Directory.Exists(Path.Combine(globalPackages, "localfeat", version)), "the sample did not restore the freshly packed LocalFeat");

            var printed = Run("dotnet", [Path.Combine(sample, "bin", "Release", "net10.0", "TrainToy.dll"), "Kernel", "10"], sample);
            var losses = LossLine().Matches(printed).Select(m => double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).ToArray();
            Assert.True(losses.Length == 10, $"expected 10 'step N  loss X' lines, got {losses.Length}:\n{printed}");
            Assert.True(losses.All(double.IsFinite), $"non-finite loss:\n{printed}");
            Assert.True(losses[^1] < losses[0], $"loss did not fall: first {losses[0]}, last {losses[^1]}");
        }
        finally
        {
            Directory.Delete(work, recursive: true);
            foreach (var id in new[] { "LocalFeat", "LocalFeat.Cuda" })
            {
                File.Delete(Path.Combine(feed, $"{id}.{version}.nupkg"));
                var cached = Path.Combine(globalPackages, id.ToLowerInvariant(), version);
                if (Directory.Exists(cached)) Directory.Delete(cached, recursive: true);
            }
        }
    }

    [GeneratedRegex(@"^step\s+\d+\s+loss\s+(\S+)\s*$", RegexOptions.Multiline)]
    private static partial Regex LossLine();

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "LocalFeat.sln")))
                return dir.FullName;
        throw new InvalidOperationException($"no LocalFeat.sln above {AppContext.BaseDirectory}");
    }

    /// <summary>Runs a command to completion; its output on success, an exception with the output otherwise.</summary>
    private string Run(string file, string[] args, string workingDirectory)
    {
        var start = new ProcessStartInfo(file) { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) start.ArgumentList.Add(a);
        // The test host's MSBuild settings would leak into the child builds.
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToList())
            start.Environment.Remove(key);
        var text = new StringBuilder();
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (text) text.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (text) text.AppendLine(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(Limit))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)}: still running after {Limit}\n{text}");
        }
        process.WaitForExit();
        var result = text.ToString();
        output.WriteLine($"$ {file} {string.Join(' ', args)}\n{result}");
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited with {process.ExitCode}:\n{result}");
        return result;
    }
}

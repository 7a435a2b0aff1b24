using System.Diagnostics;

namespace LocalFeat.Tests.Train;

/// <summary>Small tmpfs mounts for the file-system fault tests (a full disk, a read-only folder that binds root too).</summary>
internal sealed class Mounts : IDisposable
{
    public string Path { get; }

    private Mounts(string path) => Path = path;

    /// <summary>A tmpfs of <paramref name="options"/> (e.g. "size=3m", "ro"), or null where mounting is not permitted.</summary>
    public static Mounts? Tmpfs(string options)
    {
        string dir = TrainFixture.TempDir("mnt");
        return Sh("mount", "-t", "tmpfs", "-o", options, "tmpfs", dir) == 0 ? new Mounts(dir) : null;
    }

    public static int Sh(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        try
        {
            using var p = Process.Start(psi)!;
            p.WaitForExit();
            return p.ExitCode;
        }
        catch (System.ComponentModel.Win32Exception) { return -1; }  // no such program
    }

    public void Dispose() => Sh("umount", "-l", Path);
}

using System.Diagnostics;
using System.Text;

namespace LocalFeat.Tests.Train;

/// <summary>
/// The built console (the apphost copied beside the tests) run as a child process, as a user runs it: exit code,
/// stdout and stderr. <see cref="Start"/> leaves it running, for signals and concurrent runs.
/// </summary>
internal sealed class ConsoleProcess : IDisposable
{
    public static string Exe => Path.Combine(AppContext.BaseDirectory, "LocalFeat.Train");

    private readonly Process _p;
    private readonly StringBuilder _out = new(), _err = new();

    private ConsoleProcess(Process p) => _p = p;

    public int Pid => _p.Id;
    public string Stdout { get { lock (_out) return _out.ToString(); } }
    public string Stderr { get { lock (_err) return _err.ToString(); } }

    /// <param name="asUser">run through runuser as this user (the tests run as root, which ignores permission bits).</param>
    public static ConsoleProcess Start(IEnumerable<string> args, string? asUser = null)
    {
        var psi = asUser is null ? new ProcessStartInfo(Exe) : new ProcessStartInfo("runuser", ["-u", asUser, "--", "env", "HOME=/tmp", Exe]);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.RedirectStandardOutput = psi.RedirectStandardError = true;
        psi.Environment.Remove("LOCALFEAT_TRACE");
        var p = new Process { StartInfo = psi };
        var c = new ConsoleProcess(p);
        p.OutputDataReceived += (_, e) => { if (e.Data != null) lock (c._out) c._out.AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (c._err) c._err.AppendLine(e.Data); };
        p.Start();
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return c;
    }

    /// <summary>Runs to the end (killed after <paramref name="timeoutS"/>, which fails the test: a hang).</summary>
    public static (int code, string stdout, string stderr) Run(IEnumerable<string> args, int timeoutS = 120, string? asUser = null)
    {
        using var c = Start(args, asUser);
        int code = c.Wait(timeoutS);
        return (code, c.Stdout, c.Stderr);
    }

    public int Wait(int timeoutS)
    {
        if (!_p.WaitForExit(timeoutS * 1000))
        {
            _p.Kill(entireProcessTree: true);
            throw new TimeoutException($"localfeat did not finish within {timeoutS} s (hang?); stdout: {Stdout}; stderr: {Stderr}");
        }
        _p.WaitForExit();  // drains the output readers
        return _p.ExitCode;
    }

    /// <summary>Waits until stdout holds <paramref name="text"/>; false if the process ended first or the time ran out.</summary>
    public bool WaitForOutput(string text, int timeoutS)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed.TotalSeconds < timeoutS)
        {
            if (Stdout.Contains(text, StringComparison.Ordinal)) return true;
            if (_p.HasExited) { _p.WaitForExit(); return Stdout.Contains(text, StringComparison.Ordinal); }
            Thread.Sleep(20);
        }
        return false;
    }

    public void Signal(string name)
    {
        using var kill = Process.Start("kill", [$"-{name}", _p.Id.ToString()])!;
        kill.WaitForExit();
    }

    public void Dispose()
    {
        if (!_p.HasExited) _p.Kill(entireProcessTree: true);
        _p.Dispose();
    }
}

using System.Diagnostics;
using System.Globalization;

namespace LocalFeat.Train.Distributed;

/// <summary>
/// <c>localfeat train --nproc N</c>: this process is rank 0; ranks 1..N−1 are child processes of the same console,
/// started with the resolved settings and a file rendezvous in a fresh temporary folder, each logging to
/// <c>RUN/rank-R.log</c>. <see cref="Status"/> says which children died and how (for rank 0's error line);
/// disposing kills the children still running and removes the folder.
/// </summary>
public sealed class LocalWorkers : IDisposable
{
    private readonly List<(int rank, Process process, StreamWriter log, string logPath)> _children = [];

    public string Folder { get; }
    public Rendezvous Rendezvous => new("file", Path.Combine(Folder, "store"), 0);

    /// <param name="configJson">rank 0's resolved settings (for a resume: the checkpoint's, with the overrides).</param>
    public LocalWorkers(int worldSize, string configJson, string runDir)
    {
        Folder = Directory.CreateTempSubdirectory("localfeat-dist-").FullName;
        string config = Path.Combine(Folder, "config.json");
        File.WriteAllText(config, configJson);
        try
        {
            for (int rank = 1; rank < worldSize; rank++)
            {
                var psi = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, RedirectStandardError = true };
                // Run as `dotnet localfeat.dll`: the children are started the same way.
                if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet") psi.ArgumentList.Add(typeof(LocalWorkers).Assembly.Location);
                foreach (var a in new[] { "train", "--config", config, "--world-size", worldSize.ToString(CultureInfo.InvariantCulture),
                                          "--rank", rank.ToString(CultureInfo.InvariantCulture), "--rendezvous", Rendezvous.ToString(), "--dist-host", "127.0.0.1" })
                    psi.ArgumentList.Add(a);
                string logPath = Path.Combine(runDir, $"rank-{rank}.log");
                var log = new StreamWriter(logPath, append: false) { AutoFlush = true };
                var p = new Process { StartInfo = psi };
                p.OutputDataReceived += (_, e) => Append(log, e.Data);
                p.ErrorDataReceived += (_, e) => Append(log, e.Data);
                p.Start();
                p.BeginOutputReadLine();
                p.BeginErrorReadLine();
                _children.Add((rank, p, log, logPath));
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    private static void Append(StreamWriter log, string? line)
    {
        if (line is null) return;
        try { lock (log) log.WriteLine(line); }
        catch (ObjectDisposedException) { }  // a last line after Dispose
        catch (IOException) { }  // a full disk must not end rank 0 from a reader thread
    }

    public IEnumerable<(int rank, int pid)> Pids => _children.Select(c => (c.rank, c.process.Id));

    /// <summary>The children that ended, e.g. "rank 1 (pid 123) was killed by signal 9 (log RUN/rank-1.log)"; waits up to
    /// <paramref name="grace"/> for one to end (a dead peer's socket closes a moment before its exit is seen).</summary>
    public string? Status(TimeSpan grace)
    {
        var until = DateTime.UtcNow + grace;
        while (!_children.Any(c => c.process.HasExited) && DateTime.UtcNow < until) Thread.Sleep(20);
        var ended = _children.Where(c => c.process.HasExited).Select(c =>
        {
            int code = c.process.ExitCode;
            string how = code > 128 ? $"was killed by signal {code - 128}" : $"exited with status {code}";
            return $"rank {c.rank} (pid {c.process.Id}) {how} (log {c.logPath})";
        }).ToList();
        return ended.Count > 0 ? string.Join("; ", ended) : null;
    }

    /// <summary>After the last step: the children finish on their own; any still running after <paramref name="timeout"/> is killed.</summary>
    public void WaitForExit(TimeSpan timeout)
    {
        var until = DateTime.UtcNow + timeout;
        foreach (var c in _children)
        {
            var left = until - DateTime.UtcNow;
            if (!c.process.WaitForExit(left > TimeSpan.Zero ? left : TimeSpan.Zero)) c.process.Kill();
        }
    }

    public void Dispose()
    {
        foreach (var (_, p, log, _) in _children)
        {
            try { if (!p.HasExited) p.Kill(); p.WaitForExit(5000); }
            catch (InvalidOperationException) { }
            lock (log) log.Dispose();
            p.Dispose();
        }
        _children.Clear();
        try { Directory.Delete(Folder, recursive: true); } catch (IOException) { }
    }
}

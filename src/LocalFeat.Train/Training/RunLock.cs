using System.Globalization;

namespace LocalFeat.Train.Training;

/// <summary>
/// The single-writer lock of a run folder: <c>RUN/.lock</c> opened with <see cref="FileShare.None"/>, which .NET
/// takes as an exclusive <c>flock</c> on Unix, so the kernel drops it when the holder exits or is killed. The
/// holder's PID, host and start time go to <c>RUN/.lock.holder</c> (a second open of the locked file would be refused),
/// so a refused writer can say who holds the folder.
/// </summary>
public sealed class RunLock : IDisposable
{
    public const string LockFile = ".lock";
    public const string HolderFile = ".lock.holder";

    // Held by this process: a nested Acquire of the same folder (train --resume reads, then trains) shares it.
    private static readonly Dictionary<string, (FileStream stream, int count)> Held = new();
    private readonly string _dir;
    private bool _disposed;

    private RunLock(string dir) => _dir = dir;

    /// <exception cref="RunFolderInUseException">another process holds the folder.</exception>
    public static RunLock Acquire(string runDir)
    {
        OutputFolder.Create(runDir, "run folder (--out / config 'run.out')");
        string dir = Path.GetFullPath(runDir);
        lock (Held)
        {
            if (Held.TryGetValue(dir, out var h)) { Held[dir] = (h.stream, h.count + 1); return new RunLock(dir); }
            FileStream stream;
            try { stream = new FileStream(Path.Combine(dir, LockFile), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
            catch (IOException e) when (e.GetType() == typeof(IOException))  // the sharing violation; not a missing folder or a full disk
            {
                throw new RunFolderInUseException($"run folder '{dir}' is in use by another localfeat train ({Holder(dir)}): " +
                                                  "wait for it to finish or stop it, or choose another --out");
            }
            try
            {
                // Under the lock every partial checkpoint is a dead writer's; removed first, it frees a full disk.
                Checkpoint.CleanStale(dir);
                AtomicFile.WriteAllText(Path.Combine(dir, HolderFile),
                    string.Create(CultureInfo.InvariantCulture, $"pid {Environment.ProcessId} on {Environment.MachineName} since {DateTime.Now:yyyy-MM-dd HH:mm:ss}\n"));
            }
            catch (IOException) { }  // the holder's name is a courtesy: the flock alone excludes other writers
            catch (UnauthorizedAccessException) { }
            Held[dir] = (stream, 1);
            return new RunLock(dir);
        }
    }

    private static string Holder(string dir)
    {
        try { return File.ReadAllText(Path.Combine(dir, HolderFile)).Trim(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return "holder unknown"; }
    }

    public void Dispose()
    {
        lock (Held)
        {
            if (_disposed) return;
            _disposed = true;
            if (!Held.TryGetValue(_dir, out var h)) return;
            if (h.count > 1) { Held[_dir] = (h.stream, h.count - 1); return; }
            Held.Remove(_dir);
            h.stream.Dispose();  // the lock file stays: deleting it would race with the next writer's open
        }
    }
}

using System.Runtime.InteropServices;

namespace LocalFeat.Train.Vision;

/// <summary>
/// What native code (libjpeg, libpng, OpenCV's logger) writes to file descriptor 2 during a call, captured into a
/// temporary file instead of the terminal, so the console can report it as its own warning naming the image.
/// One capture at a time; a no-op (nothing captured) where the libc calls are unavailable.
/// </summary>
internal static class NativeStderr
{
    private static readonly object Gate = new();
    private static bool _unavailable = !OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS();

    public static T Capture<T>(Func<T> body, out string captured)
    {
        captured = "";
        if (_unavailable) return body();
        lock (Gate)
        {
            string path = Path.Combine(Path.GetTempPath(), $"localfeat-stderr-{Environment.ProcessId}-{Guid.NewGuid():N}");
            using var sink = new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.ReadWrite, 4096, FileOptions.DeleteOnClose);
            int saved;
            try
            {
                Console.Error.Flush();
                saved = dup(2);
                if (saved < 0 || dup2((int)sink.SafeFileHandle.DangerousGetHandle(), 2) < 0) { if (saved >= 0) close(saved); return body(); }
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { _unavailable = true; return body(); }
            try { return body(); }
            finally
            {
                Console.Error.Flush();
                dup2(saved, 2);
                close(saved);
                sink.Position = 0;
                captured = new StreamReader(sink).ReadToEnd();
            }
        }
    }

    [DllImport("libc", SetLastError = true)] private static extern int dup(int fd);
    [DllImport("libc", SetLastError = true)] private static extern int dup2(int from, int to);
    [DllImport("libc", SetLastError = true)] private static extern int close(int fd);
}

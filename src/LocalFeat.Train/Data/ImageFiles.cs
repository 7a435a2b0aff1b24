using System.Runtime.InteropServices;

namespace LocalFeat.Train.Data;

/// <summary>
/// The photos under a folder, recursively (.png .jpg .jpeg .ppm .pgm .bmp), as sorted relative paths. Directory
/// links are followed, but every real directory (and file) is visited once, by device and inode: a link loop
/// (<c>ln -s .. sub/up</c>) or a self-link neither recurses nor counts photos twice. Cancellable between folders.
/// </summary>
public static class ImageFiles
{
    public static readonly string[] Extensions = [".png", ".jpg", ".jpeg", ".ppm", ".pgm", ".bmp"];

    private static readonly EnumerationOptions OneLevel = new()
    {
        RecurseSubdirectories = false,
        IgnoreInaccessible = false,  // an unreadable subfolder is an error naming it, not silently fewer photos
        AttributesToSkip = 0,        // hidden (dot) entries are ordinary ones here, as in the old recursive walk
    };

    /// <exception cref="UnauthorizedAccessException">a folder cannot be read (the message names it).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="stop"/> was signalled.</exception>
    public static List<string> Under(string root, CancellationToken stop = default)
    {
        root = Path.GetFullPath(root);
        var seen = new HashSet<(ulong, ulong)>();
        var found = new List<string>();
        var pending = new Stack<string>();
        pending.Push(root);
        while (pending.Count > 0)
        {
            stop.ThrowIfCancellationRequested();
            string dir = pending.Pop();
            if (Identity(dir) is { } id && !seen.Add(id)) continue;
            IEnumerable<FileSystemInfo> entries;
            try { entries = new DirectoryInfo(dir).EnumerateFileSystemInfos("*", OneLevel).ToList(); }
            catch (UnauthorizedAccessException) { throw new UnauthorizedAccessException($"cannot read image folder '{dir}'"); }
            var subdirs = new List<string>();
            foreach (var e in entries)
            {
                // A link's target decides: a link to a folder is walked (once), a dangling link is skipped.
                bool isDir = e is DirectoryInfo || (e.LinkTarget != null && Directory.Exists(e.FullName));
                if (isDir) subdirs.Add(e.FullName);
                else if (Extensions.Contains(Path.GetExtension(e.Name).ToLowerInvariant()) && File.Exists(e.FullName)
                         && (Identity(e.FullName) is not { } fid || seen.Add(fid)))
                    found.Add(Path.GetRelativePath(root, e.FullName));
            }
            // Reverse order on the stack: folders are walked in ordinal order, so which of two paths to one photo wins is fixed.
            foreach (var s in subdirs.Order(StringComparer.Ordinal).Reverse()) pending.Push(s);
        }
        found.Sort(StringComparer.Ordinal);
        return found;
    }

    // (st_dev, st_ino) of the file a path finally names. Both are the first two 64-bit fields of struct stat on
    // 64-bit Linux (x86-64 and the generic layout of arm64); elsewhere null, and only the walk's order dedupes.
    private static (ulong, ulong)? Identity(string path)
    {
        if (!OperatingSystem.IsLinux() || !Environment.Is64BitProcess) return null;
        var buf = new byte[256];  // ≥ sizeof(struct stat) on every 64-bit Linux ABI
        try { return stat(path, buf) == 0 ? (BitConverter.ToUInt64(buf, 0), BitConverter.ToUInt64(buf, 8)) : null; }
        catch (EntryPointNotFoundException) { return null; }  // glibc before 2.33 exports only __xstat
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int stat([MarshalAs(UnmanagedType.LPUTF8Str)] string path, byte[] buf);
}

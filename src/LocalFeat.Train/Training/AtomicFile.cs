namespace LocalFeat.Train.Training;

/// <summary>
/// Files replaced whole: written to a temporary sibling, flushed to disk, then renamed over the old one, so a full
/// disk or a kill leaves the previous content rather than a truncated file.
/// </summary>
public static class AtomicFile
{
    public static void WriteAllText(string path, string text) =>
        WriteAllBytes(path, System.Text.Encoding.UTF8.GetBytes(text));

    public static void WriteAllLines(string path, IEnumerable<string> lines) =>
        WriteAllText(path, string.Concat(lines.Select(l => l + "\n")));

    public static void WriteAllBytes(string path, byte[] bytes)
    {
        string tmp = $"{path}.tmp-{Environment.ProcessId}";
        try
        {
            using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write))
            {
                fs.Write(bytes);
                fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, path, overwrite: true);
        }
        catch
        {
            try { File.Delete(tmp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }
}

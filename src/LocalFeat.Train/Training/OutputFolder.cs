namespace LocalFeat.Train.Training;

/// <summary>Creates an output folder up front, so a file in its place or an unwritable parent fails before any work, naming the option.</summary>
public static class OutputFolder
{
    /// <param name="what">how the user named it, e.g. "--out" or "config 'run.out'".</param>
    public static string Create(string path, string what)
    {
        if (File.Exists(path)) throw new IOException($"{what} '{path}' is a file, expected a folder");
        try { Directory.CreateDirectory(path); }
        catch (UnauthorizedAccessException) { throw new UnauthorizedAccessException($"{what} '{path}': cannot create the folder there"); }
        catch (IOException e) when (e.GetType() == typeof(IOException)) { throw new IOException($"{what} '{path}': cannot create the folder: {e.Message}", e); }
        return path;
    }
}

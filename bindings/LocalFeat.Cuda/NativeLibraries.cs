using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Loader;

namespace LocalFeat.Cuda;

/// <summary>
/// Loads the CUDA libraries by trying a list of file names in order, and resolves the logical
/// library names used by the <c>[LibraryImport]</c> declarations of this assembly to those handles.
/// </summary>
/// <remarks>
/// Resolution goes through <see cref="AssemblyLoadContext.ResolvingUnmanagedDll"/> rather than
/// <see cref="NativeLibrary.SetDllImportResolver"/>: an assembly can have only one import resolver,
/// and other parts of this assembly (the host emulation) may want their own. The event allows
/// several handlers; ours answers only for its own logical names.
/// </remarks>
public static class NativeLibraries
{
    /// <summary>Logical library names used in <c>[LibraryImport]</c>; never real file names.</summary>
    internal const string DriverName = "localfeat-cuda-driver";
    internal const string NvrtcName = "localfeat-nvrtc";
    internal const string CublasName = "localfeat-cublas";

    /// <summary>File names tried, in order, for each library.</summary>
    public static readonly IReadOnlyList<string> DriverCandidates = ["libcuda.so.1"];
    public static readonly IReadOnlyList<string> NvrtcCandidates = ["libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so"];
    public static readonly IReadOnlyList<string> CublasCandidates = ["libcublas.so.12", "libcublas.so.11"];

    private static readonly ConcurrentDictionary<string, Lazy<(IntPtr Handle, string File)>> Loaded = new();

    static NativeLibraries()
    {
        AssemblyLoadContext.Default.ResolvingUnmanagedDll += Resolve;
    }

    /// <summary>The CUDA driver API (<c>libcuda.so.1</c>); throws <see cref="NativeLibraryMissingException"/>.</summary>
    public static IntPtr Driver => Get(DriverName, "CUDA driver (libcuda.so.1)", DriverCandidates).Handle;

    /// <summary>NVRTC; throws <see cref="NativeLibraryMissingException"/>.</summary>
    public static IntPtr Nvrtc => Get(NvrtcName, "NVRTC", NvrtcCandidates).Handle;

    /// <summary>cuBLAS; throws <see cref="NativeLibraryMissingException"/>.</summary>
    public static IntPtr Cublas => Get(CublasName, "cuBLAS", CublasCandidates).Handle;

    /// <summary>The file name that was loaded for NVRTC (e.g. <c>libnvrtc.so.11.2</c>).</summary>
    public static string NvrtcFile => Get(NvrtcName, "NVRTC", NvrtcCandidates).File;

    /// <summary>Whether the CUDA driver library can be loaded (no exception).</summary>
    public static bool TryDriver(out string reason) => TryGet(DriverName, "CUDA driver (libcuda.so.1)", DriverCandidates, out reason);

    /// <summary>Whether NVRTC can be loaded (no exception).</summary>
    public static bool TryNvrtc(out string reason) => TryGet(NvrtcName, "NVRTC", NvrtcCandidates, out reason);

    /// <summary>
    /// Loads the first of <paramref name="candidates"/> that the dynamic loader finds (default search:
    /// LD_LIBRARY_PATH, ld.so.cache, system dirs), or throws <see cref="NativeLibraryMissingException"/>
    /// listing every name tried.
    /// </summary>
    public static IntPtr Load(string what, IReadOnlyList<string> candidates, out string loadedFile)
    {
        foreach (var name in candidates)
        {
            if (NativeLibrary.TryLoad(name, out var handle))
            {
                loadedFile = name;
                return handle;
            }
        }
        throw new NativeLibraryMissingException(what, candidates);
    }

    private static (IntPtr Handle, string File) Get(string logical, string what, IReadOnlyList<string> candidates)
    {
        var lazy = Loaded.GetOrAdd(logical, _ => new Lazy<(IntPtr, string)>(() =>
        {
            var h = Load(what, candidates, out var file);
            return (h, file);
        }));
        try
        {
            return lazy.Value;
        }
        catch
        {
            // Do not cache the failure: a library installed later (or a retry after LD_LIBRARY_PATH
            // was fixed in a long-lived process) should load.
            Loaded.TryRemove(new KeyValuePair<string, Lazy<(IntPtr, string)>>(logical, lazy));
            throw;
        }
    }

    private static bool TryGet(string logical, string what, IReadOnlyList<string> candidates, out string reason)
    {
        try
        {
            Get(logical, what, candidates);
            reason = "";
            return true;
        }
        catch (NativeLibraryMissingException e)
        {
            reason = e.Message;
            return false;
        }
    }

    private static IntPtr Resolve(Assembly assembly, string name)
    {
        if (assembly != typeof(NativeLibraries).Assembly)
            return IntPtr.Zero;
        return name switch
        {
            DriverName => Driver,
            NvrtcName => Nvrtc,
            CublasName => Cublas,
            _ => IntPtr.Zero,
        };
    }

}

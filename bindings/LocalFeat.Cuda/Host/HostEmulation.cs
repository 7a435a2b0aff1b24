using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Loader;

namespace LocalFeat.Cuda;

/// <summary>
/// P/Invoke over <c>liblocalfeat_kernels_host.so</c> (kernels/host/lfk_api.h): every kernel of
/// <c>kernels/</c> compiled for the CPU and run by the host emulation of CUDA's execution model.
/// Use <see cref="HostKernelRuntime"/> to launch; this class is the raw C ABI plus library loading.
/// </summary>
/// <remarks>
/// The library is looked up next to the assemblies (<see cref="AppContext.BaseDirectory"/>, where
/// the LocalFeat.Cuda project copies it from <c>build/native/lib</c>), then in <c>runtimes/linux-x64/native</c>
/// below it (the package's native asset in a portable app), then beside this assembly,
/// then by the dynamic loader's search. Resolution uses
/// <see cref="AssemblyLoadContext.ResolvingUnmanagedDll"/> (several handlers may coexist), not
/// <see cref="NativeLibrary.SetDllImportResolver"/> (one per assembly).
/// </remarks>
public static unsafe partial class HostEmulation
{
    /// <summary>Library name used by the <c>[LibraryImport]</c> declarations.</summary>
    internal const string LibraryName = "localfeat_kernels_host";

    /// <summary>The file name of the library.</summary>
    public const string FileName = "liblocalfeat_kernels_host.so";

    /// <summary>Largest dynamic shared memory per block the emulation accepts (227 KiB, as sm_90's opt-in limit).</summary>
    public const uint MaxDynamicSharedBytes = 227 * 1024;

    private static readonly object LoadLock = new();
    private static IntPtr _handle;
    private static string? _path;

    static HostEmulation()
    {
        AssemblyLoadContext.Default.ResolvingUnmanagedDll += Resolve;
    }

    /// <summary>Paths tried, in order, to load the library.</summary>
    public static IReadOnlyList<string> Candidates =>
    [
        Path.Combine(AppContext.BaseDirectory, FileName),
        // Where a portable app that took the LocalFeat.Cuda package gets the package's native asset.
        Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", FileName),
        Path.Combine(Path.GetDirectoryName(typeof(HostEmulation).Assembly.Location) ?? AppContext.BaseDirectory, FileName),
        FileName,
    ];

    /// <summary>The loaded library's path; loads it on first use or throws <see cref="NativeLibraryMissingException"/>.</summary>
    public static string LibraryPath
    {
        get
        {
            EnsureLoaded();
            return _path!;
        }
    }

    /// <summary>Whether the library can be loaded; <paramref name="reason"/> says why not.</summary>
    public static bool IsAvailable(out string reason)
    {
        try
        {
            EnsureLoaded();
            reason = "";
            return true;
        }
        catch (NativeLibraryMissingException e)
        {
            reason = e.Message;
            return false;
        }
    }

    /// <summary>Loads the library (once); throws <see cref="NativeLibraryMissingException"/> listing the paths tried.</summary>
    public static void EnsureLoaded()
    {
        if (Volatile.Read(ref _handle) != IntPtr.Zero)
            return;
        lock (LoadLock)
        {
            if (_handle != IntPtr.Zero)
                return;
            var candidates = Candidates;
            foreach (var c in candidates.Distinct())
            {
                if (NativeLibrary.TryLoad(c, out var h))
                {
                    _path = c;
                    Volatile.Write(ref _handle, h);
                    return;
                }
            }
            throw new NativeLibraryMissingException(
                $"host emulation library {FileName} (build it with CMake: scripts/setup.sh)", candidates);
        }
    }

    /// <summary>Names of the registered kernels, sorted.</summary>
    public static IReadOnlyList<string> KernelNames()
    {
        EnsureLoaded();
        var n = lfk_kernel_count();
        var names = new string[n];
        for (var i = 0; i < n; i++)
            names[i] = Marshal.PtrToStringUTF8(lfk_kernel_name(i)) ?? "";
        return names;
    }

    /// <summary>The calling thread's last error message from the library.</summary>
    internal static string LastError() => Marshal.PtrToStringUTF8(lfk_last_error()) ?? "";

    private static IntPtr Resolve(Assembly assembly, string name)
    {
        if (assembly != typeof(HostEmulation).Assembly || name != LibraryName)
            return IntPtr.Zero;
        EnsureLoaded();
        return _handle;
    }

    // ------------------------------------------------------------------------------ C ABI
    [LibraryImport(LibraryName)]
    internal static partial int lfk_launch(byte* kernel, uint gx, uint gy, uint gz, uint bx, uint by, uint bz,
        uint sharedBytes, void** parameters);

    [LibraryImport(LibraryName)]
    internal static partial IntPtr lfk_last_error();

    [LibraryImport(LibraryName)]
    internal static partial void lfk_set_schedule(int shuffled, ulong seed);

    [LibraryImport(LibraryName)]
    internal static partial int lfk_set_workers(int n);

    [LibraryImport(LibraryName)]
    internal static partial int lfk_kernel_count();

    [LibraryImport(LibraryName)]
    internal static partial IntPtr lfk_kernel_name(int i);
}

using System.Runtime.InteropServices;
using System.Text;

namespace LocalFeat.Cuda.Nvrtc;

/// <summary>What <see cref="NvrtcCompiler.Compile"/> returns: a CUBIN (real arch, <c>sm_XY</c>) or PTX (virtual arch, <c>compute_XY</c>).</summary>
public enum NvrtcOutputKind
{
    Cubin,
    Ptx,
}

/// <summary>A compiled program: the image (CUBIN bytes, or PTX text as UTF-8 with a trailing NUL) and the compile log.</summary>
public sealed record NvrtcOutput(NvrtcOutputKind Kind, byte[] Image, string Log);

/// <summary>NVRTC: version, supported architectures, and compiling a source with in-memory headers.</summary>
public static unsafe class NvrtcCompiler
{
    private static readonly Lazy<(int Major, int Minor)> LazyVersion = new(() =>
    {
        _ = NativeLibraries.Nvrtc;
        Check(NvrtcNative.nvrtcVersion(out var major, out var minor), "nvrtcVersion");
        return (major, minor);
    });

    private static readonly Lazy<int[]> LazyArchs = new(() =>
    {
        _ = NativeLibraries.Nvrtc;
        Check(NvrtcNative.nvrtcGetNumSupportedArchs(out var n), "nvrtcGetNumSupportedArchs");
        var archs = new int[n];
        fixed (int* p = archs)
            Check(NvrtcNative.nvrtcGetSupportedArchs(p), "nvrtcGetSupportedArchs");
        Array.Sort(archs);
        return archs;
    });

    /// <summary>Whether NVRTC can be loaded; <paramref name="reason"/> says why not.</summary>
    public static bool IsAvailable(out string reason) => NativeLibraries.TryNvrtc(out reason);

    /// <summary>NVRTC version, e.g. (11, 8). Throws <see cref="NativeLibraryMissingException"/> without NVRTC.</summary>
    public static (int Major, int Minor) Version => LazyVersion.Value;

    /// <summary>"11.8" — with the library file name, for reports.</summary>
    public static string VersionString => $"{Version.Major}.{Version.Minor}";

    /// <summary>Architectures NVRTC can compile for, as 10·major+minor (e.g. 80, 90), ascending.</summary>
    public static IReadOnlyList<int> SupportedArchs => LazyArchs.Value;

    /// <summary>
    /// Compiles <paramref name="source"/> with the given headers (include name → text) and options.
    /// Returns the CUBIN or PTX; a failed compile throws <see cref="NvrtcCompileException"/> with the log
    /// and the options; any other NVRTC error throws <see cref="CudaException"/> naming the call.
    /// </summary>
    public static NvrtcOutput Compile(string programName, string source,
        IReadOnlyList<KeyValuePair<string, string>> headers, IReadOnlyList<string> options, NvrtcOutputKind output)
    {
        _ = NativeLibraries.Nvrtc;
        using var strings = new Utf8Strings();
        var src = strings.Add(source);
        var name = strings.Add(programName);
        var headerTexts = stackalloc byte*[Math.Max(headers.Count, 1)];
        var headerNames = stackalloc byte*[Math.Max(headers.Count, 1)];
        for (var i = 0; i < headers.Count; i++)
        {
            headerTexts[i] = strings.Add(headers[i].Value);
            headerNames[i] = strings.Add(headers[i].Key);
        }
        var opts = stackalloc byte*[Math.Max(options.Count, 1)];
        for (var i = 0; i < options.Count; i++)
            opts[i] = strings.Add(options[i]);

        Check(NvrtcNative.nvrtcCreateProgram(out var raw, src, name, headers.Count,
            headers.Count > 0 ? headerTexts : null, headers.Count > 0 ? headerNames : null), "nvrtcCreateProgram");
        using var program = new NvrtcProgramHandle(raw);

        var rc = NvrtcNative.nvrtcCompileProgram(program, options.Count, opts);
        var log = ReadLog(program);
        if (rc != 0)
            throw new NvrtcCompileException("nvrtcCompileProgram", ErrorName(rc), programName, options.ToArray(), log);

        byte[] image;
        if (output == NvrtcOutputKind.Cubin)
        {
            Check(NvrtcNative.nvrtcGetCUBINSize(program, out var size), "nvrtcGetCUBINSize");
            if (size == 0)
                throw new CudaException($"nvrtcGetCUBIN: no CUBIN produced for {programName} (a CUBIN needs a real architecture, --gpu-architecture=sm_XY); options: {string.Join(' ', options)}");
            image = new byte[(int)size];
            fixed (byte* p = image)
                Check(NvrtcNative.nvrtcGetCUBIN(program, p), "nvrtcGetCUBIN");
        }
        else
        {
            Check(NvrtcNative.nvrtcGetPTXSize(program, out var size), "nvrtcGetPTXSize");
            image = new byte[(int)size]; // includes the trailing NUL cuModuleLoadData needs
            fixed (byte* p = image)
                Check(NvrtcNative.nvrtcGetPTX(program, p), "nvrtcGetPTX");
        }
        return new NvrtcOutput(output, image, log);
    }

    /// <summary>The nvrtcResult's name, e.g. NVRTC_ERROR_COMPILATION.</summary>
    public static string ErrorName(int result)
    {
        var s = NvrtcNative.nvrtcGetErrorString(result);
        return s == null ? $"NVRTC error {result}" : Marshal.PtrToStringUTF8((IntPtr)s) ?? $"NVRTC error {result}";
    }

    private static string ReadLog(NvrtcProgramHandle program)
    {
        Check(NvrtcNative.nvrtcGetProgramLogSize(program, out var size), "nvrtcGetProgramLogSize");
        if (size <= 1)
            return "";
        var buf = new byte[(int)size];
        fixed (byte* p = buf)
            Check(NvrtcNative.nvrtcGetProgramLog(program, p), "nvrtcGetProgramLog");
        return Encoding.UTF8.GetString(buf, 0, (int)size - 1);
    }

    private static void Check(int result, string call)
    {
        if (result != 0)
            throw new CudaException($"{call}: {ErrorName(result)}");
    }

    /// <summary>NUL-terminated UTF-8 copies of managed strings, freed together.</summary>
    private sealed class Utf8Strings : IDisposable
    {
        private readonly List<IntPtr> _allocations = new();

        public byte* Add(string s)
        {
            var p = Marshal.StringToCoTaskMemUTF8(s);
            _allocations.Add(p);
            return (byte*)p;
        }

        public void Dispose()
        {
            foreach (var p in _allocations)
                Marshal.FreeCoTaskMem(p);
            _allocations.Clear();
        }
    }
}

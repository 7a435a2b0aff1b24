using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using LocalFeat.Cuda.Nvrtc;

namespace LocalFeat.Cuda.Kernels;

/// <summary>Counters of a <see cref="KernelCache"/>, for tests and diagnostics.</summary>
public sealed class KernelCacheStats
{
    internal int compiles, diskHits, memoryHits, corruptEntries, writeFailures;

    /// <summary>NVRTC compiles done.</summary>
    public int Compiles => Volatile.Read(ref compiles);

    /// <summary>Modules read from a valid disk entry.</summary>
    public int DiskHits => Volatile.Read(ref diskHits);

    /// <summary>Requests answered by the in-process cache.</summary>
    public int MemoryHits => Volatile.Read(ref memoryHits);

    /// <summary>Disk entries that failed verification (then recompiled and rewritten).</summary>
    public int CorruptEntries => Volatile.Read(ref corruptEntries);

    /// <summary>Disk entries that could not be written (the module is still returned).</summary>
    public int WriteFailures => Volatile.Read(ref writeFailures);
}

/// <summary>
/// Compiled kernel modules, cached in process (one compile per key per process, also under concurrent first
/// use) and on disk under <see cref="DefaultDirectory"/>.
/// </summary>
/// <remarks>
/// Disk layout: one file per module, <c>&lt;dir&gt;/&lt;key&gt;.lfk</c>, key = SHA-256 (hex) over the file name,
/// its source, every header, the NVRTC options, the NVRTC version and the target arch. Entry format
/// (little-endian): magic "LFKCACHE", format version (u32), kind (u8: 0 CUBIN, 1 PTX), key (32 bytes),
/// log length (i32), image length (i32), SHA-256 of (kind, key, log, image) (32 bytes), log (UTF-8), image.
/// Written to a unique temp file in the same directory and renamed over the entry, so readers see either
/// no entry or a whole one; an entry that fails any check is counted, recompiled and rewritten.
/// </remarks>
public sealed class KernelCache
{
    private const string Extension = ".lfk";
    private const uint FormatVersion = 1;
    private static readonly byte[] Magic = "LFKCACHE"u8.ToArray();
    private const int HeaderSize = 8 + 4 + 1 + 32 + 4 + 4 + 32;

    private static readonly Lazy<KernelCache> LazyDefault = new(() => new KernelCache());

    private readonly ConcurrentDictionary<string, Lazy<CompiledModule>> _modules = new(StringComparer.Ordinal);

    /// <param name="directory">Cache directory; <see cref="DefaultDirectory"/> when null.</param>
    /// <param name="sources">Kernel sources; <see cref="KernelSources.Embedded"/> when null.</param>
    public KernelCache(string? directory = null, KernelSources? sources = null)
    {
        Directory = directory ?? DefaultDirectory;
        Sources = sources ?? KernelSources.Embedded;
    }

    /// <summary>The process-wide cache over the embedded sources and the default directory.</summary>
    public static KernelCache Default => LazyDefault.Value;

    /// <summary><c>$XDG_CACHE_HOME/localfeat/kernels</c>, or <c>~/.cache/localfeat/kernels</c> when that is unset or relative (XDG says to ignore relative paths).</summary>
    public static string DefaultDirectory
    {
        get
        {
            var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            var root = !string.IsNullOrEmpty(xdg) && Path.IsPathRooted(xdg)
                ? xdg
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
            return Path.Combine(root, "localfeat", "kernels");
        }
    }

    public string Directory { get; }
    public KernelSources Sources { get; }
    public KernelCacheStats Stats { get; } = new();

    /// <summary>Path of the disk entry for a key.</summary>
    public string EntryPath(string key) => Path.Combine(Directory, key + Extension);

    /// <summary>The module of the <c>.cu</c> file that defines <paramref name="kernel"/>, for <paramref name="target"/>.</summary>
    public CompiledModule GetForKernel(string kernel, KernelTarget target) => Get(Sources.FileDefining(kernel), target);

    /// <summary>
    /// The compiled module of <paramref name="file"/> for <paramref name="target"/>: from this process's cache,
    /// else from a verified disk entry, else compiled by NVRTC and written to disk. Needs NVRTC (the key holds
    /// its version), not a GPU.
    /// </summary>
    public CompiledModule Get(string file, KernelTarget target)
    {
        var options = KernelCompiler.Options(target);
        var key = ComputeKey(Sources, file, target, options);
        var created = false;
        var lazy = _modules.GetOrAdd(key, _ =>
        {
            created = true;
            return new Lazy<CompiledModule>(() => Load(file, target, key), LazyThreadSafetyMode.ExecutionAndPublication);
        });
        if (!created)
            Interlocked.Increment(ref Stats.memoryHits);
        try
        {
            return lazy.Value;
        }
        catch
        {
            // Lazy caches exceptions; drop it so that a later call retries (e.g. after the disk filled up).
            _modules.TryRemove(new KeyValuePair<string, Lazy<CompiledModule>>(key, lazy));
            throw;
        }
    }

    private CompiledModule Load(string file, KernelTarget target, string key)
    {
        var path = EntryPath(key);
        var keyBytes = Convert.FromHexString(key);
        if (TryReadEntry(path, keyBytes, target.Kind, out var image, out var log))
        {
            Interlocked.Increment(ref Stats.diskHits);
            return new CompiledModule(file, target, image, log, key);
        }
        var module = KernelCompiler.Compile(Sources, file, target);
        Interlocked.Increment(ref Stats.compiles);
        WriteEntry(path, keyBytes, module);
        return module;
    }

    /// <summary>Reads and verifies an entry. A missing entry is a plain miss; any mismatch counts as corrupt.</summary>
    private bool TryReadEntry(string path, byte[] key, NvrtcOutputKind kind, out byte[] image, out string log)
    {
        image = [];
        log = "";
        byte[] data;
        try
        {
            data = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return false;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Interlocked.Increment(ref Stats.corruptEntries);
            return false;
        }

        if (!Verify(data, key, kind, out image, out log))
        {
            Interlocked.Increment(ref Stats.corruptEntries);
            return false;
        }
        return true;
    }

    private static bool Verify(byte[] data, byte[] key, NvrtcOutputKind kind, out byte[] image, out string log)
    {
        image = [];
        log = "";
        var span = data.AsSpan();
        if (span.Length < HeaderSize || !span[..8].SequenceEqual(Magic))
            return false;
        if (BinaryPrimitives.ReadUInt32LittleEndian(span[8..]) != FormatVersion || span[12] != KindByte(kind))
            return false;
        if (!span.Slice(13, 32).SequenceEqual(key))
            return false;
        var logLength = BinaryPrimitives.ReadInt32LittleEndian(span[45..]);
        var imageLength = BinaryPrimitives.ReadInt32LittleEndian(span[49..]);
        if (logLength < 0 || imageLength <= 0 || (long)HeaderSize + logLength + imageLength != span.Length)
            return false;
        var logBytes = span.Slice(HeaderSize, logLength);
        var imageBytes = span.Slice(HeaderSize + logLength, imageLength);
        if (!span.Slice(53, 32).SequenceEqual(ContentHash(span[12], key, logBytes, imageBytes)))
            return false;
        image = imageBytes.ToArray();
        log = Encoding.UTF8.GetString(logBytes);
        return true;
    }

    private void WriteEntry(string path, byte[] key, CompiledModule module)
    {
        var logBytes = Encoding.UTF8.GetBytes(module.Log);
        var data = new byte[HeaderSize + logBytes.Length + module.Image.Length];
        var span = data.AsSpan();
        Magic.CopyTo(span);
        BinaryPrimitives.WriteUInt32LittleEndian(span[8..], FormatVersion);
        span[12] = KindByte(module.Target.Kind);
        key.CopyTo(span[13..]);
        BinaryPrimitives.WriteInt32LittleEndian(span[45..], logBytes.Length);
        BinaryPrimitives.WriteInt32LittleEndian(span[49..], module.Image.Length);
        ContentHash(span[12], key, logBytes, module.Image).CopyTo(span[53..]);
        logBytes.CopyTo(span[HeaderSize..]);
        module.Image.CopyTo(span[(HeaderSize + logBytes.Length)..]);

        // Unique temp name in the same directory (same file system), then rename(2) over the entry:
        // atomic, so a concurrent reader (or another process) never sees a half-written entry.
        var temp = Path.Combine(Directory, $".{Path.GetFileName(path)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            System.IO.Directory.CreateDirectory(Directory);
            using (var f = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                f.Write(data);
                f.Flush(flushToDisk: true);
            }
            File.Move(temp, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The disk cache only saves time: an unwritable cache directory must not fail a launch.
            Interlocked.Increment(ref Stats.writeFailures);
            try { File.Delete(temp); } catch (Exception) { /* best effort */ }
        }
    }

    private static byte KindByte(NvrtcOutputKind kind) => kind == NvrtcOutputKind.Cubin ? (byte)0 : (byte)1;

    private static byte[] ContentHash(byte kind, ReadOnlySpan<byte> key, ReadOnlySpan<byte> log, ReadOnlySpan<byte> image)
    {
        using var h = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        h.AppendData([kind]);
        h.AppendData(key);
        h.AppendData(log);
        h.AppendData(image);
        return h.GetHashAndReset();
    }

    /// <summary>
    /// SHA-256 (hex, lower case) identifying a compile: every field length-prefixed so that no two different
    /// inputs hash the same byte stream. Includes all headers, since any of them may be included.
    /// </summary>
    public static string ComputeKey(KernelSources sources, string file, KernelTarget target, IReadOnlyList<string> options)
    {
        using var h = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Add(string s)
        {
            var bytes = Encoding.UTF8.GetBytes(s);
            Span<byte> len = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(len, bytes.Length);
            h.AppendData(len);
            h.AppendData(bytes);
        }

        Add("localfeat-kernel-cache/1");
        Add(file);
        Add(sources.Read(file));
        Add(sources.Headers.Count.ToString(System.Globalization.CultureInfo.InvariantCulture));
        foreach (var (name, text) in sources.Headers)
        {
            Add(name);
            Add(text);
        }
        Add(options.Count.ToString(System.Globalization.CultureInfo.InvariantCulture));
        foreach (var o in options)
            Add(o);
        Add(NvrtcCompiler.VersionString);
        Add(target.ArchName);
        return Convert.ToHexStringLower(h.GetHashAndReset());
    }
}

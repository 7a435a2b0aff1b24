using LocalFeat.Cuda;
using LocalFeat.Cuda.Kernels;
using Xunit;

namespace LocalFeat.Tests.Cuda;

/// <summary>The kernel compile cache: disk round trip, corrupt entries, concurrent first use, keys.</summary>
public sealed class KernelCacheTests : IDisposable
{
    private const string File = "lf_test_saxpy.cu";
    private static readonly KernelTarget Sm80 = KernelTarget.Cubin(80);

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "lf-kernel-cache-test-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir))
            Directory.Delete(_dir, recursive: true);
    }

    private KernelCache NewCache(KernelSources? sources = null) => new(_dir, sources ?? TestKernels.Sources());

    [Fact]
    public void Second_process_reads_the_entry_from_disk()
    {
        var first = NewCache();
        var compiled = first.Get(File, Sm80);
        Assert.Equal((1, 0, 0), (first.Stats.Compiles, first.Stats.DiskHits, first.Stats.CorruptEntries));
        Assert.True(System.IO.File.Exists(first.EntryPath(compiled.Key)));
        Assert.Equal([Path.GetFileName(first.EntryPath(compiled.Key))], Directory.GetFiles(_dir).Select(Path.GetFileName)); // no temp files left

        // Same instance: the in-process cache answers with the same object.
        Assert.Same(compiled, first.Get(File, Sm80));
        Assert.Equal(1, first.Stats.Compiles);
        Assert.Equal(1, first.Stats.MemoryHits);

        // A new cache over the same directory (a later process) does not compile.
        var second = NewCache();
        var loaded = second.Get(File, Sm80);
        Assert.Equal((0, 1, 0), (second.Stats.Compiles, second.Stats.DiskHits, second.Stats.CorruptEntries));
        Assert.Equal(compiled.Image, loaded.Image);
        Assert.Equal(compiled.Log, loaded.Log);
        Assert.Equal(compiled.Key, loaded.Key);
        Assert.Equal(compiled.Resources.Kernels, loaded.Resources.Kernels);
    }

    public static TheoryData<string> Corruptions() => ["flip-last-byte", "flip-middle-byte", "flip-magic", "truncate", "empty", "append"];

    [Theory]
    [MemberData(nameof(Corruptions))]
    public void Corrupt_entry_is_detected_recompiled_and_rewritten(string corruption)
    {
        var good = NewCache().Get(File, Sm80);
        var path = NewCache().EntryPath(good.Key);
        var bytes = System.IO.File.ReadAllBytes(path);
        switch (corruption)
        {
            case "flip-last-byte": bytes[^1] ^= 0x40; break;
            case "flip-middle-byte": bytes[bytes.Length / 2] ^= 0x01; break;
            case "flip-magic": bytes[0] ^= 0xff; break;
            case "truncate": bytes = bytes[..(bytes.Length * 2 / 3)]; break;
            case "empty": bytes = []; break;
            case "append": bytes = [.. bytes, 0x00]; break;
        }
        System.IO.File.WriteAllBytes(path, bytes);

        var cache = NewCache();
        var module = cache.Get(File, Sm80);
        Assert.Equal((1, 1, 0), (cache.Stats.CorruptEntries, cache.Stats.Compiles, cache.Stats.DiskHits));
        Assert.Equal(good.Image, module.Image);

        // The entry was rewritten and now verifies.
        var after = NewCache();
        Assert.Equal(good.Image, after.Get(File, Sm80).Image);
        Assert.Equal((0, 0, 1), (after.Stats.CorruptEntries, after.Stats.Compiles, after.Stats.DiskHits));
    }

    [Fact]
    public void Concurrent_first_compile_from_two_threads_compiles_once()
    {
        var cache = NewCache();
        using var start = new Barrier(2);
        var results = new CompiledModule[2];
        var threads = Enumerable.Range(0, 2).Select(i => new Thread(() =>
        {
            start.SignalAndWait();
            results[i] = cache.Get(File, Sm80);
        })).ToArray();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) t.Join();

        Assert.Equal(1, cache.Stats.Compiles);
        Assert.Same(results[0], results[1]);
        Assert.Single(Directory.GetFiles(_dir));
    }

    [Fact]
    public void Key_depends_on_source_header_target_and_options()
    {
        var sources = TestKernels.Sources();
        var options = KernelCompiler.Options(Sm80);
        var key = KernelCache.ComputeKey(sources, File, Sm80, options);

        Assert.Equal(64, key.Length);
        Assert.Equal(key, KernelCache.ComputeKey(TestKernels.Sources(), File, Sm80, options));
        Assert.NotEqual(key, KernelCache.ComputeKey(TestKernels.Sources(header: TestKernels.Header + "\n// changed"), File, Sm80, options));
        Assert.NotEqual(key, KernelCache.ComputeKey(TestKernels.Sources(saxpy: TestKernels.Saxpy + "\n"), File, Sm80, options));
        Assert.NotEqual(key, KernelCache.ComputeKey(sources, File, KernelTarget.Cubin(90), KernelCompiler.Options(KernelTarget.Cubin(90))));
        Assert.NotEqual(key, KernelCache.ComputeKey(sources, File, KernelTarget.Ptx(80), options));
        Assert.NotEqual(key, KernelCache.ComputeKey(sources, File, Sm80, [.. options, "-lineinfo"]));
    }

    [Fact]
    public void Kernel_lookup_compiles_the_defining_file_once()
    {
        var cache = NewCache();
        var a = cache.GetForKernel("lf_test_fill", Sm80);
        var b = cache.GetForKernel("lf_test_saxpy", Sm80);
        Assert.Same(a, b);
        Assert.Equal(File, a.File);
        Assert.Equal(1, cache.Stats.Compiles);
        Assert.Throws<CudaException>(() => cache.GetForKernel("no_such_kernel", Sm80));
    }

    [Fact]
    public void Failed_compile_is_not_cached()
    {
        var cache = NewCache(new KernelSources([new("broken.cu", TestKernels.Broken)]));
        var first = Assert.Throws<LocalFeat.Cuda.Nvrtc.NvrtcCompileException>(() => cache.Get("broken.cu", Sm80));
        var second = Assert.Throws<LocalFeat.Cuda.Nvrtc.NvrtcCompileException>(() => cache.Get("broken.cu", Sm80));
        Assert.NotSame(first, second); // compiled again, not a cached failure
        Assert.Equal(0, cache.Stats.Compiles);
        Assert.False(Directory.Exists(_dir) && Directory.EnumerateFiles(_dir).Any());
    }

    [Fact]
    public void Unwritable_directory_still_returns_the_module()
    {
        // A regular file where the cache directory should be: the directory cannot be created.
        System.IO.File.WriteAllText(_dir, "not a directory");
        try
        {
            var cache = new KernelCache(Path.Combine(_dir, "kernels"), TestKernels.Sources());
            Assert.NotEmpty(cache.Get(File, Sm80).Image);
            Assert.Equal(1, cache.Stats.WriteFailures);
        }
        finally
        {
            System.IO.File.Delete(_dir);
        }
    }

    [Fact]
    public void Default_directory_is_localfeat_kernels_under_the_xdg_cache()
    {
        var dir = KernelCache.DefaultDirectory;
        Assert.EndsWith(Path.Combine("localfeat", "kernels"), dir);
        var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        var root = !string.IsNullOrEmpty(xdg) && Path.IsPathRooted(xdg)
            ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        Assert.Equal(Path.Combine(root, "localfeat", "kernels"), dir);
    }
}

using LocalFeat.Cuda;
using LocalFeat.Cuda.Kernels;
using LocalFeat.Cuda.Nvrtc;
using Xunit;

namespace LocalFeat.Tests.Cuda;

/// <summary>NVRTC compiles of the real kernels and of purpose-written sources; the ptxas report parser.</summary>
public sealed class NvrtcTests
{
    /// <summary>Every kernels/*.cu embedded in LocalFeat.Cuda (not read from disk: works from any build output), × sm_80, sm_90.</summary>
    public static TheoryData<string, int> EmbeddedKernelFiles()
    {
        var data = new TheoryData<string, int>();
        foreach (var file in KernelSources.Embedded.KernelFiles)
            foreach (var arch in new[] { 80, 90 })
                data.Add(file, arch);
        return data;
    }

    [Theory]
    [MemberData(nameof(EmbeddedKernelFiles))]
    public void Kernel_file_compiles_without_spills(string file, int arch)
    {
        var sources = KernelSources.Embedded;
        var module = KernelCompiler.Compile(sources, file, KernelTarget.Cubin(arch));
        var report = module.Resources;

        var declared = sources.KernelsIn(file);
        Assert.NotEmpty(declared);
        Assert.Equal(declared.Order(), report.Kernels.Select(k => k.Kernel).Order());
        Assert.All(report.Kernels, k => Assert.Equal($"sm_{arch}", k.Arch));
        var spilling = report.Functions.Where(f => f.SpillStoreBytes + f.SpillLoadBytes > 0)
            .Select(f => $"{f.Function}: {f.SpillStoreBytes} B spill stores, {f.SpillLoadBytes} B spill loads");
        Assert.True(report.TotalSpillBytes == 0, $"{file} sm_{arch} spills registers:\n{string.Join('\n', spilling)}\n{module.Log}");

        // Independent check of the log parse: register counts stored in the CUBIN itself.
        var cubin = CubinInfo.Read(module.Image).ToDictionary(k => k.Name, k => k.Registers);
        Assert.All(report.Kernels, k => Assert.Equal(cubin[k.Kernel], k.Registers));
    }

    [Theory]
    [InlineData(80)]
    [InlineData(90)]
    public void Device_test_kernels_compile_without_spills(int arch)
    {
        // The kernels CudaDriverTests launches on a GPU; checked here so a machine without one catches breakage.
        var sources = TestKernels.DeviceSources();
        foreach (var file in sources.KernelFiles)
        {
            var report = KernelCompiler.Compile(sources, file, KernelTarget.Cubin(arch)).Resources;
            Assert.Equal(sources.KernelsIn(file).Order(), report.Kernels.Select(k => k.Kernel).Order());
            Assert.Equal(0, report.TotalSpillBytes);
        }
    }

    [Fact]
    public void Nvrtc_reports_version_and_knows_sm80_and_sm90()
    {
        var (major, minor) = NvrtcCompiler.Version;
        Assert.True(major > 11 || (major == 11 && minor >= 2), $"NVRTC {major}.{minor} is older than 11.2");
        Assert.Contains(80, NvrtcCompiler.SupportedArchs);
        Assert.Contains(90, NvrtcCompiler.SupportedArchs);
        Assert.Equal(NvrtcCompiler.SupportedArchs.Order(), NvrtcCompiler.SupportedArchs);
    }

    [Fact]
    public void Embedded_header_resolves_and_report_matches_cubin()
    {
        var module = KernelCompiler.Compile(TestKernels.Sources(), "lf_test_saxpy.cu", KernelTarget.Cubin(90));
        var report = module.Resources;

        Assert.Equal(["lf_test_fill", "lf_test_saxpy"], report.Kernels.Select(k => k.Kernel).Order());
        var saxpy = report.Kernels.Single(k => k.Kernel == "lf_test_saxpy");
        Assert.Equal(256 * sizeof(float), saxpy.StaticSharedBytes);
        Assert.Equal(0, saxpy.SpillStoreBytes + saxpy.SpillLoadBytes);
        Assert.InRange(saxpy.Registers, 4, 255);
        var fill = report.Kernels.Single(k => k.Kernel == "lf_test_fill");
        Assert.Equal(0, fill.StaticSharedBytes);

        var cubin = CubinInfo.Read(module.Image);
        Assert.Equal(["lf_test_fill", "lf_test_saxpy"], cubin.Select(k => k.Name).Order());
        Assert.All(report.Kernels, k => Assert.Equal(cubin.Single(c => c.Name == k.Kernel).Registers, k.Registers));
    }

    [Fact]
    public void Spills_are_detected_when_registers_are_capped()
    {
        // Proves the zero-spill check can fail: the same source compiled with a register cap spills.
        var options = new List<string>(KernelCompiler.Options(KernelTarget.Cubin(80))) { "--maxrregcount=24" };
        var output = NvrtcCompiler.Compile("spill.cu", TestKernels.Spilling, [], options, NvrtcOutputKind.Cubin);
        var k = PtxasReport.Parse(output.Log).Kernels.Single();
        Assert.Equal("lf_test_spill", k.Kernel);
        Assert.True(k.SpillStoreBytes > 0 && k.SpillLoadBytes > 0, output.Log);
        Assert.True(k.Registers <= 24, output.Log);
        Assert.True(PtxasReport.Parse(output.Log).TotalSpillBytes > 0);
    }

    [Fact]
    public void Broken_source_throws_with_log_and_options()
    {
        var sources = new KernelSources([new("broken.cu", TestKernels.Broken)]);
        var e = Assert.Throws<NvrtcCompileException>(() => KernelCompiler.Compile(sources, "broken.cu", KernelTarget.Cubin(80)));

        Assert.Equal("NVRTC_ERROR_COMPILATION", e.ErrorName);
        Assert.Contains("undeclared_identifier_xyz", e.Log);
        Assert.Contains("broken.cu", e.Log);
        Assert.Contains("--gpu-architecture=sm_80", e.Options);
        Assert.Contains("nvrtcCompileProgram", e.Message);
        Assert.Contains("--gpu-architecture=sm_80", e.Message);
        Assert.Contains("undeclared_identifier_xyz", e.Message);
        Assert.IsAssignableFrom<CudaException>(e);
    }

    [Fact]
    public void Invalid_option_names_the_error()
    {
        var e = Assert.Throws<NvrtcCompileException>(() =>
            NvrtcCompiler.Compile("x.cu", TestKernels.Saxpy, [new("lf_test.cuh", TestKernels.Header)], ["--gpu-architecture=sm_1"], NvrtcOutputKind.Cubin));
        Assert.Equal("NVRTC_ERROR_INVALID_OPTION", e.ErrorName);
        Assert.Equal(["--gpu-architecture=sm_1"], e.Options);
    }

    [Fact]
    public void Ptx_target_gives_nul_terminated_ptx_for_the_virtual_arch()
    {
        var module = KernelCompiler.Compile(TestKernels.Sources(), "lf_test_saxpy.cu", KernelTarget.Ptx(80));
        Assert.Equal(0, module.Image[^1]);
        var ptx = System.Text.Encoding.UTF8.GetString(module.Image, 0, module.Image.Length - 1);
        Assert.Contains(".target sm_80", ptx);
        Assert.Contains(".entry lf_test_saxpy", ptx);
        Assert.Empty(module.Resources.Kernels); // ptxas does not run for PTX
    }

    [Fact]
    public void Target_is_cubin_for_known_arch_else_ptx_of_newest_older()
    {
        int[] supported = [70, 75, 80, 86, 89, 90];
        Assert.Equal(KernelTarget.Cubin(86), KernelTarget.ForDevice(8, 6, supported));
        Assert.Equal(KernelTarget.Ptx(90), KernelTarget.ForDevice(10, 0, supported));
        Assert.Equal(KernelTarget.Ptx(80), KernelTarget.ForDevice(8, 2, supported));
        Assert.Equal("compute_90", KernelTarget.ForDevice(12, 0, supported).ArchName);
        Assert.Throws<CudaException>(() => KernelTarget.ForDevice(6, 1, supported));
        Assert.Equal(KernelTarget.Cubin(90), KernelTarget.ForDevice(9, 0)); // the installed NVRTC knows sm_90
    }

    [Fact]
    public void Kernel_names_and_defining_file_are_found()
    {
        var sources = TestKernels.Sources();
        Assert.Equal(["lf_test_saxpy", "lf_test_fill"], sources.KernelsIn("lf_test_saxpy.cu"));
        Assert.Equal("lf_test_saxpy.cu", sources.FileDefining("lf_test_fill"));
        Assert.Equal(["lf_test_saxpy.cu"], sources.KernelFiles);
        Assert.Equal(["lf_test.cuh"], sources.Headers.Select(h => h.Key));
        var e = Assert.Throws<CudaException>(() => sources.FileDefining("commented_out"));
        Assert.Contains("lf_test_saxpy.cu", e.Message);
    }

    [Fact]
    public void Report_parser_reads_device_functions_and_newer_log_format()
    {
        const string log = """
            ptxas info    : 0 bytes gmem
            ptxas info    : Function properties for _Z6helperf
            ptxas         .     16 bytes stack frame, 8 bytes spill stores, 4 bytes spill loads
            ptxas info    : Compiling entry function 'k_one' for 'sm_90'
            ptxas info    : Function properties for k_one
            ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
            ptxas info    : Used 40 registers, used 1 barriers, 4096 bytes smem, 368 bytes cmem[0]
            ptxas info    : Compile time = 3.1 ms
            ptxas info    : Compiling entry function 'k_two' for 'sm_90'
            ptxas info    : Function properties for k_two
            ptxas         .     32 bytes stack frame, 12 bytes spill stores, 20 bytes spill loads
            ptxas info    : Used 255 registers, 360 bytes cmem[0]
            """;
        var report = PtxasReport.Parse(log.Replace("\n", "\r\n"));
        Assert.Equal(
            [new KernelResources("k_one", "sm_90", 40, 4096, 0, 0, 0), new KernelResources("k_two", "sm_90", 255, 0, 32, 12, 20)],
            report.Kernels);
        Assert.Equal(new FunctionFrame("_Z6helperf", 16, 8, 4), report.Functions[0]);
        Assert.Equal(8 + 4 + 12 + 20, report.TotalSpillBytes);
    }
}

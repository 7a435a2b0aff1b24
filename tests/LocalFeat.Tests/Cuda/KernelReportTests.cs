using LocalFeat.Cuda.Kernels;
using LocalFeat.Train;
using Xunit;

namespace LocalFeat.Tests.Cuda;

/// <summary><c>localfeat kernels</c>: the NVRTC resource table.</summary>
public sealed class KernelReportTests
{
    [Fact]
    public void Table_lists_every_kernel_for_sm80_and_sm90()
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var rc = KernelReport.Run(TestKernels.Sources(), output, error);

        Assert.True(rc == 0, error.ToString());
        var text = output.ToString();
        Assert.StartsWith($"NVRTC {LocalFeat.Cuda.Nvrtc.NvrtcCompiler.VersionString} (", text);
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(lines, l => l.StartsWith("file") && l.Contains("registers") && l.Contains("spill st B"));
        foreach (var kernel in new[] { "lf_test_saxpy", "lf_test_fill" })
            foreach (var arch in new[] { "sm_80", "sm_90" })
            {
                var row = Assert.Single(lines, l => l.Contains($" {kernel} ") && l.Contains(arch));
                var cells = row.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                Assert.Equal(["lf_test_saxpy.cu", kernel, arch], cells[..3]);
                Assert.True(int.Parse(cells[3]) > 0); // registers
                Assert.Equal(kernel == "lf_test_saxpy" ? "1024" : "0", cells[4]); // static shared bytes
                Assert.Equal(["0", "0"], cells[6..8]); // no spills
            }
    }

    [Fact]
    public void Failed_compile_prints_the_log_and_exits_non_zero()
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var rc = KernelReport.Run(new KernelSources([new("broken.cu", TestKernels.Broken)]), output, error);

        Assert.Equal(2, rc);
        Assert.Contains("undeclared_identifier_xyz", error.ToString());
        Assert.Contains("broken.cu (sm_80)", error.ToString());
        Assert.Contains("broken.cu (sm_90)", error.ToString());
    }

    [Fact]
    public void Spilling_kernel_exits_non_zero()
    {
        // Real register pressure without a cap does not spill; a launch bound of 1024 threads caps at 64 registers.
        var source = TestKernels.Spilling.Replace("extern \"C\" __global__ void", "extern \"C\" __global__ void __launch_bounds__(1024, 2)");
        var output = new StringWriter();
        var rc = KernelReport.Run(new KernelSources([new("spill.cu", source)]), output, new StringWriter());
        Assert.True(rc == 3, output.ToString());
    }

    [Fact]
    public void No_kernel_sources_is_an_error()
    {
        var error = new StringWriter();
        Assert.Equal(1, KernelReport.Run(new KernelSources([]), new StringWriter(), error));
        Assert.Contains("no kernel sources", error.ToString());
    }
}

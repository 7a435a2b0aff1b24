using System.CommandLine;

namespace LocalFeat.Train;

/// <summary><c>localfeat system</c>: versions of the engines LocalFeat runs on.</summary>
internal static class SystemReport
{
    public static Command Command()
    {
        var cmd = new Command("system", "Print libtorch version, threads, BLAS, NVRTC version and CUDA devices.");
        cmd.SetAction(_ => 0);
        return cmd;
    }
}

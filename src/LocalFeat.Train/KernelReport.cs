using System.CommandLine;

namespace LocalFeat.Train;

/// <summary><c>localfeat kernels</c>: NVRTC resource table of every kernel (registers, shared memory, spills).</summary>
internal static class KernelReport
{
    public static Command Command()
    {
        var cmd = new Command("kernels", "Compile every kernel with NVRTC for sm_80 and sm_90 and print registers, shared memory and spill bytes.");
        cmd.SetAction(_ => { Console.Error.WriteLine("not built yet"); return 1; });
        return cmd;
    }
}

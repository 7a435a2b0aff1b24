using System.CommandLine;
using System.Reflection;
using LocalFeat.Cuda.Driver;
using LocalFeat.Cuda.Nvrtc;
using LocalFeat.Train.Vision;
using TorchSharp;

namespace LocalFeat.Train;

/// <summary><c>localfeat system</c>: versions of the engines LocalFeat runs on.</summary>
internal static class SystemReport
{
    public static Command Command()
    {
        var cmd = new Command("system", "Print the LocalFeat, libtorch, BLAS, OpenCV and NVRTC versions, threads and CUDA devices.");
        cmd.SetAction(_ =>
        {
            foreach (var (key, value) in Collect()) Console.WriteLine($"{key,-16} {value}");
            return 0;
        });
        return cmd;
    }

    public static List<(string Key, string Value)> Collect()
    {
        var rows = new List<(string, string)>
        {
            ("localfeat", typeof(SystemReport).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown"),
            (".NET", Environment.Version.ToString()),
            ("TorchSharp", typeof(torch).Assembly.GetName().Version?.ToString() ?? "unknown"),
            ("libtorch", torch.__version__),
            ("threads", $"{torch.get_num_threads()} intra-op, {torch.get_num_interop_threads()} inter-op ({Environment.ProcessorCount} cores)"),
            ("OpenCV", OpenCv.Version + " (OpenCvSharp4)"),
            ("libtorch CUDA", torch.cuda.is_available() ? $"yes, {torch.cuda.device_count()} device(s)" : "no"),
            ("NVRTC", NvrtcCompiler.IsAvailable(out string why) ? NvrtcCompiler.VersionString : $"none ({why})"),
            ("CUDA devices", Devices()),
        };
        return rows;
    }

    private static string Devices()
    {
        if (!CudaDriver.IsDeviceAvailable(out string reason)) return $"none ({reason})";
        return string.Join("; ", Enumerable.Range(0, CudaDriver.DeviceCount).Select(i => CudaDevice.Get(i).ToString()));
    }
}

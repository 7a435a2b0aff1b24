using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

// dotnet run -c Release --project bench/LocalFeat.Bench -- --filter '*'
// In process: BenchmarkDotNet's default toolchain builds and runs a generated project whose output folder gets
// TorchSharp's own libLibTorchSharp.so, not the patched copy this output folder has (Debian 12: it would not load).
var inProcess = Job.Default.WithToolchain(InProcessEmitToolchain.Instance).AsDefault();
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, DefaultConfig.Instance.AddJob(inProcess));

using BenchmarkDotNet.Running;

// dotnet run -c Release --project bench/LocalFeat.Bench -- --filter '*'   (add e.g. --job short for a quick run)
// Always in process (--inProcess): BenchmarkDotNet's default toolchain builds and runs a generated project whose
// output folder gets TorchSharp's own libLibTorchSharp.so, not the patched copy of this output folder (Debian 12
// could not load it).
string[] withInProcess = args.Contains("--inProcess") ? args : [.. args, "--inProcess"];
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(withInProcess);

using BenchmarkDotNet.Running;

// dotnet run -c Release --project bench/LocalFeat.Bench -- --filter '*'
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);

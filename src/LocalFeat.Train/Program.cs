using System.CommandLine;
using LocalFeat.Train;

var root = new RootCommand("LocalFeat: train, evaluate and run local image features (detectors and descriptors).");
root.Subcommands.Add(SystemReport.Command());
root.Subcommands.Add(KernelReport.Command());
return root.Parse(args).Invoke();

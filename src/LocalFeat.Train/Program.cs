using System.CommandLine;
using System.CommandLine.Help;
using LocalFeat.Train;
using LocalFeat.Train.Commands;

// A named root rather than RootCommand, whose name would be the assembly's (LocalFeat.Train).
var root = new Command("localfeat", "LocalFeat: train, evaluate and run local image features (detectors and descriptors).");
root.Options.Add(new HelpOption());
root.Options.Add(new VersionOption());
root.Subcommands.Add(SystemReport.Command());
root.Subcommands.Add(KernelReport.Command());
root.Subcommands.Add(TrainCommand.Create());
root.Subcommands.Add(EvalCommand.Create());
root.Subcommands.Add(ExtractCommand.Create());
root.Subcommands.Add(MatchCommand.Create());
return root.Parse(args).Invoke();

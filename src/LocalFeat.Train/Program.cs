using System.CommandLine;
using System.CommandLine.Help;
using LocalFeat.Train;
using LocalFeat.Train.Commands;
using LocalFeat.Train.Vision;

// A named root rather than RootCommand, whose name would be the assembly's (LocalFeat.Train).
var root = new Command("localfeat", "LocalFeat: train, evaluate and run local image features (detectors and descriptors).");
root.Options.Add(new HelpOption());
root.Options.Add(new VersionOption());
root.Subcommands.Add(SystemReport.Command());
root.Subcommands.Add(KernelReport.Command());
root.Subcommands.Add(TrainCommand.Create());
root.Subcommands.Add(CompareCommand.Create());
root.Subcommands.Add(EvalCommand.Create());
root.Subcommands.Add(ExtractCommand.Create());
root.Subcommands.Add(MatchCommand.Create());
var parsed = root.Parse(args);
if (parsed.Errors.Count > 0)
{
    // One line, not System.CommandLine's error list followed by the whole help text.
    var command = parsed.CommandResult.Command;
    string help = command == root ? "localfeat --help" : $"localfeat {command.Name} --help";
    Console.Error.WriteLine($"error: {parsed.Errors[0].Message} (usage: {help})");
    return 1;
}
OpenCv.RouteLibraryWarnings(Cli.Warn);
return parsed.Invoke();

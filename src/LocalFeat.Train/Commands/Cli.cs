using System.CommandLine;
using LocalFeat.Train.Training;
using Spectre.Console;

namespace LocalFeat.Train.Commands;

/// <summary>Shared command-line plumbing: config overrides and error reporting.</summary>
internal static class Cli
{
    public static readonly Option<string[]> Set = new("--set")
    {
        Description = "Override any config key: --set key=value (repeatable; keys as in config.json, dotted by group, e.g. --set optimizer.grad_clip=1)",
        Arity = ArgumentArity.ZeroOrMore,
        AllowMultipleArgumentsPerToken = false,
    };

    /// <summary>(key, value) pairs from --set key=value.</summary>
    public static IEnumerable<(string, string)> SetPairs(ParseResult r)
    {
        foreach (var item in r.GetValue(Set) ?? [])
        {
            int eq = item.IndexOf('=');
            if (eq <= 0) throw new ConfigException($"--set: expected key=value, got '{item}'");
            yield return (item[..eq].Trim(), item[(eq + 1)..]);
        }
    }

    /// <summary>Runs a command body; expected failures (bad settings, missing files) print one clear line and exit 1.</summary>
    public static int Guard(Func<int> body)
    {
        try { return body(); }
        catch (Exception e) when (e is ConfigException or FileNotFoundException or DirectoryNotFoundException or InvalidDataException
                                    or ArgumentException or InvalidOperationException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            if (Environment.GetEnvironmentVariable("LOCALFEAT_TRACE") == "1") Console.Error.WriteLine(e);  // where, for bug reports
            return 1;
        }
        catch (System.Runtime.InteropServices.ExternalException e)  // libtorch's errors, as TorchSharp raises them
        {
            Console.Error.WriteLine($"error: libtorch: {e.Message.Split('\n')[0]}");
            return 1;
        }
    }

    public static bool Interactive => !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;

    public static void Info(string text)
    {
        if (Interactive) AnsiConsole.MarkupLine($"[grey]{Markup.Escape(text)}[/]");
        else Console.WriteLine(text);
    }

    public static void Warn(string text)
    {
        if (Interactive) AnsiConsole.MarkupLine($"[yellow]{Markup.Escape(text)}[/]");
        else Console.Error.WriteLine(text);
    }
}

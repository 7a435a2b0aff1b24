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

    /// <summary>
    /// Runs a command body. Every failure the user can cause or meet (bad settings, missing or unreadable paths,
    /// a full disk, a held run folder, a diverged run) prints one line and exits 1; anything else one line naming
    /// the exception and exits 70. LOCALFEAT_TRACE=1 adds the stack trace.
    /// </summary>
    public static int Guard(Func<int> body)
    {
        try { return body(); }
        catch (Exception e) when (e is ConfigException or TrainingDivergedException or InvalidDataException
                                    or ArgumentException or InvalidOperationException or Distributed.DistributedException)
        {
            return Fail(e.Message, e);
        }
        catch (UnauthorizedAccessException e) { return Fail($"file system: {e.Message} (permission denied)", e); }
        // FileNotFound, DirectoryNotFound, PathTooLong, a full disk (ENOSPC), a file where a folder should be, ...
        catch (IOException e) { return Fail(e is FileNotFoundException or DirectoryNotFoundException or RunFolderInUseException ? e.Message : $"file system: {e.Message}", e); }
        catch (System.Runtime.InteropServices.ExternalException e)  // libtorch's errors, as TorchSharp raises them
        {
            return Fail($"libtorch: {e.Message.Split('\n')[0]}", e);
        }
        catch (OperationCanceledException e) { return Fail("cancelled", e, 130); }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return Fail($"unexpected {e.GetType().Name}: {e.Message.Split('\n')[0]} (LOCALFEAT_TRACE=1 prints where; please report it)", e, 70);
        }
    }

    private static int Fail(string message, Exception e, int code = 1)
    {
        Console.Error.WriteLine($"error: {message.Split('\n')[0].TrimEnd()}");
        if (Environment.GetEnvironmentVariable("LOCALFEAT_TRACE") == "1") Console.Error.WriteLine(e);  // where, for bug reports
        return code;
    }

    public static bool Interactive => !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;

    public static void Info(string text)
    {
        if (Interactive) AnsiConsole.MarkupLine($"[grey]{Markup.Escape(text)}[/]");
        else Console.WriteLine(text);
    }

    public static void Warn(string text)
    {
        if (!text.StartsWith("warning: ", StringComparison.Ordinal)) text = "warning: " + text;
        if (Interactive) AnsiConsole.MarkupLine($"[yellow]{Markup.Escape(text)}[/]");
        else Console.Error.WriteLine(text);
    }
}

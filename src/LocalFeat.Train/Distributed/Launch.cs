using System.Globalization;

namespace LocalFeat.Train.Distributed;

/// <summary>How <c>localfeat train</c> was asked to run: one process, <c>--nproc N</c> local workers, or one rank of
/// <c>--world-size W --rank R --rendezvous SPEC</c>.</summary>
public sealed record Launch(int WorldSize, int Rank, int Nproc, Rendezvous? Rendezvous, string? Host, string? Iface)
{
    public static readonly Launch Single = new(1, 0, 1, null, null, null);

    public static Launch From(string? nproc, string? worldSize, string? rank, string? rendezvous, string? host, string? iface)
    {
        if (nproc != null)
        {
            if (worldSize != null || rank != null || rendezvous != null)
                throw new ArgumentException("--nproc: starts its own workers on this host; not with --world-size, --rank or --rendezvous");
            int n = Int("--nproc", nproc, 1, 64);
            return n == 1 ? Single : new Launch(n, 0, n, null, host ?? "127.0.0.1", iface);
        }
        if (worldSize is null && rank is null && rendezvous is null) return Single;
        if (worldSize is null || rank is null || rendezvous is null)
            throw new ArgumentException($"--world-size, --rank and --rendezvous: expected all three for a multi-process run, got only {string.Join(" and ", new[] { ("--world-size", worldSize), ("--rank", rank), ("--rendezvous", rendezvous) }.Where(x => x.Item2 != null).Select(x => x.Item1))}");
        int w = Int("--world-size", worldSize, 1, 4096);
        int r = Int("--rank", rank, 0, w - 1);
        var spec = Distributed.Rendezvous.Parse(rendezvous);
        return w == 1 ? Single : new Launch(w, r, 1, spec, host, iface);
    }

    private static int Int(string option, string text, int min, int max)
    {
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int v) || v < min || v > max)
            throw new ArgumentException($"{option}: expected an integer in [{min}, {max}], got '{text}'");
        return v;
    }
}

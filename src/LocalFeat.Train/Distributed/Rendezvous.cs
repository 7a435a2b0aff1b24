using System.Globalization;

namespace LocalFeat.Train.Distributed;

/// <summary>Where the ranks meet: <c>file:DIR</c> (a folder every rank sees: one host, or a shared file system) or
/// <c>tcp:HOST:PORT</c> (a key-value store that rank 0 serves on HOST:PORT).</summary>
public sealed record Rendezvous(string Kind, string Where, int Port)
{
    public static Rendezvous Parse(string spec)
    {
        if (spec.StartsWith("file:", StringComparison.Ordinal) && spec.Length > 5) return new("file", Path.GetFullPath(spec[5..]), 0);
        if (spec.StartsWith("tcp:", StringComparison.Ordinal))
        {
            int colon = spec.LastIndexOf(':');
            if (colon > 4 && int.TryParse(spec[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out int port) && port is > 0 and < 65536)
                return new("tcp", spec[4..colon].Trim('[', ']'), port);
        }
        throw new ArgumentException($"--rendezvous: expected file:DIR or tcp:HOST:PORT (port 1..65535), got '{spec}'");
    }

    public override string ToString() => Kind == "file" ? $"file:{Where}" : $"tcp:{Where}:{Port}";
}

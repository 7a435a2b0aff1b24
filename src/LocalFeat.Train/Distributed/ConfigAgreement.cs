using System.Text;
using System.Text.Json.Nodes;
using LocalFeat.Train.Training;

namespace LocalFeat.Train.Distributed;

/// <summary>Every rank must train with the same settings: the resolved config JSON of each rank, gathered, against rank 0's.</summary>
public static class ConfigAgreement
{
    public static void Check(IProcessGroup group, TrainConfig config)
    {
        var all = group.AllGather(Encoding.UTF8.GetBytes(config.ToJson()));
        var reference = Flatten(Encoding.UTF8.GetString(all[0]));
        for (int r = 1; r < all.Length; r++)
        {
            var other = Flatten(Encoding.UTF8.GetString(all[r]));
            if (FirstDifference(reference, other) is { } key)
                throw new ConfigException($"settings differ between ranks: '{key}' is {Show(reference, key)} on rank 0 but {Show(other, key)} on rank {r} (every rank must run with the same settings)");
        }
    }

    /// <summary>The first dotted key (in config order) whose value differs, or null.</summary>
    public static string? FirstDifference(Dictionary<string, string> a, Dictionary<string, string> b) =>
        a.Keys.Concat(b.Keys.Where(k => !a.ContainsKey(k)))
            .FirstOrDefault(k => !a.TryGetValue(k, out var x) || !b.TryGetValue(k, out var y) || x != y);

    private static string Show(Dictionary<string, string> d, string key) => d.TryGetValue(key, out var v) ? v : "missing";

    /// <summary>group.key → the value's JSON text.</summary>
    public static Dictionary<string, string> Flatten(string json)
    {
        var result = new Dictionary<string, string>();
        foreach (var (group, node) in JsonNode.Parse(json)!.AsObject())
        {
            if (node is JsonObject o)
                foreach (var (leaf, value) in o) result[$"{group}.{leaf}"] = value?.ToJsonString() ?? "null";
            else result[group] = node?.ToJsonString() ?? "null";
        }
        return result;
    }
}

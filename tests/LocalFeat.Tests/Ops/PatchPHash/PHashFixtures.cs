using TorchSharp;
using static TorchSharp.torch;

namespace LocalFeat.Tests.Ops.PatchPHash;

/// <summary>One patch of Fixtures/phash/phash_fixtures.txt (scripts/phash_fixtures.py: imagehash.phash's algorithm with scipy).</summary>
internal sealed record PHashFixture(string Name, long Hash, byte[] Pixels);

internal static class PHashFixtures
{
    public static IReadOnlyList<PHashFixture> All { get; } = Load();

    private static List<PHashFixture> Load()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "Fixtures", "phash", "phash_fixtures.txt");
        var list = new List<PHashFixture>();
        foreach (var line in File.ReadAllLines(path).Where(l => l.Length > 0))
        {
            var parts = line.Split(' ');
            list.Add(new PHashFixture(parts[0], unchecked((long)Convert.ToUInt64(parts[1], 16)), Convert.FromHexString(parts[2])));
        }
        return list;
    }

    /// <summary>
    /// One image per patch, [count, 1, 48, 56] uint8: seeded noise with the patch at column 9, row 7, so its keypoint is
    /// (9 + 15.5, 7 + 15.5) and every sample lands on a pixel centre; keypoints [count, 1, 2].
    /// </summary>
    public static (Tensor images, Tensor keypoints) Embedded(IReadOnlyList<PHashFixture> fixtures)
    {
        const int h = 48, w = 56, x0 = 9, y0 = 7;
        var rng = new Random(5);
        var pixels = new byte[fixtures.Count * h * w];
        rng.NextBytes(pixels);
        for (int p = 0; p < fixtures.Count; p++)
            for (int r = 0; r < 32; r++)
                Array.Copy(fixtures[p].Pixels, r * 32, pixels, p * h * w + (y0 + r) * w + x0, 32);
        var keypoints = Enumerable.Range(0, fixtures.Count).SelectMany(_ => new[] { x0 + 15.5f, y0 + 15.5f }).ToArray();
        return (torch.tensor(pixels, [fixtures.Count, 1, h, w]), torch.tensor(keypoints, [fixtures.Count, 1, 2]));
    }
}

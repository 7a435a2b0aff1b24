namespace LocalFeat.Torch;

public enum DeviceType { CPU = 0, CUDA = 1 }

/// <summary>A device: "cpu", "cuda" or "cuda:N".</summary>
public readonly record struct Device(DeviceType Type, int Index = -1)
{
    public static readonly Device CPU = new(DeviceType.CPU);
    public static Device CUDA(int index = 0) => new(DeviceType.CUDA, index);

    public static Device Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text == "cpu") return CPU;
        if (text == "cuda") return CUDA(0);
        if (text.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(text.AsSpan(5), out int i) && i >= 0) return CUDA(i);
        throw new ArgumentException($"device must be 'cpu', 'cuda' or 'cuda:N', got '{text}'", nameof(text));
    }

    public override string ToString() => Type == DeviceType.CPU ? "cpu" : $"cuda:{Math.Max(Index, 0)}";

    public static implicit operator Device(string text) => Parse(text);
}

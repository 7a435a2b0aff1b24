using static TorchSharp.torch;

namespace LocalFeat.Train;

/// <summary>Tensor elements as a .NET array.</summary>
internal static class TensorValues
{
    /// <summary>
    /// The elements of a CPU tensor in memory order (made contiguous); empty for an empty tensor, where TorchSharp's
    /// <c>data&lt;T&gt;().ToArray()</c> throws (0.107: ArgumentOutOfRangeException 'startingIndex').
    /// </summary>
    public static T[] Values<T>(this Tensor t) where T : unmanaged
    {
        if (t.numel() == 0) return [];
        using var c = t.cpu().contiguous();
        return c.data<T>().ToArray();
    }
}

using TorchSharp;
using static TorchSharp.torch;

namespace LocalFeat.Ops;

/// <summary>Input checks shared by the ops; every failure names the argument, the expectation and what came.</summary>
internal static class Validate
{
    public static string Describe(Tensor t) =>
        t.IsInvalid ? "a disposed tensor" : $"{t.dtype} [{string.Join(", ", t.shape)}] on {t.device}{(t.is_contiguous() ? "" : " (non-contiguous)")}";

    /// <summary>A contiguous tensor of <paramref name="dtype"/> with <paramref name="rank"/> dimensions; returns its shape.</summary>
    public static long[] Tensor(Tensor? t, string name, ScalarType dtype, int rank, string shapeText)
    {
        if (t is null) throw new ArgumentNullException(name, $"expected a {dtype} tensor {shapeText}");
        if (t.IsInvalid) throw new ArgumentException($"argument '{name}': expected a {dtype} tensor {shapeText}, got a disposed tensor", name);
        var shape = t.shape;
        if (t.dtype != dtype || shape.Length != rank || !t.is_contiguous())
            throw new ArgumentException($"argument '{name}': expected a contiguous {dtype} tensor {shapeText}, got {Describe(t)}", name);
        return shape;
    }

    public static void Dim(long actual, long expected, string name, string what)
    {
        if (actual != expected) throw new ArgumentException($"argument '{name}': expected {what} = {expected}, got {actual}", name);
    }

    public static void SameDevice(Tensor reference, string referenceName, Tensor t, string name)
    {
        // Device is a class without value equality: compare type and index.
        if (t.device_type != reference.device_type || t.device_index != reference.device_index)
            throw new ArgumentException($"argument '{name}': expected device {reference.device} (as '{referenceName}'), got {t.device}", name);
    }

    /// <summary>NaN or ±Inf would make the selection undefined: rejected up front.</summary>
    public static void Finite(Tensor t, string name)
    {
        if (t.numel() == 0) return;
        using var scope = torch.NewDisposeScope();
        if (!t.isfinite().all().item<bool>())
            throw new ArgumentException($"argument '{name}': expected finite values, got NaN or Inf", name);
    }

    /// <summary>Cpu backend: CPU tensors only.</summary>
    public static void OnCpu(Tensor t, string name, Backend backend)
    {
        if (t.is_cuda) throw new ArgumentException($"argument '{name}': the {backend} backend needs a CPU tensor, got {t.device}", name);
    }
}

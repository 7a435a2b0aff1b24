using LocalFeat.Torch;

namespace LocalFeat.Ops;

public static partial class HardestNegatives
{
    internal static (Tensor index, Tensor distance) KernelForward(Tensor anchors, Tensor candidates, Tensor anchorPos, Tensor candidatePos, float radius, SafeWindow window) =>
        throw new NotSupportedException("HardestNegatives: the Kernel backend is not built yet");
    internal static (Tensor gradAnchors, Tensor gradCandidates) KernelBackward(Tensor anchors, Tensor candidates, Tensor index, Tensor gradDistance) =>
        throw new NotSupportedException("HardestNegatives: the Kernel backend is not built yet");
}

using LocalFeat.Torch;

namespace LocalFeat.Ops;

public static partial class InBatchHardestNegatives
{
    internal static (Tensor index, Tensor similarity) KernelForward(Tensor anchors, Tensor positives, Tensor group, int k, NegativeScope scope) =>
        throw new NotSupportedException("InBatchHardestNegatives: the Kernel backend is not built yet");
    internal static (Tensor gradAnchors, Tensor gradPositives) KernelBackward(Tensor anchors, Tensor positives, Tensor index, Tensor gradSimilarity) =>
        throw new NotSupportedException("InBatchHardestNegatives: the Kernel backend is not built yet");
}

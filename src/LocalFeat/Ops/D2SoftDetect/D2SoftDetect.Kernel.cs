using LocalFeat.Torch;

namespace LocalFeat.Ops;

public static partial class D2SoftDetect
{
    internal static Tensor KernelForward(Tensor features, double eps) => throw new NotSupportedException("D2SoftDetect: the Kernel backend is not built yet");
    internal static Tensor KernelBackward(Tensor features, Tensor grad, double eps) => throw new NotSupportedException("D2SoftDetect: the Kernel backend is not built yet");
}

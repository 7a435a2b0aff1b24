using LocalFeat.Ops;

namespace LocalFeat.Tests.Ops;

/// <summary>
/// Sets <see cref="OpChecks.CheckValues"/> until disposed, then restores it. The switch is process-wide: tests using
/// this belong to the serial collection.
/// </summary>
internal sealed class ValueChecksScope : IDisposable
{
    private readonly ValueChecks _previous = OpChecks.CheckValues;

    public ValueChecksScope(ValueChecks value) => OpChecks.CheckValues = value;

    public void Dispose() => OpChecks.CheckValues = _previous;
}

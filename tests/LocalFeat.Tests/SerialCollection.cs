using Xunit;

namespace LocalFeat.Tests;

/// <summary>
/// Tests that measure process-wide quantities (resident memory, live autograd contexts) run alone:
/// xunit runs this collection after the parallel ones, with nothing beside it.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SerialCollection
{
    public const string Name = "Serial (process-wide measurements)";
}

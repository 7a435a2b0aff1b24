namespace LocalFeat.Train.Distributed;

/// <summary>A collective or the rendezvous failed: a peer died or hung (timeout), a port is in use, the store is unreachable.</summary>
public sealed class DistributedException(string message, Exception? inner = null) : Exception(message, inner);

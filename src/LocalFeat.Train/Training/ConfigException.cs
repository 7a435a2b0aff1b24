namespace LocalFeat.Train.Training;

/// <summary>A setting that is out of range, of the wrong type or unknown; the message names key, expected and received.</summary>
public sealed class ConfigException(string message, Exception? inner = null) : Exception(message, inner);

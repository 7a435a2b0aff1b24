namespace LocalFeat.Train.Training;

/// <summary>Another process trains into the run folder; the message names the folder and the holder.</summary>
public sealed class RunFolderInUseException(string message) : IOException(message);

namespace LocalFeat.Train.Reporting;

/// <summary>A named polyline of a chart.</summary>
public sealed record Series(string Name, (byte r, byte g, byte b) Color, double[] X, double[] Y);

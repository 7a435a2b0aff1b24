namespace LocalFeat.Train.Data.Scenes;

/// <summary>One view of a scene pair before augmentation: its camera and its exact depth map.</summary>
public sealed record SceneView(PinholeCamera Camera, DepthMap Depth);

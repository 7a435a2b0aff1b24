namespace LocalFeat.Train.Vision;

/// <summary>The OpenCV baselines.</summary>
public enum ClassicalFeature
{
    /// <summary>cv::SIFT, float32 [N,128] descriptors.</summary>
    Sift,
    /// <summary>cv::ORB, bit-packed uint8 [N,32] descriptors.</summary>
    Orb,
}

namespace LocalFeat.Features;

/// <summary>How descriptors are compared.</summary>
public enum DescriptorMetric
{
    /// <summary>Euclidean distance of float descriptors [N,D].</summary>
    L2,
    /// <summary>Hamming distance of bit-packed uint8 descriptors [N,B] (ORB, BRIEF): 8·B bits, least significant first.</summary>
    Hamming,
}

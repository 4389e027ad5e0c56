import Torch

/// Per-channel mean and standard deviation of a dataset's training images (pixel values in [0, 1]).
/// Images are normalised as (x - mean) / std per channel (docs/datasets.md lists the values).
public struct ImageStatistics: Sendable, Equatable {
    public var mean: [Float]
    public var std: [Float]

    public init(mean: [Float], std: [Float]) {
        self.mean = mean
        self.std = std
    }

    /// No normalisation: pixels stay in [0, 1].
    public static func identity(channels: Int) -> ImageStatistics {
        ImageStatistics(mean: [Float](repeating: 0, count: channels), std: [Float](repeating: 1, count: channels))
    }

    /// Normalises `images` [N, C, H, W] (float32) in place, one channel view at a time (no
    /// full-size temporaries: CIFAR's training set is 600 MB as floats), and returns it.
    public func normalize(_ images: Tensor) throws -> Tensor {
        guard images.rank == 4, images.shape[1] == mean.count else {
            throw PluginError("normalisation expects [N, \(mean.count), H, W], got \(images.shape)")
        }
        for c in 0..<mean.count {
            let channel = try images.select(dim: 1, c)
            try channel.mul_(Double(1 / std[c]))
            try channel.add_(Tensor(scalar: -mean[c] / std[c]))
        }
        return images
    }

    /// The value a black (0) pixel has after normalisation, per channel.
    public var normalizedZero: [Float] { zip(mean, std).map { -$0 / $1 } }
}

import FedKit
import Torch

/// G(z, y) of FedBKD (FedGen style): noise z [N, noise_dim] concatenated with a learned label
/// embedding [N, embedding_dim] -> Linear(hidden) -> BatchNorm -> ReLU -> Linear(prod(shape)),
/// reshaped to [N] + shape. State names: `embedding.weight`, `trunk.0.*` ... `trunk.3.*`.
public final class ConditionalGeneratorNetwork: Layer {
    public let noiseDim: Int
    public let classes: Int
    /// The shape of one generated sample.
    public let sampleShape: [Int]
    public let embedding: Embedding
    /// Linear - BatchNorm - ReLU - Linear, applied to [z, embedding(y)].
    public let trunk: Sequential

    public init(
        noiseDim: Int, embeddingDim: Int, hidden: Int, classes: Int, sampleShape: [Int],
        generator g: RandomGenerator
    ) throws {
        self.noiseDim = noiseDim
        self.classes = classes
        self.sampleShape = sampleShape
        embedding = try Embedding(vocabulary: classes, dimension: embeddingDim, generator: g)
        trunk = Sequential([
            try Linear(noiseDim + embeddingDim, hidden, generator: g),
            try BatchNorm(hidden),
            Activation.relu,
            try Linear(hidden, sampleShape.reduce(1, *), generator: g),
        ])
    }

    public var children: [(name: String, layer: any Layer)] { [("embedding", embedding), ("trunk", trunk)] }

    /// The trunk alone, for input that is already [z, embedding(y)].
    public func forward(_ x: Tensor) throws -> Tensor { try trunk.forward(x) }

    /// Samples [N] + sampleShape for noise [N, noise_dim] and int64 labels [N].
    public func generate(noise: Tensor, labels: Tensor) throws -> Tensor {
        guard noise.rank == 2, noise.shape[1] == noiseDim, labels.rank == 1, labels.shape[0] == noise.shape[0] else {
            throw PluginError(
                "generator: expected noise [N, \(noiseDim)] and labels [N], got \(noise.shape) and \(labels.shape)")
        }
        let input = try Tensor.cat([noise, embedding.forward(labels)], dim: 1)
        return try trunk.forward(input).reshaped([noise.shape[0]] + sampleShape)
    }
}

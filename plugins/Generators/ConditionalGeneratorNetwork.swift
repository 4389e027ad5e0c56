import FedKit
import Torch

/// G(z, y) of FedBKD (FedGen style): noise z [N, noise_dim] concatenated with a learned label
/// embedding [N, embedding_dim] -> Linear(hidden) -> BatchNorm -> ReLU -> Linear(prod(shape)),
/// reshaped to [N] + shape, then the `output` stage. State names: `embedding.weight`,
/// `trunk.0.*` ... `trunk.3.*`, and with `tanh-batchnorm` the running statistics `output_norm.*`.
public final class ConditionalGeneratorNetwork: Layer {
    /// What turns the last Linear's output into a sample.
    public enum Output: String, CaseIterable, Sendable {
        /// The Linear's output as it is (FedBKD's published generator): unbounded.
        case linear
        /// tanh, then batch norm without learned scale or shift over dimension 1 of [N] + shape
        /// (the channels of an image): the last stage of the data-free distillation generators
        /// (DAFL, DFAD's `GeneratorA`: `nn.Tanh(), nn.BatchNorm2d(nc, affine=False)`). Samples
        /// keep the scale of standardised data whatever G learns.
        case tanhBatchNorm = "tanh-batchnorm"
    }

    public let noiseDim: Int
    public let classes: Int
    /// The shape of one generated sample.
    public let sampleShape: [Int]
    public let output: Output
    public let embedding: Embedding
    /// Linear - BatchNorm - ReLU - Linear, applied to [z, embedding(y)].
    public let trunk: Sequential
    /// The batch norm of `tanh-batchnorm` (no parameters; running statistics only).
    public let outputNorm: BatchNorm?

    public init(
        noiseDim: Int, embeddingDim: Int, hidden: Int, classes: Int, sampleShape: [Int],
        output: Output = .linear, generator g: RandomGenerator
    ) throws {
        self.noiseDim = noiseDim
        self.classes = classes
        self.sampleShape = sampleShape
        self.output = output
        embedding = try Embedding(vocabulary: classes, dimension: embeddingDim, generator: g)
        trunk = Sequential([
            try Linear(noiseDim + embeddingDim, hidden, generator: g),
            try BatchNorm(hidden),
            Activation.relu,
            try Linear(hidden, sampleShape.reduce(1, *), generator: g),
        ])
        switch output {
        case .linear: outputNorm = nil
        case .tanhBatchNorm:
            guard let channels = sampleShape.first else {
                throw PluginError("generator: output tanh-batchnorm needs a sample shape with at least one dimension")
            }
            outputNorm = try BatchNorm(channels, affine: false)
        }
    }

    public var children: [(name: String, layer: any Layer)] {
        [("embedding", embedding), ("trunk", trunk)] + (outputNorm.map { [("output_norm", $0)] } ?? [])
    }

    /// Samples [N] + sampleShape for input that is already [z, embedding(y)].
    public func forward(_ x: Tensor) throws -> Tensor {
        let sample = try trunk.forward(x).reshaped([x.shape[0]] + sampleShape)
        guard let outputNorm else { return sample }
        return try outputNorm.forward(F.tanh(sample))
    }

    /// Samples [N] + sampleShape for noise [N, noise_dim] and int64 labels [N].
    public func generate(noise: Tensor, labels: Tensor) throws -> Tensor {
        guard noise.rank == 2, noise.shape[1] == noiseDim, labels.rank == 1, labels.shape[0] == noise.shape[0] else {
            throw PluginError(
                "generator: expected noise [N, \(noiseDim)] and labels [N], got \(noise.shape) and \(labels.shape)")
        }
        return try forward(Tensor.cat([noise, embedding.forward(labels)], dim: 1))
    }
}

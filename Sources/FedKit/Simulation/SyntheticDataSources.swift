import Foundation
import Torch

/// A generator as a distiller's sample source.
public struct GeneratorSource: SyntheticDataSource {
    public let generator: any GeneratorPlugin
    public init(generator: any GeneratorPlugin) { self.generator = generator }
    public func sample(labels: Tensor, generator rng: RandomGenerator) throws -> Tensor {
        try generator.sample(labels: labels, generator: rng)
    }
}

/// Plain Gaussian noise in the input space (the `fedbkd-noise` ablation: no generator).
public struct GaussianNoiseSource: SyntheticDataSource {
    public let shape: [Int]
    public init(shape: [Int]) { self.shape = shape }
    public func sample(labels: Tensor, generator: RandomGenerator) throws -> Tensor {
        try Tensor.randn([labels.shape[0]] + shape, generator: generator)
    }
}

/// Inverted dropout drawing from an explicit generator (the model's), active in training mode only.
public final class Dropout: Layer {
    public let probability: Double
    let generator: RandomGenerator
    public private(set) var training = true

    public init(_ probability: Double, generator: RandomGenerator) {
        self.probability = probability
        self.generator = generator
    }

    public func setTraining(_ training: Bool) { self.training = training }

    public func forward(_ x: Tensor) throws -> Tensor {
        try F.dropout(x, p: probability, training: training, generator: generator)
    }
}

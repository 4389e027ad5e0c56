/// A lookup table from int64 token ids to vectors, initialised N(0, 1) as in PyTorch.
public final class Embedding: Layer {
    public let weight: Tensor

    public init(vocabulary: Int, dimension: Int, generator: RandomGenerator) throws {
        weight = try Tensor.randn([vocabulary, dimension], generator: generator).requiringGrad()
    }

    public var localParameters: [(name: String, tensor: Tensor)] { [("weight", weight)] }

    public func forward(_ x: Tensor) throws -> Tensor { try F.embedding(x, weight: weight) }
}

/// Fully connected layer: y = x W^T + b.
public final class Linear: Layer {
    public let weight: Tensor
    public let bias: Tensor?

    public init(_ inputs: Int, _ outputs: Int, bias: Bool = true, generator: RandomGenerator) throws {
        weight = try Initialise.uniformFanIn([outputs, inputs], fanIn: inputs, generator: generator)
        self.bias = bias ? try Initialise.uniformFanIn([outputs], fanIn: inputs, generator: generator) : nil
    }

    public var localParameters: [(name: String, tensor: Tensor)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }

    public func forward(_ x: Tensor) throws -> Tensor { try F.linear(x, weight: weight, bias: bias) }
}

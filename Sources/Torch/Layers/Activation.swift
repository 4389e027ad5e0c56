/// Parameter-free element-wise non-linearities.
public final class Activation: Layer {
    public enum Kind: Sendable { case relu, leakyRelu(Double), tanh, sigmoid }
    public let kind: Kind

    public init(_ kind: Kind) { self.kind = kind }

    public static var relu: Activation { Activation(.relu) }

    public func forward(_ x: Tensor) throws -> Tensor {
        switch kind {
        case .relu: return try F.relu(x)
        case .leakyRelu(let slope): return try F.leakyRelu(x, slope: slope)
        case .tanh: return try F.tanh(x)
        case .sigmoid: return try F.sigmoid(x)
        }
    }
}

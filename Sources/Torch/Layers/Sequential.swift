/// Layers applied one after another; children are named "0", "1", ...
public final class Sequential: Layer {
    public let layers: [any Layer]

    public init(_ layers: [any Layer]) { self.layers = layers }

    public var children: [(name: String, layer: any Layer)] {
        layers.enumerated().map { (name: String($0.offset), layer: $0.element) }
    }

    public func forward(_ x: Tensor) throws -> Tensor { try forward(x, startingAt: 0) }

    /// Applies layers `start...` only (e.g. to skip an embedding for pre-embedded input).
    public func forward(_ x: Tensor, startingAt start: Int) throws -> Tensor {
        var y = x
        for layer in layers[start...] { y = try layer.forward(y) }
        return y
    }
}

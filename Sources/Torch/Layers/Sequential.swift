/// Layers applied one after another; children are named "0", "1", ...
public final class Sequential: Layer {
    public let layers: [any Layer]

    public init(_ layers: [any Layer]) { self.layers = layers }

    public var children: [(name: String, layer: any Layer)] {
        layers.enumerated().map { (name: String($0.offset), layer: $0.element) }
    }

    public func forward(_ x: Tensor) throws -> Tensor { try forward(x, startingAt: 0) }

    /// Applies layers `start...` only (e.g. to skip an embedding for pre-embedded input).
    ///
    /// A ReLU followed by max pooling runs as one fused op (`F.reluMaxPool2d`: the same values and
    /// gradients in one pass instead of six).
    public func forward(_ x: Tensor, startingAt start: Int) throws -> Tensor {
        var y = x
        var i = start
        while i < layers.count {
            if i + 1 < layers.count, let pool = Self.reluThenMaxPool(layers[i], layers[i + 1]) {
                y = try F.reluMaxPool2d(y, kernel: pool.kernel, stride: pool.stride)
                i += 2
            } else {
                y = try layers[i].forward(y)
                i += 1
            }
        }
        return y
    }

    /// The pooling layer when `first` is a ReLU and `second` a max pooling.
    private static func reluThenMaxPool(_ first: any Layer, _ second: any Layer) -> Pool2d? {
        guard let activation = first as? Activation, case .relu = activation.kind,
              let pool = second as? Pool2d, case .max = pool.kind else { return nil }
        return pool
    }
}

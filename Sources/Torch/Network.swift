/// A classifier split into a shared-able `body` (feature extractor) and a `head` (the
/// classifier layers), the split that personalised FL methods (FedPer, FedRep, FedBKD) use.
///
/// State names are prefixed `body.` and `head.`. The network owns the generator used by
/// its dropout layers; reseed it to make a client's local update reproducible.
public final class Network: Layer {
    public let body: Sequential
    public let head: Sequential
    public let generator: RandomGenerator
    /// How many leading body layers map raw input (e.g. token ids) into a continuous space;
    /// `forward(embedded:)` starts after them. 0 for models whose input is already continuous.
    public let encoderLayers: Int

    public init(body: [any Layer], head: [any Layer], generator: RandomGenerator, encoderLayers: Int = 0) {
        self.body = Sequential(body)
        self.head = Sequential(head)
        self.generator = generator
        self.encoderLayers = encoderLayers
    }

    public var children: [(name: String, layer: any Layer)] { [("body", body), ("head", head)] }

    public func forward(_ x: Tensor) throws -> Tensor { try head.forward(body.forward(x)) }

    /// The body's output (penultimate features).
    public func features(_ x: Tensor) throws -> Tensor { try body.forward(x) }

    /// Logits for input that is already in the encoder's output space (e.g. embedding vectors).
    public func forward(embedded x: Tensor) throws -> Tensor {
        try head.forward(body.forward(x, startingAt: encoderLayers))
    }

    /// Maps raw input through the encoder layers only (identity when there are none).
    public func encode(_ x: Tensor) throws -> Tensor {
        var y = x
        for layer in body.layers.prefix(encoderLayers) { y = try layer.forward(y) }
        return y
    }
}

/// A neural-network building block with named parameters and buffers.
///
/// Layers are reference types: parameters are tensors updated in place by optimisers and
/// by `load(_:)`, so a model can be reused across clients without re-allocation.
public protocol Layer: AnyObject {
    /// Parameters owned directly by this layer, in a fixed order.
    var localParameters: [(name: String, tensor: Tensor)] { get }
    /// Non-trainable state owned directly by this layer (e.g. batch-norm running statistics).
    var localBuffers: [(name: String, tensor: Tensor)] { get }
    /// Sub-layers, in a fixed order; their entries are prefixed with `name.`.
    var children: [(name: String, layer: any Layer)] { get }
    /// Switches train/eval behaviour of this layer and its children (dropout, batch norm).
    func setTraining(_ training: Bool)
    /// Applies the layer.
    func forward(_ x: Tensor) throws -> Tensor
}

extension Layer {
    public var localParameters: [(name: String, tensor: Tensor)] { [] }
    public var localBuffers: [(name: String, tensor: Tensor)] { [] }
    public var children: [(name: String, layer: any Layer)] { [] }
    public func setTraining(_ training: Bool) { children.forEach { $0.layer.setTraining(training) } }

    public func callAsFunction(_ x: Tensor) throws -> Tensor { try forward(x) }

    /// All trainable parameters with dotted names, e.g. `body.0.weight`.
    public var namedParameters: [(name: String, tensor: Tensor)] {
        localParameters
            + children.flatMap { child in
                child.layer.namedParameters.map { (name: "\(child.name).\($0.name)", tensor: $0.tensor) }
            }
    }

    /// All buffers with dotted names.
    public var namedBuffers: [(name: String, tensor: Tensor)] {
        localBuffers
            + children.flatMap { child in
                child.layer.namedBuffers.map { (name: "\(child.name).\($0.name)", tensor: $0.tensor) }
            }
    }

    public var parameters: [Tensor] { namedParameters.map(\.tensor) }

    /// Total number of trainable scalars.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }

    /// Drops every parameter's gradient.
    public func zeroGrad() throws { for p in parameters { try p.zeroGrad() } }

    /// Parameters and buffers, sharing storage with the layer (see `StateDict.copy()` for a snapshot).
    public func stateDict() -> StateDict { StateDict(namedParameters + namedBuffers) }

    /// Copies every entry of `state` into this layer's tensors in place. With `strict`, the
    /// names must match exactly; otherwise entries absent from `state` keep their values.
    public func load(_ state: StateDict, strict: Bool = true) throws {
        try withoutGrad { try stateDict().copyValues(from: state, strict: strict) }
    }
}

/// Initialisation helpers matching PyTorch's defaults.
enum Initialise {
    /// U(-1/sqrt(fanIn), 1/sqrt(fanIn)): PyTorch's default for Linear, Conv and LSTM.
    static func uniformFanIn(_ shape: [Int], fanIn: Int, generator: RandomGenerator) throws -> Tensor {
        let bound = 1 / Double(max(1, fanIn)).squareRoot()
        let t = try Tensor.zeros(shape)
        try t.uniform_(-bound, bound, generator: generator)
        return try t.requiringGrad()
    }
}

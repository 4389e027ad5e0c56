/// Parameters that share optimiser settings (e.g. weight decay only on weights).
public struct ParameterGroup: @unchecked Sendable {
    public var parameters: [Tensor]
    public var weightDecay: Double

    public init(_ parameters: [Tensor], weightDecay: Double = 0) {
        self.parameters = parameters
        self.weightDecay = weightDecay
    }

    /// Two groups: weights (rank >= 2) with `weightDecay`, and biases / norm parameters without.
    public static func decayingWeightsOnly(_ parameters: [Tensor], weightDecay: Double) -> [ParameterGroup] {
        [
            ParameterGroup(parameters.filter { $0.rank >= 2 }, weightDecay: weightDecay),
            ParameterGroup(parameters.filter { $0.rank < 2 }, weightDecay: 0),
        ]
    }
}

/// Updates parameters from their accumulated gradients.
public protocol Optimizer: AnyObject {
    /// Applies one update with the current gradients.
    func step() throws
    /// The parameters being optimised, in group order.
    var parameters: [Tensor] { get }
}

extension Optimizer {
    /// Drops all gradients (set-to-none semantics).
    public func zeroGrad() throws { for p in parameters { try p.zeroGrad() } }
}

import CTorch

/// Stochastic gradient descent with momentum, as `torch.optim.SGD`.
public final class SGD: Optimizer {
    public let groups: [ParameterGroup]
    public var learningRate: Double
    public let momentum: Double
    public let dampening: Double
    public let nesterov: Bool
    private var buffers: [Tensor?]
    private var started = false

    public init(
        _ groups: [ParameterGroup], learningRate: Double, momentum: Double = 0, dampening: Double = 0,
        nesterov: Bool = false
    ) throws {
        self.groups = groups
        self.learningRate = learningRate
        self.momentum = momentum
        self.dampening = dampening
        self.nesterov = nesterov
        buffers = try groups.flatMap(\.parameters).map { momentum != 0 ? try $0.zerosLike() : nil }
    }

    public convenience init(
        _ parameters: [Tensor], learningRate: Double, momentum: Double = 0, weightDecay: Double = 0
    ) throws {
        try self.init(
            [ParameterGroup(parameters, weightDecay: weightDecay)], learningRate: learningRate, momentum: momentum)
    }

    public var parameters: [Tensor] { groups.flatMap(\.parameters) }

    public func step() throws {
        var i = 0
        for group in groups {
            for p in group.parameters {
                let buffer = buffers[i]
                try Tensor.check("sgd", [p] + (buffer.map { [$0] } ?? [])) {
                    ft_sgd_update(
                        p.handle.pointer, buffer?.handle.pointer, learningRate, momentum, dampening,
                        group.weightDecay, nesterov, !started)
                }
                i += 1
            }
        }
        started = true
    }
}

import CTorch

/// Adam, or AdamW with `decoupledWeightDecay`, as in `torch.optim`.
public final class Adam: Optimizer {
    public let groups: [ParameterGroup]
    public var learningRate: Double
    public let beta1: Double
    public let beta2: Double
    public let eps: Double
    public let decoupledWeightDecay: Bool
    private let moments: [(m: Tensor, v: Tensor)]
    private var stepCount = 0

    public init(_ groups: [ParameterGroup], learningRate: Double = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999,
                eps: Double = 1e-8, decoupledWeightDecay: Bool = false) throws {
        self.groups = groups
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.decoupledWeightDecay = decoupledWeightDecay
        moments = try groups.flatMap(\.parameters).map { (try $0.zerosLike(), try $0.zerosLike()) }
    }

    public var parameters: [Tensor] { groups.flatMap(\.parameters) }

    public func step() throws {
        stepCount += 1
        var i = 0
        for group in groups {
            for p in group.parameters {
                let (m, v) = moments[i]
                try Tensor.check("adam", [p, m, v]) {
                    ft_adam_update(p.handle.pointer, m.handle.pointer, v.handle.pointer, Int64(stepCount), learningRate,
                                   beta1, beta2, eps, group.weightDecay, decoupledWeightDecay)
                }
                i += 1
            }
        }
    }
}

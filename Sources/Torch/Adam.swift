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

    public init(
        _ groups: [ParameterGroup], learningRate: Double = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999,
        eps: Double = 1e-8, decoupledWeightDecay: Bool = false
    ) throws {
        self.groups = groups
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.decoupledWeightDecay = decoupledWeightDecay
        moments = try groups.flatMap(\.parameters).map { (try $0.zerosLike(), try $0.zerosLike()) }
    }

    public var parameters: [Tensor] { groups.flatMap(\.parameters) }

    /// Steps taken so far (Adam's bias correction depends on it).
    public var steps: Int { stepCount }

    /// Copies of the first and second moment estimates, one pair per parameter in order.
    public func momentCopies() throws -> [(m: Tensor, v: Tensor)] {
        try moments.map { (try $0.m.clone(), try $0.v.clone()) }
    }

    /// Restores moments and the step count saved by `momentCopies()` / `steps` (exact resume).
    public func restore(moments saved: [(m: Tensor, v: Tensor)], steps: Int) throws {
        guard saved.count == moments.count, steps >= 0 else {
            throw TorchError(
                "adam", "expected \(moments.count) moment pairs and a step count >= 0, got \(saved.count) and \(steps)")
        }
        for (mine, theirs) in zip(moments, saved) {
            guard mine.m.shape == theirs.m.shape, mine.v.shape == theirs.v.shape else {
                throw TorchError(
                    "adam", "moment shape \(theirs.m.shape) does not match parameter shape \(mine.m.shape)")
            }
            try mine.m.copy_(theirs.m)
            try mine.v.copy_(theirs.v)
        }
        stepCount = steps
    }

    public func step() throws {
        stepCount += 1
        var i = 0
        for group in groups {
            for p in group.parameters {
                let (m, v) = moments[i]
                try Tensor.check("adam", [p, m, v]) {
                    ft_adam_update(
                        p.handle.pointer, m.handle.pointer, v.handle.pointer, Int64(stepCount), learningRate,
                        beta1, beta2, eps, group.weightDecay, decoupledWeightDecay)
                }
                i += 1
            }
        }
    }
}

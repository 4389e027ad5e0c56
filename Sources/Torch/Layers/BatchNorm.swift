/// Batch normalisation over the channel dimension of [N, C] (1-d) or [N, C, H, W] (2-d) input,
/// with running statistics used in eval mode.
public final class BatchNorm: Layer {
    public let weight: Tensor
    public let bias: Tensor
    public let runningMean: Tensor
    public let runningVar: Tensor
    public let momentum: Double
    public let eps: Double
    /// Whether `weight` and `bias` are learned parameters; without them (torch's `affine=False`)
    /// the output is only normalised: weight 1 and bias 0, neither a parameter nor saved.
    public let affine: Bool
    public private(set) var training = true

    public init(_ features: Int, momentum: Double = 0.1, eps: Double = 1e-5, affine: Bool = true) throws {
        weight = affine ? try Tensor.ones([features]).requiringGrad() : try Tensor.ones([features])
        bias = affine ? try Tensor.zeros([features]).requiringGrad() : try Tensor.zeros([features])
        runningMean = try Tensor.zeros([features])
        runningVar = try Tensor.ones([features])
        self.momentum = momentum
        self.eps = eps
        self.affine = affine
    }

    public var localParameters: [(name: String, tensor: Tensor)] { affine ? [("weight", weight), ("bias", bias)] : [] }
    public var localBuffers: [(name: String, tensor: Tensor)] {
        [("running_mean", runningMean), ("running_var", runningVar)]
    }
    public func setTraining(_ training: Bool) { self.training = training }

    public func forward(_ x: Tensor) throws -> Tensor {
        try F.batchNorm(
            x, weight: affine ? weight : nil, bias: affine ? bias : nil, runningMean: runningMean, runningVar: runningVar,
            training: training, momentum: momentum, eps: eps)
    }
}

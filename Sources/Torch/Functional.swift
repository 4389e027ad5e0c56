import CTorch

/// Neural-network operations, differentiable through autograd.
public enum F {
    /// y = x W^T + b.
    public static func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) throws -> Tensor {
        guard x.rank >= 1, x.shape.last == weight.shape.last else {
            throw TorchError(
                "linear",
                "input \(Tensor.describe(shape: x.shape)) does not match weight \(Tensor.describe(shape: weight.shape)): expected last input dimension \(weight.shape.last ?? 0)"
            )
        }
        return try Tensor.make("linear", [x, weight] + (bias.map { [$0] } ?? [])) {
            x.withHandle { xh in weight.withHandle { wh in ft_linear(xh, wh, bias?.handle.pointer) } }
        }
    }

    /// 2-d convolution of [N, C, H, W] input with [O, C/groups, kH, kW] weights.
    public static func conv2d(
        _ x: Tensor, weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Int = 0,
        dilation: Int = 1, groups: Int = 1
    ) throws -> Tensor {
        guard x.rank == 4 else {
            throw TorchError("conv2d", "expected a 4-d input [N, C, H, W], got \(Tensor.describe(shape: x.shape))")
        }
        guard weight.rank == 4 else {
            throw TorchError(
                "conv2d", "expected a 4-d weight [O, C/groups, kH, kW], got \(Tensor.describe(shape: weight.shape))")
        }
        guard x.shape[1] == weight.shape[1] * groups else {
            throw TorchError(
                "conv2d",
                "input has \(x.shape[1]) channels \(Tensor.describe(shape: x.shape)) but weight \(Tensor.describe(shape: weight.shape)) expects \(weight.shape[1] * groups)"
            )
        }
        return try Tensor.make("conv2d", [x, weight] + (bias.map { [$0] } ?? [])) {
            x.withHandle { xh in
                weight.withHandle { wh in
                    ft_conv2d(
                        xh, wh, bias?.handle.pointer, Int64(stride), Int64(padding), Int64(dilation), Int64(groups))
                }
            }
        }
    }

    /// Batched matrix product: [B, n, m] x [B, m, p] -> [B, n, p] (one product per leading index).
    public static func bmm(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        try checkBatchedProduct("bmm", a, b)
        return try Tensor.make("bmm", [a, b]) { a.withHandle { ah in b.withHandle { ft_bmm(ah, $0) } } }
    }

    /// `addend + bmm(a, b)`, the addend broadcast to [B, n, p] (e.g. stacked biases [B, 1, p]):
    /// B linear layers applied at once.
    public static func baddbmm(_ addend: Tensor, _ a: Tensor, _ b: Tensor) throws -> Tensor {
        try checkBatchedProduct("baddbmm", a, b)
        return try Tensor.make("baddbmm", [addend, a, b]) {
            addend.withHandle { ch in a.withHandle { ah in b.withHandle { ft_baddbmm(ch, ah, $0) } } }
        }
    }

    private static func checkBatchedProduct(_ op: String, _ a: Tensor, _ b: Tensor) throws {
        let sa = a.shape, sb = b.shape
        guard sa.count == 3, sb.count == 3, sa[0] == sb[0], sa[2] == sb[1] else {
            throw TorchError(
                op,
                "expected [B, n, m] and [B, m, p], got \(Tensor.describe(shape: sa)) and \(Tensor.describe(shape: sb))")
        }
    }

    public static func maxPool2d(_ x: Tensor, kernel: Int, stride: Int? = nil, padding: Int = 0) throws -> Tensor {
        try Tensor.make("max_pool2d", [x]) {
            x.withHandle { ft_max_pool2d($0, Int64(kernel), Int64(stride ?? kernel), Int64(padding)) }
        }
    }
    /// maxPool2d(relu(x)) in one kernel and one autograd node where the windows do not overlap
    /// (stride == kernel, no padding; the same values and gradients, bit for bit), the two ops
    /// otherwise.
    public static func reluMaxPool2d(_ x: Tensor, kernel: Int, stride: Int? = nil, padding: Int = 0) throws -> Tensor {
        try Tensor.make("relu_max_pool2d", [x]) {
            x.withHandle { ft_relu_max_pool2d($0, Int64(kernel), Int64(stride ?? kernel), Int64(padding)) }
        }
    }
    /// Turns reluMaxPool2d's AVX-512 kernels on (where the CPU has AVX-512F: the default) or off,
    /// process-wide, and returns whether they were on; for tests of the portable kernels.
    @discardableResult
    static func setWidePoolingKernels(_ enabled: Bool) -> Bool { ft_set_wide_pooling_kernels(enabled) }
    public static func avgPool2d(_ x: Tensor, kernel: Int, stride: Int? = nil, padding: Int = 0) throws -> Tensor {
        try Tensor.make("avg_pool2d", [x]) {
            x.withHandle { ft_avg_pool2d($0, Int64(kernel), Int64(stride ?? kernel), Int64(padding)) }
        }
    }
    public static func adaptiveAvgPool2d(_ x: Tensor, height: Int, width: Int) throws -> Tensor {
        try Tensor.make("adaptive_avg_pool2d", [x]) {
            x.withHandle { ft_adaptive_avg_pool2d($0, Int64(height), Int64(width)) }
        }
    }

    public static func relu(_ x: Tensor) throws -> Tensor { try x.unary(FT_RELU, "relu") }
    public static func sigmoid(_ x: Tensor) throws -> Tensor { try x.unary(FT_SIGMOID, "sigmoid") }
    public static func tanh(_ x: Tensor) throws -> Tensor { try x.unary(FT_TANH, "tanh") }
    public static func leakyRelu(_ x: Tensor, slope: Double = 0.01) throws -> Tensor {
        try Tensor.make("leaky_relu", [x]) { x.withHandle { ft_leaky_relu($0, slope) } }
    }

    /// Inverted dropout with an explicit generator; identity when not training or p == 0.
    public static func dropout(_ x: Tensor, p: Double, training: Bool, generator: RandomGenerator) throws -> Tensor {
        guard (0..<1).contains(p) else { throw TorchError("dropout", "p must be in [0, 1), got \(p)") }
        guard training, p > 0 else { return x }
        let keep = try Tensor.full(x.shape, 1 - p).bernoulli(generator: generator)
        return try x * keep * (1 / (1 - p))
    }

    /// Batch normalisation over [N, C] or [N, C, ...]; updates running statistics in training mode.
    public static func batchNorm(
        _ x: Tensor, weight: Tensor?, bias: Tensor?, runningMean: Tensor?, runningVar: Tensor?,
        training: Bool, momentum: Double = 0.1, eps: Double = 1e-5
    ) throws -> Tensor {
        guard x.rank >= 2 else {
            throw TorchError("batch_norm", "expected an input [N, C, ...], got \(Tensor.describe(shape: x.shape))")
        }
        let operands = [x] + [weight, bias, runningMean, runningVar].compactMap { $0 }
        return try Tensor.make("batch_norm", operands) {
            x.withHandle {
                ft_batch_norm(
                    $0, weight?.handle.pointer, bias?.handle.pointer, runningMean?.handle.pointer,
                    runningVar?.handle.pointer, training, momentum, eps)
            }
        }
    }

    /// Rows of `weight` [V, D] picked by int64 `indices` of any shape.
    public static func embedding(_ indices: Tensor, weight: Tensor) throws -> Tensor {
        try Tensor.make("embedding", [weight, indices]) {
            weight.withHandle { w in indices.withHandle { ft_embedding(w, $0) } }
        }
    }

    /// A batch-first unidirectional LSTM. `parameters` holds w_ih, w_hh, b_ih, b_hh for each layer.
    /// Returns the output sequence [N, T, H] and the final hidden and cell states [layers, N, H].
    public static func lstm(
        _ x: Tensor, parameters: [Tensor], layers: Int, initial: (h: Tensor, c: Tensor)? = nil
    ) throws
        -> (output: Tensor, h: Tensor, c: Tensor)
    {
        guard x.rank == 3 else {
            throw TorchError("lstm", "expected a 3-d input [N, T, features], got \(Tensor.describe(shape: x.shape))")
        }
        var out: OpaquePointer?, h: OpaquePointer?, c: OpaquePointer?
        let operands = [x] + parameters + (initial.map { [$0.h, $0.c] } ?? [])
        let status = withExtendedLifetime(operands) { () -> Int32 in
            let handles: [OpaquePointer?] = parameters.map { $0.handle.pointer }
            return handles.withUnsafeBufferPointer {
                ft_lstm(
                    x.handle.pointer, initial?.h.handle.pointer, initial?.c.handle.pointer,
                    $0.baseAddress, Int32($0.count), Int32(layers), &out, &h, &c)
            }
        }
        guard status == 0, let out, let h, let c else { throw TorchError.fromShim("lstm", operands: [x] + parameters) }
        return (Tensor(owning: out), Tensor(owning: h), Tensor(owning: c))
    }

    public static func logSoftmax(_ x: Tensor, dim: Int = -1) throws -> Tensor {
        try Tensor.make("log_softmax", [x]) { x.withHandle { ft_log_softmax($0, Int64(dim)) } }
    }
    public static func softmax(_ x: Tensor, dim: Int = -1) throws -> Tensor {
        try Tensor.make("softmax", [x]) { x.withHandle { ft_softmax($0, Int64(dim)) } }
    }
}

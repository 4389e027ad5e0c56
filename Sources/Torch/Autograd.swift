import CTorch

// Reverse-mode automatic differentiation (ATen's autograd engine).
extension Tensor {
    /// Whether gradients are recorded for this tensor.
    public var requiresGrad: Bool { withHandle { ft_requires_grad($0) } }

    /// Marks this tensor as a leaf that accumulates gradients (returns self for chaining).
    @discardableResult
    public func requiringGrad(_ flag: Bool = true) throws -> Tensor {
        try Tensor.check("requires_grad", [self]) { withHandle { ft_set_requires_grad($0, flag) } }
        return self
    }

    /// The accumulated gradient, or nil before the first backward pass.
    public var grad: Tensor? {
        withHandle { h in ft_grad(h).map { Tensor(owning: $0) } }
    }

    /// Drops the accumulated gradient (like `zero_grad(set_to_none=True)`).
    public func zeroGrad() throws { try Tensor.check("zero_grad", [self]) { withHandle { ft_zero_grad($0) } } }

    /// Back-propagates from this scalar (or with an explicit upstream gradient).
    public func backward(_ gradient: Tensor? = nil) throws {
        if let gradient {
            try Tensor.check("backward", [self, gradient]) {
                withHandle { h in gradient.withHandle { ft_backward(h, $0) } }
            }
        } else {
            try Tensor.check("backward", [self]) { withHandle { ft_backward($0, nil) } }
        }
    }

    /// The same values, cut from the graph.
    public func detached() throws -> Tensor { try Tensor.make("detach", [self]) { withHandle { ft_detach($0) } } }
}

/// Runs `body` with gradient recording off on this thread (evaluation, in-place updates).
public func withoutGrad<R>(_ body: () throws -> R) rethrows -> R {
    let previous = ft_is_grad_enabled()
    ft_set_grad_enabled(false)
    defer { ft_set_grad_enabled(previous) }
    return try body()
}

/// Thread-count control for ATen's intra-op parallelism (OpenMP). The setting is per thread:
/// call it on each worker thread. The library default here is 1.
public enum TorchThreads {
    public static func set(_ count: Int) { ft_set_num_threads(Int32(count)) }
    public static var current: Int { Int(ft_get_num_threads()) }
}

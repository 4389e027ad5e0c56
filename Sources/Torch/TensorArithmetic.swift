import CTorch

// Element-wise arithmetic and comparisons with broadcasting, as in PyTorch.
extension Tensor {
    func binary(_ op: ft_binary_op, _ name: String, _ other: Tensor) throws -> Tensor {
        try Tensor.make(name, [self, other]) {
            withHandle { a in other.withHandle { b in ft_binary(op, a, b) } }
        }
    }

    func binary(_ op: ft_binary_op, _ name: String, _ scalar: Double) throws -> Tensor {
        try Tensor.make(name, [self]) { withHandle { ft_binary_scalar(op, $0, scalar) } }
    }

    func unary(_ op: ft_unary_op, _ name: String) throws -> Tensor {
        try Tensor.make(name, [self]) { withHandle { ft_unary(op, $0) } }
    }

    public static func + (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(FT_ADD, "add", b) }
    public static func - (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(FT_SUB, "sub", b) }
    public static func * (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(FT_MUL, "mul", b) }
    public static func / (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(FT_DIV, "div", b) }
    public static func + (a: Tensor, s: Double) throws -> Tensor { try a.binary(FT_ADD, "add", s) }
    public static func - (a: Tensor, s: Double) throws -> Tensor { try a.binary(FT_SUB, "sub", s) }
    public static func * (a: Tensor, s: Double) throws -> Tensor { try a.binary(FT_MUL, "mul", s) }
    public static func / (a: Tensor, s: Double) throws -> Tensor { try a.binary(FT_DIV, "div", s) }
    public static func + (s: Double, a: Tensor) throws -> Tensor { try a.binary(FT_ADD, "add", s) }
    public static func * (s: Double, a: Tensor) throws -> Tensor { try a.binary(FT_MUL, "mul", s) }
    public static func - (s: Double, a: Tensor) throws -> Tensor {
        try Tensor.make("rsub", [a]) { a.withHandle { ft_scalar_binary(FT_SUB, s, $0) } }
    }
    public static func / (s: Double, a: Tensor) throws -> Tensor {
        try Tensor.make("div", [a]) { a.withHandle { ft_scalar_binary(FT_DIV, s, $0) } }
    }
    public static prefix func - (a: Tensor) throws -> Tensor { try a.unary(FT_NEG, "neg") }

    public func pow(_ exponent: Double) throws -> Tensor { try binary(FT_POW, "pow", exponent) }
    public func maximum(_ other: Tensor) throws -> Tensor { try binary(FT_MAXIMUM, "maximum", other) }
    public func minimum(_ other: Tensor) throws -> Tensor { try binary(FT_MINIMUM, "minimum", other) }

    // Comparisons give bool tensors.
    public func eq(_ other: Tensor) throws -> Tensor { try binary(FT_EQ, "eq", other) }
    public func ne(_ other: Tensor) throws -> Tensor { try binary(FT_NE, "ne", other) }
    public func lt(_ other: Tensor) throws -> Tensor { try binary(FT_LT, "lt", other) }
    public func le(_ other: Tensor) throws -> Tensor { try binary(FT_LE, "le", other) }
    public func gt(_ other: Tensor) throws -> Tensor { try binary(FT_GT, "gt", other) }
    public func ge(_ other: Tensor) throws -> Tensor { try binary(FT_GE, "ge", other) }
    public func eq(_ s: Double) throws -> Tensor { try binary(FT_EQ, "eq", s) }
    public func lt(_ s: Double) throws -> Tensor { try binary(FT_LT, "lt", s) }
    public func gt(_ s: Double) throws -> Tensor { try binary(FT_GT, "gt", s) }
    public func logicalAnd(_ other: Tensor) throws -> Tensor { try binary(FT_LOGICAL_AND, "logical_and", other) }
    public func logicalNot() throws -> Tensor { try unary(FT_LOGICAL_NOT, "logical_not") }

    public func exp() throws -> Tensor { try unary(FT_EXP, "exp") }
    public func log() throws -> Tensor { try unary(FT_LOG, "log") }
    public func sqrt() throws -> Tensor { try unary(FT_SQRT, "sqrt") }
    public func abs() throws -> Tensor { try unary(FT_ABS, "abs") }
    public func square() throws -> Tensor { try unary(FT_SQUARE, "square") }
    public func floor() throws -> Tensor { try unary(FT_FLOOR, "floor") }
    public func sign() throws -> Tensor { try unary(FT_SIGN, "sign") }
    public func reciprocal() throws -> Tensor { try unary(FT_RECIPROCAL, "reciprocal") }
    /// Bool tensor: true where the element is neither NaN nor infinite.
    public func isFinite() throws -> Tensor { try unary(FT_ISFINITE, "isfinite") }

    /// True when every element is finite.
    public func allFinite() throws -> Bool { try isFinite().all().item() != 0 }

    public func clamp(min lo: Double, max hi: Double) throws -> Tensor {
        try Tensor.make("clamp", [self]) { withHandle { ft_clamp($0, lo, hi) } }
    }

    /// Matrix product with PyTorch's broadcasting rules.
    public func matmul(_ other: Tensor) throws -> Tensor {
        try Tensor.make("matmul", [self, other]) { withHandle { a in other.withHandle { b in ft_matmul(a, b) } } }
    }

    /// Pairwise p-norm distances between the rows of `self` [N, D] and `other` [M, D] (`torch.cdist`).
    /// p = 1 on float32 matrices runs FedKit's own kernels (Sources/CTorch/pairwise_l1.cpp): the same
    /// distances up to float summation order, and a backward pass several times faster.
    public func pairwiseDistances(_ other: Tensor, p: Double = 2) throws -> Tensor {
        try Tensor.make("cdist", [self, other]) { withHandle { a in other.withHandle { b in ft_cdist(a, b, p) } } }
    }

    /// The p-norm of all elements.
    public func norm(p: Double = 2) throws -> Tensor {
        try Tensor.make("norm", [self]) { withHandle { ft_norm($0, p) } }
    }

    /// `where(condition, self, other)`.
    public func replacing(where condition: Tensor, with other: Tensor) throws -> Tensor {
        try Tensor.make("where", [condition, other, self]) {
            condition.withHandle { c in other.withHandle { o in withHandle { s in ft_where(c, o, s) } } }
        }
    }
}

// Reductions.
extension Tensor {
    func reduce(_ op: ft_reduce_op, _ name: String, dims: [Int], keepDim: Bool) throws -> Tensor {
        let d = dims.map(Int64.init)
        return try Tensor.make(name, [self]) {
            withHandle { h in d.withUnsafeBufferPointer { ft_reduce(op, h, $0.baseAddress, Int32($0.count), keepDim) } }
        }
    }

    /// Sum of all elements, or over `dims`.
    public func sum(dims: [Int] = [], keepDim: Bool = false) throws -> Tensor {
        try reduce(FT_SUM, "sum", dims: dims, keepDim: keepDim)
    }
    public func mean(dims: [Int] = [], keepDim: Bool = false) throws -> Tensor {
        try reduce(FT_MEAN, "mean", dims: dims, keepDim: keepDim)
    }
    /// Unbiased variance.
    public func variance(dims: [Int] = [], keepDim: Bool = false) throws -> Tensor {
        try reduce(FT_VAR_UNBIASED, "var", dims: dims, keepDim: keepDim)
    }
    public func logSumExp(dims: [Int] = [], keepDim: Bool = false) throws -> Tensor {
        try reduce(FT_LOGSUMEXP, "logsumexp", dims: dims, keepDim: keepDim)
    }
    public func max() throws -> Tensor { try reduce(FT_MAX, "max", dims: [], keepDim: false) }
    public func min() throws -> Tensor { try reduce(FT_MIN, "min", dims: [], keepDim: false) }
    public func max(dim: Int, keepDim: Bool = false) throws -> Tensor {
        try reduce(FT_MAX, "max", dims: [dim], keepDim: keepDim)
    }
    public func min(dim: Int, keepDim: Bool = false) throws -> Tensor {
        try reduce(FT_MIN, "min", dims: [dim], keepDim: keepDim)
    }
    public func argmax(dim: Int, keepDim: Bool = false) throws -> Tensor {
        try reduce(FT_ARGMAX, "argmax", dims: [dim], keepDim: keepDim)
    }
    public func argmin(dim: Int, keepDim: Bool = false) throws -> Tensor {
        try reduce(FT_ARGMIN, "argmin", dims: [dim], keepDim: keepDim)
    }
    public func all() throws -> Tensor { try reduce(FT_ALL, "all", dims: [], keepDim: false) }
    public func any() throws -> Tensor { try reduce(FT_ANY, "any", dims: [], keepDim: false) }
}

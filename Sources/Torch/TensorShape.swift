import CTorch

// Shape manipulation, indexing and joining.
extension Tensor {
    func withDims(
        _ name: String, _ dims: [Int], _ call: (OpaquePointer, UnsafePointer<Int64>?, Int32) -> OpaquePointer?
    ) throws -> Tensor {
        let d = dims.map(Int64.init)
        return try Tensor.make(name, [self]) {
            withHandle { h in d.withUnsafeBufferPointer { call(h, $0.baseAddress, Int32($0.count)) } }
        }
    }

    /// A tensor with the same elements and a new shape (-1 infers one size).
    public func reshaped(_ shape: [Int]) throws -> Tensor {
        try withDims("reshape", shape) { ft_reshape($0, $1, $2) }
    }
    /// Like `reshaped` but never copies (fails for incompatible strides).
    public func view(_ shape: [Int]) throws -> Tensor { try withDims("view", shape) { ft_view($0, $1, $2) } }
    public func permuted(_ order: [Int]) throws -> Tensor { try withDims("permute", order) { ft_permute($0, $1, $2) } }
    /// Broadcasts size-1 dimensions to `shape` without copying.
    public func expanded(to shape: [Int]) throws -> Tensor { try withDims("expand", shape) { ft_expand($0, $1, $2) } }
    public func transposed(_ d0: Int, _ d1: Int) throws -> Tensor {
        try Tensor.make("transpose", [self]) { withHandle { ft_transpose($0, Int64(d0), Int64(d1)) } }
    }
    public func contiguous() throws -> Tensor {
        try Tensor.make("contiguous", [self]) { withHandle { ft_contiguous($0) } }
    }
    public func flattened(from start: Int = 0, to end: Int = -1) throws -> Tensor {
        try Tensor.make("flatten", [self]) { withHandle { ft_flatten($0, Int64(start), Int64(end)) } }
    }
    public func unsqueezed(_ dim: Int) throws -> Tensor {
        try Tensor.make("unsqueeze", [self]) { withHandle { ft_unsqueeze($0, Int64(dim)) } }
    }
    public func squeezed(_ dim: Int) throws -> Tensor {
        try Tensor.make("squeeze", [self]) { withHandle { ft_squeeze($0, Int64(dim)) } }
    }

    /// Elements `range` (with `step`) along `dim`, sharing storage.
    public func slice(dim: Int = 0, _ range: Range<Int>, step: Int = 1) throws -> Tensor {
        try Tensor.make("slice", [self]) {
            withHandle { ft_slice($0, Int64(dim), Int64(range.lowerBound), Int64(range.upperBound), Int64(step)) }
        }
    }
    /// The sub-tensor at `index` along `dim` (that dimension removed).
    public func select(dim: Int = 0, _ index: Int) throws -> Tensor {
        try Tensor.make("select", [self]) { withHandle { ft_select($0, Int64(dim), Int64(index)) } }
    }
    /// Rows (along `dim`) picked by an int64 index tensor.
    public func indexSelect(dim: Int = 0, _ index: Tensor) throws -> Tensor {
        try Tensor.make("index_select", [self, index]) {
            withHandle { h in index.withHandle { ft_index_select(h, Int64(dim), $0) } }
        }
    }
    /// Rows picked by Swift indices.
    public func rows(_ indices: [Int]) throws -> Tensor { try indexSelect(dim: 0, Tensor(indices)) }
    public func gather(dim: Int, _ index: Tensor) throws -> Tensor {
        try Tensor.make("gather", [self, index]) {
            withHandle { h in index.withHandle { ft_gather(h, Int64(dim), $0) } }
        }
    }
    public func maskedSelect(_ mask: Tensor) throws -> Tensor {
        try Tensor.make("masked_select", [self, mask]) {
            withHandle { h in mask.withHandle { ft_masked_select(h, $0) } }
        }
    }
    public func to(_ dtype: DType) throws -> Tensor {
        try Tensor.make("to", [self]) { withHandle { ft_to_dtype($0, dtype.raw) } }
    }
    /// A copy with its own storage (keeps the autograd graph, like torch.clone).
    public func clone() throws -> Tensor { try Tensor.make("clone", [self]) { withHandle { ft_clone($0) } } }
    /// One-hot int64 encoding of class ids.
    public func oneHot(classes: Int) throws -> Tensor {
        try Tensor.make("one_hot", [self]) { withHandle { ft_one_hot($0, Int64(classes)) } }
    }

    static func joined(
        _ name: String, _ tensors: [Tensor], dim: Int,
        _ call: (UnsafePointer<OpaquePointer?>?, Int32, Int64) -> OpaquePointer?
    ) throws -> Tensor {
        guard !tensors.isEmpty else { throw TorchError(name, "expected at least one tensor") }
        return try make(name, tensors) {
            let handles: [OpaquePointer?] = tensors.map { $0.handle.pointer }
            return handles.withUnsafeBufferPointer { call($0.baseAddress, Int32($0.count), Int64(dim)) }
        }
    }
    /// Joins tensors along an existing dimension.
    public static func cat(_ tensors: [Tensor], dim: Int = 0) throws -> Tensor {
        try joined("cat", tensors, dim: dim) { ft_cat($0, $1, $2) }
    }
    /// Joins tensors along a new dimension.
    public static func stack(_ tensors: [Tensor], dim: Int = 0) throws -> Tensor {
        try joined("stack", tensors, dim: dim) { ft_stack($0, $1, $2) }
    }
}

// In-place updates (never recorded by autograd).
extension Tensor {
    /// Copies `source` (broadcast) into this tensor's storage.
    public func copy_(_ source: Tensor) throws {
        try Tensor.check("copy_", [self, source]) { withHandle { d in source.withHandle { ft_copy_(d, $0) } } }
    }
    /// self += alpha * other.
    public func add_(_ other: Tensor, alpha: Double = 1) throws {
        try Tensor.check("add_", [self, other]) { withHandle { d in other.withHandle { ft_add_(d, $0, alpha) } } }
    }
    public func mul_(_ scalar: Double) throws {
        try Tensor.check("mul_", [self]) { withHandle { ft_mul_scalar_($0, scalar) } }
    }
    public func fill_(_ value: Double) throws {
        try Tensor.check("fill_", [self]) { withHandle { ft_fill_($0, value) } }
    }
}

/// Max or average pooling with square windows.
public final class Pool2d: Layer {
    public enum Kind: Sendable { case max, average }
    public let kind: Kind
    public let kernel: Int
    public let stride: Int

    public init(_ kind: Kind, kernel: Int, stride: Int? = nil) {
        self.kind = kind
        self.kernel = kernel
        self.stride = stride ?? kernel
    }

    public func forward(_ x: Tensor) throws -> Tensor {
        switch kind {
        case .max: return try F.maxPool2d(x, kernel: kernel, stride: stride)
        case .average: return try F.avgPool2d(x, kernel: kernel, stride: stride)
        }
    }
}

/// Flattens all dimensions but the first: [N, ...] -> [N, prod(...)].
public final class Flatten: Layer {
    public init() {}
    public func forward(_ x: Tensor) throws -> Tensor { try x.flattened(from: 1) }
}

/// Reshapes each sample: [N, ...] -> [N] + shape.
public final class Reshape: Layer {
    public let shape: [Int]
    public init(_ shape: [Int]) { self.shape = shape }
    public func forward(_ x: Tensor) throws -> Tensor { try x.reshaped([x.shape[0]] + shape) }
}

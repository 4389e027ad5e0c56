import CTorch
import FedKitBasics
import Foundation

/// Owns one handle of the C shim and frees it when the last `Tensor` value referring to it goes.
final class TensorHandle: @unchecked Sendable {
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }
    deinit { ft_free(pointer) }
}

/// Element types FedKit uses.
public enum DType: Sendable, Equatable, CustomStringConvertible {
    case float32, int64, bool

    var raw: ft_dtype {
        switch self {
        case .float32: return FT_FLOAT32
        case .int64: return FT_INT64
        case .bool: return FT_BOOL
        }
    }

    public var description: String {
        switch self {
        case .float32: return "float32"
        case .int64: return "int64"
        case .bool: return "bool"
        }
    }
}

/// An n-dimensional array backed by an ATen tensor (CPU).
///
/// `Tensor` is a cheap value: copies share the same storage, like a Python reference.
/// Operations return new tensors; methods ending in `_` (e.g. `copy_`) work in place.
public struct Tensor: @unchecked Sendable {
    let handle: TensorHandle

    init(owning pointer: OpaquePointer) { handle = TensorHandle(pointer) }

    /// Runs `body` with the raw handle, keeping this tensor alive for the whole call.
    @inline(__always)
    func withHandle<R>(_ body: (OpaquePointer) throws -> R) rethrows -> R {
        try withExtendedLifetime(handle) { try body(handle.pointer) }
    }

    /// Wraps a pointer returned by the shim, or throws its recorded error.
    static func make(_ op: String, _ operands: [Tensor], _ call: () -> OpaquePointer?) throws -> Tensor {
        let result = withExtendedLifetime(operands) { call() }
        guard let pointer = result else { throw TorchError.fromShim(op, operands: operands) }
        return Tensor(owning: pointer)
    }

    /// Checks the status of an in-place shim call.
    static func check(_ op: String, _ operands: [Tensor], _ call: () -> Int32) throws {
        let status = withExtendedLifetime(operands) { call() }
        if status != 0 { throw TorchError.fromShim(op, operands: operands) }
    }

    // MARK: - Creation

    /// A float32 tensor with the given elements (row-major) and shape.
    public init(_ values: [Float], shape: [Int]) throws {
        let count = shape.reduce(1, *)
        guard count == values.count, shape.allSatisfy({ $0 >= 0 }) else {
            throw TorchError("tensor", "\(values.count) values do not fill shape \(Tensor.describe(shape: shape))")
        }
        let dims = shape.map(Int64.init)
        self = try Tensor.make("tensor", []) {
            values.withUnsafeBufferPointer { v in
                dims.withUnsafeBufferPointer { d in
                    ft_from_float(v.baseAddress, d.baseAddress, Int32(d.count))
                }
            }
        }
    }

    /// An int64 tensor with the given elements (row-major) and shape.
    public init(_ values: [Int], shape: [Int]) throws {
        let count = shape.reduce(1, *)
        guard count == values.count, shape.allSatisfy({ $0 >= 0 }) else {
            throw TorchError("tensor", "\(values.count) values do not fill shape \(Tensor.describe(shape: shape))")
        }
        let dims = shape.map(Int64.init)
        let data = values.map(Int64.init)
        self = try Tensor.make("tensor", []) {
            data.withUnsafeBufferPointer { v in
                dims.withUnsafeBufferPointer { d in
                    ft_from_int64(v.baseAddress, d.baseAddress, Int32(d.count))
                }
            }
        }
    }

    /// A 1-d float32 tensor.
    public init(_ values: [Float]) throws { try self.init(values, shape: [values.count]) }
    /// A 1-d int64 tensor.
    public init(_ values: [Int]) throws { try self.init(values, shape: [values.count]) }

    /// A float32 tensor from bytes, each multiplied by `scale` (e.g. 1/255 for images).
    public init(bytes: [UInt8], shape: [Int], scale: Float) throws {
        guard shape.reduce(1, *) == bytes.count else {
            throw TorchError("tensor", "\(bytes.count) bytes do not fill shape \(Tensor.describe(shape: shape))")
        }
        let dims = shape.map(Int64.init)
        self = try Tensor.make("tensor", []) {
            bytes.withUnsafeBufferPointer { v in
                dims.withUnsafeBufferPointer { d in
                    ft_from_uint8_as_float(v.baseAddress, d.baseAddress, Int32(d.count), scale)
                }
            }
        }
    }

    /// A 0-d float32 tensor.
    public init(scalar: Float) throws { try self.init([scalar], shape: []) }

    /// A tensor of the given shape filled with `value`.
    public static func full(_ shape: [Int], _ value: Double, dtype: DType = .float32) throws -> Tensor {
        let dims = shape.map(Int64.init)
        return try make("full", []) {
            dims.withUnsafeBufferPointer { ft_full($0.baseAddress, Int32($0.count), value, dtype.raw) }
        }
    }

    public static func zeros(_ shape: [Int], dtype: DType = .float32) throws -> Tensor {
        try full(shape, 0, dtype: dtype)
    }
    public static func ones(_ shape: [Int], dtype: DType = .float32) throws -> Tensor {
        try full(shape, 1, dtype: dtype)
    }

    /// A zero tensor with this tensor's shape and type.
    public func zerosLike() throws -> Tensor { try Tensor.zeros(shape, dtype: dtype) }

    /// 0, 1, ..., n-1.
    public static func arange(_ n: Int, dtype: DType = .int64) throws -> Tensor {
        try make("arange", []) { ft_arange(Int64(n), dtype.raw) }
    }

    // MARK: - Inspection

    /// The sizes of each dimension.
    public var shape: [Int] {
        withHandle { h in (0..<Int(ft_dim(h))).map { Int(ft_size(h, Int32($0))) } }
    }

    /// The number of dimensions.
    public var rank: Int { withHandle { Int(ft_dim($0)) } }

    /// The number of elements.
    public var count: Int { withHandle { Int(ft_numel($0)) } }

    /// The element type (float32, int64 or bool; other types are reported as float32 users never see).
    public var dtype: DType {
        withHandle { h in
            switch ft_get_dtype(h) {
            case FT_INT64: return .int64
            case FT_BOOL: return .bool
            default: return .float32
            }
        }
    }

    /// The elements as Float, row-major (converting from other types).
    public func floats() throws -> [Float] {
        let n = count
        var out = [Float](repeating: 0, count: n)
        try Tensor.check("floats", [self]) {
            withHandle { h in out.withUnsafeMutableBufferPointer { ft_copy_out_float(h, $0.baseAddress, Int64(n)) } }
        }
        return out
    }

    /// The elements as Int, row-major (converting from other types).
    public func ints() throws -> [Int] {
        let n = count
        var out = [Int64](repeating: 0, count: n)
        try Tensor.check("ints", [self]) {
            withHandle { h in out.withUnsafeMutableBufferPointer { ft_copy_out_int64(h, $0.baseAddress, Int64(n)) } }
        }
        return out.map(Int.init)
    }

    /// The value of a one-element tensor.
    public func item() throws -> Double {
        var value = 0.0
        try Tensor.check("item", [self]) { withHandle { ft_item_double($0, &value) } }
        return value
    }

    /// Calls `body` with the contiguous float32 storage of this tensor without copying.
    /// Throws when the tensor is not a contiguous float32 tensor.
    public func withUnsafeFloats<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) throws -> R {
        guard dtype == .float32 else { throw TorchError("withUnsafeFloats", "tensor is \(dtype), expected float32") }
        return try withHandle { h in
            guard let raw = ft_data_ptr(h) else { throw TorchError("withUnsafeFloats", "tensor is not contiguous") }
            return try body(
                UnsafeBufferPointer(start: raw.assumingMemoryBound(to: Float.self), count: Int(ft_numel(h))))
        }
    }

    /// A new handle to the same storage (cheap).
    func alias() throws -> Tensor { try Tensor.make("alias", [self]) { withHandle { ft_alias($0) } } }

    /// "[10, 784]".
    static func describe(shape: [Int]) -> String { ShapeText.describe(shape) }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let values = (try? floats()) ?? []
        let preview = values.prefix(8).map { String(format: "%.4g", Double($0)) }.joined(separator: ", ")
        return "Tensor(\(dtype), \(Tensor.describe(shape: shape)): [\(preview)\(values.count > 8 ? ", ..." : "")])"
    }
}

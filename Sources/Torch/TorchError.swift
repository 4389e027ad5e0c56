import CTorch

/// A failing tensor operation: names the operation and the shapes involved.
public struct TorchError: Error, CustomStringConvertible, Sendable {
    /// The operation that failed, e.g. `conv2d`.
    public var operation: String
    /// What went wrong, including the shapes involved.
    public var message: String

    public init(_ operation: String, _ message: String) {
        self.operation = operation
        self.message = message
    }

    public var description: String { "\(operation): \(message)" }

    /// The error recorded by the C shim on this thread, with the operand shapes appended.
    static func fromShim(_ operation: String, operands: [Tensor]) -> TorchError {
        let raw = String(cString: ft_last_error())
        let firstLine = raw.split(separator: "\n", omittingEmptySubsequences: true).first.map(String.init) ?? raw
        let shapes = operands.map { Tensor.describe(shape: $0.shape) }.joined(separator: ", ")
        let text = operands.isEmpty ? firstLine : "\(firstLine) (operands: \(shapes))"
        return TorchError(operation, text)
    }
}

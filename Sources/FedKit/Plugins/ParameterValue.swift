import Config

/// A typed parameter value after validation.
public enum ParameterValue: Sendable, Equatable, CustomStringConvertible {
    case int(Int)
    case double(Double)
    case bool(Bool)
    case string(String)
    case intList([Int])
    case doubleList([Double])

    public var description: String {
        switch self {
        case .int(let v): return String(v)
        case .double(let v): return ParameterValue.format(v)
        case .bool(let v): return v ? "true" : "false"
        case .string(let v): return v
        case .intList(let v): return "[" + v.map(String.init).joined(separator: ", ") + "]"
        case .doubleList(let v): return "[" + v.map(ParameterValue.format).joined(separator: ", ") + "]"
        }
    }

    /// Shortest decimal text that reads back as the same double (1e-4, 0.01, 5).
    static func format(_ v: Double) -> String {
        if v == v.rounded(), abs(v) < 1e15 { return String(Int(v)) + ".0" }
        return "\(v)"
    }

    /// The value as a YAML node (for the resolved config).
    public func yamlNode(at location: SourceLocation) -> YAMLNode {
        switch self {
        case .intList(let v):
            return YAMLNode(
                kind: .sequence(v.map { YAMLNode(kind: .scalar(String($0), quoted: false), location: location) }),
                location: location)
        case .doubleList(let v):
            return YAMLNode(
                kind: .sequence(
                    v.map { YAMLNode(kind: .scalar(ParameterValue.format($0), quoted: false), location: location) }),
                location: location)
        case .string(let s):
            return YAMLNode(kind: .scalar(s, quoted: true), location: location)
        default:
            return YAMLNode(kind: .scalar(description, quoted: false), location: location)
        }
    }
}

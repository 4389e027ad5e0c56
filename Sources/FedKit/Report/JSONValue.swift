import Foundation

/// Any JSON value, decoded without a fixed schema: the report reads whatever metrics a run wrote.
public enum JSONValue: Decodable, Sendable, Equatable {
    case number(Double)
    case bool(Bool)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])
    case null

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    /// Every number in this value by dotted key path (`personalized.weightedMean`, `server.distill.kl`);
    /// booleans, strings, arrays and nulls are left out.
    public func numbers(prefix: String = "") -> [String: Double] {
        var out: [String: Double] = [:]
        collectNumbers(prefix: prefix, into: &out)
        return out
    }

    private func collectNumbers(prefix: String, into out: inout [String: Double]) {
        switch self {
        case .number(let v): if !prefix.isEmpty, v.isFinite { out[prefix] = v }
        case .object(let entries):
            for (key, value) in entries {
                value.collectNumbers(prefix: prefix.isEmpty ? key : "\(prefix).\(key)", into: &out)
            }
        default: break
        }
    }

    /// The text of a scalar for display (objects and arrays as compact JSON-like text).
    public var displayText: String {
        switch self {
        case .number(let v): return v == v.rounded() && Swift.abs(v) < 1e15 ? String(Int(v)) : "\(v)"
        case .bool(let b): return b ? "true" : "false"
        case .string(let s): return s
        case .null: return "null"
        case .array(let items): return "[" + items.map(\.displayText).joined(separator: ", ") + "]"
        case .object(let entries):
            return "{" + entries.keys.sorted().map { "\($0): \(entries[$0]!.displayText)" }.joined(separator: ", ")
                + "}"
        }
    }

    public subscript(key: String) -> JSONValue? {
        if case .object(let entries) = self { return entries[key] }
        return nil
    }
}

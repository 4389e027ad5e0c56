import Config

/// The declared type and allowed range of a parameter.
public enum ParameterType: Sendable, Equatable {
    case int(min: Int? = nil, max: Int? = nil)
    /// A finite number; `minExclusive` makes the lower bound strict (e.g. alpha > 0).
    case double(min: Double? = nil, max: Double? = nil, minExclusive: Bool = false)
    case bool
    /// Any string, or one of `choices`.
    case string(choices: [String]? = nil)
    /// A filesystem path (relative paths resolve against the working directory).
    case path
    case intList(min: Int? = nil)
    /// A list of finite numbers, each > `exclusiveMin` when given (e.g. per-channel std > 0).
    case doubleList(exclusiveMin: Double? = nil)
    /// An integer >= `min` (stored as `.int`) or one of the words `choices` (stored as `.string`),
    /// e.g. `batched_clients: auto | off | 16`.
    case intOrChoice(min: Int, choices: [String])

    /// A short human description, e.g. "number > 0", "one of: all, body".
    public var summary: String {
        switch self {
        case let .int(lo, hi): return "integer" + Self.range(lo.map(String.init), hi.map(String.init), exclusive: false)
        case let .double(lo, hi, ex):
            return "number" + Self.range(lo.map(Self.short), hi.map(Self.short), exclusive: ex)
        case .bool: return "boolean"
        case .string(let choices): return choices.map { "one of: " + $0.joined(separator: ", ") } ?? "string"
        case .path: return "path"
        case .intList(let lo): return "list of integers" + (lo.map { " >= \($0)" } ?? "")
        case .doubleList(let lo): return "list of numbers" + (lo.map { " > \(Self.short($0))" } ?? "")
        case let .intOrChoice(lo, choices): return "one of: \(choices.joined(separator: ", ")), or an integer >= \(lo)"
        }
    }

    /// 0, 0.5, 1e-05: numbers as people write them in messages.
    static func short(_ v: Double) -> String { v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : "\(v)" }

    private static func range(_ lo: String?, _ hi: String?, exclusive: Bool) -> String {
        switch (lo, hi) {
        case let (l?, h?): return " in \(exclusive ? "(" : "[")\(l), \(h)]"
        case let (l?, nil): return exclusive ? " > \(l)" : " >= \(l)"
        case let (nil, h?): return " <= \(h)"
        default: return ""
        }
    }
}

/// One declared parameter: this single declaration drives validation, defaults, `exp list`
/// and the YAML reference.
public struct ParameterSpec: Sendable, Equatable {
    public var name: String
    public var type: ParameterType
    /// The default; nil means required unless `optional`.
    public var defaultValue: ParameterValue?
    /// When true and no default is given, the parameter may be absent (the doc says what applies then).
    public var optional: Bool
    public var doc: String

    public init(
        _ name: String, _ type: ParameterType, default defaultValue: ParameterValue? = nil,
        optional: Bool = false, doc: String
    ) {
        self.name = name
        self.type = type
        self.defaultValue = defaultValue
        self.optional = optional
        self.doc = doc
    }

    public static func int(
        _ name: String, default value: Int? = nil, min: Int? = nil, max: Int? = nil,
        optional: Bool = false, doc: String
    ) -> ParameterSpec {
        ParameterSpec(
            name, .int(min: min, max: max), default: value.map(ParameterValue.int), optional: optional, doc: doc)
    }
    public static func double(
        _ name: String, default value: Double? = nil, min: Double? = nil, max: Double? = nil,
        minExclusive: Bool = false, optional: Bool = false, doc: String
    ) -> ParameterSpec {
        ParameterSpec(
            name, .double(min: min, max: max, minExclusive: minExclusive), default: value.map(ParameterValue.double),
            optional: optional, doc: doc)
    }
    public static func bool(_ name: String, default value: Bool, doc: String) -> ParameterSpec {
        ParameterSpec(name, .bool, default: .bool(value), doc: doc)
    }
    public static func string(
        _ name: String, default value: String? = nil, choices: [String]? = nil,
        optional: Bool = false, doc: String
    ) -> ParameterSpec {
        ParameterSpec(
            name, .string(choices: choices), default: value.map(ParameterValue.string), optional: optional, doc: doc)
    }
    public static func path(
        _ name: String, default value: String? = nil, optional: Bool = false, doc: String
    ) -> ParameterSpec {
        ParameterSpec(name, .path, default: value.map(ParameterValue.string), optional: optional, doc: doc)
    }

    /// The default as text for listings ("required" / "optional" when there is none).
    public var defaultText: String {
        if let defaultValue { return defaultValue.description }
        return optional ? "(unset)" : "required"
    }

    /// Validates one YAML value against this declaration. `path` is the dotted key for messages.
    public func value(from node: YAMLNode, path: String) throws -> ParameterValue {
        switch type {
        case let .int(lo, hi):
            let v = try node.int(path: path)
            if let lo, v < lo { throw ConfigError("\(path) must be an \(type.summary), got \(v)", at: node.location) }
            if let hi, v > hi { throw ConfigError("\(path) must be an \(type.summary), got \(v)", at: node.location) }
            return .int(v)
        case let .double(lo, hi, exclusive):
            let v: Double
            do { v = try node.double(path: path) } catch {
                throw ConfigError("\(path) must be a \(type.summary), got \(node.describedNumber)", at: node.location)
            }
            let tooLow = lo.map { exclusive ? v <= $0 : v < $0 } ?? false
            if tooLow || (hi.map { v > $0 } ?? false) {
                throw ConfigError("\(path) must be a \(type.summary), got \(ParameterType.short(v))", at: node.location)
            }
            return .double(v)
        case .bool:
            return .bool(try node.bool(path: path))
        case .string(let choices):
            let s = try node.string(path: path)
            if let choices, !choices.contains(s) {
                var message = "\(path) must be one of: \(choices.joined(separator: ", ")); got \"\(s)\""
                if let guess = closestMatch(to: s, in: choices) { message += " (did you mean '\(guess)'?)" }
                throw ConfigError(message, at: node.location)
            }
            return .string(s)
        case .path:
            return .string(try node.string(path: path))
        case let .intOrChoice(lo, choices):
            if case .scalar(let text, false) = node.kind, let v = Int(text) {
                guard v >= lo else { throw ConfigError("\(path) must be \(type.summary), got \(v)", at: node.location) }
                return .int(v)
            }
            let s = try node.string(path: path)
            guard choices.contains(s) else {
                var message = "\(path) must be \(type.summary); got \(node.describedValue)"
                if let guess = closestMatch(to: s, in: choices) { message += " (did you mean '\(guess)'?)" }
                throw ConfigError(message, at: node.location)
            }
            return .string(s)
        case .intList(let lo):
            guard let items = node.items else {
                // A single integer is accepted as a one-element list.
                do { return .intList([try node.int(path: path)]) } catch {
                    throw ConfigError(
                        "\(path) must be a \(type.summary) (or one integer), got \(node.describedNumber)",
                        at: node.location)
                }
            }
            let values = try items.enumerated().map { try $0.element.int(path: "\(path)[\($0.offset)]") }
            if let lo, let bad = zip(values, items).first(where: { $0.0 < lo }) {
                throw ConfigError("\(path) must be a \(type.summary), got \(bad.0)", at: bad.1.location)
            }
            return .intList(values)
        case .doubleList(let lo):
            let items = node.items ?? [node]
            var values: [Double] = []
            for (k, item) in items.enumerated() {
                let itemPath = node.items == nil ? path : "\(path)[\(k)]"
                let v: Double
                do { v = try item.double(path: itemPath) } catch {
                    throw ConfigError(
                        "\(itemPath) must be a number (\(path) is a \(type.summary)), got \(item.describedNumber)",
                        at: item.location)
                }
                if let lo, !(v > lo) {
                    throw ConfigError(
                        "\(itemPath) must be > \(ParameterType.short(lo)), got \(ParameterType.short(v))",
                        at: item.location)
                }
                values.append(v)
            }
            return .doubleList(values)
        }
    }
}

extension YAMLNode {
    /// The value as it appears in messages: `"abc"`, `2.5`, `a list`, `a mapping`.
    var describedValue: String {
        switch kind {
        case .scalar(let s, let quoted): return quoted ? "\"\(s)\"" : (Double(s) != nil ? s : "\"\(s)\"")
        case .sequence: return "a list"
        case .mapping: return "a mapping"
        }
    }

    /// `describedValue` where a number was expected: `the string "0.1" (remove the quotes)`,
    /// `.inf (not a finite number)`.
    var describedNumber: String {
        guard case .scalar(let s, let quoted) = kind else { return describedValue }
        if quoted { return Double(s) != nil ? "the string \"\(s)\" (remove the quotes)" : "\"\(s)\"" }
        if [".inf", "+.inf", "-.inf", ".nan"].contains(s.lowercased()) { return "\(s) (not a finite number)" }
        return describedValue
    }
}

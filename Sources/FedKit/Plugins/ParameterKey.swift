/// A declared parameter together with the Swift type its value is read as: the one place a
/// parameter is stated. Its `spec` goes into the plugin's descriptor (validation, defaults,
/// `exp list`, docs/yaml-reference.md); `parameters[key]` reads the validated value.
///
/// ```
/// static let alpha = ParameterKey.double("alpha", min: 0, minExclusive: true, doc: "Dirichlet concentration")
/// static let scope = ParameterKey.choice("scope", default: Scope.all, doc: "which entries are averaged")
/// static let descriptor = PluginDescriptor(kind: .partitioner, name: "dirichlet", summary: "...",
///                                          keys: [alpha, scope])
/// init(parameters p: Parameters) { alpha = p[Self.alpha]; scope = p[Self.scope] }
/// ```
public struct ParameterKey<Value: Sendable>: ParameterDeclaration, Sendable {
    public let spec: ParameterSpec
    /// The typed value of a validated `ParameterValue` (nil: absent or of another type).
    let decode: @Sendable (ParameterValue?) -> Value?
    /// The `ParameterValue` of a typed value (nil for an absent optional).
    let encode: @Sendable (Value) -> ParameterValue?

    public init(
        spec: ParameterSpec, decode: @escaping @Sendable (ParameterValue?) -> Value?,
        encode: @escaping @Sendable (Value) -> ParameterValue?
    ) {
        self.spec = spec
        self.decode = decode
        self.encode = encode
    }

    public var name: String { spec.name }
}

/// Anything that contributes one parameter declaration to a descriptor.
public protocol ParameterDeclaration: Sendable {
    var spec: ParameterSpec { get }
}

extension ParameterSpec: ParameterDeclaration {
    public var spec: ParameterSpec { self }
}

/// A parameter whose value is one of a fixed set of names: a `String` enum listing its cases.
/// Declared with `ParameterKey.choice`, its cases are the allowed values (as
/// swift-argument-parser's `ExpressibleByArgument` enums are).
public typealias ParameterChoice = RawRepresentable & CaseIterable & Sendable

extension ParameterValue {
    var intValue: Int? { if case .int(let v) = self { return v } else { return nil } }
    var doubleValue: Double? {
        switch self {
        case .double(let v): return v
        case .int(let v): return Double(v)
        default: return nil
        }
    }
    var boolValue: Bool? { if case .bool(let v) = self { return v } else { return nil } }
    var stringValue: String? { if case .string(let v) = self { return v } else { return nil } }
    var intListValue: [Int]? { if case .intList(let v) = self { return v } else { return nil } }
    var doubleListValue: [Double]? { if case .doubleList(let v) = self { return v } else { return nil } }
}

extension ParameterKey where Value == Int {
    /// An integer; no default makes it required.
    public static func int(
        _ name: String, default value: Int? = nil, min: Int? = nil, max: Int? = nil,
        doc: String
    ) -> ParameterKey<Int> {
        ParameterKey(
            spec: .int(name, default: value, min: min, max: max, doc: doc), decode: { $0?.intValue },
            encode: { .int($0) })
    }
}

extension ParameterKey where Value == Int? {
    /// An integer that may be absent (nil); `doc` says what applies then.
    public static func optionalInt(_ name: String, min: Int? = nil, max: Int? = nil, doc: String) -> ParameterKey<Int?>
    {
        ParameterKey(
            spec: .int(name, min: min, max: max, optional: true, doc: doc),
            decode: { .some($0?.intValue) }, encode: { $0.map(ParameterValue.int) })
    }
}

extension ParameterKey where Value == Double {
    /// A finite number; no default makes it required.
    public static func double(
        _ name: String, default value: Double? = nil, min: Double? = nil, max: Double? = nil,
        minExclusive: Bool = false, doc: String
    ) -> ParameterKey<Double> {
        ParameterKey(
            spec: .double(name, default: value, min: min, max: max, minExclusive: minExclusive, doc: doc),
            decode: { $0?.doubleValue }, encode: { .double($0) })
    }
}

extension ParameterKey where Value == Double? {
    /// A number that may be absent (nil); `doc` says what applies then.
    public static func optionalDouble(
        _ name: String, min: Double? = nil, max: Double? = nil, minExclusive: Bool = false,
        doc: String
    ) -> ParameterKey<Double?> {
        ParameterKey(
            spec: .double(name, min: min, max: max, minExclusive: minExclusive, optional: true, doc: doc),
            decode: { .some($0?.doubleValue) }, encode: { $0.map(ParameterValue.double) })
    }
}

extension ParameterKey where Value == Bool {
    public static func bool(_ name: String, default value: Bool, doc: String) -> ParameterKey<Bool> {
        ParameterKey(spec: .bool(name, default: value, doc: doc), decode: { $0?.boolValue }, encode: { .bool($0) })
    }
}

extension ParameterKey where Value == String {
    /// Free text; no default makes it required. For a fixed set of values use `choice`.
    public static func string(_ name: String, default value: String? = nil, doc: String) -> ParameterKey<String> {
        ParameterKey(
            spec: .string(name, default: value, doc: doc), decode: { $0?.stringValue },
            encode: { .string($0) })
    }

    /// A filesystem path (relative paths resolve against the working directory).
    public static func path(_ name: String, default value: String? = nil, doc: String) -> ParameterKey<String> {
        ParameterKey(
            spec: .path(name, default: value, doc: doc), decode: { $0?.stringValue },
            encode: { .string($0) })
    }
}

extension ParameterKey where Value == String? {
    /// Free text that may be absent (nil); `doc` says what applies then.
    public static func optionalString(_ name: String, doc: String) -> ParameterKey<String?> {
        ParameterKey(
            spec: .string(name, optional: true, doc: doc), decode: { .some($0?.stringValue) },
            encode: { $0.map(ParameterValue.string) })
    }

    /// A path that may be absent (nil); `doc` says what applies then.
    public static func optionalPath(_ name: String, doc: String) -> ParameterKey<String?> {
        ParameterKey(
            spec: .path(name, optional: true, doc: doc), decode: { .some($0?.stringValue) },
            encode: { $0.map(ParameterValue.string) })
    }
}

extension ParameterKey where Value == [Int] {
    /// A list of integers (a single integer is accepted as a one-element list).
    public static func intList(
        _ name: String, default value: [Int]? = nil, min: Int? = nil,
        doc: String
    ) -> ParameterKey<[Int]> {
        ParameterKey(
            spec: ParameterSpec(name, .intList(min: min), default: value.map(ParameterValue.intList), doc: doc),
            decode: { $0?.intListValue }, encode: { .intList($0) })
    }
}

extension ParameterKey where Value == [Double]? {
    /// A list of numbers that may be absent (nil), each above `exclusiveMin` when given.
    public static func optionalDoubleList(
        _ name: String, exclusiveMin: Double? = nil, doc: String
    ) -> ParameterKey<[Double]?> {
        ParameterKey(
            spec: ParameterSpec(name, .doubleList(exclusiveMin: exclusiveMin), optional: true, doc: doc),
            decode: { .some($0?.doubleListValue) }, encode: { $0.map(ParameterValue.doubleList) })
    }
}

extension ParameterKey where Value: RawRepresentable & CaseIterable, Value.RawValue == String {
    /// One of the cases of the enum `Value`, written as its raw value; the allowed values and
    /// their order in messages and docs are `Value.allCases`.
    public static func choice(_ name: String, default value: Value? = nil, doc: String) -> ParameterKey<Value> {
        ParameterKey(
            spec: .string(name, default: value?.rawValue, choices: Value.allCases.map(\.rawValue), doc: doc),
            decode: { $0?.stringValue.flatMap(Value.init(rawValue:)) }, encode: { .string($0.rawValue) })
    }
}

extension ParameterKey {
    /// A choice that may be absent (nil); `doc` says what applies then.
    public static func optionalChoice<Choice: ParameterChoice>(
        _ name: String, _: Choice.Type, doc: String
    )
        -> ParameterKey<Choice?> where Value == Choice?, Choice.RawValue == String
    {
        ParameterKey(
            spec: .string(name, choices: Choice.allCases.map(\.rawValue), optional: true, doc: doc),
            decode: { .some($0?.stringValue.flatMap(Choice.init(rawValue:))) },
            encode: { $0.map { .string($0.rawValue) } })
    }
}

extension Parameters {
    /// The validated value of `key`: the value given, else the declared default. Values reach a
    /// plugin through the registry (or `Plugin.make`), which has checked every declared key, so
    /// a missing required value here is a programming error in the caller that skipped it.
    public subscript<Value>(key: ParameterKey<Value>) -> Value {
        if let value = key.decode(self[key.spec.name] ?? key.spec.defaultValue) { return value }
        preconditionFailure(
            "parameter '\(key.spec.name)' has no valid value: build plugins through "
                + "PluginRegistry.make or Plugin.make, which validate and fill defaults")
    }

    /// Sets `key` (for plugins and tests that build parameters in code); nil unsets an optional.
    public mutating func set<Value>(_ key: ParameterKey<Value>, _ value: Value) {
        if let encoded = key.encode(value) { set(key.spec.name, encoded) } else { remove(key.spec.name) }
    }

    /// These parameters with `key` set to `value`.
    public func setting<Value>(_ key: ParameterKey<Value>, _ value: Value) -> Parameters {
        var copy = self
        copy.set(key, value)
        return copy
    }
}

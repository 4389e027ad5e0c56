import Config

/// What every plugin declares: its kind, name, one-line doc and parameters.
/// This one declaration drives YAML validation, defaults, `exp list` and docs/yaml-reference.md.
public struct PluginDescriptor: Sendable, Equatable {
    public var kind: PluginKind
    public var name: String
    public var summary: String
    public var parameters: [ParameterSpec]

    public init(kind: PluginKind, name: String, summary: String, parameters: [ParameterSpec] = []) {
        self.kind = kind
        self.name = name
        self.summary = summary
        self.parameters = parameters
    }
}

/// A plugin is built from validated parameters.
public protocol Plugin {
    static var descriptor: PluginDescriptor { get }
    init(parameters: Parameters) throws
}

/// An error a plugin raises at run time (bad data file, impossible partition, ...).
public struct PluginError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension Plugin {
    /// `parameters` with every declared default filled in. YAML resolution already does this;
    /// plugins built in code (tests, the engine's fine-tuner, other plugins) may pass fewer.
    public static func withDefaults(_ parameters: Parameters) -> Parameters {
        var filled = parameters
        for spec in descriptor.parameters where filled[spec.name] == nil {
            if let value = spec.defaultValue { filled.set(spec.name, value) }
        }
        return filled
    }
}

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

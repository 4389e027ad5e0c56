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

    /// A descriptor whose parameters are the plugin's typed keys (`ParameterKey`), in the order
    /// `exp list` and the reference show them.
    public init(kind: PluginKind, name: String, summary: String, keys: [any ParameterDeclaration]) {
        self.init(kind: kind, name: name, summary: summary, parameters: keys.map(\.spec))
    }

    /// "trainer 'ditto'": how messages name the plugin.
    public var label: String { "\(kind) '\(name)'" }
}

/// A plugin: a type that declares what it is and which parameters it takes, and is built from
/// those parameters once they are validated.
///
/// The registry (and `make`) checks the given parameters against `descriptor` — types, ranges,
/// choices, required keys — and fills every default *before* `init(parameters:)` runs, then calls
/// `validate()`. So `init` only reads values (`parameters[Self.key]`) and never re-checks what the
/// declaration already says; checks that involve several parameters go in `validate()`.
///
/// Initialisers do no work: `exp validate` builds every plugin of an experiment once to run
/// these checks. Read data in `load()`, build networks in `build`, allocate in the round.
public protocol Plugin {
    /// Kind, name, one-line summary and parameter declarations.
    static var descriptor: PluginDescriptor { get }
    /// Builds the plugin from validated parameters (every declared default filled in).
    init(parameters: Parameters) throws
    /// Checks across parameters that a single declaration cannot express (e.g. synthetic's
    /// `size_max >= size_min`). Throws a `PluginError` naming the parameters; it is reported at the
    /// plugin's mapping in the experiment file. The default accepts everything.
    func validate() throws
}

extension Plugin {
    public func validate() throws {}

    /// Builds the plugin as the registry does: validates `parameters` against the descriptor,
    /// fills defaults, runs `init(parameters:)`, then `validate()`. Use this to build a plugin in
    /// code (tests, other plugins, the testing helpers).
    public static func make(_ parameters: Parameters = Parameters()) throws -> Self {
        let plugin = try Self(parameters: parameters.validated(against: descriptor.parameters, owner: descriptor.label))
        try plugin.validate()
        return plugin
    }
}

/// An error a plugin raises at run time (bad data file, impossible partition, ...).
public struct PluginError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

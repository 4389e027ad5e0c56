/// The kinds of plugin an experiment composes; each has its own protocol.
public enum PluginKind: String, CaseIterable, Sendable, Comparable {
    case dataset, partitioner, model, trainer, aggregator, generator, distiller

    /// The YAML section that names a plugin of this kind.
    public var section: String { rawValue }

    public static func < (a: PluginKind, b: PluginKind) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

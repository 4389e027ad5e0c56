/// Resource limits applied while parsing YAML, so that hostile or broken input (alias bombs,
/// absurd nesting, huge files) fails fast with a clear error instead of hanging or exhausting
/// memory.
///
/// Pass a custom value to `YAMLParser.parse(file:limits:)` / `parse(string:fileName:limits:)`;
/// the defaults are `YAMLLimits.default`. (The limits are a value rather than mutable statics so
/// that the module stays free of shared mutable state under Swift 6 strict concurrency.)
public struct YAMLLimits: Sendable, Equatable {
    /// Most nodes that alias expansion (`*name`) may add to a document, counting every node of
    /// every copied subtree. Nodes written out literally do not count. Default 100,000.
    public var maxAliasExpansion: Int
    /// Deepest nesting of sequences and mappings; the root collection is level 1. Default 200.
    public var maxDepth: Int
    /// Largest accepted input in bytes. Default 16 MiB.
    public var maxFileSize: Int

    public init(maxAliasExpansion: Int = 100_000, maxDepth: Int = 200, maxFileSize: Int = 16 << 20) {
        self.maxAliasExpansion = maxAliasExpansion
        self.maxDepth = maxDepth
        self.maxFileSize = maxFileSize
    }

    /// 100,000 expanded alias nodes, 200 levels, 16 MiB.
    public static let `default` = YAMLLimits()
}

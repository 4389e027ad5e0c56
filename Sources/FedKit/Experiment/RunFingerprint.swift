import Config

/// A hash of a run's resolved configuration that ignores how the run is executed: `output`
/// and the keys that never change results (`federation.workers`, `threads_per_worker`,
/// `checkpoint_every`, `state_memory_mb`). Two runs with the same fingerprint produce the same
/// records, so a checkpoint or a complete run folder may be reused across them (a sweep gives its
/// tasks a share of the cores; a Slurm task may get another number of CPUs).
public enum RunFingerprint {
    /// Keys left out, as (section, key); a nil section is a top-level key.
    public static let executionKeys: [(section: String?, key: String)] = [
        (nil, "output"), ("federation", "workers"), ("federation", "threads_per_worker"),
        ("federation", "checkpoint_every"), ("federation", "state_memory_mb"),
    ]

    /// Sixteen hex digits for a resolved run configuration (config.yaml's tree).
    public static func of(_ config: YAMLNode) -> String {
        var hash = FNV1a()
        hash.combine(YAMLEmitter.emit(withoutExecutionKeys(config)))
        return hash.hex
    }

    /// The fingerprint of config.yaml's text, or nil when it does not parse.
    public static func of(text: String) -> String? {
        guard let node = try? YAMLParser.parse(string: text, fileName: "config.yaml") else { return nil }
        return of(node)
    }

    /// Whether a run folder's config.yaml (`written`) describes the same setting as `current`:
    /// the same fingerprint, or the same settings once both are read as today's FedKit reads them
    /// (`ConfigHistory`: a key added since the run was written, at the value that reproduces the
    /// earlier behaviour, equals its absence). Such a run may be resumed or kept.
    public static func sameSetting(written: YAMLNode, current: YAMLNode) -> Bool {
        of(written) == of(current) || setting(written) == setting(current)
    }

    /// Sixteen hex digits for a run's setting as today's FedKit reads it: the fingerprint's keys,
    /// read through `ConfigHistory` (keys added since at their earlier behaviour left out, renamed
    /// values under their current name). Equal for a config.yaml of an earlier build and today's
    /// resolved config of the same setting.
    public static func setting(_ config: YAMLNode) -> String {
        let settings = ConfigHistory.canonical(ConfigHistory.settings(of: withoutExecutionKeys(config)))
        var hash = FNV1a()
        for (key, value) in settings.sorted(by: { $0.key < $1.key }) { hash.combine("\(key)=\(value)\n") }
        return hash.hex
    }

    /// `setting` of config.yaml's text, or nil when it does not parse.
    public static func setting(text: String) -> String? {
        guard let node = try? YAMLParser.parse(string: text, fileName: "config.yaml") else { return nil }
        return setting(node)
    }

    /// `sameSetting` for config.yaml's text (false when it does not parse).
    public static func sameSetting(writtenText: String, current: YAMLNode) -> Bool {
        guard let written = try? YAMLParser.parse(string: writtenText, fileName: "config.yaml") else { return false }
        return sameSetting(written: written, current: current)
    }

    static func withoutExecutionKeys(_ node: YAMLNode) -> YAMLNode {
        guard let entries = node.entries else { return node }
        var kept: [YAMLMappingEntry] = []
        for entry in entries {
            if executionKeys.contains(where: { $0.section == nil && $0.key == entry.keyString }) { continue }
            let dropped = executionKeys.filter { $0.section == entry.keyString }.map(\.key)
            if !dropped.isEmpty, let inner = entry.value.entries {
                kept.append(
                    YAMLMappingEntry(
                        key: entry.key,
                        value: YAMLNode(
                            kind: .mapping(inner.filter { !dropped.contains($0.keyString) }),
                            location: entry.value.location)))
            } else {
                kept.append(entry)
            }
        }
        return YAMLNode(kind: .mapping(kept), location: node.location)
    }
}

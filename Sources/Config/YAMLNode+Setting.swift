/// Replacing a value deep inside a tree, for command-line overrides
/// (`--set federation.rounds=5`, see `YAMLOverride`).
extension YAMLNode {
    /// A copy of this tree with the node at `path` replaced by `value`.
    ///
    /// - Missing mapping keys are created, intermediate ones as new mappings (located at
    ///   `value.location`); a null intermediate (`federation:` with nothing after it) counts as an
    ///   empty mapping.
    /// - On a sequence, a component must be a 0-based index within the list (`methods.0.label`).
    /// - An empty `path` replaces the whole tree.
    /// - Throws a `ConfigError` at the offending node when an intermediate is a scalar, an index is
    ///   not a number or out of range, or a component is empty.
    public func setting(path: [String], to value: YAMLNode) throws -> YAMLNode {
        try setting(path[...], to: value, done: [])
    }

    private func setting(_ path: ArraySlice<String>, to value: YAMLNode, done: [String]) throws -> YAMLNode {
        guard let component = path.first else { return value }
        let here = done.isEmpty ? "the top level" : "'\(done.joined(separator: "."))'"
        let full = (done + path).joined(separator: ".")
        guard !component.isEmpty else {
            throw ConfigError("cannot set '\(full)': the key path has an empty component", at: value.location)
        }
        let rest = path.dropFirst()
        switch kind {
        case .mapping(var entries):
            if let i = entries.firstIndex(where: { $0.keyString == component }) {
                entries[i].value = try entries[i].value.setting(rest, to: value, done: done + [component])
            } else {
                let empty = YAMLNode(kind: .mapping([]), location: value.location)
                let child = rest.isEmpty ? value : try empty.setting(rest, to: value, done: done + [component])
                entries.append(
                    YAMLMappingEntry(
                        key: YAMLNode(kind: .scalar(component, quoted: false), location: value.location),
                        value: child))
            }
            return YAMLNode(kind: .mapping(entries), location: location)
        case .sequence(var items):
            guard let index = Int(component), index >= 0 else {
                throw ConfigError(
                    "cannot set '\(full)': \(here) is a list, so '\(component)' must be an index (0 to \(items.count - 1))",
                    at: location)
            }
            guard index < items.count else {
                throw ConfigError(
                    "cannot set '\(full)': index \(index) is out of range, \(here) has \(items.count) item\(items.count == 1 ? "" : "s")",
                    at: location)
            }
            items[index] = try items[index].setting(rest, to: value, done: done + [component])
            return YAMLNode(kind: .sequence(items), location: location)
        case .scalar:
            if isNull {
                return try YAMLNode(kind: .mapping([]), location: location).setting(path, to: value, done: done)
            }
            throw ConfigError("cannot set '\(full)': \(here) is \(messageDescription), not a mapping", at: location)
        }
    }
}

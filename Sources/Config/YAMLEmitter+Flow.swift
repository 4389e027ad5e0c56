extension YAMLEmitter {
    /// A value on one line in flow style (`0.01`, `"a b"`, `[1, 2]`, `{name: sgd, mu: 0.1}`) that
    /// parses back to the same content: the VALUE of a `--set KEY=VALUE` override.
    public static func flow(_ node: YAMLNode) -> String {
        switch node.kind {
        case .scalar(let text, let quoted):
            return (!quoted && text.isEmpty) ? "null" : scalar(text, quoted: quoted, flow: true)
        case .sequence(let items):
            return "[" + items.map(flow).joined(separator: ", ") + "]"
        case .mapping(let entries):
            return "{" + entries.map { "\(flow($0.key)): \(flow($0.value))" }.joined(separator: ", ") + "}"
        }
    }
}

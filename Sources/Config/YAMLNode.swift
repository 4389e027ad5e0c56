/// One node of a parsed YAML document, with the position it was written at.
///
/// Scalars keep their text exactly as YAML decoded it, plus whether they were quoted (or written
/// as a block scalar `|`/`>`, or tagged `!!str`): a quoted scalar is always a string, never a
/// number, boolean or null. Interpretation as a number or boolean happens only on request,
/// through the typed accessors (`int(path:)`, `double(path:)`, `bool(path:)`, `string(path:)`),
/// which report mistakes at this node's location.
///
/// Aliases are resolved while parsing: an alias node is a copy of its anchored node, locations
/// included (they point at the anchored definition, where the values were actually written).
///
/// `==` compares kinds *and* locations; use `hasSameContent(as:)` to compare trees that come
/// from different sources.
public struct YAMLNode: Sendable, Equatable {
    /// The shape and content of a node.
    public enum Kind: Sendable, Equatable {
        /// A scalar's text; `quoted` is true for quoted, block (`|`, `>`) and `!!str` scalars.
        case scalar(String, quoted: Bool)
        /// A sequence's items, in order.
        case sequence([YAMLNode])
        /// A mapping's entries, in source order; keys are unique scalars.
        case mapping([YAMLMappingEntry])
    }

    public var kind: Kind
    /// Where the node starts (for collections: the `[`/`{` or the first item/key).
    public var location: SourceLocation

    public init(kind: Kind, location: SourceLocation) {
        self.kind = kind
        self.location = location
    }

    /// True for a plain (unquoted) scalar that YAML reads as null: empty, `~`, `null`, `Null`, `NULL`.
    public var isNull: Bool {
        guard case .scalar(let text, quoted: false) = kind else { return false }
        return text.isEmpty || text == "~" || text == "null" || text == "Null" || text == "NULL"
    }

    /// The text of a scalar (quoted or not); nil for collections.
    public var scalarValue: String? {
        if case .scalar(let text, _) = kind { return text }
        return nil
    }

    /// True for a quoted (or block, or `!!str`) scalar.
    public var isQuoted: Bool {
        if case .scalar(_, quoted: true) = kind { return true }
        return false
    }

    /// The items of a sequence; nil otherwise.
    public var items: [YAMLNode]? {
        if case .sequence(let items) = kind { return items }
        return nil
    }

    /// The entries of a mapping, in source order; nil otherwise.
    public var entries: [YAMLMappingEntry]? {
        if case .mapping(let entries) = kind { return entries }
        return nil
    }

    /// The keys of a mapping, in source order; nil otherwise.
    public var keys: [String]? { entries?.map(\.keyString) }

    /// The value for `key` in a mapping; nil when absent or when this is not a mapping.
    public subscript(key: String) -> YAMLNode? {
        guard case .mapping(let entries) = kind else { return nil }
        return entries.first { $0.keyString == key }?.value
    }

    /// Equality ignoring locations: same kinds, texts, quoting, keys and order.
    public func hasSameContent(as other: YAMLNode) -> Bool {
        switch (kind, other.kind) {
        case let (.scalar(a, qa), .scalar(b, qb)):
            return a == b && qa == qb
        case let (.sequence(a), .sequence(b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.hasSameContent(as: $1) }
        case let (.mapping(a), .mapping(b)):
            return a.count == b.count
                && zip(a, b).allSatisfy {
                    $0.key.hasSameContent(as: $1.key) && $0.value.hasSameContent(as: $1.value)
                }
        default:
            return false
        }
    }

    /// Total number of nodes in this tree (this node, its items, keys and values, recursively).
    public var nodeCount: Int {
        switch kind {
        case .scalar: return 1
        case .sequence(let items): return items.reduce(1) { $0 + $1.nodeCount }
        case .mapping(let entries): return entries.reduce(1) { $0 + $1.key.nodeCount + $1.value.nodeCount }
        }
    }

    /// How the node reads in a message: `"abc"`, `2.5`, `null`, `a list`, `a mapping`.
    /// Plain scalars that look like numbers or booleans appear bare, other text in quotes.
    var messageDescription: String {
        switch kind {
        case .scalar(let text, let quoted):
            if quoted { return ScalarSyntax.quote(text) }
            if isNull { return "null" }
            if ScalarSyntax.parseDouble(text) != nil || ScalarSyntax.parseBool(text) != nil { return text }
            return ScalarSyntax.quote(text)
        case .sequence: return "a list"
        case .mapping: return "a mapping"
        }
    }
}

/// One `key: value` pair of a mapping. Keys are always scalars.
public struct YAMLMappingEntry: Sendable, Equatable {
    public var key: YAMLNode
    public var value: YAMLNode

    public init(key: YAMLNode, value: YAMLNode) {
        self.key = key
        self.value = value
    }

    /// The key's text (the parser guarantees keys are scalars; a collection key built by hand
    /// reads as "").
    public var keyString: String { key.scalarValue ?? "" }
}

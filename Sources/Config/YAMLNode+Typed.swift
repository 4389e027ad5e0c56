/// Typed access to scalar values. Each accessor throws a `ConfigError` at the node's location
/// whose message names `path`, the dotted key path the caller is reading (e.g.
/// `"federation.rounds"`), so that users see exactly which setting is wrong:
///
///     federation.rounds must be an integer, got 2.5
///     partition.alpha must be a number, got "abc"
///     seed must be an integer, got the string "5"
///     methods must be a list, got a mapping
///
/// Quoted scalars are strings: `"5"` is never an integer and `"true"` never a boolean.
extension YAMLNode {
    /// An integer: decimal (`-12`), hexadecimal (`0x1F`) or octal (`0o17`). No `_` separators.
    public func int(path: String) throws -> Int {
        guard case .scalar(let text, let quoted) = kind else {
            throw ConfigError("\(path) must be an integer, got \(messageDescription)", at: location)
        }
        if quoted {
            throw ConfigError("\(path) must be an integer, got \(stringDescription(text))", at: location)
        }
        switch ScalarSyntax.parseInt(text) {
        case .value(let v): return v
        case .overflow:
            throw ConfigError("\(path) must be an integer between \(Int.min) and \(Int.max), got \(text)", at: location)
        case .invalid:
            throw ConfigError("\(path) must be an integer, got \(messageDescription)", at: location)
        }
    }

    /// A finite number: `3`, `-2`, `0.25`, `.5`, `1e-3`. `.inf`, `.nan` and overflowing
    /// exponents are rejected ("must be a finite number").
    public func double(path: String) throws -> Double {
        guard case .scalar(let text, let quoted) = kind else {
            throw ConfigError("\(path) must be a number, got \(messageDescription)", at: location)
        }
        if quoted {
            throw ConfigError("\(path) must be a number, got \(stringDescription(text))", at: location)
        }
        if ScalarSyntax.isNonFiniteLiteral(text) {
            throw ConfigError("\(path) must be a finite number, got \(text)", at: location)
        }
        guard let value = ScalarSyntax.parseDouble(text) else {
            throw ConfigError("\(path) must be a number, got \(messageDescription)", at: location)
        }
        guard value.isFinite else {
            throw ConfigError("\(path) must be a finite number, got \(text) (out of range)", at: location)
        }
        return value
    }

    /// A boolean: `true/false`, `yes/no`, `on/off` in any letter case (YAML 1.1).
    public func bool(path: String) throws -> Bool {
        guard case .scalar(let text, let quoted) = kind else {
            throw ConfigError("\(path) must be true or false, got \(messageDescription)", at: location)
        }
        if quoted {
            let hint =
                ScalarSyntax.parseBool(text) != nil
                ? "the string \(ScalarSyntax.quote(text)) (remove the quotes)" : ScalarSyntax.quote(text)
            throw ConfigError("\(path) must be true or false, got \(hint)", at: location)
        }
        guard let value = ScalarSyntax.parseBool(text) else {
            throw ConfigError("\(path) must be true or false, got \(messageDescription)", at: location)
        }
        return value
    }

    /// The text of any scalar, quoted or not (a plain `5` reads as "5"; a bare `key:` as "").
    public func string(path: String) throws -> String {
        guard case .scalar(let text, _) = kind else {
            throw ConfigError("\(path) must be a string, got \(messageDescription)", at: location)
        }
        return text
    }

    /// The items of a sequence ("methods must be a list, got a mapping" otherwise).
    public func sequence(path: String) throws -> [YAMLNode] {
        guard case .sequence(let items) = kind else {
            throw ConfigError("\(path) must be a list, got \(messageDescription)", at: location)
        }
        return items
    }

    /// The entries of a mapping ("dataset must be a mapping, got \"mnist\"" otherwise).
    public func mapping(path: String) throws -> [YAMLMappingEntry] {
        guard case .mapping(let entries) = kind else {
            throw ConfigError("\(path) must be a mapping, got \(messageDescription)", at: location)
        }
        return entries
    }

    /// A quoted scalar in a message; `the string "5"` when it would have been a number unquoted.
    private func stringDescription(_ text: String) -> String {
        let looksNumeric = ScalarSyntax.parseDouble(text) != nil || ScalarSyntax.parseInt(text) != .invalid
        return looksNumeric ? "the string \(ScalarSyntax.quote(text)) (remove the quotes)" : ScalarSyntax.quote(text)
    }
}

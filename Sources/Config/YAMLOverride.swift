/// Command-line overrides of the form `KEY.PATH=VALUE` (`exp show file.yaml --set federation.rounds=5`).
public enum YAMLOverride {
    /// The pseudo file name in the locations of override values and errors.
    public static let fileName = "<command line>"

    /// Splits `a.b.c=VALUE` into its key path and its value.
    ///
    /// - The key path is split at dots; `name[2]` is accepted for `name.2` (list index), so paths
    ///   copied from error messages (`methods[0].label`) work.
    /// - VALUE is parsed as YAML (one flow or plain value: `5`, `0.1`, `true`, `"5"`, `[1, 2]`,
    ///   `{name: sgd}`); an empty VALUE is null. Locations use the file `<command line>` with
    ///   columns counted in the whole assignment, and errors show the assignment with a caret.
    /// - Throws a `ConfigError` when `=` is missing, the key path is empty or has an empty
    ///   component, or VALUE is not valid YAML.
    public static func parse(_ assignment: String) throws -> (path: [String], value: YAMLNode) {
        let start = SourceLocation(file: fileName, line: 1, column: 1)
        let scalars = assignment.unicodeScalars
        guard let equals = scalars.firstIndex(of: "=") else {
            throw ConfigError(
                "an override must look like KEY.PATH=VALUE (e.g. federation.rounds=5); '\(assignment)' has no '='",
                at: start, sourceLine: assignment)
        }
        let keyText = String(scalars[..<equals])
        let valueText = String(scalars[scalars.index(after: equals)...])
        let path = try keyPath(keyText, assignment: assignment)
        let offset = scalars.distance(from: scalars.startIndex, to: equals) + 1  // columns count Unicode scalars
        if valueText.allSatisfy({ $0 == " " }) {
            return (
                path,
                YAMLNode(
                    kind: .scalar("", quoted: false),
                    location: SourceLocation(file: fileName, line: 1, column: offset + 1))
            )
        }
        do {
            let value = try YAMLParser.parse(string: valueText, fileName: fileName)
            return (path, value.shiftingFirstLine(by: offset))
        } catch var error as ConfigError {
            if let location = error.location, location.line == 1 {
                error.location = SourceLocation(file: location.file, line: 1, column: location.column + offset)
                error.sourceLine = assignment
            }
            error.message = "invalid value in override '\(assignment)': " + error.message
            throw error
        }
    }

    /// `a.b[0].c` -> ["a", "b", "0", "c"].
    private static func keyPath(_ text: String, assignment: String) throws -> [String] {
        var components: [String] = []
        for part in text.split(separator: ".", omittingEmptySubsequences: false) {
            var name = Substring(part)
            var indices: [String] = []
            while name.hasSuffix("]"), let open = name.lastIndex(of: "[") {
                indices.insert(String(name[name.index(after: open)..<name.index(before: name.endIndex)]), at: 0)
                name = name[..<open]
            }
            components.append(String(name))
            components += indices
        }
        let trimmed = components.map { $0.trimmingSpaces() }
        if trimmed.allSatisfy(\.isEmpty) {
            throw ConfigError(
                "an override must look like KEY.PATH=VALUE (e.g. federation.rounds=5); the key path before '=' is empty",
                at: SourceLocation(file: fileName, line: 1, column: 1), sourceLine: assignment)
        }
        if trimmed.contains(where: \.isEmpty) {
            throw ConfigError(
                "the key path '\(text)' has an empty component (check for '..' or a leading or trailing '.')",
                at: SourceLocation(file: fileName, line: 1, column: 1), sourceLine: assignment)
        }
        return trimmed
    }
}

extension String {
    fileprivate func trimmingSpaces() -> String {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}

extension YAMLNode {
    /// This tree with every column on line 1 moved right by `offset` (values parsed out of a
    /// longer command-line argument).
    fileprivate func shiftingFirstLine(by offset: Int) -> YAMLNode {
        var copy = self
        if copy.location.line == 1 { copy.location.column += offset }
        switch kind {
        case .scalar: break
        case .sequence(let items): copy.kind = .sequence(items.map { $0.shiftingFirstLine(by: offset) })
        case .mapping(let entries):
            copy.kind = .mapping(
                entries.map {
                    YAMLMappingEntry(
                        key: $0.key.shiftingFirstLine(by: offset), value: $0.value.shiftingFirstLine(by: offset))
                })
        }
        return copy
    }
}

/// One problem with a configuration: what is wrong and, when known, where.
///
/// `description` renders the conventional compiler-style message:
///
///     experiments/a.yaml:4:10: federation.rounds must be an integer, got 2.5
///       rounds: 2.5
///               ^
///
/// Without a location the description is just `message`; errors that have no position
/// (a missing or unreadable file) therefore carry the path inside the message itself.
public struct ConfigError: Error, CustomStringConvertible, Sendable {
    /// Where the problem is; nil when no position exists (e.g. the file is unreadable).
    public var location: SourceLocation?
    /// What is wrong, without the location prefix.
    public var message: String
    /// The offending line of the source (without its line break), shown with a caret under
    /// `location.column`.
    public var sourceLine: String?

    public init(_ message: String, at location: SourceLocation? = nil, sourceLine: String? = nil) {
        self.message = message
        self.location = location
        self.sourceLine = sourceLine
    }

    /// `file:line:col: message`, followed by the source line and a caret when known.
    public var description: String {
        guard let location else { return message }
        var text = "\(location): \(message)"
        if let sourceLine {
            text += "\n  " + sourceLine + "\n  " + Self.caretPadding(sourceLine, column: location.column) + "^"
        }
        return text
    }

    /// Spaces up to `column` (tabs are kept as tabs so the caret lines up in a terminal).
    static func caretPadding(_ line: String, column: Int) -> String {
        var padding = ""
        var count = 0
        for ch in line.unicodeScalars {  // libyaml counts columns in Unicode scalars
            if count >= column - 1 { break }
            padding.append(ch == "\t" ? "\t" : " ")
            count += 1
        }
        if count < column - 1 { padding += String(repeating: " ", count: column - 1 - count) }
        return padding
    }

    /// This error with `sourceLine` filled in from the file named by its location, when the
    /// error has a location, lacks a source line and the file can be read. Errors raised after
    /// parsing (by the typed accessors, or by validation code) carry no source line; call this
    /// before printing them to get the caret display.
    public func addingSourceLine() -> ConfigError {
        guard sourceLine == nil, let location,
            let bytes = try? FileReader.contents(of: location.file, maxSize: YAMLLimits.default.maxFileSize)
        else { return self }
        var copy = self
        copy.sourceLine = SourceText(bytes: bytes).lineText(location.line)
        return copy
    }
}

/// Several configuration problems reported together (validation collects them all rather than
/// stopping at the first). `description` joins the individual descriptions with blank lines.
public struct ConfigErrors: Error, CustomStringConvertible, Sendable {
    public var errors: [ConfigError]

    public init(errors: [ConfigError]) { self.errors = errors }

    public var description: String { errors.map(\.description).joined(separator: "\n\n") }

    /// Every error with its source line filled in where possible (see `ConfigError.addingSourceLine()`).
    /// Each file is read at most once.
    public func addingSourceLines() -> ConfigErrors {
        var cache: [String: SourceText?] = [:]
        return ConfigErrors(
            errors: errors.map { error in
                guard error.sourceLine == nil, let location = error.location else { return error }
                if cache[location.file] == nil {
                    cache[location.file] = .some(
                        (try? FileReader.contents(of: location.file, maxSize: YAMLLimits.default.maxFileSize))
                            .map { SourceText(bytes: $0) })
                }
                var copy = error
                copy.sourceLine = cache[location.file]??.lineText(location.line)
                return copy
            })
    }
}

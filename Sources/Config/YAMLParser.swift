#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Parses one YAML document into a `YAMLNode` tree with source positions, using libyaml's event
/// API and building the tree here so that every node knows where it was written.
///
/// Guarantees, beyond plain YAML:
/// - every failure is a `ConfigError`; syntax errors read `file:line:col: <problem> (<context>)`
///   and carry the offending line for the caret display;
/// - exactly one document: an empty (or comments-only) file and a second document are errors;
/// - mapping keys are scalars and unique (`duplicate key 'x' (first at line N)`);
/// - aliases are expanded, within `YAMLLimits.maxAliasExpansion` nodes (alias bombs fail fast);
///   anchors must be defined before use; merge keys (`<<: *base`, `<<: [*a, *b]`) are supported,
///   explicit keys winning over merged ones;
/// - nesting is limited to `YAMLLimits.maxDepth` levels and input to `YAMLLimits.maxFileSize`;
/// - NUL bytes, invalid UTF-8 and control characters are reported with their position;
/// - tags: `!!str` (and the non-specific `!`) make a scalar a string; the other YAML core tags
///   (`!!int`, `!!float`, `!!bool`, `!!null`, `!!map`, `!!seq`…) are accepted and ignored; any
///   other tag is an error.
///
/// A UTF-8 byte-order mark is skipped; UTF-16 input (with a BOM) is converted to UTF-8.
public enum YAMLParser {
    /// The default limit on nodes added by alias expansion (`YAMLLimits.default`); pass a
    /// `YAMLLimits` to `parse` to change it.
    public static var maxAliasExpansion: Int { YAMLLimits.default.maxAliasExpansion }
    /// The default nesting limit (`YAMLLimits.default`).
    public static var maxDepth: Int { YAMLLimits.default.maxDepth }
    /// The default input size limit in bytes (`YAMLLimits.default`).
    public static var maxFileSize: Int { YAMLLimits.default.maxFileSize }

    /// Reads and parses the file at `path`. Locations name `path` as given.
    ///
    /// A missing, unreadable or oversized file, or a directory, throws a `ConfigError` without a
    /// location whose message names the path and the reason.
    public static func parse(file path: String, limits: YAMLLimits = .default) throws -> YAMLNode {
        let bytes = try FileReader.contents(of: path, maxSize: limits.maxFileSize)
        return try parse(bytes: bytes, fileName: path, limits: limits)
    }

    /// Parses YAML text; locations name `fileName` (a path, or a pseudo-name like `<preset>`).
    public static func parse(string: String, fileName: String, limits: YAMLLimits = .default) throws -> YAMLNode {
        let bytes = Array(string.utf8)
        if bytes.count > limits.maxFileSize {
            throw FileReader.tooLarge(fileName, size: bytes.count, limit: limits.maxFileSize)
        }
        return try parse(bytes: bytes, fileName: fileName, limits: limits)
    }

    /// Parses raw bytes (UTF-8, or UTF-16 with a BOM).
    static func parse(bytes input: [UInt8], fileName: String, limits: YAMLLimits) throws(ConfigError) -> YAMLNode {
        var bytes = input
        var skipped = 0  // bytes removed from the front (a UTF-8 BOM), for byte offsets in messages
        if bytes.starts(with: [0xFE, 0xFF]) || bytes.starts(with: [0xFF, 0xFE]) {
            bytes = utf16ToUTF8(bytes)
        }
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) {
            bytes.removeFirst(3)
            skipped = 3
        }
        let source = SourceText(bytes: bytes)
        if let nul = firstNUL(bytes) {
            let (line, column) = source.position(ofByte: nul)
            throw ConfigError(
                "the file contains a NUL byte (at byte offset \(nul + skipped)); YAML must be UTF-8 text — is this a binary file?",
                at: SourceLocation(file: fileName, line: line, column: column),
                sourceLine: source.lineText(line))
        }
        if bytes.isEmpty {  // libyaml needs a non-NULL buffer; comments-only input is caught later
            throw emptyFile(fileName)
        }
        var builder = TreeBuilder(source: source, fileName: fileName, limits: limits, byteOffsetBase: skipped)
        return try builder.build()
    }

    /// Index of the first 0 byte (memchr: this runs over every byte of the input).
    private static func firstNUL(_ bytes: [UInt8]) -> Int? {
        bytes.withUnsafeBytes { raw -> Int? in
            guard let base = raw.baseAddress, let hit = memchr(base, 0, raw.count) else { return nil }
            return base.distance(to: UnsafeRawPointer(hit))
        }
    }

    static func emptyFile(_ fileName: String) -> ConfigError {
        ConfigError(
            "the file is empty: expected a YAML document (it has only whitespace or comments)",
            at: SourceLocation(file: fileName, line: 1, column: 1))
    }

    /// UTF-16 (big or little endian per its BOM) to UTF-8 without a BOM; invalid units are replaced.
    private static func utf16ToUTF8(_ bytes: [UInt8]) -> [UInt8] {
        let bigEndian = bytes[0] == 0xFE
        var units: [UInt16] = []
        units.reserveCapacity(bytes.count / 2)
        var i = 2
        while i + 1 < bytes.count {
            units.append(
                bigEndian ? UInt16(bytes[i]) << 8 | UInt16(bytes[i + 1]) : UInt16(bytes[i + 1]) << 8 | UInt16(bytes[i]))
            i += 2
        }
        return Array(String(decoding: units, as: UTF16.self).utf8)
    }
}

/// A position in a configuration source: a file (or a pseudo-file such as `<command line>`),
/// a 1-based line and a 1-based column counted in characters.
///
/// Its `description` is the conventional `file:line:col`, which editors and terminals
/// recognise as a clickable position.
public struct SourceLocation: Hashable, Sendable, CustomStringConvertible {
    /// The file path as given to the parser, or a pseudo-name like `<command line>`.
    public var file: String
    /// 1-based line number.
    public var line: Int
    /// 1-based column, counted in Unicode characters (not bytes).
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// `file:line:col`.
    public var description: String { "\(file):\(line):\(column)" }
}

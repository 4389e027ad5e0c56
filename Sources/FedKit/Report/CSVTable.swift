import Foundation

/// A small CSV file read as text cells: a header and rows (RFC 4180 quoting).
public struct CSVTable: Sendable, Equatable {
    public var header: [String]
    public var rows: [[String]]

    /// Parses `text`; every row must have as many cells as the header (error names path:line).
    public init(text: String, path: String) throws {
        var lines = Self.records(text)
        guard let first = lines.first else { throw ReportError("\(path): empty file (no header line)") }
        header = first.cells
        lines.removeFirst()
        rows = []
        for line in lines where !(line.cells.count == 1 && line.cells[0].isEmpty) {
            guard line.cells.count == header.count else {
                throw ReportError("\(path):\(line.number): \(line.cells.count) cells, the header has \(header.count)")
            }
            rows.append(line.cells)
        }
    }

    /// The cells of the column named `name`, or nil when there is none.
    public func column(_ name: String) -> [String]? {
        header.firstIndex(of: name).map { i in rows.map { $0[i] } }
    }

    /// Records with their 1-based line numbers.
    static func records(_ text: String) -> [(number: Int, cells: [String])] {
        var out: [(Int, [String])] = []
        var cells: [String] = [], cell = "", quoted = false, line = 1, start = 1, pendingQuote = false
        for ch in text {
            if quoted {
                if pendingQuote {
                    pendingQuote = false
                    if ch == "\"" { cell.append(ch); continue }
                    quoted = false
                } else if ch == "\"" {
                    pendingQuote = true
                    continue
                } else {
                    if ch == "\n" { line += 1 }
                    cell.append(ch)
                    continue
                }
            }
            switch ch {
            case "\"" where cell.isEmpty: quoted = true
            case ",": cells.append(cell); cell = ""
            case "\n", "\r\n":
                cells.append(cell)
                out.append((start, cells))
                cells = []; cell = ""; line += 1; start = line
            default: cell.append(ch)
            }
        }
        if !cell.isEmpty || !cells.isEmpty { cells.append(cell); out.append((start, cells)) }
        return out
    }

    /// One cell as CSV text, quoted when needed.
    public static func escape(_ cell: String) -> String {
        cell.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
            ? "\"" + cell.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : cell
    }
}

/// A report input that cannot be read: the message names the file (and line) and what is wrong.
public struct ReportError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

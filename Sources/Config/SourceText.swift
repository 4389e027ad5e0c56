/// The raw bytes of a source, for turning byte offsets into positions and positions back into
/// the text of a line (the caret display). Line breaks are those libyaml counts: LF, CRLF, CR,
/// NEL (U+0085), LS (U+2028) and PS (U+2029), so lines agree with libyaml's marks.
struct SourceText {
    let bytes: [UInt8]

    /// The length in bytes of the line break starting at `i`, or 0.
    private func breakLength(at i: Int) -> Int {
        let b = bytes[i]
        if b == 0x0A { return 1 }
        if b == 0x0D { return i + 1 < bytes.count && bytes[i + 1] == 0x0A ? 2 : 1 }
        if b == 0xC2, i + 1 < bytes.count, bytes[i + 1] == 0x85 { return 2 }
        if b == 0xE2, i + 2 < bytes.count, bytes[i + 1] == 0x80, bytes[i + 2] == 0xA8 || bytes[i + 2] == 0xA9 {
            return 3
        }
        return 0
    }

    /// The byte range of 1-based `line` (without its break), or nil past the end.
    func lineRange(_ line: Int) -> Range<Int>? {
        guard line >= 1 else { return nil }
        var current = 1
        var start = 0
        var i = 0
        while i < bytes.count {
            let n = breakLength(at: i)
            if n > 0 {
                if current == line { return start..<i }
                current += 1
                i += n
                start = i
            } else {
                i += 1
            }
        }
        return current == line ? start..<bytes.count : nil
    }

    /// The text of 1-based `line` without its line break, safe to print: invalid UTF-8 is
    /// repaired and control characters other than tab are shown as their Unicode control
    /// pictures (NUL as ␀). Nil when the line does not exist.
    func lineText(_ line: Int) -> String? {
        guard let range = lineRange(line) else { return nil }
        let text = String(decoding: bytes[range], as: UTF8.self)
        return text.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\t" || $0.value == 0x7F })
            ? text.showingControls() : text
    }

    /// The 1-based line and column (in characters) of byte `offset`.
    func position(ofByte offset: Int) -> (line: Int, column: Int) {
        var line = 1
        var column = 1
        var i = 0
        let end = min(offset, bytes.count)
        while i < end {
            let n = breakLength(at: i)
            if n > 0 {
                line += 1
                column = 1
                i += n
            } else {
                if bytes[i] & 0xC0 != 0x80 { column += 1 }  // count characters, not continuation bytes
                i += 1
            }
        }
        return (line, column)
    }

    /// The Unicode scalar at 1-based `line`/`column`, if any.
    func character(line: Int, column: Int) -> Character? {
        guard let text = lineText(line), column >= 1 else { return nil }
        let chars = Array(text.unicodeScalars)
        return column - 1 < chars.count ? Character(chars[column - 1]) : nil
    }
}

extension String {
    fileprivate func showingControls() -> String {
        var out = ""
        out.unicodeScalars.append(
            contentsOf: unicodeScalars.map { c in
                if c.value < 0x20, c != "\t" { return Unicode.Scalar(0x2400 + c.value)! }
                return c.value == 0x7F ? "\u{2421}" : c
            })
        return out
    }
}

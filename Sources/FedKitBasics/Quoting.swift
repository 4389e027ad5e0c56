/// The one string escaper of the code base: `text` in double quotes with `"`, `\` and every
/// character the target format cannot hold literally escaped.
public enum Quoting {
    /// The target format.
    public enum Style: Sendable {
        /// JSON (RFC 8259): control characters as `\u00XX`; everything else literal.
        case json
        /// A YAML double-quoted scalar (YAML 1.2 §5.7): YAML's named escapes (`\0`, `\a`, `\e`,
        /// `\N`, `\L`, `\P`, ...), `\x`/`\u`/`\U` for other non-printable characters. Always one line.
        case yaml
    }

    public static func quoted(_ text: String, _ style: Style) -> String {
        var out = "\""
        for c in text.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                switch style {
                case .json:
                    if c.value < 0x20 {
                        out += "\\u" + Hex.digits(c.value, count: 4)
                    } else {
                        out.unicodeScalars.append(c)
                    }
                case .yaml:
                    out += yamlEscape(c)
                }
            }
        }
        return out + "\""
    }

    static func yamlEscape(_ c: Unicode.Scalar) -> String {
        switch c {
        case "\0": return "\\0"
        case "\u{07}": return "\\a"
        case "\u{08}": return "\\b"
        case "\u{0B}": return "\\v"
        case "\u{0C}": return "\\f"
        case "\u{1B}": return "\\e"
        case "\u{85}": return "\\N"
        case "\u{2028}": return "\\L"
        case "\u{2029}": return "\\P"
        case "\u{FEFF}": return "\\uFEFF"
        default:
            if isYAMLPrintable(c) { return String(c) }
            if c.value <= 0xFF { return "\\x" + Hex.digits(c.value, count: 2, uppercase: true) }
            if c.value <= 0xFFFF { return "\\u" + Hex.digits(c.value, count: 4, uppercase: true) }
            return "\\U" + Hex.digits(c.value, count: 8, uppercase: true)
        }
    }

    /// Characters YAML allows unescaped (line breaks excluded).
    public static func isYAMLPrintable(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x20...0x7E, 0xA0...0x2027, 0x202A...0xD7FF, 0xE000...0xFFFD, 0x10000...0x10FFFF: return true
        default: return false
        }
    }
}

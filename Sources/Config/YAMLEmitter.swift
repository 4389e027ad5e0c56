import FedKitBasics

/// Writes a `YAMLNode` tree as block-style YAML (2-space indentation) that parses back to the
/// same tree (`hasSameContent(as:)`), which is what `exp show` and the saved `config.yaml` rely on.
///
/// - Plain scalars stay plain, so `5`, `true` and `null` keep their meaning. A plain scalar whose
///   text cannot be written plain (it has `: `, ` #`, leading spaces, line breaks… — only possible
///   in trees built by hand) is written double-quoted, so it comes back as a quoted string with
///   the same text.
/// - Quoted scalars are always written double-quoted (`"5"` stays a string), with escapes for
///   `"`, `\`, line breaks and control characters; other Unicode is written as is.
/// - A sequence of scalars that fits on one line is written in flow style: `[1, 2, 3]`.
/// - Empty collections are `[]` and `{}`; an empty plain scalar (null) is written as nothing
///   (`key:`), or `~` at the root.
/// - Anchors and aliases are not reproduced (the tree has them expanded).
/// - Keys must be scalars (as the parser guarantees); empty plain keys and keys longer than
///   1000 characters use the explicit `? key` form.
public enum YAMLEmitter {
    /// The document text, ending with a newline.
    public static func emit(_ node: YAMLNode) -> String {
        var out = ""
        switch node.kind {
        case .scalar(let text, let quoted):
            out = (!quoted && text.isEmpty) ? "~" : scalar(text, quoted: quoted, flow: false)
            out += "\n"
        case .sequence(let items) where items.isEmpty:
            out = "[]\n"
        case .mapping(let entries) where entries.isEmpty:
            out = "{}\n"
        case .sequence:
            if let flow = flowSequence(node, indent: 0) {
                out = flow + "\n"
            } else {
                block(node, indent: 0, inline: false, into: &out)
            }
        case .mapping:
            block(node, indent: 0, inline: false, into: &out)
        }
        return out
    }

    /// Longest line a flow sequence may make.
    static let flowWidth = 80
    /// Longest implicit key YAML allows is 1024 characters; longer keys use `? key` form.
    static let maxImplicitKey = 1000

    /// Writes a non-empty collection as block lines at `indent`. With `inline`, the first line
    /// continues the current one (after `- `) instead of starting with the indentation.
    private static func block(_ node: YAMLNode, indent: Int, inline: Bool, into out: inout String) {
        let pad = String(repeating: " ", count: indent)
        var first = inline
        switch node.kind {
        case .sequence(let items):
            for item in items {
                if !first { out += pad }
                first = false
                out += "-"
                switch item.kind {
                case .mapping(let entries) where !entries.isEmpty:
                    out += " "
                    block(item, indent: indent + 2, inline: true, into: &out)
                case .sequence(let inner) where !inner.isEmpty && flowSequence(item, indent: indent + 2) == nil:
                    out += " "
                    block(item, indent: indent + 2, inline: true, into: &out)
                default:
                    out += inlineValue(item, indent: indent + 2) + "\n"
                }
            }
        case .mapping(let entries):
            for entry in entries {
                if !first { out += pad }
                first = false
                let keyText = key(entry.key)
                if let keyText {
                    out += keyText + ":"
                } else {
                    out += "?" + inlineValue(entry.key, indent: indent + 2) + "\n" + pad + ":"
                }
                let valueColumn = indent + (keyText?.count ?? 0) + 2
                switch entry.value.kind {
                case .mapping(let inner) where !inner.isEmpty:
                    out += "\n"
                    block(entry.value, indent: indent + 2, inline: false, into: &out)
                case .sequence(let inner) where !inner.isEmpty && flowSequence(entry.value, indent: valueColumn) == nil:
                    out += "\n"
                    block(entry.value, indent: indent + 2, inline: false, into: &out)
                default:
                    out += inlineValue(entry.value, indent: valueColumn) + "\n"
                }
            }
        case .scalar:
            out += inlineValue(node, indent: indent) + "\n"
        }
    }

    /// A value that fits after `key:` or `-`, with its leading space (or nothing for null).
    /// `column` is where it would start, for the flow width.
    private static func inlineValue(_ node: YAMLNode, indent column: Int) -> String {
        switch node.kind {
        case .scalar(let text, let quoted):
            return (!quoted && text.isEmpty) ? "" : " " + scalar(text, quoted: quoted, flow: false)
        case .sequence(let items) where items.isEmpty: return " []"
        case .mapping(let entries) where entries.isEmpty: return " {}"
        case .sequence: return " " + (flowSequence(node, indent: column) ?? "[]")
        case .mapping: return " {}"  // not reached: callers write non-empty mappings as blocks
        }
    }

    /// `[a, b, c]` when every item is a scalar that can be written in flow context and the line
    /// stays within `flowWidth`; nil otherwise.
    private static func flowSequence(_ node: YAMLNode, indent: Int) -> String? {
        guard let items = node.items, !items.isEmpty else { return nil }
        var parts: [String] = []
        var width = indent + 2
        for item in items {
            guard case .scalar(let text, let quoted) = item.kind, quoted || isPlainSafe(text, flow: true) else {
                return nil
            }
            let part = scalar(text, quoted: quoted, flow: true)
            width += part.count + 2
            if width > flowWidth { return nil }
            parts.append(part)
        }
        return "[" + parts.joined(separator: ", ") + "]"
    }

    /// A key as written before `:`; nil when it needs the explicit `? key` form (empty plain
    /// keys, very long keys, collection keys built by hand).
    private static func key(_ node: YAMLNode) -> String? {
        guard case .scalar(let text, let quoted) = node.kind, quoted || !text.isEmpty else { return nil }
        let written = scalar(text, quoted: quoted, flow: false)
        return written.count > maxImplicitKey ? nil : written
    }

    /// A scalar's text, plain when that re-parses as the same plain text, else double-quoted.
    static func scalar(_ text: String, quoted: Bool, flow: Bool) -> String {
        if !quoted, isPlainSafe(text, flow: flow) { return text }
        return doubleQuoted(text)
    }

    /// True when `text` written plain reads back as exactly `text` (conservatively).
    static func isPlainSafe(_ text: String, flow: Bool) -> Bool {
        let scalars = Array(text.unicodeScalars)
        guard let first = scalars.first, let last = scalars.last else { return false }
        if first == " " || last == " " { return false }
        switch first {
        case ",", "[", "]", "{", "}", "#", "&", "*", "!", "|", ">", "'", "\"", "%", "@", "`", "?", ":":
            return false
        case "-":
            guard scalars.count > 1, scalars[1] != " " else { return false }
            if flow, ",[]{}".unicodeScalars.contains(scalars[1]) { return false }
        default:
            break
        }
        if text.hasPrefix("---") || text.hasPrefix("...") { return false }
        for (i, c) in scalars.enumerated() {
            if !Quoting.isYAMLPrintable(c) || c == "\t" || c == "\u{FEFF}" { return false }
            switch c {
            case ":":
                if flow || i + 1 == scalars.count || scalars[i + 1] == " " { return false }
            case "#":
                if i > 0, scalars[i - 1] == " " { return false }
            case ",", "[", "]", "{", "}":
                if flow { return false }
            default:
                break
            }
        }
        return true
    }

    /// `"text"` with YAML double-quote escapes; always a single line.
    static func doubleQuoted(_ text: String) -> String { Quoting.quoted(text, .yaml) }
}

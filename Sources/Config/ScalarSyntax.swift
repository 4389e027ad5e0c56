import FedKitBasics

/// Recognisers for the plain-scalar forms the typed accessors accept (a strict subset of the
/// YAML 1.1 core schema, chosen so that config values mean one obvious thing).
enum ScalarSyntax {
    /// Decimal `[-+]?[0-9]+`, hexadecimal `0x1F`, octal `0o17` (optionally signed). No `_`
    /// separators, no sexagesimal. `.overflow` when the digits are valid but do not fit `Int`.
    enum IntResult: Equatable { case value(Int), overflow, invalid }

    static func parseInt(_ text: String) -> IntResult {
        var body = Substring(text)
        var negative = false
        if let first = body.first, first == "-" || first == "+" {
            negative = first == "-"
            body = body.dropFirst()
        }
        var radix = 10
        if body.count > 2, body.hasPrefix("0x") || body.hasPrefix("0X") {
            radix = 16; body = body.dropFirst(2)
        } else if body.count > 2, body.hasPrefix("0o") || body.hasPrefix("0O") {
            radix = 8; body = body.dropFirst(2)
        }
        guard !body.isEmpty, body.allSatisfy({ $0.isASCII && $0.hexDigitValue.map { $0 < radix } == true }) else {
            return .invalid
        }
        // Parse with the sign attached so Int.min is representable.
        guard let value = Int((negative ? "-" : "") + body, radix: radix) else { return .overflow }
        return .value(value)
    }

    /// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?` — decimal floats and integers,
    /// `1e-3`, `.5`, `-2`. May return an infinite value for out-of-range exponents (`1e999`).
    static func parseDouble(_ text: String) -> Double? {
        let u = Array(text.utf8)
        var i = 0
        func digits() -> Int {
            let start = i
            while i < u.count, u[i] >= 0x30, u[i] <= 0x39 { i += 1 }
            return i - start
        }
        if i < u.count, u[i] == 0x2B || u[i] == 0x2D { i += 1 }
        let intDigits = digits()
        var fracDigits = 0
        if i < u.count, u[i] == 0x2E { i += 1; fracDigits = digits() }
        guard intDigits > 0 || fracDigits > 0 else { return nil }
        if i < u.count, u[i] == 0x65 || u[i] == 0x45 {
            i += 1
            if i < u.count, u[i] == 0x2B || u[i] == 0x2D { i += 1 }
            guard digits() > 0 else { return nil }
        }
        guard i == u.count else { return nil }
        return Double(text)
    }

    /// YAML's spellings of infinity and not-a-number: `.inf`, `-.Inf`, `+.INF`, `.nan`, `.NaN`, `.NAN`.
    static func isNonFiniteLiteral(_ text: String) -> Bool {
        var body = Substring(text)
        if body.hasPrefix("-") || body.hasPrefix("+") { body = body.dropFirst() }
        return [".inf", ".Inf", ".INF"].contains(body) || [".nan", ".NaN", ".NAN"].contains(text)
    }

    /// `true/false`, `yes/no`, `on/off`, in any letter case.
    static func parseBool(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: return nil
        }
    }

    /// `text` in double quotes, escaped as in a YAML double-quoted scalar, for messages.
    static func quote(_ text: String) -> String { Quoting.quoted(text, .yaml) }
}

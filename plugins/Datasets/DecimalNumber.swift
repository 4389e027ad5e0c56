import Foundation

/// Decimal parsing for data files (JSON numbers, GloVe vectors) straight from the file's bytes:
/// no `String` is made per value, as `Double(String)` would need (that initialiser is
/// locale-independent too; the reason for this parser is the per-value allocation on files of
/// millions of numbers, and the JSON grammar checks below).
///
/// Up to 19 significant digits are kept; with at most 15 of them and a decimal exponent within
/// +-22 the result is exact-rounded (Clinger's fast path, which covers LEAF's and GloVe's
/// values); otherwise it is within a couple of ulps of the correctly rounded double, far below
/// the float32 precision these values are stored in.
enum DecimalNumber {
    static let powersOfTen: [Double] = (0...22).map { Foundation.pow(10, Double($0)) }

    /// Parses `[+-]? digits [. digits]? ([eE] [+-]? digits)?` (at least one mantissa digit)
    /// starting at `start`, stopping at `end` or the first byte that cannot continue the number.
    /// Returns the value and the position after it, or nil when no number starts there.
    /// `json: true` enforces RFC 8259's grammar instead: no '+' sign, no leading zeros, digits
    /// on both sides of '.', and an exponent needs digits (nil otherwise).
    static func parse(
        _ bytes: UnsafeBufferPointer<UInt8>, from start: Int, end: Int, json: Bool = false
    ) -> (value: Double, end: Int)? {
        var pos = start
        var negative = false
        if pos < end && (bytes[pos] == UInt8(ascii: "-") || bytes[pos] == UInt8(ascii: "+")) {
            negative = bytes[pos] == UInt8(ascii: "-")
            if json && !negative { return nil }
            pos += 1
        }
        if json {
            guard pos < end, bytes[pos] >= 0x30, bytes[pos] <= 0x39 else { return nil }
            if bytes[pos] == 0x30, pos + 1 < end, bytes[pos + 1] >= 0x30, bytes[pos + 1] <= 0x39 { return nil }
        }
        var mantissa: UInt64 = 0
        var significant = 0
        var exponent = 0
        var sawDigit = false
        /// Reads a run of digits into the mantissa, keeping the first 19 significant ones. Integer
        /// digits beyond them raise the exponent; fraction digits within them lower it.
        func readDigits(fraction: Bool) {
            while pos < end, bytes[pos] >= 0x30, bytes[pos] <= 0x39 {
                let d = UInt64(bytes[pos] - 0x30)
                sawDigit = true
                if significant < 19 {
                    if mantissa != 0 || d != 0 {
                        mantissa = mantissa * 10 + d
                        significant += 1
                    }
                    if fraction { exponent -= 1 }
                } else if !fraction {
                    exponent += 1
                }
                pos += 1
            }
        }
        readDigits(fraction: false)
        if pos < end && bytes[pos] == UInt8(ascii: ".") {
            pos += 1
            if json && !(pos < end && bytes[pos] >= 0x30 && bytes[pos] <= 0x39) { return nil }
            readDigits(fraction: true)
        }
        guard sawDigit else { return nil }
        if pos < end && (bytes[pos] == UInt8(ascii: "e") || bytes[pos] == UInt8(ascii: "E")) {
            var p = pos + 1
            var expNegative = false
            if p < end && (bytes[p] == UInt8(ascii: "-") || bytes[p] == UInt8(ascii: "+")) {
                expNegative = bytes[p] == UInt8(ascii: "-")
                p += 1
            }
            if p < end, bytes[p] >= 0x30, bytes[p] <= 0x39 {
                var e = 0
                while p < end, bytes[p] >= 0x30, bytes[p] <= 0x39 {
                    if e < 100_000 { e = e * 10 + Int(bytes[p] - 0x30) }
                    p += 1
                }
                exponent += expNegative ? -e : e
                pos = p
            } else if json {
                return nil
            }
        }
        return (negative ? -magnitude(mantissa, exponent) : magnitude(mantissa, exponent), pos)
    }

    static func magnitude(_ mantissa: UInt64, _ exponent: Int) -> Double {
        if mantissa == 0 { return 0 }
        let m = Double(mantissa)
        if exponent == 0 { return m }
        if mantissa < (1 << 53) && exponent >= -22 && exponent <= 22 {
            return exponent > 0 ? m * powersOfTen[exponent] : m / powersOfTen[-exponent]
        }
        if exponent < -300 { return (m / 1e300) / Foundation.pow(10, Double(-exponent - 300)) }
        return exponent > 0 ? m * Foundation.pow(10, Double(exponent)) : m / Foundation.pow(10, Double(-exponent))
    }
}

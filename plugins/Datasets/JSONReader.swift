import FedKitBasics
import Foundation

/// A JSON value. Arrays that hold only numbers are kept as one `[Float]` (`numbers`), so LEAF
/// image files (hundreds of floats per sample) stay compact and fast to read.
public indirect enum JSONValue: Sendable, Equatable {
    case object([(key: String, value: JSONValue)])
    case array([JSONValue])
    case numbers([Float])
    case string(String)
    case number(Double)
    case bool(Bool)
    case null

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case let (.object(x), .object(y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        case let (.array(x), .array(y)): return x == y
        case let (.numbers(x), .numbers(y)): return x == y
        case let (.numbers(x), .array(y)), let (.array(y), .numbers(x)): return y == x.map { .number(Double($0)) }
        case let (.string(x), .string(y)): return x == y
        case let (.number(x), .number(y)): return x == y
        case let (.bool(x), .bool(y)): return x == y
        case (.null, .null): return true
        default: return false
        }
    }

    /// The member `key` of an object (first match), or nil.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.key == key }?.value
    }

    /// Elements of an array (numbers arrays are expanded).
    public var elements: [JSONValue]? {
        switch self {
        case .array(let items): return items
        case .numbers(let values): return values.map { .number(Double($0)) }
        default: return nil
        }
    }

    /// What kind of value this is, for messages.
    public var kindName: String {
        switch self {
        case .object: return "an object"
        case .array, .numbers: return "an array"
        case .string: return "a string"
        case .number: return "a number"
        case .bool: return "a boolean"
        case .null: return "null"
        }
    }
}

/// A strict JSON parser (RFC 8259) whose errors give the byte offset.
///
/// Why not Foundation's `JSONSerialization` or `JSONDecoder`: a LEAF FEMNIST file holds
/// hundreds of thousands of pixel values, and those give one boxed `NSNumber` (or a decoded
/// `Double` in an `[Any]`) per value. This reader packs every all-number array into one
/// `[Float]` as it parses (`JSONValue.numbers`), reads numbers from the bytes without a string
/// per value (`DecimalNumber`), and names the byte offset of any syntax error.
public enum JSONReader {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var message: String
        public var offset: Int
        public var description: String { "\(message) at byte offset \(offset)" }
    }

    /// Parses a whole document (trailing whitespace only).
    public static func parse(_ bytes: [UInt8]) throws -> JSONValue {
        try bytes.withUnsafeBufferPointer { buffer in
            var parser = Parser(bytes: buffer, end: bytes.count)
            parser.skipWhitespace()
            let value = try parser.value(depth: 0)
            parser.skipWhitespace()
            guard parser.pos == parser.end else { throw parser.failure("unexpected data after the JSON value") }
            return value
        }
    }

    struct Parser {
        let bytes: UnsafeBufferPointer<UInt8>
        let end: Int
        var pos = 0

        init(bytes: UnsafeBufferPointer<UInt8>, end: Int) {
            self.bytes = bytes
            self.end = end
        }

        func failure(_ message: String) -> Failure { Failure(message: message, offset: pos) }

        func found() -> String {
            guard pos < end else { return "the end of the data (the file is truncated)" }
            let b = bytes[pos]
            if b >= 0x20 && b < 0x7f { return "'\(Character(UnicodeScalar(b)))'" }
            return "byte 0x\(Hex.digits(b, count: 2))"
        }

        @inline(__always)
        mutating func skipWhitespace() {
            while pos < end {
                let b = bytes[pos]
                if b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { pos += 1 } else { return }
            }
        }

        mutating func value(depth: Int) throws -> JSONValue {
            guard depth < 512 else { throw failure("JSON nested too deeply") }
            guard pos < end else { throw failure("expected a value, found \(found())") }
            switch bytes[pos] {
            case UInt8(ascii: "{"): return try object(depth: depth)
            case UInt8(ascii: "["): return try array(depth: depth)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): try literal("true"); return .bool(true)
            case UInt8(ascii: "f"): try literal("false"); return .bool(false)
            case UInt8(ascii: "n"): try literal("null"); return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
            default: throw failure("expected a value, found \(found())")
            }
        }

        mutating func literal(_ word: StaticString) throws {
            let start = pos
            let n = word.utf8CodeUnitCount
            guard pos + n <= end else {
                pos = end; throw failure("expected \(word), found the end of the data (the file is truncated)")
            }
            for i in 0..<n where bytes[start + i] != word.utf8Start[i] {
                pos = start
                throw failure("expected a value, found \(found())")
            }
            pos += n
        }

        mutating func number() throws -> Double {
            let start = pos
            // Common fast paths: "0", "1", "0.0", "1.0" followed by a delimiter.
            if start + 1 < end, bytes[start] >= 0x30, bytes[start] <= 0x31 {
                let next = bytes[start + 1]
                if next == UInt8(ascii: ",") || next == UInt8(ascii: "]") || next == UInt8(ascii: "}") || next == 0x20 {
                    pos = start + 1
                    return Double(bytes[start] - 0x30)
                }
                if next == UInt8(ascii: "."), start + 3 < end, bytes[start + 2] == 0x30 {
                    let after = bytes[start + 3]
                    if after == UInt8(ascii: ",") || after == UInt8(ascii: "]") || after == UInt8(ascii: "}")
                        || after == 0x20
                    {
                        pos = start + 3
                        return Double(bytes[start] - 0x30)
                    }
                }
            }
            // One pass: the JSON grammar is checked while the value is read (locale-independent).
            guard let (value, stop) = DecimalNumber.parse(bytes, from: start, end: end, json: true) else {
                throw failure("invalid number")
            }
            pos = stop
            return value
        }

        mutating func string() throws -> String {
            pos += 1  // opening quote
            let start = pos
            var hasEscape = false
            while true {
                guard pos < end else { throw failure("unterminated string (the file is truncated)") }
                let b = bytes[pos]
                if b == UInt8(ascii: "\"") { break }
                if b == UInt8(ascii: "\\") { hasEscape = true; pos += 2; continue }
                if b < 0x20 { throw failure("control character in a string") }
                pos += 1
            }
            guard pos <= end else { pos = end; throw failure("unterminated string (the file is truncated)") }
            let raw = UnsafeBufferPointer(rebasing: bytes[start..<pos])
            pos += 1  // closing quote
            if !hasEscape { return String(decoding: raw, as: UTF8.self) }
            return try unescape(raw, start: start)
        }

        func unescape(_ raw: UnsafeBufferPointer<UInt8>, start: Int) throws -> String {
            var out: [UInt8] = []
            out.reserveCapacity(raw.count)
            var i = 0
            func fail(_ message: String) -> Failure { Failure(message: message, offset: start + i) }
            func hex4(_ at: Int) throws -> UInt32 {
                guard at + 4 <= raw.count else { throw fail("invalid \\u escape") }
                var v: UInt32 = 0
                for k in 0..<4 {
                    let c = raw[at + k]
                    let d: UInt8
                    switch c {
                    case 0x30...0x39: d = c - 0x30
                    case 0x41...0x46: d = c - 0x41 + 10
                    case 0x61...0x66: d = c - 0x61 + 10
                    default: throw fail("invalid \\u escape")
                    }
                    v = v << 4 | UInt32(d)
                }
                return v
            }
            while i < raw.count {
                let b = raw[i]
                guard b == UInt8(ascii: "\\") else { out.append(b); i += 1; continue }
                guard i + 1 < raw.count else { throw fail("invalid escape") }
                let e = raw[i + 1]
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4(i + 2)
                    var consumed = 6
                    if scalar >= 0xD800 && scalar < 0xDC00, i + 12 <= raw.count, raw[i + 6] == UInt8(ascii: "\\"),
                        raw[i + 7] == UInt8(ascii: "u")
                    {
                        let low = try hex4(i + 8)
                        if low >= 0xDC00 && low < 0xE000 {
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                            consumed = 12
                        }
                    }
                    // Lone surrogates become U+FFFD.
                    let u = UnicodeScalar(scalar) ?? UnicodeScalar(0xFFFD)!
                    out.append(contentsOf: Array(String(Character(u)).utf8))
                    i += consumed
                    continue
                default: throw fail("invalid escape '\\\(Character(UnicodeScalar(e)))'")
                }
                i += 2
            }
            return String(decoding: out, as: UTF8.self)
        }

        mutating func array(depth: Int) throws -> JSONValue {
            pos += 1
            skipWhitespace()
            if pos < end && bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array([]) }
            // Numbers-only fast path.
            var floats: [Float] = []
            var items: [JSONValue] = []
            var numeric = true
            while true {
                skipWhitespace()
                guard pos < end else { throw failure("expected a value, found \(found())") }
                let b = bytes[pos]
                if numeric && (b == UInt8(ascii: "-") || (b >= 0x30 && b <= 0x39)) {
                    floats.append(Float(try number()))
                } else {
                    if numeric {
                        numeric = false
                        items = floats.map { .number(Double($0)) }
                        floats = []
                    }
                    items.append(try value(depth: depth + 1))
                }
                skipWhitespace()
                guard pos < end else { throw failure("expected ',' or ']' in an array, found \(found())") }
                if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
                if bytes[pos] == UInt8(ascii: "]") { pos += 1; break }
                throw failure("expected ',' or ']' in an array, found \(found())")
            }
            return numeric ? .numbers(floats) : .array(items)
        }

        mutating func object(depth: Int) throws -> JSONValue {
            pos += 1
            var members: [(key: String, value: JSONValue)] = []
            skipWhitespace()
            if pos < end && bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object([]) }
            while true {
                skipWhitespace()
                guard pos < end, bytes[pos] == UInt8(ascii: "\"") else {
                    throw failure("expected a string key in an object, found \(found())")
                }
                let key = try string()
                skipWhitespace()
                guard pos < end, bytes[pos] == UInt8(ascii: ":") else {
                    throw failure("expected ':' after an object key, found \(found())")
                }
                pos += 1
                skipWhitespace()
                members.append((key, try value(depth: depth + 1)))
                skipWhitespace()
                guard pos < end else { throw failure("expected ',' or '}' in an object, found \(found())") }
                if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
                if bytes[pos] == UInt8(ascii: "}") { pos += 1; break }
                throw failure("expected ',' or '}' in an object, found \(found())")
            }
            return .object(members)
        }
    }
}

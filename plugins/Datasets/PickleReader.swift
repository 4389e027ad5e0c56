import FedKit

/// A value produced by `PickleReader`. Lists, dicts and objects are reference types, as in
/// Python, so that BUILD and APPEND act on the instance the memo also holds.
indirect enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple([PickleValue])
    case list(PickleList)
    case dict(PickleDict)
    /// A module-level name ("numpy.dtype"), before it is called.
    case global(String)
    case object(PickleObject)

    var string: String? { if case .string(let s) = self { return s } else { return nil } }
    var int: Int? { if case .int(let v) = self { return v } else { return nil } }
}

final class PickleList { var items: [PickleValue] = [] }

final class PickleDict {
    var items: [(key: PickleValue, value: PickleValue)] = []
    /// The value of a string key.
    subscript(key: String) -> PickleValue? { items.first(where: { $0.key.string == key })?.value }
}

/// The result of calling one of the allowed globals (`_reconstruct` gives an array, `dtype` a
/// dtype); BUILD then fills it from its state.
final class PickleObject {
    let callable: String
    let arguments: [PickleValue]
    /// For dtypes: "<f4", "|u1", "|O".
    var descr: String?
    /// For arrays, once built.
    var array: NPYArray?

    init(callable: String, arguments: [PickleValue]) {
        self.callable = callable
        self.arguments = arguments
    }
}

/// Reads the pickles numpy writes for object arrays (`np.save(..., allow_pickle=True)`, e.g.
/// PFLlib's `np.savez_compressed(f, data={'x': ..., 'y': ...})`): protocols 2-5, the opcodes for
/// None, booleans, integers, floats, strings, bytes, tuples, lists, dicts, the memo, and REDUCE
/// and BUILD on exactly three globals: numpy's `_reconstruct` (from `numpy.core.multiarray` or
/// numpy 2's `numpy._core.multiarray`), `numpy.ndarray` and `numpy.dtype`. Nothing is imported
/// or executed; any other global or opcode is an error naming it and its byte offset.
struct PickleReader {
    let bytes: [UInt8]
    var position: Int
    let path: String
    /// Offset of `bytes` in the file named by `path`, for messages.
    let base: Int

    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]

    init(bytes: [UInt8], start: Int, path: String, base: Int) {
        self.bytes = bytes
        self.position = start
        self.path = path
        self.base = base
    }

    static let reconstructors: Set<String> = [
        "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct",
    ]
    static let allowedGlobals: Set<String> = reconstructors.union(["numpy.ndarray", "numpy.dtype"])

    private func fail(_ message: String, at offset: Int? = nil) -> PluginError {
        .inFile(path, offset: base + (offset ?? position), "pickle: " + message)
    }

    private mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
        guard n >= 0, position + n <= bytes.count else {
            throw fail("truncated (needs \(n) more bytes)", at: bytes.count)
        }
        defer { position += n }
        return bytes[position..<(position + n)]
    }

    private mutating func uint(_ n: Int) throws -> UInt64 {
        var v: UInt64 = 0
        for (k, b) in try take(n).enumerated() { v |= UInt64(b) << (8 * UInt64(k)) }
        return v
    }

    private mutating func line() throws -> String {
        guard let end = bytes[position...].firstIndex(of: 0x0A) else {
            throw fail("truncated text argument", at: bytes.count)
        }
        defer { position = end + 1 }
        return String(decoding: bytes[position..<end], as: UTF8.self)
    }

    private mutating func pop() throws -> PickleValue {
        guard let v = stack.popLast() else { throw fail("stack underflow") }
        return v
    }

    private mutating func popMark() throws -> [PickleValue] {
        guard let m = marks.popLast(), m <= stack.count else { throw fail("MARK missing") }
        defer { stack.removeSubrange(m...) }
        return Array(stack[m...])
    }

    private func length(_ v: UInt64) throws -> Int {
        guard v <= UInt64(bytes.count) else { throw fail("length \(v) is larger than the data") }
        return Int(v)
    }

    /// Runs the pickle to STOP and returns its value.
    mutating func read() throws -> PickleValue {
        while true {
            let at = position
            let op = try take(1).first!
            switch op {
            case 0x80: _ = try take(1)  // PROTO
            case 0x95: _ = try take(8)  // FRAME
            case 0x2E: return try pop()  // STOP
            case 0x28: marks.append(stack.count)  // MARK
            case 0x4E: stack.append(.none)  // NONE
            case 0x88: stack.append(.bool(true))  // NEWTRUE
            case 0x89: stack.append(.bool(false))  // NEWFALSE
            case 0x4B: stack.append(.int(Int(try uint(1))))  // BININT1
            case 0x4D: stack.append(.int(Int(try uint(2))))  // BININT2
            case 0x4A: stack.append(.int(Int(Int32(truncatingIfNeeded: try uint(4)))))  // BININT
            case 0x8A:  // LONG1
                let n = Int(try uint(1))
                guard n <= 8 else { throw fail("integer of \(n) bytes is too large", at: at) }
                var v = try uint(n)
                if n > 0, n < 8, v & (1 << (8 * UInt64(n) - 1)) != 0 { v |= ~0 << (8 * UInt64(n)) }
                stack.append(.int(Int(truncatingIfNeeded: v)))
            case 0x47: stack.append(.float(Double(bitPattern: try uint(8).byteSwapped)))  // BINFLOAT (big-endian)
            case 0x58: stack.append(.string(String(decoding: try take(try length(try uint(4))), as: UTF8.self)))  // BINUNICODE
            case 0x8C: stack.append(.string(String(decoding: try take(Int(try uint(1))), as: UTF8.self)))  // SHORT_BINUNICODE
            case 0x8D: stack.append(.string(String(decoding: try take(try length(try uint(8))), as: UTF8.self)))  // BINUNICODE8
            case 0x43: stack.append(.bytes(Array(try take(Int(try uint(1))))))  // SHORT_BINBYTES
            case 0x42: stack.append(.bytes(Array(try take(try length(try uint(4))))))  // BINBYTES
            case 0x8E: stack.append(.bytes(Array(try take(try length(try uint(8))))))  // BINBYTES8
            case 0x29: stack.append(.tuple([]))  // EMPTY_TUPLE
            case 0x85: stack.append(.tuple([try pop()]))  // TUPLE1
            case 0x86: let b = try pop(), a = try pop(); stack.append(.tuple([a, b]))  // TUPLE2
            case 0x87: let c = try pop(), b = try pop(), a = try pop(); stack.append(.tuple([a, b, c]))  // TUPLE3
            case 0x74: stack.append(.tuple(try popMark()))  // TUPLE
            case 0x5D: stack.append(.list(PickleList()))  // EMPTY_LIST
            case 0x7D: stack.append(.dict(PickleDict()))  // EMPTY_DICT
            case 0x61:  // APPEND
                let v = try pop()
                guard case .list(let l)? = stack.last else { throw fail("APPEND to a non-list", at: at) }
                l.items.append(v)
            case 0x65:  // APPENDS
                let vs = try popMark()
                guard case .list(let l)? = stack.last else { throw fail("APPENDS to a non-list", at: at) }
                l.items += vs
            case 0x73:  // SETITEM
                let v = try pop(), k = try pop()
                guard case .dict(let d)? = stack.last else { throw fail("SETITEM on a non-dict", at: at) }
                d.items.append((k, v))
            case 0x75:  // SETITEMS
                let vs = try popMark()
                guard vs.count % 2 == 0, case .dict(let d)? = stack.last else {
                    throw fail("SETITEMS on a non-dict", at: at)
                }
                for i in stride(from: 0, to: vs.count, by: 2) { d.items.append((vs[i], vs[i + 1])) }
            case 0x71: memo[Int(try uint(1))] = stack.last  // BINPUT
            case 0x72: memo[Int(try uint(4))] = stack.last  // LONG_BINPUT
            case 0x94: memo[memo.count] = stack.last  // MEMOIZE
            case 0x68, 0x6A:  // BINGET, LONG_BINGET
                let key = Int(try uint(op == 0x68 ? 1 : 4))
                guard let v = memo[key] else { throw fail("memo entry \(key) is not defined", at: at) }
                stack.append(v)
            case 0x63:  // GLOBAL
                let name = try line() + "." + line()
                try stack.append(global(name, at: at))
            case 0x93:  // STACK_GLOBAL
                guard case .string(let name) = try pop(), case .string(let module) = try pop() else {
                    throw fail("STACK_GLOBAL needs two strings", at: at)
                }
                try stack.append(global(module + "." + name, at: at))
            case 0x52:  // REDUCE
                guard case .tuple(let args) = try pop(), case .global(let callable) = try pop() else {
                    throw fail("REDUCE needs a callable and an argument tuple", at: at)
                }
                let object = PickleObject(callable: callable, arguments: args)
                if callable == "numpy.dtype" { object.descr = try dtypeCode(args.first?.string, at: at) }
                stack.append(.object(object))
            case 0x62:  // BUILD
                let state = try pop()
                guard case .object(let object)? = stack.last else {
                    throw fail("BUILD on something that is not a numpy object", at: at)
                }
                try build(object, state: state, at: at)
            default:
                throw fail(
                    "opcode 0x\(String(op, radix: 16)) is not supported (only numpy arrays, dicts, lists and scalars are)",
                    at: at)
            }
        }
    }

    private func global(_ name: String, at: Int) throws -> PickleValue {
        guard Self.allowedGlobals.contains(name) else {
            throw fail("refusing global '\(name)': only numpy arrays (and dicts/lists of them) are read", at: at)
        }
        return .global(name)
    }

    /// "f4" -> "f4", "O8" -> "O"; nil/unknown -> error.
    private func dtypeCode(_ text: String?, at: Int) throws -> String {
        guard let text, !text.isEmpty else { throw fail("numpy.dtype without a type code", at: at) }
        return text.hasPrefix("O") ? "O" : text
    }

    private func build(_ object: PickleObject, state: PickleValue, at: Int) throws {
        guard case .tuple(let fields) = state else {
            throw fail("BUILD state of \(object.callable) is not a tuple", at: at)
        }
        if object.callable == "numpy.dtype" {
            // (version, byteorder, subarray, names, fields, elsize, alignment, flags)
            guard fields.count >= 2, let order = fields[1].string, let code = object.descr else {
                throw fail("unexpected numpy.dtype state", at: at)
            }
            object.descr = code == "O" ? "|O" : (order == "=" ? "<" : order) + code
            return
        }
        guard Self.reconstructors.contains(object.callable) else { throw fail("BUILD on \(object.callable)", at: at) }
        // (version, shape, dtype, is_fortran, data)
        guard fields.count == 5, case .tuple(let shapeItems) = fields[1], case .object(let dtype) = fields[2],
            let descr = dtype.descr, case .bool(let fortran) = fields[3]
        else {
            throw fail("unexpected numpy array state", at: at)
        }
        var shape: [Int] = []
        for item in shapeItems {
            guard let d = item.int, d >= 0 else { throw fail("bad array shape", at: at) }
            shape.append(d)
        }
        var array = NPYArray(descr: descr, shape: shape, fortranOrder: fortran, data: [])
        switch fields[4] {
        case .bytes(let raw):
            guard let itemSize = NPYArray.itemSize(descr) else {
                throw fail("array dtype '\(descr)' is not supported", at: at)
            }
            guard raw.count == array.count * itemSize else {
                throw fail(
                    "array of shape \(shape) and dtype '\(descr)' needs \(array.count * itemSize) bytes, the pickle holds \(raw.count)",
                    at: at)
            }
            array.data = raw
        case .list(let items):
            guard descr == "|O", items.items.count == array.count else {
                throw fail("object array of shape \(shape) holds \(items.items.count) items", at: at)
            }
            array.objects = items.items
        default:
            throw fail("unexpected array data in the pickle", at: at)
        }
        object.array = array
    }
}

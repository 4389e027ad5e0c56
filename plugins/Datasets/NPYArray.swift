import FedKit
import Foundation

/// One numpy array read from a `.npy` file (format versions 1-3) or rebuilt from a pickle:
/// its dtype descriptor (e.g. "<f4", "|u1", "|O"), shape, memory order and raw bytes, or, for
/// object arrays, the unpickled objects.
struct NPYArray {
    var descr: String
    var shape: [Int]
    var fortranOrder: Bool
    var data: [UInt8]
    /// The elements of an object (`|O`) array.
    var objects: [PickleValue] = []

    var count: Int { shape.reduce(1, *) }

    /// Parses a `.npy` file held in `bytes`; `path` and `base` (the offset of `bytes` in that
    /// file, e.g. inside a zip) are for error messages. Object arrays are unpickled with
    /// `PickleReader` (numpy arrays, dicts, lists and scalars only; nothing is executed).
    static func parse(_ bytes: [UInt8], path: String, base: Int = 0) throws -> NPYArray {
        func fail(_ message: String, _ offset: Int) -> PluginError { .inFile(path, offset: base + offset, message) }
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else {
            throw fail("not a .npy array (no \\x93NUMPY magic)", 0)
        }
        let major = Int(bytes[6])
        let headerLength: Int, headerStart: Int
        switch major {
        case 1: headerLength = ZipArchive.le16(bytes, 8); headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw fail(".npy header is truncated", bytes.count) }
            headerLength = Int(ZipArchive.le32(bytes, 8)); headerStart = 12
        default: throw fail(".npy format version \(major) is not supported (1, 2 and 3 are)", 6)
        }
        guard headerStart + headerLength <= bytes.count else {
            throw fail(".npy header runs past the end of the data (truncated)", bytes.count)
        }
        let header = String(decoding: bytes[headerStart..<(headerStart + headerLength)], as: UTF8.self)
        guard
            let descr = Self.field("descr", in: header).map({
                $0.trimmingCharacters(in: CharacterSet(charactersIn: "'\""))
            }),
            let orderText = Self.field("fortran_order", in: header),
            let shapeText = Self.field("shape", in: header)
        else {
            throw fail(
                ".npy header lacks 'descr', 'fortran_order' or 'shape': \(header.trimmingCharacters(in: .whitespacesAndNewlines))",
                headerStart)
        }
        let dims = shapeText.trimmingCharacters(in: CharacterSet(charactersIn: "() ")).split(separator: ",").map {
            $0.trimmingCharacters(in: .whitespaces)
        }.filter { !$0.isEmpty }
        var shape: [Int] = []
        for d in dims {
            guard let v = Int(d), v >= 0 else { throw fail(".npy header has a bad shape \(shapeText)", headerStart) }
            shape.append(v)
        }
        let body = headerStart + headerLength
        var array = NPYArray(descr: descr, shape: shape, fortranOrder: orderText == "True", data: [])
        if descr == "|O" || descr == "O" {
            var reader = PickleReader(bytes: bytes, start: body, path: path, base: base)
            let value = try reader.read()
            guard case .object(let object) = value, let rebuilt = object.array else {
                throw fail("the object array's pickle does not hold a numpy array", body)
            }
            return rebuilt
        }
        guard let itemSize = Self.itemSize(descr) else {
            throw fail(
                ".npy dtype '\(descr)' is not supported (float32/64, signed and unsigned integers, bool)", headerStart)
        }
        let needed = array.count * itemSize
        guard body + needed <= bytes.count else {
            throw fail(
                "array data is truncated: shape \(shape) of '\(descr)' needs \(needed) bytes, \(bytes.count - body) are present",
                bytes.count)
        }
        array.data = Array(bytes[body..<(body + needed)])
        return array
    }

    /// Bytes per element of a plain dtype, nil for unsupported ones.
    static func itemSize(_ descr: String) -> Int? {
        guard descr.count >= 3 else { return nil }
        let order = descr.first!, kind = descr.dropFirst().first!, size = Int(descr.dropFirst(2))
        guard "<|=>".contains(order), let size else { return nil }
        if order == ">" && size > 1 { return nil }  // big-endian multi-byte: not supported
        switch kind {
        case "f": return size == 4 || size == 8 ? size : nil
        case "i", "u": return [1, 2, 4, 8].contains(size) ? size : nil
        case "b": return size == 1 ? 1 : nil
        default: return nil
        }
    }

    /// The text of `key`'s value in a numpy header dict literal.
    static func field(_ key: String, in header: String) -> String? {
        guard let range = header.range(of: "'\(key)':") else { return nil }
        var rest = header[range.upperBound...].drop(while: { $0 == " " })
        if rest.first == "(" {
            guard let close = rest.firstIndex(of: ")") else { return nil }
            return String(rest[...close])
        }
        if let end = rest.firstIndex(where: { $0 == "," || $0 == "}" }) { rest = rest[..<end] }
        return rest.trimmingCharacters(in: .whitespaces)
    }

    /// The elements as Float (float32/64, integers), row-major.
    func floats() throws -> [Float] {
        guard !fortranOrder || shape.count <= 1 else { throw PluginError("Fortran-ordered arrays are not supported") }
        let kind = descr.dropFirst().first, size = Int(descr.dropFirst(2)) ?? 0
        return data.withUnsafeBytes { raw -> [Float] in
            switch (kind, size) {
            case ("f", 4):
                return (0..<count).map {
                    Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)))
                }
            case ("f", 8):
                return (0..<count).map {
                    Float(
                        Double(
                            bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self))
                        ))
                }
            default: return ints().map(Float.init)
            }
        }
    }

    /// The elements as Int (integers and bool only; empty for other dtypes).
    func ints() -> [Int] {
        let kind = descr.dropFirst().first, size = Int(descr.dropFirst(2)) ?? 0
        return data.withUnsafeBytes { raw -> [Int] in
            (0..<count).map { i -> Int in
                switch (kind, size) {
                case ("u", 1), ("b", 1): return Int(raw[i])
                case ("i", 1): return Int(Int8(bitPattern: raw[i]))
                case ("u", 2):
                    return Int(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                case ("i", 2): return Int(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self)))
                case ("u", 4):
                    return Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                case ("i", 4): return Int(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)))
                case ("u", 8):
                    return Int(
                        truncatingIfNeeded: UInt64(
                            littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))
                case ("i", 8): return Int(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)))
                default: return 0
                }
            }
        }
    }

    var isInteger: Bool { let k = descr.dropFirst().first; return k == "i" || k == "u" || k == "b" }
    var isFloat: Bool { descr.dropFirst().first == "f" }
}

import FedKit

/// Raw DEFLATE (RFC 1951) decompression for the zip reader: the single place where the zip/npz
/// code reaches a DEFLATE implementation (today the repository's own `Inflate`; a zlib-backed one
/// can replace this body without touching the callers). Failures are `RawDeflateFailure`s.
func inflateRawDeflate(_ bytes: [UInt8]) throws -> [UInt8] {
    do { return try Inflate.inflate(bytes) } catch let failure as Inflate.Failure {
        throw RawDeflateFailure(message: failure.message, offset: failure.offset)
    }
}

/// A corrupt or truncated DEFLATE stream: what is wrong and the byte offset in the compressed input
/// (as far as the decoder knows it).
struct RawDeflateFailure: Error {
    var message: String
    var offset: Int
}

/// A read-only zip archive held in memory (what `np.savez` / `np.savez_compressed` write):
/// the central directory, zip64 sizes and offsets, stored (0) and deflated (8) members, each
/// member's CRC-32 checked. Errors name the file and the byte offset.
struct ZipArchive {
    struct Entry {
        var name: String
        var method: Int
        var compressedSize: Int
        var size: Int
        var crc32: UInt32
        var localHeaderOffset: Int
    }

    let path: String
    let bytes: [UInt8]
    let entries: [Entry]

    init(path: String, bytes: [UInt8]) throws {
        self.path = path
        self.bytes = bytes
        entries = try Self.centralDirectory(bytes, path: path)
    }

    func error(_ message: String, at offset: Int) -> PluginError { .inFile(path, offset: offset, message) }

    /// The member named `name`, decompressed and CRC-checked; nil when there is none.
    func read(_ name: String) throws -> [UInt8]? {
        guard let entry = entries.first(where: { $0.name == name }) else { return nil }
        let o = entry.localHeaderOffset
        guard o + 30 <= bytes.count else {
            throw error("local header of '\(name)' runs past the end of the file (truncated zip)", at: o)
        }
        guard Self.le32(bytes, o) == 0x0403_4b50 else {
            throw error("no local file header signature for '\(name)'", at: o)
        }
        let nameLength = Self.le16(bytes, o + 26), extraLength = Self.le16(bytes, o + 28)
        let start = o + 30 + nameLength + extraLength
        guard start + entry.compressedSize <= bytes.count else {
            throw error(
                "data of '\(name)' (\(entry.compressedSize) bytes from offset \(start)) runs past the end of the file (\(bytes.count) bytes): the zip is truncated",
                at: bytes.count)
        }
        let raw = Array(bytes[start..<(start + entry.compressedSize)])
        let data: [UInt8]
        switch entry.method {
        case 0: data = raw
        case 8:
            do { data = try inflateRawDeflate(raw) } catch let failure as RawDeflateFailure {
                throw error("'\(name)': \(failure.message)", at: start + failure.offset)
            }
        default:
            throw error(
                "'\(name)' uses zip compression method \(entry.method); only stored (0) and deflate (8) are supported",
                at: o + 8)
        }
        guard data.count == entry.size else {
            throw error("'\(name)' decompresses to \(data.count) bytes, the directory says \(entry.size)", at: start)
        }
        let crc = ZipCRC32.checksum(data)
        guard crc == entry.crc32 else {
            throw error(
                "'\(name)': CRC-32 mismatch (stored \(String(entry.crc32, radix: 16)), data gives \(String(crc, radix: 16))): the file is corrupt",
                at: start)
        }
        return data
    }

    static func le16(_ b: [UInt8], _ i: Int) -> Int { Int(b[i]) | Int(b[i + 1]) << 8 }
    static func le32(_ b: [UInt8], _ i: Int) -> UInt32 {
        UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24
    }
    static func le64(_ b: [UInt8], _ i: Int) -> UInt64 { UInt64(le32(b, i)) | UInt64(le32(b, i + 4)) << 32 }

    static func centralDirectory(_ b: [UInt8], path: String) throws -> [Entry] {
        func fail(_ message: String, _ offset: Int) -> PluginError { .inFile(path, offset: offset, message) }
        // End of central directory: 22 bytes plus a comment of at most 65535 bytes, at the end.
        var eocd = -1
        var i = b.count - 22
        while i >= 0 && i >= b.count - 22 - 65535 {
            if b[i] == 0x50, b[i + 1] == 0x4b, b[i + 2] == 0x05, b[i + 3] == 0x06 { eocd = i; break }
            i -= 1
        }
        guard eocd >= 0 else {
            throw fail(
                "not a zip archive, or a truncated one: no end-of-central-directory record in the last \(min(b.count, 65557)) bytes",
                b.count)
        }
        var count = le16(b, eocd + 10)
        var directorySize = Int(le32(b, eocd + 12))
        var directoryOffset = Int(le32(b, eocd + 16))
        // zip64: the locator sits just before the end record.
        if eocd >= 20, le32(b, eocd - 20) == 0x0706_4b50 {
            let record = Int(le64(b, eocd - 20 + 8))
            guard record >= 0, record + 56 <= b.count, le32(b, record) == 0x0606_4b50 else {
                throw fail("zip64 end-of-central-directory record missing or truncated", record)
            }
            count = Int(le64(b, record + 32))
            directorySize = Int(le64(b, record + 40))
            directoryOffset = Int(le64(b, record + 48))
        }
        guard directoryOffset >= 0, directorySize >= 0, directoryOffset + directorySize <= b.count else {
            throw fail(
                "central directory (\(directorySize) bytes at offset \(directoryOffset)) runs past the end of the file (\(b.count) bytes): the zip is truncated",
                eocd)
        }
        var entries: [Entry] = []
        var p = directoryOffset
        for _ in 0..<count {
            guard p + 46 <= b.count, le32(b, p) == 0x0201_4b50 else { throw fail("bad central directory entry", p) }
            let method = le16(b, p + 10)
            let crc = le32(b, p + 16)
            var compressed = UInt64(le32(b, p + 20)), size = UInt64(le32(b, p + 24))
            let nameLength = le16(b, p + 28), extraLength = le16(b, p + 30), commentLength = le16(b, p + 32)
            var local = UInt64(le32(b, p + 42))
            guard p + 46 + nameLength + extraLength + commentLength <= b.count else {
                throw fail("central directory entry runs past the end of the file", p)
            }
            let name = String(decoding: b[(p + 46)..<(p + 46 + nameLength)], as: UTF8.self)
            // zip64 extended information (header id 1): the fields that are 0xFFFFFFFF, in order.
            var e = p + 46 + nameLength
            let extraEnd = e + extraLength
            while e + 4 <= extraEnd {
                let id = le16(b, e), length = le16(b, e + 2)
                if id == 1 {
                    var q = e + 4
                    if size == 0xFFFF_FFFF, q + 8 <= e + 4 + length { size = le64(b, q); q += 8 }
                    if compressed == 0xFFFF_FFFF, q + 8 <= e + 4 + length { compressed = le64(b, q); q += 8 }
                    if local == 0xFFFF_FFFF, q + 8 <= e + 4 + length { local = le64(b, q); q += 8 }
                }
                e += 4 + length
            }
            guard compressed < UInt64(Int.max), size < UInt64(Int.max), local < UInt64(b.count) else {
                throw fail("central directory entry '\(name)' points outside the file", p)
            }
            entries.append(
                Entry(
                    name: name, method: method, compressedSize: Int(compressed), size: Int(size), crc32: crc,
                    localHeaderOffset: Int(local)))
            p += 46 + nameLength + extraLength + commentLength
        }
        return entries
    }
}

/// CRC-32 (IEEE 802.3, as zip and gzip use it).
enum ZipCRC32 {
    static let table: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func checksum(_ data: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        data.withUnsafeBufferPointer { p in
            for byte in p { c = table[Int((c ^ UInt32(byte)) & 0xFF)] ^ (c >> 8) }
        }
        return c ^ 0xFFFF_FFFF
    }
}

extension PluginError {
    /// An error in a data file: the path, what is wrong, and the byte offset where it is.
    static func inFile(_ path: String, offset: Int, _ message: String) -> PluginError {
        PluginError("\(path): \(message) (at byte offset \(offset))")
    }
}

/// A compact DEFLATE (RFC 1951) decoder and gzip (RFC 1952) reader, so IDX files can be read
/// gzipped without linking zlib. Errors carry the byte offset in the compressed input.
public enum Inflate {
    /// A decoding failure at `offset` (bytes from the start of the input).
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var message: String
        public var offset: Int
        public var description: String { "\(message) at byte offset \(offset)" }
    }

    /// Whether `bytes` start with the gzip magic number 1f 8b.
    public static func isGzip(_ bytes: [UInt8]) -> Bool { bytes.count >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b }

    /// Decompresses a gzip file (one or more members), checking each member's CRC-32 and size.
    public static func gunzip(_ bytes: [UInt8]) throws -> [UInt8] {
        try bytes.withUnsafeBufferPointer { input in
            var output = OutputBuffer(capacity: gzipSizeHint(input))
            var pos = 0
            repeat {
                let memberStart = output.count
                pos = try gzipHeader(input, at: pos)
                var reader = BitReader(input, position: pos)
                try inflate(&reader, into: &output)
                pos = reader.alignedPosition
                guard pos + 8 <= input.count else {
                    throw Failure(message: "gzip trailer (CRC-32 and size) is missing: the file is truncated", offset: input.count)
                }
                let crc = readLE32(input, pos)
                let size = readLE32(input, pos + 4)
                let actualCRC = output.crc32(from: memberStart)
                guard crc == actualCRC else {
                    throw Failure(message: "gzip CRC-32 mismatch (stored \(hex(crc)), data gives \(hex(actualCRC))): the file is corrupt",
                                  offset: pos)
                }
                guard size == UInt32(truncatingIfNeeded: output.count - memberStart) else {
                    throw Failure(message: "gzip size mismatch (stored \(size), decoded \(output.count - memberStart))", offset: pos + 4)
                }
                pos += 8
                // Trailing zero padding after the last member is tolerated.
                while pos < input.count && input[pos] == 0 { pos += 1 }
            } while pos < input.count
            return output.finish()
        }
    }

    /// Decompresses a raw DEFLATE stream.
    public static func inflate(_ bytes: [UInt8]) throws -> [UInt8] {
        try bytes.withUnsafeBufferPointer { input in
            var output = OutputBuffer(capacity: Swift.max(1024, input.count * 4))
            var reader = BitReader(input, position: 0)
            try inflate(&reader, into: &output)
            return output.finish()
        }
    }

    // MARK: - gzip framing

    static func gzipHeader(_ input: UnsafeBufferPointer<UInt8>, at start: Int) throws -> Int {
        guard start + 10 <= input.count else { throw Failure(message: "gzip header is truncated", offset: input.count) }
        guard input[start] == 0x1f, input[start + 1] == 0x8b else {
            throw Failure(message: "not a gzip member (magic \(hex(UInt32(input[start]), digits: 2)) \(hex(UInt32(input[start + 1]), digits: 2)), expected 1f 8b)",
                          offset: start)
        }
        guard input[start + 2] == 8 else {
            throw Failure(message: "unsupported gzip compression method \(input[start + 2]) (only 8, deflate)", offset: start + 2)
        }
        let flags = input[start + 3]
        guard flags & 0xE0 == 0 else { throw Failure(message: "reserved gzip header flags set", offset: start + 3) }
        var pos = start + 10
        if flags & 4 != 0 { // FEXTRA
            guard pos + 2 <= input.count else { throw Failure(message: "gzip header is truncated", offset: input.count) }
            pos += 2 + (Int(input[pos]) | Int(input[pos + 1]) << 8)
        }
        for bit: UInt8 in [8, 16] where flags & bit != 0 { // FNAME, FCOMMENT: zero-terminated
            while pos < input.count && input[pos] != 0 { pos += 1 }
            pos += 1
        }
        if flags & 2 != 0 { pos += 2 } // FHCRC
        guard pos < input.count else { throw Failure(message: "gzip header is truncated", offset: input.count) }
        return pos
    }

    /// The ISIZE field of the last member (the uncompressed size mod 2^32), as a capacity hint.
    static func gzipSizeHint(_ input: UnsafeBufferPointer<UInt8>) -> Int {
        guard input.count >= 18 else { return 1024 }
        let size = Int(readLE32(input, input.count - 4))
        return Swift.max(1024, Swift.min(size, input.count * 1100))
    }

    static func readLE32(_ input: UnsafeBufferPointer<UInt8>, _ pos: Int) -> UInt32 {
        UInt32(input[pos]) | UInt32(input[pos + 1]) << 8 | UInt32(input[pos + 2]) << 16 | UInt32(input[pos + 3]) << 24
    }

    static func hex(_ v: UInt32, digits: Int = 8) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: Swift.max(0, digits - s.count)) + s
    }

    // MARK: - DEFLATE

    static let lengthBase: [Int] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115,
                                    131, 163, 195, 227, 258]
    static let lengthExtra: [Int] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
    static let distanceBase: [Int] = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
                                      2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577]
    static let distanceExtra: [Int] = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]
    static let codeLengthOrder: [Int] = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]

    static func inflate(_ reader: inout BitReader, into output: inout OutputBuffer) throws {
        var last = false
        // Fixed tables are built lazily once per stream.
        var fixed: (HuffmanTable, HuffmanTable)?
        while !last {
            let blockStart = reader.byteOffset
            last = try reader.bits(1) == 1
            let type = try reader.bits(2)
            switch type {
            case 0:
                reader.alignToByte()
                let len = try reader.bits(16)
                let nlen = try reader.bits(16)
                guard len == ~nlen & 0xFFFF else {
                    throw Failure(message: "corrupt deflate data: stored block length check failed", offset: blockStart)
                }
                try reader.copyBytes(len, into: &output)
            case 1:
                if fixed == nil {
                    var lengths = [UInt8](repeating: 8, count: 288)
                    for i in 144..<256 { lengths[i] = 9 }
                    for i in 256..<280 { lengths[i] = 7 }
                    fixed = (try HuffmanTable(lengths: lengths, offset: blockStart),
                             try HuffmanTable(lengths: [UInt8](repeating: 5, count: 30), offset: blockStart))
                }
                try decodeBlock(&reader, &output, literals: fixed!.0, distances: fixed!.1)
            case 2:
                let (literals, distances) = try dynamicTables(&reader)
                try decodeBlock(&reader, &output, literals: literals, distances: distances)
            default:
                throw Failure(message: "corrupt deflate data: invalid block type 3", offset: blockStart)
            }
        }
    }

    static func dynamicTables(_ reader: inout BitReader) throws -> (HuffmanTable, HuffmanTable) {
        let start = reader.byteOffset
        let hlit = try reader.bits(5) + 257
        let hdist = try reader.bits(5) + 1
        let hclen = try reader.bits(4) + 4
        guard hlit <= 286, hdist <= 30 else {
            throw Failure(message: "corrupt deflate data: too many length or distance codes", offset: start)
        }
        var codeLengths = [UInt8](repeating: 0, count: 19)
        for i in 0..<hclen { codeLengths[codeLengthOrder[i]] = UInt8(try reader.bits(3)) }
        let codeTable = try HuffmanTable(lengths: codeLengths, offset: start)
        var lengths = [UInt8](repeating: 0, count: hlit + hdist)
        var i = 0
        while i < hlit + hdist {
            let symbol = try codeTable.decode(&reader)
            switch symbol {
            case 0...15:
                lengths[i] = UInt8(symbol)
                i += 1
            case 16:
                guard i > 0 else { throw Failure(message: "corrupt deflate data: repeat with no previous length", offset: reader.byteOffset) }
                let count = 3 + (try reader.bits(2))
                guard i + count <= lengths.count else { throw Failure(message: "corrupt deflate data: too many code lengths", offset: reader.byteOffset) }
                for _ in 0..<count { lengths[i] = lengths[i - 1]; i += 1 }
            default:
                let count = symbol == 17 ? 3 + (try reader.bits(3)) : 11 + (try reader.bits(7))
                guard i + count <= lengths.count else { throw Failure(message: "corrupt deflate data: too many code lengths", offset: reader.byteOffset) }
                i += count // already zero
            }
        }
        guard lengths[256] != 0 else { throw Failure(message: "corrupt deflate data: no end-of-block code", offset: start) }
        return (try HuffmanTable(lengths: Array(lengths[0..<hlit]), offset: start),
                try HuffmanTable(lengths: Array(lengths[hlit...]), offset: start))
    }

    /// The hot loop: literal/length and distance decoding with the reader's state in locals
    /// (one refill per symbol gives the at most 48 bits a length/distance pair needs).
    static func decodeBlock(_ reader: inout BitReader, _ output: inout OutputBuffer,
                            literals: HuffmanTable, distances: HuffmanTable) throws {
        let input = reader.input
        let n = input.count
        var buf = reader.buffer
        var cnt = reader.count
        var pos = reader.position
        defer {
            reader.buffer = buf
            reader.count = cnt
            reader.position = pos
        }
        func truncated() -> Failure { Failure(message: "unexpected end of compressed data (the file is truncated)", offset: n) }
        try literals.table.withUnsafeBufferPointer { lt in
            try distances.table.withUnsafeBufferPointer { dt in
            try lengthBase.withUnsafeBufferPointer { lengthBase in
            try lengthExtra.withUnsafeBufferPointer { lengthExtra in
            try distanceBase.withUnsafeBufferPointer { distanceBase in
            try distanceExtra.withUnsafeBufferPointer { distanceExtra in
                let lmask = lt.count - 1
                let dmask = dt.count - 1
                // The output is written through a local pointer; room for one longest match is kept.
                var out = output.storage
                var count = output.count
                var capacity = output.capacity
                defer { output.count = count }
                while true {
                    if capacity - count < 258 {
                        output.count = count
                        output.reserve(258)
                        out = output.storage
                        capacity = output.capacity
                    }
                    if cnt < 48 {
                        while cnt <= 56 && pos < n {
                            buf |= UInt64(input[pos]) << UInt64(cnt)
                            pos += 1
                            cnt += 8
                        }
                    }
                    let entry = lt[Int(truncatingIfNeeded: buf) & lmask]
                    let len = Int(entry & 15)
                    guard len > 0 else {
                        throw Failure(message: "corrupt deflate data: invalid Huffman code", offset: pos - cnt / 8)
                    }
                    guard len <= cnt else { throw truncated() }
                    buf >>= UInt64(len)
                    cnt -= len
                    let symbol = Int(entry >> 4)
                    if symbol < 256 {
                        out[count] = UInt8(truncatingIfNeeded: symbol)
                        count += 1
                        continue
                    }
                    if symbol == 256 { return }
                    let li = symbol - 257
                    guard li < 29 else {
                        throw Failure(message: "corrupt deflate data: invalid length code \(symbol)", offset: pos - cnt / 8)
                    }
                    let lx = lengthExtra[li]
                    guard lx <= cnt else { throw truncated() }
                    let length = lengthBase[li] + Int(truncatingIfNeeded: buf & ((1 << UInt64(lx)) - 1))
                    buf >>= UInt64(lx)
                    cnt -= lx
                    let dentry = dt[Int(truncatingIfNeeded: buf) & dmask]
                    let dlen = Int(dentry & 15)
                    guard dlen > 0 else {
                        throw Failure(message: "corrupt deflate data: invalid Huffman code", offset: pos - cnt / 8)
                    }
                    guard dlen <= cnt else { throw truncated() }
                    buf >>= UInt64(dlen)
                    cnt -= dlen
                    let di = Int(dentry >> 4)
                    guard di < 30 else {
                        throw Failure(message: "corrupt deflate data: invalid distance code \(di)", offset: pos - cnt / 8)
                    }
                    let dx = distanceExtra[di]
                    guard dx <= cnt else { throw truncated() }
                    let distance = distanceBase[di] + Int(truncatingIfNeeded: buf & ((1 << UInt64(dx)) - 1))
                    buf >>= UInt64(dx)
                    cnt -= dx
                    guard distance <= count else {
                        throw Failure(message: "corrupt deflate data: distance \(distance) reaches before the start of the output",
                                      offset: pos - cnt / 8)
                    }
                    let dst = out + count
                    let src = dst - distance
                    if distance >= length {
                        dst.update(from: src, count: length)
                    } else {
                        var i = 0
                        while i < length {
                            dst[i] = src[i]
                            i += 1
                        }
                    }
                    count += length
                }
            }
            }
            }
            }
            }
        }
    }
}

/// Reads bits least-significant first from a byte buffer.
struct BitReader {
    let input: UnsafeBufferPointer<UInt8>
    var position: Int
    var buffer: UInt64 = 0
    var count: Int = 0

    init(_ input: UnsafeBufferPointer<UInt8>, position: Int) {
        self.input = input
        self.position = position
    }

    /// The offset of the byte holding the next unread bit.
    var byteOffset: Int { position - count / 8 }

    @inline(__always)
    mutating func refill() {
        while count <= 56 && position < input.count {
            buffer |= UInt64(input[position]) << UInt64(count)
            position += 1
            count += 8
        }
    }

    mutating func bits(_ n: Int) throws -> Int {
        if n == 0 { return 0 }
        if count < n {
            refill()
            guard count >= n else {
                throw Inflate.Failure(message: "unexpected end of compressed data (the file is truncated)", offset: input.count)
            }
        }
        let value = Int(truncatingIfNeeded: buffer & ((1 << UInt64(n)) - 1))
        buffer >>= UInt64(n)
        count -= n
        return value
    }

    mutating func alignToByte() {
        let drop = count % 8
        buffer >>= UInt64(drop)
        count -= drop
    }

    /// The input position after the last consumed byte (after `alignToByte`, unread whole bytes are given back).
    var alignedPosition: Int { position - count / 8 }

    mutating func copyBytes(_ n: Int, into output: inout OutputBuffer) throws {
        alignToByte()
        var pos = alignedPosition
        buffer = 0
        count = 0
        guard pos + n <= input.count else {
            throw Inflate.Failure(message: "stored block runs past the end of the data (the file is truncated)", offset: input.count)
        }
        output.append(UnsafeBufferPointer(rebasing: input[pos..<(pos + n)]))
        pos += n
        position = pos
    }
}

/// A canonical Huffman code decoded with one table indexed by the next `maxLength` bits.
/// Entry = symbol << 4 | code length; 0 marks an unused (incomplete-code) slot.
struct HuffmanTable {
    var table: [UInt32]
    var maxLength: Int

    init(lengths: [UInt8], offset: Int) throws {
        var counts = [Int](repeating: 0, count: 16)
        for l in lengths { counts[Int(l)] += 1 }
        counts[0] = 0
        maxLength = counts.lastIndex(where: { $0 > 0 }) ?? 0
        // Over-subscribed codes are invalid; incomplete ones are allowed (RFC 1951 permits a single distance code).
        var left = 1
        for len in 1..<16 {
            left <<= 1
            left -= counts[len]
            guard left >= 0 else { throw Inflate.Failure(message: "corrupt deflate data: over-subscribed Huffman code", offset: offset) }
        }
        let size = 1 << maxLength
        table = [UInt32](repeating: 0, count: Swift.max(size, 1))
        guard maxLength > 0 else { return }
        var next = [Int](repeating: 0, count: 16)
        var code = 0
        for len in 1..<16 {
            code = (code + counts[len - 1]) << 1
            next[len] = code
        }
        table.withUnsafeMutableBufferPointer { t in
            for (symbol, l) in lengths.enumerated() where l > 0 {
                let len = Int(l)
                let c = next[len]
                next[len] += 1
                // Reverse the code's bits: DEFLATE packs Huffman codes most-significant bit first.
                var reversed = 0
                for b in 0..<len where c & (1 << b) != 0 { reversed |= 1 << (len - 1 - b) }
                let entry = UInt32(symbol << 4 | len)
                var i = reversed
                while i < size {
                    t[i] = entry
                    i += 1 << len
                }
            }
        }
    }

    @inline(__always)
    func decode(_ reader: inout BitReader) throws -> Int {
        if reader.count < maxLength { reader.refill() }
        let entry = table[Int(truncatingIfNeeded: reader.buffer) & (table.count - 1)]
        let len = Int(entry & 15)
        guard len > 0 else {
            throw Inflate.Failure(message: "corrupt deflate data: invalid Huffman code", offset: reader.byteOffset)
        }
        guard len <= reader.count else {
            throw Inflate.Failure(message: "unexpected end of compressed data (the file is truncated)", offset: reader.input.count)
        }
        reader.buffer >>= UInt64(len)
        reader.count -= len
        return Int(entry >> 4)
    }
}

/// A growable byte buffer with the match copy DEFLATE needs.
struct OutputBuffer {
    private(set) var storage: UnsafeMutablePointer<UInt8>
    private(set) var capacity: Int
    var count = 0

    init(capacity: Int) {
        self.capacity = Swift.max(capacity, 16)
        storage = .allocate(capacity: self.capacity)
    }

    mutating func reserve(_ extra: Int) {
        guard count + extra > capacity else { return }
        var newCapacity = capacity * 2
        while newCapacity < count + extra { newCapacity *= 2 }
        let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        grown.update(from: storage, count: count)
        storage.deallocate()
        storage = grown
        capacity = newCapacity
    }

    mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        reserve(bytes.count)
        if let base = bytes.baseAddress { (storage + count).update(from: base, count: bytes.count) }
        count += bytes.count
    }

    func crc32(from start: Int) -> UInt32 {
        CRC32.checksum(UnsafeBufferPointer(start: storage + start, count: count - start))
    }

    /// The bytes as an array; the buffer must not be used afterwards.
    mutating func finish() -> [UInt8] {
        let result = Array(UnsafeBufferPointer(start: storage, count: count))
        storage.deallocate()
        capacity = 0
        count = 0
        storage = .allocate(capacity: 1)
        return result
    }
}

/// CRC-32 (IEEE 802.3, as gzip uses), slicing-by-4.
enum CRC32 {
    static let tables: [[UInt32]] = {
        var t0 = [UInt32](repeating: 0, count: 256)
        for i in 0..<256 {
            var c = UInt32(i)
            for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
            t0[i] = c
        }
        var tables = [t0]
        for k in 1..<4 {
            var t = [UInt32](repeating: 0, count: 256)
            for i in 0..<256 { t[i] = (tables[k - 1][i] >> 8) ^ t0[Int(tables[k - 1][i] & 0xFF)] }
            tables.append(t)
        }
        return tables
    }()

    static func checksum(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt32 {
        let all = tables
        return all[0].withUnsafeBufferPointer { t0 in all[1].withUnsafeBufferPointer { t1 in
            all[2].withUnsafeBufferPointer { t2 in all[3].withUnsafeBufferPointer { t3 in
                var c: UInt32 = 0xFFFF_FFFF
                var i = 0
                let n = bytes.count
                while i + 4 <= n {
                    c ^= UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24
                    c = t3[Int(c & 0xFF)] ^ t2[Int((c >> 8) & 0xFF)] ^ t1[Int((c >> 16) & 0xFF)] ^ t0[Int(c >> 24)]
                    i += 4
                }
                while i < n {
                    c = t0[Int((c ^ UInt32(bytes[i])) & 0xFF)] ^ (c >> 8)
                    i += 1
                }
                return c ^ 0xFFFF_FFFF
            } }
        } }
    }

    static func checksum(_ bytes: [UInt8]) -> UInt32 { bytes.withUnsafeBufferPointer { checksum($0) } }
}

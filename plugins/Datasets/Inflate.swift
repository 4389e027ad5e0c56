import CZlib
import FedKit
import FedKitBasics

/// Decompression through the system zlib (target CZlib; Debian zlib1g-dev): raw DEFLATE
/// (RFC 1951, e.g. .npz zip members), zlib streams (RFC 1950) and gzip files (RFC 1952, one or
/// more members). Errors carry the byte offset in the compressed input; readers add the path.
///
/// gzip framing is parsed here rather than by zlib so that a bad header, a truncated member or
/// a CRC-32 mismatch is reported with the offset of the field at fault; the DEFLATE body and the
/// checksums are zlib's.
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
            var output: [UInt8] = []
            output.reserveCapacity(gzipSizeHint(input))
            var pos = 0
            repeat {
                let memberStart = output.count
                pos = try gzipHeader(input, at: pos)
                pos += try decompress(input, from: pos, windowBits: -MAX_WBITS, format: "deflate", into: &output)
                guard pos + 8 <= input.count else {
                    throw Failure(
                        message: "gzip trailer (CRC-32 and size) is missing: the file is truncated", offset: input.count
                    )
                }
                let crc = readLE32(input, pos)
                let size = readLE32(input, pos + 4)
                let actualCRC = output[memberStart...].withUnsafeBufferPointer { CRC32.checksum($0) }
                guard crc == actualCRC else {
                    throw Failure(
                        message: "gzip CRC-32 mismatch (stored \(Hex.digits(crc, count: 8)), data gives "
                            + "\(Hex.digits(actualCRC, count: 8))): the file is corrupt", offset: pos)
                }
                guard size == UInt32(truncatingIfNeeded: output.count - memberStart) else {
                    throw Failure(
                        message: "gzip size mismatch (stored \(size), decoded \(output.count - memberStart))",
                        offset: pos + 4)
                }
                pos += 8
                // Trailing zero padding after the last member is tolerated.
                while pos < input.count && input[pos] == 0 { pos += 1 }
            } while pos < input.count
            return output
        }
    }

    /// Decompresses a raw DEFLATE stream (no header or checksum), e.g. a zip member with method 8.
    /// `expectedSize` (when known, as in a zip directory) sizes the output buffer up front.
    public static func inflate(_ bytes: [UInt8], expectedSize: Int? = nil) throws -> [UInt8] {
        try decompressWhole(bytes, windowBits: -MAX_WBITS, format: "deflate", expectedSize: expectedSize)
    }

    /// Decompresses a zlib stream (2-byte header, DEFLATE body, Adler-32), checking the checksum.
    public static func zlib(_ bytes: [UInt8], expectedSize: Int? = nil) throws -> [UInt8] {
        try decompressWhole(bytes, windowBits: MAX_WBITS, format: "zlib", expectedSize: expectedSize)
    }

    static func decompressWhole(
        _ bytes: [UInt8], windowBits: Int32, format: String, expectedSize: Int?
    ) throws -> [UInt8] {
        try bytes.withUnsafeBufferPointer { input in
            var output: [UInt8] = []
            output.reserveCapacity(expectedSize ?? Swift.max(1024, input.count * 4))
            let used = try decompress(input, from: 0, windowBits: windowBits, format: format, into: &output)
            guard used == input.count else {
                throw Failure(
                    message: "\(input.count - used) bytes after the end of the \(format) stream", offset: used)
            }
            return output
        }
    }

    /// Inflates one stream starting at `start`, appending to `output`; returns the bytes consumed.
    static func decompress(
        _ input: UnsafeBufferPointer<UInt8>, from start: Int, windowBits: Int32, format: String,
        into output: inout [UInt8]
    ) throws -> Int {
        var stream = z_stream()
        guard inflateInit2_(&stream, windowBits, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw Failure(message: "zlib could not start (out of memory?)", offset: start)
        }
        defer { inflateEnd(&stream) }
        let available = input.count - start
        stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress.map { $0 + start })
        stream.avail_in = UInt32(available)
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let (status, produced) = chunk.withUnsafeMutableBufferPointer { buffer -> (Int32, Int) in
                stream.next_out = buffer.baseAddress
                stream.avail_out = UInt32(buffer.count)
                let status = CZlib.inflate(&stream, Z_NO_FLUSH)
                return (status, buffer.count - Int(stream.avail_out))
            }
            output.append(contentsOf: chunk[0..<produced])
            let consumed = available - Int(stream.avail_in)
            switch status {
            case Z_STREAM_END:
                return consumed
            case Z_OK:
                continue
            case Z_BUF_ERROR where stream.avail_in == 0:
                // No progress possible: the input ended inside the stream.
                throw Failure(message: "unexpected end of compressed data (the file is truncated)", offset: input.count)
            case Z_BUF_ERROR:
                continue
            case Z_MEM_ERROR:
                throw Failure(message: "zlib ran out of memory", offset: start + consumed)
            default:
                let reason = stream.msg.map { String(cString: $0) } ?? "error \(status)"
                throw Failure(message: "corrupt \(format) data: \(reason)", offset: start + consumed)
            }
        }
    }

    // MARK: - gzip framing

    static func gzipHeader(_ input: UnsafeBufferPointer<UInt8>, at start: Int) throws -> Int {
        guard start + 10 <= input.count else { throw Failure(message: "gzip header is truncated", offset: input.count) }
        guard input[start] == 0x1f, input[start + 1] == 0x8b else {
            throw Failure(
                message: "not a gzip member (magic \(Hex.digits(input[start], count: 2)) "
                    + "\(Hex.digits(input[start + 1], count: 2)), expected 1f 8b)", offset: start)
        }
        guard input[start + 2] == 8 else {
            throw Failure(
                message: "unsupported gzip compression method \(input[start + 2]) (only 8, deflate)", offset: start + 2)
        }
        let flags = input[start + 3]
        guard flags & 0xE0 == 0 else { throw Failure(message: "reserved gzip header flags set", offset: start + 3) }
        var pos = start + 10
        if flags & 4 != 0 {  // FEXTRA
            guard pos + 2 <= input.count else {
                throw Failure(message: "gzip header is truncated", offset: input.count)
            }
            pos += 2 + (Int(input[pos]) | Int(input[pos + 1]) << 8)
        }
        for bit: UInt8 in [8, 16] where flags & bit != 0 {  // FNAME, FCOMMENT: zero-terminated
            while pos < input.count && input[pos] != 0 { pos += 1 }
            pos += 1
        }
        if flags & 2 != 0 { pos += 2 }  // FHCRC
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
}

/// CRC-32 (the gzip and zip checksum), computed by zlib.
public enum CRC32 {
    public static func checksum(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt32 {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return 0 }
        var crc: UInt = 0
        var offset = 0
        // zlib takes a 32-bit length: feed large buffers in pieces.
        while offset < bytes.count {
            let n = Swift.min(bytes.count - offset, 1 << 30)
            crc = crc32(crc, base + offset, UInt32(n))
            offset += n
        }
        return UInt32(truncatingIfNeeded: crc)
    }

    public static func checksum(_ bytes: [UInt8]) -> UInt32 { bytes.withUnsafeBufferPointer { checksum($0) } }
}

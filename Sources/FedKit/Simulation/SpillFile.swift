import Foundation
import Torch

/// The client state store's spill format: an 8-byte magic, the element count as a little-endian
/// UInt64, then the float32 values in this machine's byte order (the files are the process's own
/// scratch space, never exchanged). Written and read straight from and into tensor memory: no
/// intermediate buffers, so that spilling thousands of states does not fragment the heap.
enum SpillFile {
    static let magic: [UInt8] = Array("FKSTATE1".utf8)

    /// Writes `flat` (a contiguous float32 vector) to `path` atomically (temporary file, rename).
    static func write(_ flat: Tensor, to path: String) throws {
        let temporary = path + ".partial"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else {
            throw PluginError("cannot write client state file \(temporary): \(String(cString: strerror(errno)))")
        }
        var closed = false
        defer { if !closed { close(fd); unlink(temporary) } }
        var header = magic
        withUnsafeBytes(of: UInt64(flat.count).littleEndian) { header += $0 }
        try writeAll(fd, header.withUnsafeBytes { $0 }, path: temporary)
        if flat.count > 0 {  // an empty tensor has no data pointer
            try flat.contiguous().withUnsafeFloats { try writeAll(fd, UnsafeRawBufferPointer($0), path: temporary) }
        }
        closed = true
        guard close(fd) == 0, rename(temporary, path) == 0 else {
            let message = String(cString: strerror(errno))
            unlink(temporary)
            throw PluginError("cannot write client state file \(path): \(message)")
        }
    }

    /// Reads a vector written by `write`.
    static func read(_ path: String) throws -> Tensor {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw PluginError("cannot read client state file \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var header = [UInt8](repeating: 0, count: 16)
        let got = header.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress, 16) }
        guard got == 16, Array(header[0..<8]) == magic else {
            throw PluginError("\(path) at byte 0: not a client state file (bad header)")
        }
        let count = header[8..<16].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        var size = stat()
        guard fstat(fd, &size) == 0, UInt64(size.st_size) == 16 + count * 4 else {
            throw PluginError(
                "\(path) at byte 8: declares \(count) values, the file holds \(max(0, Int(size.st_size) - 16)) bytes of them"
            )
        }
        let values = try [Float](unsafeUninitializedCapacity: Int(count)) { buffer, initialized in
            var offset = 0
            let total = Int(count) * 4
            let raw = UnsafeMutableRawBufferPointer(buffer)
            while offset < total {
                let n = Foundation.read(fd, raw.baseAddress! + offset, total - offset)
                guard n > 0 else { throw PluginError("\(path) at byte \(16 + offset): unexpected end of file") }
                offset += n
            }
            initialized = Int(count)
        }
        return try Tensor(values)
    }

    private static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        var offset = 0
        while offset < bytes.count {
            let n = Foundation.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            guard n > 0 else {
                throw PluginError("cannot write client state file \(path): \(String(cString: strerror(errno)))")
            }
            offset += n
        }
    }
}

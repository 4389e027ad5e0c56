import FedKitBasics
import Foundation

/// Reads and writes the safetensors format (https://huggingface.co/docs/safetensors):
/// an 8-byte little-endian header length, a JSON header, then raw little-endian tensor data.
/// Files are readable from Python with `safetensors.torch.load_file`.
public enum SafeTensors {
    /// A malformed or unreadable file: names the path and the byte offset of the problem.
    public struct FormatError: Error, CustomStringConvertible, Sendable {
        public var path: String
        public var offset: Int?
        public var message: String
        public var description: String {
            offset.map { "\(path): byte \($0): \(message)" } ?? "\(path): \(message)"
        }
    }

    /// Writes `entries` (float32, int64 or bool tensors) and string metadata atomically:
    /// the file is complete or absent, never half-written.
    public static func write(
        _ entries: [(name: String, tensor: Tensor)], metadata: [String: String] = [:], to path: String
    ) throws {
        var header = "{"
        var parts: [String] = []
        if !metadata.isEmpty {
            let meta = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }.joined(
                separator: ",")
            parts.append("\"__metadata__\":{\(meta)}")
        }
        var payload = Data()
        var seen = Set<String>()
        for (name, tensor) in entries {
            guard seen.insert(name).inserted else {
                throw FormatError(path: path, offset: nil, message: "duplicate tensor name '\(name)'")
            }
            let (code, bytes) = try encode(tensor)
            let begin = payload.count
            payload.append(bytes)
            let shape = tensor.shape.map(String.init).joined(separator: ",")
            parts.append(
                "\(jsonString(name)):{\"dtype\":\"\(code)\",\"shape\":[\(shape)],\"data_offsets\":[\(begin),\(payload.count)]}"
            )
        }
        header += parts.joined(separator: ",") + "}"
        var headerBytes = Data(header.utf8)
        while headerBytes.count % 8 != 0 { headerBytes.append(0x20) }
        var file = Data()
        var length = UInt64(headerBytes.count).littleEndian
        withUnsafeBytes(of: &length) { file.append(contentsOf: $0) }
        file.append(headerBytes)
        file.append(payload)
        do {
            try file.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw FormatError(path: path, offset: nil, message: "cannot write: \(error.localizedDescription)")
        }
    }

    /// Reads every tensor (in file order) and the metadata.
    public static func read(
        _ path: String
    ) throws -> (entries: [(name: String, tensor: Tensor)], metadata: [String: String]) {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw FormatError(path: path, offset: nil, message: "cannot read: \(error.localizedDescription)")
        }
        func fail(_ offset: Int, _ message: String) -> FormatError {
            FormatError(path: path, offset: offset, message: message)
        }
        guard data.count >= 8 else {
            throw fail(0, "file has \(data.count) bytes, too short for the 8-byte header length")
        }
        let headerLength = data.prefix(8).enumerated().reduce(UInt64(0)) {
            $0 | UInt64($1.element) << (8 * UInt64($1.offset))
        }
        guard headerLength <= UInt64(data.count - 8) else {
            throw fail(0, "header length \(headerLength) exceeds the file size \(data.count)")
        }
        let headerEnd = 8 + Int(headerLength)
        let json: Any
        do { json = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<headerEnd)) } catch {
            throw fail(8, "header is not valid JSON")
        }
        guard let header = json as? [String: Any] else { throw fail(8, "header is not a JSON object") }
        var metadata: [String: String] = [:]
        if let meta = header["__metadata__"] as? [String: Any] {
            for (k, v) in meta { metadata[k] = v as? String ?? "\(v)" }
        }
        var described: [(name: String, begin: Int, end: Int, dtype: String, shape: [Int])] = []
        for (name, value) in header where name != "__metadata__" {
            guard let info = value as? [String: Any], let dtype = info["dtype"] as? String,
                let shape = info["shape"] as? [Int], let offsets = info["data_offsets"] as? [Int], offsets.count == 2
            else {
                throw fail(8, "tensor '\(name)' lacks dtype, shape or data_offsets")
            }
            described.append((name, offsets[0], offsets[1], dtype, shape))
        }
        described.sort { ($0.begin, $0.name) < ($1.begin, $1.name) }
        let dataSize = data.count - headerEnd
        var entries: [(name: String, tensor: Tensor)] = []
        for d in described {
            guard d.begin >= 0, d.begin <= d.end, d.end <= dataSize else {
                throw fail(
                    headerEnd + max(0, d.begin),
                    "tensor '\(d.name)' data_offsets [\(d.begin), \(d.end)] exceed the \(dataSize) data bytes (file truncated?)"
                )
            }
            let bytes = data.subdata(in: (headerEnd + d.begin)..<(headerEnd + d.end))
            do {
                entries.append((d.name, try decode(bytes, dtype: d.dtype, shape: d.shape)))
            } catch let error as TorchError {
                throw fail(headerEnd + d.begin, "tensor '\(d.name)': \(error.message)")
            }
        }
        return (entries, metadata)
    }

    static func encode(_ tensor: Tensor) throws -> (String, Data) {
        switch tensor.dtype {
        case .float32:
            let values = try tensor.floats()
            return ("F32", values.withUnsafeBufferPointer { Data(buffer: $0) })
        case .int64:
            let values = try tensor.ints().map { Int64($0).littleEndian }
            return ("I64", values.withUnsafeBufferPointer { Data(buffer: $0) })
        case .bool:
            return ("BOOL", Data(try tensor.ints().map { UInt8($0 != 0 ? 1 : 0) }))
        }
    }

    static func decode(_ bytes: Data, dtype: String, shape: [Int]) throws -> Tensor {
        // Validate the shape before any arithmetic on it: a malformed header must not trap.
        var count = 1
        for size in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: size)
            guard size >= 0, !overflow, product <= bytes.count else {
                throw TorchError(
                    "safetensors", "shape \(Tensor.describe(shape: shape)) does not fit the \(bytes.count) data bytes")
            }
            count = product
        }
        switch dtype {
        case "F32":
            guard bytes.count == count * 4 else {
                throw TorchError("safetensors", "\(bytes.count) bytes for \(count) float32 values")
            }
            let values = bytes.withUnsafeBytes { raw in
                (0..<count).map {
                    Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self)))
                }
            }
            return try Tensor(values, shape: shape)
        case "I64":
            guard bytes.count == count * 8 else {
                throw TorchError("safetensors", "\(bytes.count) bytes for \(count) int64 values")
            }
            let values = bytes.withUnsafeBytes { raw in
                (0..<count).map { Int(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self))) }
            }
            return try Tensor(values, shape: shape)
        case "BOOL":
            guard bytes.count == count else {
                throw TorchError("safetensors", "\(bytes.count) bytes for \(count) bool values")
            }
            return try Tensor(bytes.map { Int($0) }, shape: shape).ne(Tensor.zeros([], dtype: .int64))
        default:
            throw TorchError("safetensors", "unsupported dtype \(dtype) (FedKit reads F32, I64 and BOOL)")
        }
    }

    static func jsonString(_ s: String) -> String { Quoting.quoted(s, .json) }
}

extension StateDict {
    /// Saves this state as a safetensors file (atomically).
    public func save(to path: String, metadata: [String: String] = [:]) throws {
        try SafeTensors.write(entries, metadata: metadata, to: path)
    }

    /// Loads a safetensors file as a state dict.
    public static func load(from path: String) throws -> StateDict {
        StateDict(try SafeTensors.read(path).entries)
    }
}

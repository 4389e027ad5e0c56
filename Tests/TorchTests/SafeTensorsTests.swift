import Foundation
import XCTest

@testable import Torch

final class SafeTensorsTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "fedkit-safetensors-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    func sampleEntries() throws -> [(name: String, tensor: Tensor)] {
        [
            ("weights", try Tensor([1.5, -2.25, 3e-8, .greatestFiniteMagnitude, 0, -0.0], shape: [2, 3])),
            ("ids", try Tensor([1, -2, Int(Int64.max), Int(Int64.min)], shape: [4])),
            ("mask", try Tensor([1, 0, 0, 1, 1, 0], shape: [3, 2]).ne(Tensor.zeros([], dtype: .int64))),
            ("scalar", try Tensor(scalar: 7)),
            ("empty", try Tensor([Float](), shape: [0, 2])),
        ]
    }

    let metadata = ["format": "pt", "note": "quotes \" backslash \\ newline \n tab \t é ünïcödé"]

    func testRoundTripF32I64BoolAndMetadata() throws {
        let file = path("round.safetensors")
        let entries = try sampleEntries()
        try SafeTensors.write(entries, metadata: metadata, to: file)
        let (read, meta) = try SafeTensors.read(file)
        XCTAssertEqual(meta, metadata)
        XCTAssertEqual(read.map(\.name), entries.map(\.name), "file order is kept")
        for ((name, original), (_, loaded)) in zip(entries, read) {
            XCTAssertEqual(loaded.shape, original.shape, name)
            XCTAssertEqual(loaded.dtype, original.dtype, name)
            if original.dtype == .float32 {
                XCTAssertEqual(try loaded.floats().map(\.bitPattern), try original.floats().map(\.bitPattern), name)
            } else {
                XCTAssertEqual(try loaded.ints(), try original.ints(), name)
            }
        }
        // The header is 8-byte aligned and starts with '{'.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        let headerLength = bytes.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        XCTAssertEqual(headerLength % 8, 0)
        XCTAssertEqual(bytes[8], UInt8(ascii: "{"))
        XCTAssertEqual(bytes.count, 8 + headerLength + 24 + 32 + 6 + 4 + 0)
    }

    func testStateDictSaveLoad() throws {
        let g = RandomGenerator(seed: 1)
        let net = try Network(
            body: [Linear(3, 4, generator: g), BatchNorm(4)], head: [Linear(4, 2, generator: g)], generator: g)
        let file = path("state.safetensors")
        try net.stateDict().save(to: file, metadata: ["round": "3"])
        let loaded = try StateDict.load(from: file)
        XCTAssertEqual(loaded.names, net.stateDict().names)
        XCTAssertEqual(try loaded.flattened().floats(), try net.stateDict().flattened().floats())
        let other = try Network(
            body: [Linear(3, 4, generator: g), BatchNorm(4)], head: [Linear(4, 2, generator: g)], generator: g)
        try other.load(loaded)
        XCTAssertEqual(try other.stateDict().flattened().floats(), try net.stateDict().flattened().floats())
    }

    func testDuplicateNamesAndUnwritablePath() throws {
        let t = try Tensor.zeros([1])
        XCTAssertThrowsError(try SafeTensors.write([("a", t), ("a", t)], to: path("dup.safetensors"))) { error in
            XCTAssertTrue(error is SafeTensors.FormatError, "\(error)")
            XCTAssertTrue("\(error)".contains("duplicate tensor name 'a'"), "\(error)")
        }
        XCTAssertThrowsError(try SafeTensors.write([("a", t)], to: path("no/such/dir/x.safetensors"))) { error in
            XCTAssertTrue(error is SafeTensors.FormatError, "\(error)")
        }
    }

    // MARK: Malformed files

    func formatError(
        _ file: String, file testFile: StaticString = #filePath, line: UInt = #line
    ) -> SafeTensors.FormatError? {
        do {
            _ = try SafeTensors.read(file)
            XCTFail("reading \(file) succeeded", file: testFile, line: line)
        } catch let error as SafeTensors.FormatError {
            XCTAssertEqual(error.path, file, file: testFile, line: line)
            XCTAssertTrue(error.description.hasPrefix(file + ": "), error.description, file: testFile, line: line)
            return error
        } catch {
            XCTFail("expected SafeTensors.FormatError, got \(type(of: error)): \(error)", file: testFile, line: line)
        }
        return nil
    }

    func write(_ bytes: Data, _ name: String) throws -> String {
        let file = path(name)
        try bytes.write(to: URL(fileURLWithPath: file))
        return file
    }

    func withHeader(_ json: String, payload: Data = Data(), declaredLength: UInt64? = nil) -> Data {
        let header = Data(json.utf8)
        var length = (declaredLength ?? UInt64(header.count)).littleEndian
        var data = Data()
        withUnsafeBytes(of: &length) { data.append(contentsOf: $0) }
        return data + header + payload
    }

    func testTruncatedFile() throws {
        let good = path("good.safetensors")
        try SafeTensors.write([("a", try Tensor([Float(1), 2, 3, 4])), ("b", try Tensor([Float(5), 6]))], to: good)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: good))
        let headerEnd = 8 + bytes.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let file = try write(bytes.prefix(bytes.count - 4), "truncated.safetensors")
        let error = try XCTUnwrap(formatError(file))
        // Tensor b occupies data bytes [16, 24); only 20 remain.
        XCTAssertEqual(error.offset, headerEnd + 16)
        XCTAssertEqual(
            error.description,
            "\(file): byte \(headerEnd + 16): tensor 'b' data_offsets [16, 24] exceed the 20 data bytes (file truncated?)"
        )

        let tiny = try write(Data([1, 2, 3]), "tiny.safetensors")
        XCTAssertEqual(formatError(tiny)?.offset, 0)
        let cut = try write(bytes.prefix(20), "cut-header.safetensors")
        XCTAssertEqual(formatError(cut)?.offset, 0)
    }

    func testBadHeaderLength() throws {
        let json = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#
        let huge = try write(withHeader(json, payload: Data(count: 4), declaredLength: UInt64.max), "huge.safetensors")
        let error = try XCTUnwrap(formatError(huge))
        XCTAssertEqual(error.offset, 0)
        XCTAssertTrue(error.message.contains("header length 18446744073709551615 exceeds the file size"), error.message)
        let tooLong = try write(withHeader(json, payload: Data(count: 4), declaredLength: 1000), "long.safetensors")
        XCTAssertEqual(formatError(tooLong)?.offset, 0)
        // A header length that cuts the JSON short: invalid JSON at byte 8.
        let short = try write(withHeader(json, payload: Data(count: 4), declaredLength: 10), "short.safetensors")
        XCTAssertEqual(formatError(short)?.offset, 8)
    }

    func testBadJSON() throws {
        let notJSON = try write(withHeader("{not json at all}   "), "bad.safetensors")
        let error = try XCTUnwrap(formatError(notJSON))
        XCTAssertEqual(error.offset, 8)
        XCTAssertEqual(error.description, "\(notJSON): byte 8: header is not valid JSON")
        let array = try write(withHeader("[1, 2]"), "array.safetensors")
        XCTAssertEqual(formatError(array)?.message, "header is not a JSON object")
        let incomplete = try write(
            withHeader(#"{"a":{"dtype":"F32","shape":[1]}}"#, payload: Data(count: 4)), "nooffsets.safetensors")
        XCTAssertEqual(formatError(incomplete)?.message, "tensor 'a' lacks dtype, shape or data_offsets")
    }

    func testBadTensorDescriptions() throws {
        let unsupported = try write(
            withHeader(#"{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}"#, payload: Data(count: 4)),
            "f16.safetensors")
        let e1 = try XCTUnwrap(formatError(unsupported))
        XCTAssertTrue(e1.message.contains("unsupported dtype F16"), e1.message)
        let wrongSize = try write(
            withHeader(#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, payload: Data(count: 8)),
            "size.safetensors")
        let e2 = try XCTUnwrap(formatError(wrongSize))
        XCTAssertTrue(e2.message.contains("8 bytes for 3 float32 values"), e2.message)
        let negative = try write(
            withHeader(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,4]}}"#, payload: Data(count: 8)),
            "negative.safetensors")
        XCTAssertNotNil(formatError(negative))
        let reversed = try write(
            withHeader(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}"#, payload: Data(count: 8)),
            "reversed.safetensors")
        XCTAssertNotNil(formatError(reversed))
        // Shapes whose element count overflows must not crash.
        let overflow = try write(
            withHeader(
                #"{"a":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,4]}}"#,
                payload: Data(count: 4)), "overflow.safetensors")
        XCTAssertNotNil(formatError(overflow))
        let negativeShape = try write(
            withHeader(
                #"{"a":{"dtype":"F32","shape":[-1,-1],"data_offsets":[0,4]}}"#,
                payload: Data(count: 4)), "negshape.safetensors")
        XCTAssertNotNil(formatError(negativeShape))
        let missing = path("does-not-exist.safetensors")
        let e3 = try XCTUnwrap(formatError(missing))
        XCTAssertNil(e3.offset)
    }

    // MARK: Python interoperability

    func python(_ script: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", script] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// One Python process (importing torch is slow): it loads the file FedKit wrote with
    /// `safetensors.torch.load_file`, reports it as JSON, and writes a file of its own that FedKit then reads.
    func testInteroperabilityWithPythonSafetensors() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") else {
            throw XCTSkip("/usr/bin/python3 is absent")
        }
        let ours = path("ours.safetensors"), theirs = path("theirs.safetensors")
        let entries = try sampleEntries()
        try SafeTensors.write(entries, metadata: metadata, to: ours)
        let script = """
            import json, sys
            try:
                import torch
                from safetensors import safe_open
                from safetensors.torch import load_file, save_file
            except ImportError as e:
                print(e)
                sys.exit(77)
            tensors = load_file(sys.argv[1])
            with safe_open(sys.argv[1], framework="pt") as f:
                meta = f.metadata()
            out = {name: {"dtype": str(t.dtype), "shape": list(t.shape), "values": t.flatten().tolist()} for name, t in tensors.items()}
            save_file({"w": torch.tensor([[1.5, -2.0], [0.25, 8.0]]), "i": torch.tensor([3, -4, 5], dtype=torch.int64),
                       "b": torch.tensor([True, False, True])}, sys.argv[2], metadata={"k": "v"})
            print(json.dumps({"tensors": out, "metadata": meta}))
            """
        let (status, output) = try python(script, [ours, theirs])
        if status == 77 {
            throw XCTSkip(
                "/usr/bin/python3 cannot import torch and safetensors (\(output.trimmingCharacters(in: .whitespacesAndNewlines))); "
                    + "install with /usr/bin/python3 -m pip install --break-system-packages safetensors")
        }
        XCTAssertEqual(status, 0, output)

        // Python read FedKit's file.
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any], output)
        XCTAssertEqual(json["metadata"] as? [String: String], metadata)
        let tensors = try XCTUnwrap(json["tensors"] as? [String: [String: Any]])
        XCTAssertEqual(Set(tensors.keys), Set(entries.map(\.name)))
        let expectedTypes = [
            "weights": "torch.float32", "ids": "torch.int64", "mask": "torch.bool", "scalar": "torch.float32",
            "empty": "torch.float32",
        ]
        for (name, tensor) in entries {
            let info = try XCTUnwrap(tensors[name], name)
            XCTAssertEqual(info["dtype"] as? String, expectedTypes[name], name)
            XCTAssertEqual(info["shape"] as? [Int], tensor.shape, name)
            let values = try XCTUnwrap(info["values"] as? [Any], name)
            switch tensor.dtype {
            case .float32:
                XCTAssertEqual(values.map { Float(($0 as? NSNumber)?.doubleValue ?? .nan) }, try tensor.floats(), name)
            case .int64:
                XCTAssertEqual(
                    values.map { ($0 as? NSNumber)?.int64Value ?? 0 }, try tensor.ints().map(Int64.init), name)
            case .bool:
                XCTAssertEqual(
                    values.map { ($0 as? NSNumber)?.boolValue ?? false }, try tensor.ints().map { $0 != 0 }, name)
            }
        }

        // FedKit reads Python's file.
        let (read, meta) = try SafeTensors.read(theirs)
        XCTAssertEqual(meta, ["k": "v"])
        let byName = Dictionary(uniqueKeysWithValues: read.map { ($0.name, $0.tensor) })
        XCTAssertEqual(try byName["w"]?.floats(), [1.5, -2, 0.25, 8])
        XCTAssertEqual(byName["w"]?.shape, [2, 2])
        XCTAssertEqual(try byName["i"]?.ints(), [3, -4, 5])
        XCTAssertEqual(byName["i"]?.dtype, .int64)
        XCTAssertEqual(try byName["b"]?.ints(), [1, 0, 1])
        XCTAssertEqual(byName["b"]?.dtype, .bool)
    }
}

import FedKit
import Foundation
import Partitioners
import XCTest

@testable import Datasets

/// The `pfllib` dataset: PFLlib's data folders (config.json, train/<k>.npz, test/<k>.npz).
final class PFLlibDatasetTests: XCTestCase {
    /// Files written by numpy 1.24 exactly as PFLlib's save_file does
    /// (`np.savez_compressed(f, data={'x': x, 'y': y})`: a deflated zip with a pickled dict):
    /// client k's x is float32 [n, 1, 2, 2] with values i/10 - 1 + k (i = 0, 1, ...), y int64 (i + k) % 3;
    /// train has 3 + k samples, test 2.
    static let numpyFiles: [(split: String, client: Int, base64: String)] = [
        (
            "train", 0,
            "UEsDBBQAAAAIAAAAIQDNJVTcaAEAABkCAAAIABQAZGF0YS5ucHkBABAAGQIAAAAAAABoAQAAAAAAAKWOy2rCQBSGJ0mv6f2uvaY3oiBSsAspLV0IXTRWS6BgF0VyJYIazziWhiq4Eeu6K32XmhdIoW/UTmJclC57FnOYf37m+95zD3f3jwx6Rq+ibtQ1LF4IYjMvJgTRtDHBSrVoY93w4xulXDdoXreUmkHvsXhCaAn/G77NadVGpeYkNRsbyUqjTEoKxorDF7Gh2dU6wQ2N8IBGLb6qj16BkVAH2AyjAteFCRkmYxITD0s6cWoGD1MFFiGUT8N0760LMzLMxiSuwNCsCXwul7v9phMc0jWBObX3BPMtWIgFlRdYtJAVUJYsiliWYYUi6A8SI7ESS2DVGgHMc1jzAesybIwBl7D5G4AIbKm9zBlCbdc0TffTy7qpVMod9KMu7bue5w0H/f7Q87LDL8/7oBmi+woiBKJq8KcD22OjHd9oV4Y9aiRxHdgPVUppOPBVBBkOqYr1V+KISkRQOEy42XDDMYETtaEQOFWTP1BLAQIUAxQAAAAIAAAAIQDNJVTcaAEAABkCAAAIAAAAAAAAAAAAAACAAQAAAABkYXRhLm5weVBLBQYAAAAAAQABADYAAACiAQAAAAA="
        ),
        (
            "test", 0,
            "UEsDBBQAAAAIAAAAIQAGpQJ9VwEAAAECAAAIABQAZGF0YS5ucHkBABAAAQIAAAAAAABXAQAAAAAAAKXOSUvDQBQH8EnrGre6W9e4kRRKL/VQRPBQ8GA0lYBQD1KykkKb9E0mYrCFXkrt2VP7YZovED+TTtJ4EI8+mBnmzZ/5vQ/p8f7hiUEv6I3XDVfD/CXHtyt8nuNNBxOs2DUH60bUvlEarkH7rqW0DHoXcnmuw/2v2G5as71myy9oDjYKTa9B6grGis/WsKE5tkuwpxEW0CTF2vrkFRgR9SBVZlRI92FKhmlBZHJJSCd+y2BhpppCCFVKMDt478OcDPOCmK4ytNcGVpKk2y9a8SZeE1hQB8+w2IElIY68wrKFrFhZsSiRkWGVEoKYEhm6UgTWrAlgXsB6BGzIsPkDXMHWbwAR2FYHZQ6hbmCaZvAZ3gXFYjEYDbMBzQdhGI5Hw+EYdghk1fgPH3Z/JtiLJtiX4UCI8B4cJnS9BEcRzclwTGnrL3pC0QxKiklOOCVwpnoKgXO18A1QSwECFAMUAAAACAAAACEABqUCfVcBAAABAgAACAAAAAAAAAAAAAAAgAEAAAAAZGF0YS5ucHlQSwUGAAAAAAEAAQA2AAAAkQEAAAAA"
        ),
        (
            "train", 1,
            "UEsDBBQAAAAIAAAAIQAT+SW/eAEAADECAAAIABQAZGF0YS5ucHkBABAAMQIAAAAAAAB4AQAAAAAAAKWOy0rDQBSGJ2m9xfvdeo03kkLppi6KaCMUXDi1lYBQF1KSNCGF3s5kIhZb6KbUgjtX7QP4Ar6ADxDBN9JJLwtx6b8YZv5zmO97Td9e39xx6AE9SXnTMYh0Kkr1jBQRJatCKNHKuQrJm359qRUdk/WOrVVN9pbDEbEh/i9CM2CU3VK1FjUqxIyW3CItaIRoNSFHTKNSdihxDSoAGmwJ5fxgChxGLeCTnA6BNgRVGJMxFx4u5WmtagownuURQpk4THSe2zCpwpSMA1mOdXUQ0un01TdL/8AKhWm9cw8zDZiV+yuPMGcju0+ZtxliQYVFhpBxEHOYxzyFJXsAsE5g2QesqLA6ApzB2m8AorCud5IXbIa+PO/c81KJXreb8DwvwSql1w0psVhM+fRSimVZCkJNdn9hfZe939jsnXUfCmxQCOl9Rg02R4ZbvuG2CjvMEAdbsDtUK8Rhz1cTVdhnavZfqQMmJfq/+eHR74x6OKRwpLsahWM9+gNQSwECFAMUAAAACAAAACEAE/klv3gBAAAxAgAACAAAAAAAAAAAAAAAgAEAAAAAZGF0YS5ucHlQSwUGAAAAAAEAAQA2AAAAsgEAAAAA"
        ),
        (
            "test", 1,
            "UEsDBBQAAAAIAAAAIQALLxW+VgEAAAECAAAIABQAZGF0YS5ucHkBABAAAQIAAAAAAABWAQAAAAAAAKXOS0vDQBAA4E3qM77q2/qML5JCyaUeimhzKHgwmkpAqAcpeZUU2qSz2YjBFryU2rOn9jfl4D/STdoexKMDu8vODPPNp/p4//DEoBf0Jli2b2LhkhfaZSHHCzUPE6y7VQ9bdpy+0Ru+TfO+o7ds+hezOb7D/y+495TpBs1WKJketqVm0CB1HWM95KrYNj3XJzgwCQdo1MW51qgKjIK6wJYYA1I9mNJgWlSY7LjJImHL5mCmwiKEygWY7X/0YE6DeVFJVRiaawOnqurtN43kUmQCC0b/GRY7sCQmLa+w7CAnUVYcSqQ1WKWEqLAKQw9LYM0ZAbULWI+BDQ02J8AVbP0GEIFto1/iaQ19RdF1FN0Vh4NBMYqiIk3Jw0FGzufzMuwQyBjJjBB2JxvsxRvsa3AgxngXDsd0vQBHMc1rcExp5y96QtF0PC0OdvzCKYEzI9AJnBvSD1BLAQIUAxQAAAAIAAAAIQALLxW+VgEAAAECAAAIAAAAAAAAAAAAAACAAQAAAABkYXRhLm5weVBLBQYAAAAAAQABADYAAACQAQAAAAA="
        ),
    ]

    /// A PFLlib folder with the numpy-written files above and PFLlib's config.json keys.
    static func writeFolder(
        config: String =
            #"{"num_clients": 2, "num_classes": 3, "non_iid": true, "partition": "dir", "alpha": 0.1, "batch_size": 10}"#
    ) throws -> String {
        let root = try DataTestSupport.temporaryDirectory("fedkit-pfllib")
        for (split, client, base64) in numpyFiles {
            try DataTestSupport.write([UInt8](Data(base64Encoded: base64)!), to: "\(root)/\(split)/\(client).npz")
        }
        try DataTestSupport.write(config, to: "\(root)/config.json")
        return root
    }

    func testNumpyWrittenFolderLoadsWithItsClientsAndLabels() throws {
        let root = try Self.writeFolder()
        let data = try PFLlibDataset(path: root).load()
        XCTAssertEqual(data.classes, 3)
        XCTAssertEqual(data.inputShape, [1, 2, 2])
        XCTAssertEqual(data.train.labelArray, [0, 1, 2, 1, 2, 0, 1])
        XCTAssertEqual(data.trainUsers, ["0", "0", "0", "1", "1", "1", "1"])
        XCTAssertEqual(data.test.labelArray, [0, 1, 1, 2])
        XCTAssertEqual(data.testUsers, ["0", "0", "1", "1"])
        let pixels = try data.train.inputs.floats()
        XCTAssertEqual(pixels.count, 7 * 4)
        XCTAssertEqual(pixels[0], -1.0)
        XCTAssertEqual(pixels[11], Float(11) / 10 - 1, accuracy: 1e-6)  // client 0's last training value, as stored
        XCTAssertEqual(pixels[12], 0.0)  // client 1 starts at 0 + k - 1 = 0

        // natural clients + natural local test: client k trains on train/k.npz and is tested on test/k.npz.
        var random = SplitMix64(seed: 1)
        let request = PartitionRequest(labels: data.train.labelArray, classes: 3, users: data.trainUsers, clients: 20)
        let partition = try NaturalPartitioner().partition(request, random: &random)
        XCTAssertEqual(partition, [[0, 1, 2], [3, 4, 5, 6]])
        let clients = try ClientSplits.make(
            dataset: data, partition: partition, mode: .natural, holdoutFraction: 0.2,
            matchedTestSize: nil, seed: 1)
        XCTAssertEqual(clients.map(\.test.labelArray), [[0, 1], [1, 2]])
        XCTAssertEqual(clients.map(\.testIndices), [[0, 1], [2, 3]])
    }

    func testClientIdsSortInClientOrder() throws {
        // With 12 clients the ids are zero-padded ("00" ... "11") so that natural's user-id order is client order.
        let root = try DataTestSupport.temporaryDirectory("fedkit-pfllib12")
        for k in 0..<12 {
            for split in ["train", "test"] {
                try DataTestSupport.write(
                    Self.plainNPZ(x: .float32([Float(k)], shape: [1, 1]), y: .int64([k % 3])),
                    to: "\(root)/\(split)/\(k).npz")
            }
        }
        try DataTestSupport.write(#"{"num_clients": 12, "num_classes": 3}"#, to: "\(root)/config.json")
        let data = try PFLlibDataset(path: root).load()
        var random = SplitMix64(seed: 1)
        let partition = try NaturalPartitioner().partition(
            PartitionRequest(labels: data.train.labelArray, classes: 3, users: data.trainUsers, clients: 12),
            random: &random)
        XCTAssertEqual(partition, (0..<12).map { [$0] })
        XCTAssertEqual(data.trainUsers?[10], "10")
        XCTAssertEqual(data.trainUsers?[2], "02")
    }

    // MARK: - Bad files: path and byte offset in every message

    func testTruncatedZip() throws {
        let root = try Self.writeFolder()
        let path = "\(root)/train/1.npz"
        let bytes = [UInt8](Data(base64Encoded: Self.numpyFiles[2].base64)!)
        try DataTestSupport.write(Array(bytes.prefix(200)), to: path)
        assertError(try PFLlibDataset(path: root).load(), contains: [path, "truncated", "byte offset"])
        // Cut inside the deflate stream but keep the directory: the data runs past the end.
        try DataTestSupport.write(Array(bytes.prefix(60)) + Array(bytes.suffix(100)), to: path)
        assertError(try PFLlibDataset(path: root).load(), contains: [path, "byte offset"])
    }

    func testWrongDtype() throws {
        let root = try Self.writeFolder()
        let path = "\(root)/test/0.npz"
        try DataTestSupport.write(
            Self.plainNPZ(x: .float32([0, 1, 2, 3], shape: [1, 4]), y: .float32([1], shape: [1])), to: path)
        assertError(
            try PFLlibDataset(path: root).load(),
            contains: [path, "y must be a 1-d integer array", "'<f4'", "byte offset"])
        try DataTestSupport.write(
            Self.plainNPZ(
                x: .raw(descr: "<c8", bytes: [UInt8](repeating: 0, count: 8), shape: [1, 1]), y: .int64([1])), to: path)
        assertError(
            try PFLlibDataset(path: root).load(), contains: [path, "dtype '<c8' is not supported", "byte offset"])
    }

    func testShapeMismatch() throws {
        let root = try Self.writeFolder()
        let path = "\(root)/train/0.npz"
        try DataTestSupport.write(
            Self.plainNPZ(x: .float32([Float](repeating: 0, count: 12), shape: [3, 1, 2, 2]), y: .int64([0, 1])),
            to: path)
        assertError(
            try PFLlibDataset(path: root).load(), contains: [path, "x has 3 samples", "y has 2 labels", "byte offset"])
        // Samples of another shape than the other clients'.
        try DataTestSupport.write(Self.plainNPZ(x: .float32([0, 0, 0], shape: [1, 3]), y: .int64([0])), to: path)
        assertError(try PFLlibDataset(path: root).load(), contains: ["\(root)/train/1.npz", "shape [1, 2, 2]", "[3]"])
    }

    func testLabelsOutOfRange() throws {
        let root = try Self.writeFolder(config: #"{"num_clients": 2, "num_classes": 2}"#)
        assertError(
            try PFLlibDataset(path: root).load(),
            contains: ["\(root)/train/0.npz", "label 2 of sample 2 is outside 0..<2", "byte offset"])
    }

    func testMissingConfigKeys() throws {
        let root = try Self.writeFolder(config: #"{"num_clients": 2}"#)
        assertError(
            try PFLlibDataset(path: root).load(), contains: ["\(root)/config.json", "lacks the key 'num_classes'"])
        let other = try Self.writeFolder(config: #"{"num_classes": 3, "num_clients": "two"}"#)
        assertError(
            try PFLlibDataset(path: other).load(),
            contains: ["\(other)/config.json", "'num_clients' must be a positive integer"])
        let missing = try Self.writeFolder(config: #"{"num_clients": 3, "num_classes": 3}"#)
        assertError(try PFLlibDataset(path: missing).load(), contains: ["\(missing)/train/2.npz", "does not exist"])
    }

    func testCorruptedDeflateDataFailsTheCRC() throws {
        let root = try Self.writeFolder()
        let path = "\(root)/test/1.npz"
        var bytes = [UInt8](Data(base64Encoded: Self.numpyFiles[3].base64)!)
        bytes[200] ^= 0x10
        try DataTestSupport.write(bytes, to: path)
        assertError(try PFLlibDataset(path: root).load(), contains: [path, "byte offset"])
    }

    func testPickleReaderRefusesOtherGlobals() throws {
        // protocol 2: GLOBAL os.system, then STOP.
        let pickle: [UInt8] = [0x80, 0x02] + Array("cos\nsystem\n".utf8) + [0x2E]
        var reader = PickleReader(bytes: pickle, start: 0, path: "x.pkl", base: 0)
        assertError(try reader.read(), contains: ["x.pkl", "refusing global 'os.system'", "byte offset 2"])
    }

    // MARK: - Helpers

    enum Array1 {
        case float32([Float], shape: [Int])
        case int64([Int])
        case raw(descr: String, bytes: [UInt8], shape: [Int])

        var npy: [UInt8] {
            let (descr, data, shape): (String, [UInt8], [Int])
            switch self {
            case let .float32(v, s):
                (descr, data, shape) = (
                    "<f4", v.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }, s
                )
            case let .int64(v):
                (descr, data, shape) = (
                    "<i8", v.flatMap { withUnsafeBytes(of: Int64($0).littleEndian, Array.init) }, [v.count]
                )
            case let .raw(d, b, s): (descr, data, shape) = (d, b, s)
            }
            let shapeText = "(" + shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? ",)" : ")")
            var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText), }"
            while (10 + header.count + 1) % 64 != 0 { header += " " }
            header += "\n"
            return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.count & 0xFF), UInt8(header.count >> 8)]
                + Array(header.utf8) + data
        }
    }

    /// An uncompressed .npz (stored zip) with x.npy and y.npy.
    static func plainNPZ(x: Array1, y: Array1) -> [UInt8] {
        storedZip([("x.npy", x.npy), ("y.npy", y.npy)])
    }

    static func storedZip(_ members: [(String, [UInt8])]) -> [UInt8] {
        func le16(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF)] }
        func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8((v >> (8 * UInt32($0))) & 0xFF) } }
        var out: [UInt8] = []
        var central: [UInt8] = []
        for (name, data) in members {
            let crc = ZipCRC32.checksum(data), offset = UInt32(out.count), n = Array(name.utf8)
            out +=
                le32(0x0403_4b50) + le16(20) + le16(0) + le16(0) + le16(0) + le16(0) + le32(crc)
                + le32(UInt32(data.count)) + le32(UInt32(data.count)) + le16(n.count) + le16(0) + n + data
            central +=
                le32(0x0201_4b50) + le16(20) + le16(20) + le16(0) + le16(0) + le16(0) + le16(0) + le32(crc)
                + le32(UInt32(data.count)) + le32(UInt32(data.count)) + le16(n.count) + le16(0) + le16(0) + le16(0)
                + le16(0)
                + le32(0) + le32(offset) + n
        }
        let start = UInt32(out.count)
        out += central
        out +=
            le32(0x0605_4b50) + le16(0) + le16(0) + le16(members.count) + le16(members.count)
            + le32(UInt32(central.count))
            + le32(start) + le16(0)
        return out
    }

    func assertError<T>(
        _ body: @autoclosure () throws -> T, contains parts: [String], file: StaticString = #filePath,
        line: UInt = #line
    ) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            let message = "\(error)"
            for part in parts where !message.contains(part) {
                XCTFail("error \"\(message)\" does not contain \"\(part)\"", file: file, line: line)
            }
        }
    }
}

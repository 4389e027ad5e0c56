import FedKit
import XCTest

@testable import Datasets

/// Bad data files give a clear error naming the file (and the byte offset for corrupt data); never a crash.
final class DatasetErrorTests: XCTestCase {
    private func message(_ body: () throws -> Any) -> String {
        do {
            _ = try body()
            XCTFail("expected an error")
            return ""
        } catch {
            return "\(error)"
        }
    }

    private func assertContains(_ text: String, _ parts: [String], file: StaticString = #filePath, line: UInt = #line) {
        for part in parts {
            XCTAssertTrue(text.contains(part), "missing '\(part)' in: \(text)", file: file, line: line)
        }
    }

    func testMissingFilesNameEveryPathAndTheDownloadScript() throws {
        let root = try DataTestSupport.temporaryDirectory() + "/nothing-here"
        let cifar = message { try CIFAR10Dataset(root: root).load() }
        assertContains(
            cifar,
            ["6 data files are missing"] + (1...5).map { "\(root)/data_batch_\($0).bin" }
                + ["\(root)/test_batch.bin", "scripts/download-data.sh cifar10", "cifar-10-binary.tar.gz"])
        assertContains(
            message { try CIFAR100Dataset(root: root).load() },
            ["\(root)/train.bin", "\(root)/test.bin", "scripts/download-data.sh cifar100"])
        assertContains(
            message { try MNISTDataset(root: root).load() },
            [
                "4 data files", "\(root)/train-images-idx3-ubyte.gz (or \(root)/train-images-idx3-ubyte)",
                "\(root)/t10k-labels-idx1-ubyte.gz", "scripts/download-data.sh mnist",
            ])
        assertContains(
            message { try FashionMNISTDataset(root: root).load() },
            ["dataset-fashion-mnist", "download-data.sh fashion-mnist"])
        assertContains(message { try FEMNISTDataset(root: root).load() }, ["\(root)/train", "\(root)/test", "LEAF"])
        assertContains(message { try Sent140Dataset(root: root).load() }, ["\(root)/train", "\(root)/test"])
        // requiredFiles lists the same paths for `exp validate`.
        XCTAssertEqual(CIFAR10Dataset(root: root).requiredFiles().count, 6)
        XCTAssertEqual(Sent140Dataset(root: root, glove: "/no/glove.txt").requiredFiles().last?.path, "/no/glove.txt")
    }

    func testPartlyMissingListsOnlyTheMissingOnes() throws {
        let root = try DataTestSupport.temporaryDirectory()
        try DataTestSupport.writeCIFAR10(root: root, perBatch: 1)
        try FileManager.default.removeItem(atPath: "\(root)/data_batch_3.bin")
        let text = message { try CIFAR10Dataset(root: root).load() }
        assertContains(text, ["1 data file is missing", "\(root)/data_batch_3.bin"])
        XCTAssertFalse(text.contains("data_batch_2.bin"))
    }

    func testEmptyFile() throws {
        let root = try DataTestSupport.temporaryDirectory()
        try DataTestSupport.writeCIFAR10(root: root, perBatch: 1)
        try DataTestSupport.write([UInt8](), to: "\(root)/test_batch.bin")
        assertContains(message { try CIFAR10Dataset(root: root).load() }, ["\(root)/test_batch.bin is empty"])
        let mnist = try DataTestSupport.temporaryDirectory()
        _ = try DataTestSupport.writeMNIST(root: mnist, train: 2, test: 2, gzip: true)
        try DataTestSupport.write([UInt8](), to: "\(mnist)/train-labels-idx1-ubyte.gz")
        assertContains(
            message { try MNISTDataset(root: mnist).load() }, ["\(mnist)/train-labels-idx1-ubyte.gz is empty"])
        let leaf = try DataTestSupport.temporaryDirectory()
        try DataTestSupport.write("", to: "\(leaf)/train/a.json")
        try DataTestSupport.write("", to: "\(leaf)/test/a.json")
        assertContains(message { try FEMNISTDataset(root: leaf).load() }, ["\(leaf)/train/a.json is empty"])
    }

    func testTruncatedCIFARNamesTheByteOffset() throws {
        let root = try DataTestSupport.temporaryDirectory()
        try DataTestSupport.writeCIFAR10(root: root, perBatch: 3)
        let full = try [UInt8](Data(contentsOf: URL(fileURLWithPath: "\(root)/data_batch_2.bin")))
        try DataTestSupport.write(Array(full.prefix(3073 * 2 + 100)), to: "\(root)/data_batch_2.bin")
        assertContains(
            message { try CIFAR10Dataset(root: root).load() },
            [
                "\(root)/data_batch_2.bin is truncated", "record 2 starting at byte offset 6146 is incomplete",
                "100 of 3073 bytes",
            ])
    }

    func testLabelsOutOfRange() throws {
        let root = try DataTestSupport.temporaryDirectory()
        try DataTestSupport.writeCIFAR10(root: root, perBatch: 2)
        var bytes = DataTestSupport.cifarRecords(labels: [[1], [12]], seed: 0)
        try DataTestSupport.write(bytes, to: "\(root)/test_batch.bin")
        assertContains(
            message { try CIFAR10Dataset(root: root).load() },
            ["\(root)/test_batch.bin", "record 1 at byte offset 3073 has label 12, outside 0..<10"])

        let c100 = try DataTestSupport.temporaryDirectory()
        bytes = DataTestSupport.cifarRecords(labels: [[3, 5], [20, 5]], seed: 0)
        try DataTestSupport.write(bytes, to: "\(c100)/train.bin")
        try DataTestSupport.write(DataTestSupport.cifarRecords(labels: [[1, 1]], seed: 0), to: "\(c100)/test.bin")
        assertContains(
            message { try CIFAR100Dataset(root: c100).load() },
            ["\(c100)/train.bin", "record 1 at byte offset 3074 has coarse label 20, outside 0..<20"])

        let mnist = try DataTestSupport.temporaryDirectory()
        _ = try DataTestSupport.writeMNIST(root: mnist, train: 4, test: 2, gzip: false)
        try DataTestSupport.write(
            DataTestSupport.idx(dimensions: [4], data: [1, 2, 10, 3]), to: "\(mnist)/train-labels-idx1-ubyte")
        assertContains(
            message { try MNISTDataset(root: mnist).load() },
            ["\(mnist)/train-labels-idx1-ubyte: label 2 at byte offset 10 is 10, outside 0..<10"])

        let leaf = try DataTestSupport.temporaryDirectory()
        try DataTestSupport.write(
            DataTestSupport.leafJSON([("w1", [(DataTestSupport.femnistImage(0), 62)])]), to: "\(leaf)/train/a.json")
        try DataTestSupport.write(
            DataTestSupport.leafJSON([("w1", [(DataTestSupport.femnistImage(0), 1)])]), to: "\(leaf)/test/a.json")
        assertContains(
            message { try FEMNISTDataset(root: leaf).load() },
            ["\(leaf)/train/a.json", "user 'w1', sample 0: label 62 is outside 0..<62"])

        let sent = try DataTestSupport.temporaryDirectory()
        try DataTestSupport.write(
            DataTestSupport.leafJSON([("u", [(DataTestSupport.tweet("hi", user: "u", id: 1), 4)])]),
            to: "\(sent)/train/a.json")
        try DataTestSupport.write(
            DataTestSupport.leafJSON([("u", [(DataTestSupport.tweet("hi", user: "u", id: 2), 1)])]),
            to: "\(sent)/test/a.json")
        assertContains(message { try Sent140Dataset(root: sent).load() }, ["label 4 is outside 0..<2"])
    }

    func testWrongMagicNumber() throws {
        let root = try DataTestSupport.temporaryDirectory()
        _ = try DataTestSupport.writeMNIST(root: root, train: 2, test: 2, gzip: false)
        // Labels file where the images file should be.
        try DataTestSupport.write(
            DataTestSupport.idx(dimensions: [2], data: [1, 2]), to: "\(root)/train-images-idx3-ubyte")
        assertContains(
            message { try MNISTDataset(root: root).load() },
            [
                "\(root)/train-images-idx3-ubyte has the wrong magic number 0x00000801 at byte offset 0",
                "expected 0x00000803",
            ])
        // Gzipped: the message says the offset is in the decompressed data.
        let gz = try DataTestSupport.temporaryDirectory()
        _ = try DataTestSupport.writeMNIST(root: gz, train: 2, test: 2, gzip: true)
        try DataTestSupport.write(
            DataTestSupport.gzipStored(Array("PK\u{3}\u{4} not idx".utf8)), to: "\(gz)/t10k-labels-idx1-ubyte.gz")
        assertContains(
            message { try MNISTDataset(root: gz).load() },
            ["t10k-labels-idx1-ubyte.gz has the wrong magic number", "decompressed"])
    }

    func testTruncatedIDXRawAndGzipped() throws {
        let root = try DataTestSupport.temporaryDirectory()
        _ = try DataTestSupport.writeMNIST(root: root, train: 3, test: 2, gzip: false)
        let full = DataTestSupport.idx(dimensions: [3, 28, 28], data: [UInt8](repeating: 7, count: 3 * 784))
        try DataTestSupport.write(Array(full.prefix(16 + 784 + 10)), to: "\(root)/train-images-idx3-ubyte")
        assertContains(
            message { try MNISTDataset(root: root).load() },
            [
                "\(root)/train-images-idx3-ubyte is truncated", "3 x 28 x 28 = 2352 data bytes from byte offset 16",
                "ends at byte offset 810",
            ])
        try DataTestSupport.write(Array(full.prefix(9)), to: "\(root)/train-images-idx3-ubyte")
        assertContains(
            message { try MNISTDataset(root: root).load() },
            ["is truncated: its header needs 16 bytes", "byte offset 9"])

        let gz = try DataTestSupport.temporaryDirectory()
        _ = try DataTestSupport.writeMNIST(root: gz, train: 3, test: 2, gzip: true)
        let compressed = DataTestSupport.gzipStored(full)
        try DataTestSupport.write(Array(compressed.prefix(1000)), to: "\(gz)/train-images-idx3-ubyte.gz")
        assertContains(
            message { try MNISTDataset(root: gz).load() },
            ["\(gz)/train-images-idx3-ubyte.gz is corrupt or truncated", "byte offset 1000 of the gzip file"])
        var corrupt = compressed
        corrupt[500] ^= 0xFF
        try DataTestSupport.write(corrupt, to: "\(gz)/train-images-idx3-ubyte.gz")
        assertContains(
            message { try MNISTDataset(root: gz).load() }, ["CRC-32 mismatch", "byte offset \(corrupt.count - 8)"])
    }

    func testImageAndLabelCountsMustAgree() throws {
        let root = try DataTestSupport.temporaryDirectory()
        _ = try DataTestSupport.writeMNIST(root: root, train: 3, test: 2, gzip: false)
        try DataTestSupport.write(
            DataTestSupport.idx(dimensions: [2], data: [1, 2]), to: "\(root)/train-labels-idx1-ubyte")
        assertContains(message { try MNISTDataset(root: root).load() }, ["has 3 images but", "has 2 labels"])
    }

    func testCorruptJSONNamesTheByteOffset() throws {
        let root = try DataTestSupport.temporaryDirectory()
        let good = DataTestSupport.leafJSON([("w1", [(DataTestSupport.femnistImage(0), 1)])])
        try DataTestSupport.write(good, to: "\(root)/test/a.json")
        // Truncated.
        try DataTestSupport.write(String(good.prefix(200)), to: "\(root)/train/a.json")
        assertContains(
            message { try FEMNISTDataset(root: root).load() },
            ["\(root)/train/a.json is not valid JSON", "at byte offset 200", "truncated"])
        // A bad character.
        try DataTestSupport.write("{\"users\": [\"a\"], \"num_samples\": [1] x}", to: "\(root)/train/a.json")
        assertContains(
            message { try FEMNISTDataset(root: root).load() },
            ["expected ',' or '}' in an object, found 'x' at byte offset 36"])
        // Valid JSON, wrong shape.
        try DataTestSupport.write(DataTestSupport.leafJSON([("w1", [("[1, 2, 3]", 1)])]), to: "\(root)/train/a.json")
        assertContains(
            message { try FEMNISTDataset(root: root).load() }, ["user 'w1', sample 0: x has 3 values, expected 784"])
        try DataTestSupport.write(
            "{\"users\": [\"a\"], \"num_samples\": [2], \"user_data\": {\"a\": {\"x\": [], \"y\": []}}}",
            to: "\(root)/train/a.json")
        assertContains(
            message { try FEMNISTDataset(root: root).load() },
            ["num_samples[0] says 2 samples for user 'a' but it has 0"])
        try DataTestSupport.write("[1, 2]", to: "\(root)/train/a.json")
        assertContains(
            message { try FEMNISTDataset(root: root).load() }, ["the top level is an array, expected an object"])
    }

    func testJSONReader() throws {
        let value = try JSONReader.parse(
            Array(#"{"a": [1, -2.5e1, 3], "b": "x\"\u00e9\ud83d\ude00", "c": [true, null, {"d": []}]}"#.utf8))
        XCTAssertEqual(value["a"], .numbers([1, -25, 3]))
        XCTAssertEqual(value["b"], .string("x\"é😀"))
        XCTAssertEqual(value["c"], .array([.bool(true), .null, .object([("d", .array([]))])]))
        for bad in ["", "{", "[1,]", "[01]", "{\"a\" 1}", "[1 2]", "\"abc", "nul", "[1] x", "[-]", "[1.]"] {
            XCTAssertThrowsError(try JSONReader.parse(Array(bad.utf8)), bad) { error in
                XCTAssertTrue(error is JSONReader.Failure, "\(bad): \(error)")
            }
        }
    }

    func testDecimalNumbersAreLocaleFreeAndAccurate() {
        func parse(_ text: String) -> Double? {
            let bytes = Array(text.utf8)
            return bytes.withUnsafeBufferPointer { DecimalNumber.parse($0, from: 0, end: bytes.count) }.flatMap {
                $0.end == bytes.count ? $0.value : nil
            }
        }
        for text in [
            "0", "-0.5", "1.0", "0.9882352941176471", "0.0784313725490196", "-0.038194", "1e-05", "2.5E+3",
            "123456789012345678901234",
            "0.000000000000000000000000123", "+7", "5.", ".25", "1.7976931348623157e308", "4.9e-324", "0.1",
            "3.14159265358979323846",
        ] {
            guard let value = parse(text) else { XCTFail("\(text) did not parse"); continue }
            let reference = Double(text.hasPrefix(".") ? "0" + text : (text.hasSuffix(".") ? text + "0" : text))!
            XCTAssertEqual(value, reference, accuracy: Swift.abs(reference) * 4e-16, text)
            XCTAssertEqual(Float(value), Float(reference), text)
        }
        for bad in ["", "-", ".", "e5", "x1"] { XCTAssertNil(parse(bad), bad) }
        XCTAssertEqual(parse("12"), 12)
    }

    func testSyntheticRejectsBadSizes() throws {
        let parameters = Parameters().setting(SyntheticDataset.sizeMin, 100).setting(SyntheticDataset.sizeMax, 50)
        // The registry (and `make`) run the plugin's `validate()` after `init`.
        XCTAssertThrowsError(try SyntheticDataset.make(parameters)) { error in
            XCTAssertTrue("\(error)".contains("size_max"), "\(error)")
        }
    }
}

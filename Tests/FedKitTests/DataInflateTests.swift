import Foundation
import XCTest

@testable import Datasets

final class DataInflateTests: XCTestCase {
    func testFixedHuffmanBlock() throws {
        XCTAssertEqual(try Inflate.gunzip(DataTestSupport.fixedGzip), Array("hello hello hello hello".utf8))
    }

    func testManyDynamicBlocksMatchZlib() throws {
        let expected = DataTestSupport.lcgBytes()
        XCTAssertEqual(CRC32.checksum(expected), 40_556_088)  // zlib.crc32 of the same bytes
        XCTAssertEqual(try Inflate.gunzip(DataTestSupport.lcgGzip), expected)
    }

    func testStoredBlocksRoundTripAndMultipleMembers() throws {
        let data = (0..<150_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ ($0 >> 9)) }  // three stored blocks
        XCTAssertEqual(try Inflate.gunzip(DataTestSupport.gzipStored(data)), data)
        let a = Array("first member;".utf8), b = Array("second member".utf8)
        XCTAssertEqual(try Inflate.gunzip(DataTestSupport.gzipStored(a) + DataTestSupport.gzipStored(b)), a + b)
        XCTAssertEqual(try Inflate.gunzip(DataTestSupport.gzipStored([])), [])
    }

    func testCRCStandardVector() {
        XCTAssertEqual(CRC32.checksum(Array("123456789".utf8)), 0xCBF4_3926)
    }

    func testTruncatedStreamNamesOffset() {
        let gz = DataTestSupport.lcgGzip
        for cut in [12, gz.count / 2, gz.count - 9, gz.count - 3] {
            XCTAssertThrowsError(try Inflate.gunzip(Array(gz.prefix(cut))), "cut at \(cut)") { error in
                guard let failure = error as? Inflate.Failure else { return XCTFail("\(error)") }
                XCTAssertTrue(
                    failure.message.contains("truncated") || failure.message.contains("missing"), failure.message)
                XCTAssertLessThanOrEqual(failure.offset, cut)
            }
        }
    }

    func testCorruptDataIsAnErrorNotACrash() {
        var gz = DataTestSupport.lcgGzip
        // Flip bits all over the compressed body: every variant must throw or decode, never crash,
        // and a changed output must be caught by the CRC.
        let original = DataTestSupport.lcgBytes()
        var errors = 0
        for i in stride(from: 10, to: gz.count - 8, by: 13) {
            gz[i] ^= 0x5A
            if let out = try? Inflate.gunzip(gz) { XCTAssertEqual(out, original) } else { errors += 1 }
            gz[i] ^= 0x5A
        }
        XCTAssertGreaterThan(errors, 0)
        var badCRC = DataTestSupport.lcgGzip
        badCRC[badCRC.count - 6] ^= 1
        XCTAssertThrowsError(try Inflate.gunzip(badCRC)) { error in
            XCTAssertTrue("\(error)".contains("CRC-32 mismatch"), "\(error)")
            XCTAssertTrue("\(error)".contains("byte offset \(badCRC.count - 8)"), "\(error)")
        }
    }

    func testBadMagicAndMethod() {
        XCTAssertThrowsError(try Inflate.gunzip([0x1f, 0x8c, 8, 0, 0, 0, 0, 0, 0, 3, 0])) { error in
            XCTAssertTrue("\(error)".contains("not a gzip member"), "\(error)")
        }
        XCTAssertThrowsError(try Inflate.gunzip([0x1f, 0x8b, 7, 0, 0, 0, 0, 0, 0, 3, 0])) { error in
            XCTAssertTrue("\(error)".contains("compression method"), "\(error)")
        }
    }
}

/// The zlib entry points beside gzip, and real gzip files written by gzip(1)/zlib.
final class DataInflateEntryPointTests: XCTestCase {
    /// "hello hello hello hello" as a zlib stream (Python's `zlib.compress`); without its 2-byte
    /// header and 4-byte Adler-32 it is the raw DEFLATE stream.
    static let zlibHello: [UInt8] = [
        0x78, 0x9c, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0x57, 0xc8, 0x40, 0x27, 0x01, 0x68, 0x03, 0x08, 0xb1,
    ]

    func testZlibAndRawDeflate() throws {
        let text = Array("hello hello hello hello".utf8)
        XCTAssertEqual(try Inflate.zlib(Self.zlibHello), text)
        let raw = Array(Self.zlibHello[2..<(Self.zlibHello.count - 4)])
        XCTAssertEqual(try Inflate.inflate(raw), text)
        XCTAssertEqual(try Inflate.inflate(raw, expectedSize: text.count), text)
        // A wrong Adler-32 is caught; a cut stream is truncated at the end of the input.
        var bad = Self.zlibHello
        bad[bad.count - 1] ^= 1
        XCTAssertThrowsError(try Inflate.zlib(bad)) { error in
            XCTAssertTrue("\(error)".contains("corrupt zlib data"), "\(error)")
        }
        XCTAssertThrowsError(try Inflate.inflate(Array(raw.prefix(4)))) { error in
            guard let failure = error as? Inflate.Failure else { return XCTFail("\(error)") }
            XCTAssertTrue(failure.message.contains("truncated"), failure.message)
            XCTAssertEqual(failure.offset, 4)
        }
        XCTAssertThrowsError(try Inflate.inflate(raw + [1, 2])) { error in
            XCTAssertTrue("\(error)".contains("2 bytes after the end of the deflate stream"), "\(error)")
        }
    }

    /// Debian's Fashion-MNIST files (gzip -9 output) decode to IDX files of the documented sizes.
    func testRealGzipFiles() throws {
        let root = "/usr/share/datasets/fashion-mnist"
        let path = root + "/t10k-labels-idx1-ubyte.gz"
        guard FileManager.default.fileExists(atPath: path) else {
            throw XCTSkip("\(path) is absent (apt-get install dataset-fashion-mnist)")
        }
        let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: path)))
        let labels = try Inflate.gunzip(bytes)
        XCTAssertEqual(labels.count, 8 + 10_000)
        XCTAssertEqual(Array(labels.prefix(4)), [0, 0, 8, 1], "IDX magic of unsigned-byte vectors")
        XCTAssertTrue(labels.dropFirst(8).allSatisfy { $0 < 10 })
        var cut = bytes
        cut.removeLast(5)
        XCTAssertThrowsError(try Inflate.gunzip(cut)) { error in
            XCTAssertTrue("\(error)".contains("byte offset"), "\(error)")
        }
    }
}

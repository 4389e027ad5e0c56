import XCTest
@testable import Datasets

final class DataInflateTests: XCTestCase {
    func testFixedHuffmanBlock() throws {
        XCTAssertEqual(try Inflate.gunzip(DataTestSupport.fixedGzip), Array("hello hello hello hello".utf8))
    }

    func testManyDynamicBlocksMatchZlib() throws {
        let expected = DataTestSupport.lcgBytes()
        XCTAssertEqual(CRC32.checksum(expected), 40_556_088) // zlib.crc32 of the same bytes
        XCTAssertEqual(try Inflate.gunzip(DataTestSupport.lcgGzip), expected)
    }

    func testStoredBlocksRoundTripAndMultipleMembers() throws {
        let data = (0..<150_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ ($0 >> 9)) } // three stored blocks
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
                XCTAssertTrue(failure.message.contains("truncated") || failure.message.contains("missing"), failure.message)
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

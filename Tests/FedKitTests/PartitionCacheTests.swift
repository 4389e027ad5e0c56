import FedKit
import Foundation
import XCTest

final class PartitionCacheTests: XCTestCase {
    func key(seed: Int = 1, parameters: String = "alpha=0.1,min_size=10", clients: Int = 3) -> PartitionCache.Key {
        PartitionCache.Key(
            datasetHash: "abc123", partitioner: "dirichlet", parameters: parameters, clients: clients, seed: seed)
    }

    func testRoundTripAndKeying() throws {
        let cache = PartitionCache(directory: NSTemporaryDirectory() + "fedkit-cache-\(UUID().uuidString)")
        let assignment = [[4, 0], [], [1, 2, 3]]
        XCTAssertNil(cache.load(key(), sampleCount: 5))
        try cache.store(assignment, for: key())
        XCTAssertEqual(cache.load(key(), sampleCount: 5), assignment)
        XCTAssertNil(cache.load(key(seed: 2), sampleCount: 5))
        XCTAssertNil(cache.load(key(parameters: "alpha=0.2,min_size=10"), sampleCount: 5))
        XCTAssertNotEqual(key().fileName, key(seed: 2).fileName)
        XCTAssertTrue(key().fileName.hasPrefix("dirichlet-"))
        // Fewer lists than clients (natural with few users) is fine; more is not.
        try cache.store([[0, 1]], for: key(seed: 3))
        XCTAssertEqual(cache.load(key(seed: 3), sampleCount: 5), [[0, 1]])
        XCTAssertThrowsError(try cache.store([[0], [1], [2], [3]], for: key(seed: 4)))
        XCTAssertEqual(
            try FileManager.default.contentsOfDirectory(atPath: cache.directory).filter { $0.hasSuffix(".tmp") }, [])
    }

    func testCorruptFilesAreIgnored() throws {
        let cache = PartitionCache(directory: NSTemporaryDirectory() + "fedkit-cache-\(UUID().uuidString)")
        let assignment = [[4, 0], [5], [1, 2, 3]]
        try cache.store(assignment, for: key())
        let path = cache.path(for: key())
        let good = try String(contentsOfFile: path, encoding: .utf8)
        // An index out of range for the data set's sample count.
        XCTAssertNil(cache.load(key(), sampleCount: 5))
        XCTAssertEqual(cache.load(key(), sampleCount: 6), assignment)
        let variants = [
            good.replacingOccurrences(of: "\n5\n", with: "\n4\n"),  // duplicate index
            good.replacingOccurrences(of: "4 0", with: "0 4"),  // checksum mismatch
            String(good.prefix(good.count / 2)),  // truncated
            good.replacingOccurrences(of: "fedkit-partition 1", with: "fedkit-partition 9"),
            good.replacingOccurrences(of: "seed=1", with: "seed=2"),
            good.replacingOccurrences(of: "count=3", with: "count=2"),
            "", "garbage\n\n\n",
        ]
        for (i, text) in variants.enumerated() {
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            XCTAssertNil(cache.load(key(), sampleCount: 6), "variant \(i)")
        }
        // Rebuilt by storing again.
        try cache.store(assignment, for: key())
        XCTAssertEqual(cache.load(key(), sampleCount: 6), assignment)
    }
}

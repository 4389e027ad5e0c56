import FedKit
import Foundation
import XCTest

final class PartitionSummaryTests: XCTestCase {
    func testFigures() {
        // Labels: 0,1,0,1,2,2 (global distribution 1/3 each).
        let labels = [0, 1, 0, 1, 2, 2]
        let summary = PartitionSummary(assignment: [[0, 2], [1, 3, 4], [5]], labels: labels, classes: 3)
        XCTAssertEqual(summary.clients, 3)
        XCTAssertEqual(summary.sizes, [2, 3, 1])
        XCTAssertEqual(summary.minSize, 1)
        XCTAssertEqual(summary.medianSize, 2)
        XCTAssertEqual(summary.maxSize, 3)
        XCTAssertEqual(summary.classCounts, [[2, 0, 0], [0, 2, 1], [0, 0, 1]])
        XCTAssertEqual(summary.minClasses, 1)
        XCTAssertEqual(summary.maxClasses, 2)
        XCTAssertEqual(summary.meanClasses, 4.0 / 3, accuracy: 1e-12)
        // TV: client 0 -> 2/3; client 1 -> 0.5*(1/3 + 1/3 + 0) = 1/3; client 2 -> 2/3.
        XCTAssertEqual(summary.meanTotalVariation, (2.0 / 3 + 1.0 / 3 + 2.0 / 3) / 3, accuracy: 1e-12)
        XCTAssertEqual(summary.assignedSamples, 6)
        XCTAssertEqual(summary.hash.count, 16)
        XCTAssertTrue(summary.text.contains("partition hash     \(summary.hash)"))
        XCTAssertTrue(summary.text.contains("min 1  median 2  max 3"))
        XCTAssertTrue(summary.oneLine.contains(summary.hash))
        XCTAssertEqual(summary.csv, "client,size,c0,c1,c2\n0,2,2,0,0\n1,3,0,2,1\n2,1,0,0,1\n")
        XCTAssertEqual(PartitionSummary(assignment: [[0, 1], [2, 3]], labels: labels, classes: 3).medianSize, 2)
    }

    func testHashDependsOnTheExactAssignment() {
        let labels = [0, 1, 0, 1]
        let a = PartitionSummary(assignment: [[0, 1], [2, 3]], labels: labels, classes: 2).hash
        XCTAssertEqual(a, PartitionSummary(assignment: [[0, 1], [2, 3]], labels: labels, classes: 2).hash)
        XCTAssertNotEqual(a, PartitionSummary(assignment: [[0, 1, 2], [3]], labels: labels, classes: 2).hash)
        XCTAssertNotEqual(a, PartitionSummary(assignment: [[2, 3], [0, 1]], labels: labels, classes: 2).hash)
        XCTAssertNotEqual(a, PartitionSummary(assignment: [[1, 0], [2, 3]], labels: labels, classes: 2).hash)
    }

    func testIIDIsCloseToZeroAndDisjointIsOne() {
        let labels = (0..<1000).map { $0 % 10 }
        let iid = PartitionSummary(
            assignment: (0..<10).map { c in Array((c * 100)..<(c * 100 + 100)) }, labels: labels, classes: 10)
        XCTAssertEqual(iid.meanTotalVariation, 0, accuracy: 1e-12)
        let disjoint = PartitionSummary(
            assignment: (0..<10).map { c in (0..<1000).filter { $0 % 10 == c } }, labels: labels, classes: 10)
        XCTAssertEqual(disjoint.meanTotalVariation, 0.9, accuracy: 1e-12)
    }

    func testWriteCSVAtomically() throws {
        let dir = NSTemporaryDirectory() + "fedkit-summary-\(UUID().uuidString)"
        let summary = PartitionSummary(assignment: [[0], [1]], labels: [0, 1], classes: 2)
        try summary.writeCSV(to: "\(dir)/nested/p.csv")
        XCTAssertEqual(try String(contentsOfFile: "\(dir)/nested/p.csv", encoding: .utf8), summary.csv)
        XCTAssertEqual(
            try FileManager.default.contentsOfDirectory(atPath: "\(dir)/nested"), ["p.csv"], "no temp file left")
    }
}

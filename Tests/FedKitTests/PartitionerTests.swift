import FedKit
import Foundation
import XCTest

@testable import Partitioners

/// Property tests of every partitioner over many seeds and parameter combinations.
final class PartitionerTests: XCTestCase {
    /// Labels with uneven class sizes (class c has weight c + base), shuffled by `seed`.
    static func labels(_ n: Int, classes: Int, base: Int = 1, seed: UInt64 = 99) -> [Int] {
        let weights = (0..<classes).map { Double($0 + base) }
        let counts = PartitionSupport.largestRemainder(n, weights: weights)
        var labels = counts.enumerated().flatMap { [Int](repeating: $0.offset, count: $0.element) }
        var random = SplitMix64(seed: seed)
        random.shuffle(&labels)
        return labels
    }

    func run(_ partitioner: any PartitionerPlugin, _ request: PartitionRequest, seed: UInt64) throws -> [[Int]] {
        var random = SplitMix64(seed: seed)
        return try partitioner.partition(request, random: &random)
    }

    /// Every index at most once (and exactly once when `exact`), right client count.
    func assertValid(
        _ parts: [[Int]], n: Int, clients: Int, exact: Bool, _ context: String,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertEqual(parts.count, clients, context, file: file, line: line)
        var seen = [Bool](repeating: false, count: n)
        for part in parts {
            for i in part {
                guard i >= 0 && i < n else {
                    return XCTFail("\(context): index \(i) out of range", file: file, line: line)
                }
                guard !seen[i] else { return XCTFail("\(context): index \(i) twice", file: file, line: line) }
                seen[i] = true
            }
        }
        if exact {
            XCTAssertTrue(seen.allSatisfy { $0 }, "\(context): not every sample assigned", file: file, line: line)
        }
    }

    func testIID() throws {
        for (n, k) in [(100, 7), (1000, 10), (5, 5), (1234, 100)] {
            let request = PartitionRequest(labels: Self.labels(n, classes: 10), classes: 10, clients: k)
            for seed in 0..<10 as Range<UInt64> {
                let parts = try run(IIDPartitioner(), request, seed: seed)
                assertValid(parts, n: n, clients: k, exact: true, "iid n=\(n) k=\(k) seed=\(seed)")
                let sizes = parts.map(\.count)
                XCTAssertLessThanOrEqual(sizes.max()! - sizes.min()!, 1)
            }
            XCTAssertEqual(try run(IIDPartitioner(), request, seed: 3), try run(IIDPartitioner(), request, seed: 3))
            XCTAssertNotEqual(try run(IIDPartitioner(), request, seed: 3), try run(IIDPartitioner(), request, seed: 4))
        }
        XCTAssertThrowsError(
            try run(IIDPartitioner(), PartitionRequest(labels: [0, 1], classes: 2, clients: 3), seed: 0))
    }

    func testDirichletPropertiesOverSeedsAndParameters() throws {
        for (n, classes, k) in [(2000, 10, 20), (600, 5, 50), (3000, 30, 100)] {
            let request = PartitionRequest(labels: Self.labels(n, classes: classes), classes: classes, clients: k)
            for alpha in [0.01, 0.1, 0.5, 5] {
                for minSize in [1, 5, n / k] {
                    for balance in [true, false] {
                        for seed in 0..<4 as Range<UInt64> {
                            let p = DirichletPartitioner(alpha: alpha, minSize: minSize, balance: balance)
                            let parts = try run(p, request, seed: seed)
                            let context =
                                "dirichlet n=\(n) k=\(k) alpha=\(alpha) min=\(minSize) balance=\(balance) seed=\(seed)"
                            assertValid(parts, n: n, clients: k, exact: true, context)
                            XCTAssertGreaterThanOrEqual(parts.map(\.count).min()!, minSize, context)
                        }
                    }
                }
            }
            let p = DirichletPartitioner(alpha: 0.3)
            XCTAssertEqual(try run(p, request, seed: 11), try run(p, request, seed: 11))
            XCTAssertNotEqual(try run(p, request, seed: 11), try run(p, request, seed: 12))
        }
    }

    func testDirichletSkewFollowsAlpha() throws {
        let n = 10000, classes = 10, k = 20
        let labels = Self.labels(n, classes: classes)
        let request = PartitionRequest(labels: labels, classes: classes, clients: k)
        func tv(_ alpha: Double) throws -> Double {
            PartitionSummary(
                assignment: try run(DirichletPartitioner(alpha: alpha, minSize: 10), request, seed: 5),
                labels: labels, classes: classes
            ).meanTotalVariation
        }
        let iid = PartitionSummary(
            assignment: try run(IIDPartitioner(), request, seed: 5), labels: labels, classes: classes
        ).meanTotalVariation
        let large = try tv(1000), medium = try tv(0.5), small = try tv(0.05)
        XCTAssertLessThan(large, 0.06, "alpha 1000 should be close to IID (iid gives \(iid))")
        XCTAssertLessThan(large, iid * 2 + 0.01)
        XCTAssertLessThan(large, medium)
        XCTAssertLessThan(medium, small)
        XCTAssertGreaterThan(small, 0.6)
    }

    func testDirichletImpossibleMinSizeIsAnError() {
        let request = PartitionRequest(labels: Self.labels(100, classes: 4), classes: 4, clients: 11)
        XCTAssertThrowsError(try run(DirichletPartitioner(alpha: 0.5, minSize: 10), request, seed: 0)) { error in
            XCTAssertTrue(
                "\(error)".contains("11 clients x min_size 10 = 110 samples needed, but the training set has 100"),
                "\(error)")
        }
        // Exactly feasible: everyone ends with exactly min_size.
        let tight = PartitionRequest(labels: Self.labels(100, classes: 4), classes: 4, clients: 10)
        let parts = try? run(DirichletPartitioner(alpha: 0.01, minSize: 10), tight, seed: 1)
        XCTAssertEqual(parts?.map(\.count), [Int](repeating: 10, count: 10))
    }

    func testDirichletAtScaleTerminatesQuickly() throws {
        // The benchmark shape: alpha 0.01, 1,000 clients, 50,000 samples, 100 classes.
        let labels = (0..<50000).map { $0 % 100 }
        let request = PartitionRequest(labels: labels, classes: 100, clients: 1000)
        let start = Date()
        let parts = try run(DirichletPartitioner(alpha: 0.01, minSize: 10), request, seed: 1)
        let elapsed = Date().timeIntervalSince(start)
        assertValid(parts, n: 50000, clients: 1000, exact: true, "dirichlet at scale")
        XCTAssertGreaterThanOrEqual(parts.map(\.count).min()!, 10)
        XCTAssertLessThan(elapsed, 30, "debug build; release takes well under 5 s")
    }

    func testShardsGiveExactlyTheRequestedClasses() throws {
        for (n, classes, k, s) in [
            (5000, 10, 100, 2), (1000, 10, 30, 3), (5000, 100, 50, 5), (700, 7, 13, 7), (300, 3, 7, 1),
            (2000, 10, 10, 10), (997, 10, 33, 4),
        ] {
            let labels = Self.labels(n, classes: classes, base: classes)
            let request = PartitionRequest(labels: labels, classes: classes, clients: k)
            for seed in 0..<6 as Range<UInt64> {
                let parts = try run(ShardsPartitioner(classesPerClient: s), request, seed: seed)
                let context = "shards n=\(n) C=\(classes) k=\(k) s=\(s) seed=\(seed)"
                assertValid(parts, n: n, clients: k, exact: true, context)
                for part in parts { XCTAssertEqual(Set(part.map { labels[$0] }).count, s, context) }
                // Equal shards per class: the shard sizes of a class differ by at most one.
                var shardSizes = [[Int]](repeating: [], count: classes)
                for part in parts {
                    var counts = [Int: Int]()
                    for i in part { counts[labels[i], default: 0] += 1 }
                    for (c, m) in counts { shardSizes[c].append(m) }
                }
                for sizes in shardSizes where !sizes.isEmpty {
                    XCTAssertLessThanOrEqual(sizes.max()! - sizes.min()!, 1, context)
                }
            }
            let p = ShardsPartitioner(classesPerClient: s)
            XCTAssertEqual(try run(p, request, seed: 2), try run(p, request, seed: 2))
        }
    }

    func testShardsClassPairsVary() throws {
        // Not a fixed pairing pattern: many different class pairs appear (FedRep-style randomness).
        let labels = Self.labels(10000, classes: 10)
        let parts = try run(
            ShardsPartitioner(classesPerClient: 2), PartitionRequest(labels: labels, classes: 10, clients: 100), seed: 7
        )
        let pairs = Set(parts.map { Set($0.map { labels[$0] }).sorted() })
        XCTAssertGreaterThan(pairs.count, 15)
    }

    func testShardsImpossibleRequestsAreErrors() {
        let labels = Self.labels(100, classes: 5)
        XCTAssertThrowsError(
            try run(
                ShardsPartitioner(classesPerClient: 6), PartitionRequest(labels: labels, classes: 5, clients: 3),
                seed: 0)
        ) {
            XCTAssertTrue("\($0)".contains("only 5 classes"), "\($0)")
        }
        // Class 0 has 7 samples but 200 clients x 2 / 5 = 80 shards per class.
        XCTAssertThrowsError(
            try run(
                ShardsPartitioner(classesPerClient: 2), PartitionRequest(labels: labels, classes: 5, clients: 200),
                seed: 0)
        ) {
            XCTAssertTrue("\($0)".contains("class 0 has 7 samples but needs 80 shards"), "\($0)")
        }
    }

    func testNaturalUsers() throws {
        var users: [String] = []
        for u in 0..<30 { users += [String](repeating: "writer\(u)", count: u % 6 + 1) }
        var random = SplitMix64(seed: 1)
        random.shuffle(&users)
        let n = users.count
        let labels = (0..<n).map { $0 % 4 }
        let all = try run(
            NaturalPartitioner(), PartitionRequest(labels: labels, classes: 4, users: users, clients: 1000), seed: 0)
        assertValid(all, n: n, clients: 30, exact: true, "natural, no cap")
        for part in all { XCTAssertEqual(Set(part.map { users[$0] }).count, 1) }
        XCTAssertEqual(users[all[0][0]], "writer0")  // user-id order
        for seed in 0..<10 as Range<UInt64> {
            let capped = try run(
                NaturalPartitioner(minSamples: 3),
                PartitionRequest(labels: labels, classes: 4, users: users, clients: 10),
                seed: seed)
            assertValid(capped, n: n, clients: 10, exact: false, "natural capped seed=\(seed)")
            XCTAssertTrue(capped.allSatisfy { $0.count >= 3 })
        }
        let request = PartitionRequest(labels: labels, classes: 4, users: users, clients: 10)
        XCTAssertEqual(try run(NaturalPartitioner(), request, seed: 4), try run(NaturalPartitioner(), request, seed: 4))
        XCTAssertThrowsError(
            try run(NaturalPartitioner(), PartitionRequest(labels: labels, classes: 4, clients: 5), seed: 0)
        ) {
            XCTAssertTrue("\($0)".contains("no natural users"), "\($0)")
        }
        XCTAssertThrowsError(try run(NaturalPartitioner(minSamples: 7), request, seed: 0)) {
            XCTAssertTrue("\($0)".contains("the largest has 6"), "\($0)")
        }
    }

    func testQuantitySkew() throws {
        let n = 5000
        let labels = Self.labels(n, classes: 10)
        for sigma in [0.0, 0.5, 1, 3, 800] {
            for k in [10, 50, 400] {
                for seed in 0..<5 as Range<UInt64> {
                    let request = PartitionRequest(labels: labels, classes: 10, clients: k)
                    let parts = try run(QuantitySkewPartitioner(sigma: sigma, minSize: 10), request, seed: seed)
                    assertValid(
                        parts, n: n, clients: k, exact: true, "quantity-skew sigma=\(sigma) k=\(k) seed=\(seed)")
                    XCTAssertGreaterThanOrEqual(parts.map(\.count).min()!, 10)
                    if sigma == 0 { XCTAssertLessThanOrEqual(parts.map(\.count).max()! - parts.map(\.count).min()!, 1) }
                }
            }
        }
        let request = PartitionRequest(labels: labels, classes: 10, clients: 50)
        let skewed = try run(QuantitySkewPartitioner(sigma: 2, minSize: 1), request, seed: 1).map(\.count)
        XCTAssertGreaterThan(Double(skewed.max()!) / Double(skewed.min()!), 10)
        XCTAssertEqual(
            try run(QuantitySkewPartitioner(sigma: 1), request, seed: 1),
            try run(QuantitySkewPartitioner(sigma: 1), request, seed: 1))
        XCTAssertThrowsError(try run(QuantitySkewPartitioner(sigma: 1, minSize: 200), request, seed: 0)) {
            XCTAssertTrue("\($0)".contains("50 clients x min_size 200"), "\($0)")
        }
    }

    func testBadRequestsAreErrors() {
        let partitioners: [any PartitionerPlugin] = [
            IIDPartitioner(), DirichletPartitioner(alpha: 1, minSize: 1),
            ShardsPartitioner(classesPerClient: 1), QuantitySkewPartitioner(sigma: 1, minSize: 1),
        ]
        for p in partitioners {
            XCTAssertThrowsError(try run(p, PartitionRequest(labels: [0, 1, 5], classes: 3, clients: 1), seed: 0)) {
                XCTAssertTrue("\($0)".contains("label 5, outside 0..<3"), "\($0)")
            }
            XCTAssertThrowsError(try run(p, PartitionRequest(labels: [0, 1], classes: 3, clients: 0), seed: 0))
        }
    }

    func testApportioning() {
        XCTAssertEqual(PartitionSupport.cumulativeCounts(10, weights: [0.25, 0.25, 0.5]), [2, 3, 5])
        XCTAssertEqual(PartitionSupport.cumulativeCounts(7, weights: [0, 0, 0]), [7, 0, 0])
        XCTAssertEqual(PartitionSupport.largestRemainder(10, weights: [1, 1, 1]), [4, 3, 3])
        XCTAssertEqual(PartitionSupport.equalSizes(10, parts: 4), [3, 3, 2, 2])
    }
}

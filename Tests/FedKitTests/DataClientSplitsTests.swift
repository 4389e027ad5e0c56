import FedKit
import Torch
import XCTest

final class DataClientSplitsTests: XCTestCase {
    /// Train: 200 samples, labels i % 4; test: 60 samples, labels i % 3 (class 3 absent from the test set).
    /// Inputs are the sample's own index, so tests can see which rows were taken.
    func dataset(trainUsers: [String]? = nil, testUsers: [String]? = nil) throws -> DatasetSplits {
        let train = try LabeledSamples(
            inputs: Tensor((0..<200).map(Float.init), shape: [200, 1]), labels: (0..<200).map { $0 % 4 })
        let test = try LabeledSamples(
            inputs: Tensor((0..<60).map { Float(1000 + $0) }, shape: [60, 1]), labels: (0..<60).map { $0 % 3 })
        return DatasetSplits(
            name: "toy", train: train, test: test, classes: 4, inputShape: [1], trainUsers: trainUsers,
            testUsers: testUsers, contentHash: "toy")
    }

    func testMatchedFollowsTheTrainingLabelDistribution() throws {
        let data = try dataset()
        // Client 0: classes 0 and 1 (30 + 10 samples); client 1: class 2 only (20 samples).
        let c0 = Array((0..<200).filter { $0 % 4 == 0 }.prefix(30)) + Array((0..<200).filter { $0 % 4 == 1 }.prefix(10))
        let c1 = Array((0..<200).filter { $0 % 4 == 2 }.prefix(20))
        let clients = try ClientSplits.make(
            dataset: data, partition: [c0, c1], localTest: "matched", holdoutFraction: 0.2,
            matchedTestSize: nil, seed: 1)
        XCTAssertEqual(clients[0].classCounts, [30, 10, 0, 0])
        XCTAssertEqual(clients[0].train.count, 40)
        XCTAssertEqual(clients[0].test.count, 10)  // max(10, 40 / 4)
        XCTAssertEqual(clients[0].test.classCounts(classes: 4), [8, 2, 0, 0])  // 10 * 30/40, 10 * 10/40 (largest remainder)
        XCTAssertEqual(
            Set(clients[0].testIndices).count, 10, "without replacement while the class has enough test samples")
        XCTAssertEqual(clients[1].test.classCounts(classes: 4), [0, 0, 10, 0])
        // The test rows are really the test set's.
        XCTAssertTrue(try clients[0].test.inputs.floats().allSatisfy { $0 >= 1000 })
        XCTAssertEqual(try clients[0].train.inputs.floats(), c0.map(Float.init))
        // Seeded and per client.
        let again = try ClientSplits.make(
            dataset: data, partition: [c0, c1], localTest: "matched", holdoutFraction: 0.2,
            matchedTestSize: nil, seed: 1)
        XCTAssertEqual(again[0].testIndices, clients[0].testIndices)
        let other = try ClientSplits.make(
            dataset: data, partition: [c0, c1], localTest: "matched", holdoutFraction: 0.2,
            matchedTestSize: nil, seed: 2)
        XCTAssertNotEqual(other[0].testIndices, clients[0].testIndices)
    }

    func testMatchedWithReplacementAndAbsentClasses() throws {
        let data = try dataset()
        // The test set has 20 samples of class 0; ask for 50 of them: all 20 once, 30 drawn again.
        let c0 = (0..<200).filter { $0 % 4 == 0 }
        let clients = try ClientSplits.make(
            dataset: data, partition: [c0], localTest: "matched", holdoutFraction: 0.2,
            matchedTestSize: 50, seed: 3)
        XCTAssertEqual(clients[0].test.count, 50)
        XCTAssertEqual(Set(clients[0].testIndices).count, 20)
        // Class 3 is not in the test set: its share goes to the client's other classes.
        let mixed = (0..<200).filter { $0 % 4 == 3 || $0 % 4 == 1 }
        let m = try ClientSplits.make(
            dataset: data, partition: [mixed], localTest: "matched", holdoutFraction: 0.2,
            matchedTestSize: 20, seed: 3)
        XCTAssertEqual(m[0].test.classCounts(classes: 4), [0, 20, 0, 0])
        // Only class 3: an error naming the client.
        let only3 = (0..<200).filter { $0 % 4 == 3 }
        XCTAssertThrowsError(
            try ClientSplits.make(
                dataset: data, partition: [[0], only3], localTest: "matched", holdoutFraction: 0.2,
                matchedTestSize: nil, seed: 3)
        ) { error in
            XCTAssertTrue("\(error)".contains("client 1"), "\(error)")
        }
    }

    func testHoldoutIsAStratifiedFractionOfTheClientsOwnData() throws {
        let data = try dataset()
        let c0 = Array(0..<100), c1 = Array(100..<103)
        for seed in 0..<5 {
            let clients = try ClientSplits.make(
                dataset: data, partition: [c0, c1], localTest: "holdout", holdoutFraction: 0.2,
                matchedTestSize: nil, seed: seed)
            XCTAssertEqual(clients[0].test.count, 20)
            XCTAssertEqual(clients[0].train.count, 80)
            XCTAssertEqual(clients[0].test.classCounts(classes: 4), [5, 5, 5, 5])
            XCTAssertEqual(clients[0].classCounts, [20, 20, 20, 20])
            XCTAssertEqual(Set(clients[0].trainIndices + clients[0].testIndices), Set(c0))
            XCTAssertTrue(Set(clients[0].trainIndices).isDisjoint(with: clients[0].testIndices))
            XCTAssertTrue(
                try clients[0].test.inputs.floats().allSatisfy { $0 < 1000 }, "holdout comes from the training data")
            // 3 samples: round(0.6) = 1 held out, 2 kept.
            XCTAssertEqual(clients[1].test.count, 1)
            XCTAssertEqual(clients[1].train.count, 2)
        }
        XCTAssertThrowsError(
            try ClientSplits.make(
                dataset: data, partition: [[5]], localTest: "holdout", holdoutFraction: 0.2,
                matchedTestSize: nil, seed: 0)
        ) { error in
            XCTAssertTrue("\(error)".contains("client 0 has 1 training sample"), "\(error)")
        }
    }

    func testNaturalUsesTheUsersOwnTestSamples() throws {
        let trainUsers = (0..<200).map { "u\($0 % 5)" }
        let testUsers = (0..<60).map { "u\($0 % 6)" }
        let data = try dataset(trainUsers: trainUsers, testUsers: testUsers)
        let c0 = (0..<200).filter { trainUsers[$0] == "u2" }
        let clients = try ClientSplits.make(
            dataset: data, partition: [c0], localTest: "natural", holdoutFraction: 0.2,
            matchedTestSize: nil, seed: 0)
        XCTAssertEqual(clients[0].testIndices, (0..<60).filter { testUsers[$0] == "u2" })
        XCTAssertThrowsError(
            try ClientSplits.make(
                dataset: try dataset(), partition: [c0], localTest: "natural", holdoutFraction: 0.2,
                matchedTestSize: nil, seed: 0))
    }

    func testInvalidPartitionsAndSettings() throws {
        let data = try dataset()
        func attempt(_ partition: [[Int]], _ mode: String = "matched", fraction: Double = 0.2) -> String {
            do {
                _ = try ClientSplits.make(
                    dataset: data, partition: partition, localTest: mode, holdoutFraction: fraction,
                    matchedTestSize: nil, seed: 0)
                return ""
            } catch { return "\(error)" }
        }
        XCTAssertTrue(attempt([[0, 1], []]).contains("client 1 has no training samples"))
        XCTAssertTrue(attempt([[0, 1], [1]]).contains("sample 1 is assigned twice"))
        XCTAssertTrue(attempt([[0, 500]]).contains("index 500"))
        XCTAssertTrue(attempt([[0, 1]], "bogus").contains("unknown local_test 'bogus'"))
        XCTAssertTrue(attempt([[0, 1]], "holdout", fraction: 1).contains("holdout_fraction"))
    }
}

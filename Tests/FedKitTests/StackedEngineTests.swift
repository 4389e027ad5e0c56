import Config
import FedKit
import Foundation
import XCTest
@testable import FedKit

/// `federation.batched_clients` in the engine: stacked rounds agree with unstacked ones, stay
/// byte-identical across worker counts, and the key is validated.
final class StackedEngineTests: XCTestCase {
    let methods = "[fedavg, fedprox, { name: fedrep, trainer: { head_epochs: 2 } }, ditto]"

    func records(batched: String, workers: Int = 2, perRound: String = "fraction: 1.0") throws -> [String: [RoundRecord]] {
        let dir = try EngineFixture.temporaryDirectory(self)
        let yaml = EngineFixture.yaml(output: dir, methods: methods, perRound: perRound, workers: workers,
                                      extraFederation: ", batched_clients: \(batched)")
        let (outcome, runner, _) = try EngineFixture.run(yaml)
        XCTAssertEqual(outcome.failures.count, 0, "\(outcome.failures)")
        var result: [String: [RoundRecord]] = [:]
        for label in runner.spec.methods.map(\.label) {
            result[label] = try EngineFixture.records("\(dir)/engine/\(label)/seed-1/rounds.jsonl")
        }
        return result
    }

    func testStackedRoundsAgreeWithUnstackedOnes() throws {
        let off = try records(batched: "off"), stacked = try records(batched: "auto")
        XCTAssertEqual(off.count, 4)
        for (label, reference) in off {
            let rounds = try XCTUnwrap(stacked[label])
            XCTAssertEqual(rounds.count, reference.count, label)
            for (a, b) in zip(rounds, reference) {
                XCTAssertEqual(a.trainLoss, b.trainLoss, accuracy: 1e-5, "\(label) round \(a.round): train loss")
                XCTAssertEqual(a.globalAccuracy ?? -1, b.globalAccuracy ?? -1, accuracy: 1e-9, "\(label) round \(a.round): global accuracy")
                XCTAssertEqual(a.personalized?.weightedMean ?? -1, b.personalized?.weightedMean ?? -1, accuracy: 1e-9,
                               "\(label) round \(a.round): personalised accuracy")
            }
        }
    }

    /// Which clients share a stack depends on the stack size only, so results are byte-identical
    /// for any worker count (here 3 stacks of 2 clients on 1 and 3 workers).
    func testStackedRoundsAreByteIdenticalAcrossWorkerCounts() throws {
        var files: [Int: [String: Data]] = [:]
        for workers in [1, 3] {
            let dir = try EngineFixture.temporaryDirectory(self)
            let yaml = EngineFixture.yaml(output: dir, methods: methods, perRound: "fraction: 1.0", workers: workers,
                                          extraFederation: ", batched_clients: 2")
            let (outcome, runner, _) = try EngineFixture.run(yaml)
            XCTAssertEqual(outcome.failures.count, 0)
            for label in runner.spec.methods.map(\.label) {
                for name in ["rounds.jsonl", "clients.csv"] {
                    files[workers, default: [:]]["\(label)/\(name)"] = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/engine/\(label)/seed-1/\(name)"))
                }
            }
        }
        XCTAssertEqual(files[1]?.count, 8)
        for (name, one) in files[1]! {
            XCTAssertFalse(one.isEmpty, name)
            XCTAssertEqual(one, files[3]?[name], "\(name) differs between workers=1 and workers=3")
        }
    }

    func testStacksAreDealtBySizeIndependentlyOfWorkers() {
        let sizes = [5: 10, 1: 40, 7: 40, 3: 25, 9: 8]
        let stacks = SimulationRun.stacks(of: [1, 3, 5, 7, 9], size: 2) { sizes[$0]! }
        // By decreasing size (ties by client): 1, 7, 3, 5, 9, each to the open stack (fewer than 2
        // clients) with the least data, of ceil(5 / 2) = 3 stacks: 3 (25) takes 5, then 1 (40) takes 9.
        XCTAssertEqual(stacks, [[1, 9], [7], [3, 5]])
        XCTAssertEqual(SimulationRun.stacks(of: [1, 3, 5, 7, 9], size: 16) { sizes[$0]! }, [[1, 7, 3, 5, 9]])
        XCTAssertEqual(SimulationRun.stacks(of: [], size: 4) { _ in 0 }, [])
    }

    func testStackingIsChosenWhereSupported() throws {
        func stacking(_ method: String, batched: String) throws -> Int? {
            let yaml = EngineFixture.yaml(output: "unused", methods: "[\(method)]", extraFederation: ", batched_clients: \(batched)")
            return try EngineFixture.simulation(yaml).stacking?.size
        }
        XCTAssertEqual(try stacking("fedavg", batched: "auto"), BatchedClients.autoSize)
        XCTAssertEqual(try stacking("ditto", batched: "5"), 5)
        XCTAssertNil(try stacking("fedavg", batched: "off"))
        XCTAssertNil(try stacking("fedavg", batched: "1"))
        XCTAssertNil(try stacking("scaffold", batched: "auto"), "SCAFFOLD's trainer trains one client at a time")
    }

    func testBatchedClientsKeyIsValidated() throws {
        func error(_ value: String) -> String {
            let yaml = EngineFixture.yaml(output: "unused", methods: "[fedavg]", extraFederation: ", batched_clients: \(value)")
            do {
                _ = try EngineFixture.spec(yaml)
                return "no error"
            } catch {
                return "\(error)"
            }
        }
        XCTAssertTrue(error("0").contains("federation.batched_clients must be one of: auto, off, or an integer >= 1, got 0"), error("0"))
        XCTAssertTrue(error("autoo").contains("(did you mean 'auto'?)"), error("autoo"))
        XCTAssertTrue(error("autoo").contains("engine-test.yaml:"), error("autoo"))
        XCTAssertEqual(error("off"), "no error")
        XCTAssertEqual(error("12"), "no error")
    }
}

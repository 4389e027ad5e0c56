@testable import FedKit
import Foundation
import Torch
import XCTest

/// Evaluation by shared passes (SimulationRun+SharedEvaluation.swift) gives exactly the figures of
/// testing every client on its own split with its own forward pass.
final class EngineSharedEvaluationTests: XCTestCase {
    /// For a method tested with the global model (fedavg), one with personal heads on the global
    /// body (fedper) and one with whole personal models (local), with test splits drawn from the
    /// test set (matched) and held out of the clients' data (holdout), and with validation splits:
    /// every client's accuracy and the global figures equal those of a per-client pass (evaluation
    /// batch 3 instead of the pools' 16, which cross client boundaries).
    func testSharedPassesGiveThePerClientFigures() throws {
        for localTest in ["matched", "holdout"] {
            for (index, method) in ["fedavg", "fedper", "local"].enumerated() {
                let yaml = EngineFixture.yaml(output: "unused", methods: "[fedavg, fedper, local]", clients: 6, rounds: 2,
                                              perRound: "clients_per_round: 3", localTest: localTest)
                let run = try EngineFixture.simulation(yaml, method: index)
                let result = try run.run()
                let record = try XCTUnwrap(result.records.last)
                let label = "\(method), local_test \(localTest)"
                XCTAssertEqual(run.settings.evalBatchSize, 16)
                let testAccuracies = try XCTUnwrap(run.lastClientAccuracies)
                let validationAccuracies = try XCTUnwrap(run.lastValidationAccuracies)
                XCTAssertTrue(run.clients.allSatisfy { $0.validation.count > 0 }, label)
                if method == "local" { XCTAssertTrue(testAccuracies.contains { $0 == nil }, "\(label): some clients never trained") }

                let worker = run.pool.workers[0]
                for c in run.clients.indices {
                    guard run.isScored(c) else {
                        XCTAssertNil(testAccuracies[c], "\(label), client \(c)")
                        XCTAssertNil(validationAccuracies[c], "\(label), client \(c)")
                        continue
                    }
                    try run.evaluationState(client: c, worker: worker)
                    worker.model.setTraining(false)
                    let test = Accuracy.fraction(try Accuracy.correctness(of: worker.model, on: run.clients[c].test, batchSize: 3))
                    let validation = Accuracy.fraction(try Accuracy.correctness(of: worker.model, on: run.clients[c].validation, batchSize: 3))
                    XCTAssertEqual(testAccuracies[c], test, "\(label), client \(c): test split")
                    XCTAssertEqual(validationAccuracies[c], validation, "\(label), client \(c): validation split")
                }

                // The global model on the whole test set and on the union of the validation splits.
                run.global.setTraining(false)
                if method == "local" {
                    XCTAssertNil(record.globalAccuracy, label)
                    XCTAssertNil(record.validation?.globalAccuracy, label)
                } else {
                    let global = Accuracy.fraction(try Accuracy.correctness(of: run.global, on: run.dataset.test, batchSize: 3))
                    XCTAssertEqual(record.globalAccuracy, global, label)
                    let union = try run.clients.flatMap { try Accuracy.correctness(of: run.global, on: $0.validation, batchSize: 3) }
                    XCTAssertEqual(record.validation?.globalAccuracy, Accuracy.fraction(union), label)
                }
            }
        }
    }

    /// Which path each client takes: fedavg reads the shared pass, fedper applies its head to the
    /// pass's features, local runs its own model; holdout splits are rows of the pooled splits.
    func testClientsTakeTheSharedPathWhereItApplies() throws {
        for (index, expected) in [(0, "global"), (1, "head"), (2, "full")] {
            let yaml = EngineFixture.yaml(output: "unused", methods: "[fedavg, fedper, local]", clients: 6, rounds: 1,
                                          perRound: "fraction: 1.0", localTest: "holdout")
            let run = try EngineFixture.simulation(yaml, method: index)
            _ = try run.run()
            var offset = 0
            for (c, test) in run.clientTests(run.clientTestPool).enumerated() {
                let rows = Array(offset..<(offset + run.clients[c].test.count))
                offset += rows.count
                switch (expected, test) {
                case ("global", .globalRows(let r)), ("head", .head(let r)): XCTAssertEqual(r, rows, "client \(c)")
                case ("full", .full): break
                default: XCTFail("\(expected): client \(c) is tested by \(test)")
                }
            }
            XCTAssertEqual(offset, run.clientTestPool.count)
        }
    }

    /// Whole personal models (local) with splits smaller than an evaluation batch are evaluated in
    /// stacks, and give the figures of one pass per client (batched_clients: off).
    func testSmallSplitsOfPersonalModelsAreEvaluatedInStacks() throws {
        var figures: [[Double?]] = []
        for batched in ["auto", "off"] {
            let yaml = EngineFixture.yaml(output: "unused", methods: "[local]", clients: 6, rounds: 1, perRound: "fraction: 1.0",
                                          extraFederation: ", batched_clients: \(batched)")
            let run = try EngineFixture.simulation(yaml)
            _ = try run.run()
            let small = run.clients.indices.filter { run.clients[$0].validation.count < run.settings.evalBatchSize }
            if batched == "auto" {
                XCTAssertEqual(run.evaluationStackSize, 16)
                let stacks = SimulationRun.evaluationStacks(of: Array(run.clients.indices), splitSize: { run.clients[$0].validation.count },
                                                            batchSize: run.settings.evalBatchSize, maximumStack: 16)
                XCTAssertFalse(stacks.isEmpty, "the validation splits (\(run.clients.map(\.validation.count))) are stacked")
                XCTAssertFalse(small.isEmpty)
            } else {
                XCTAssertNil(run.evaluationStackSize)
            }
            figures.append(try XCTUnwrap(run.lastClientAccuracies) + XCTUnwrap(run.lastValidationAccuracies))
        }
        XCTAssertEqual(figures[0], figures[1])
    }

    /// Stacks take clients with non-empty splits smaller than a batch, largest first, as many as
    /// fit one batch padded to the stack's largest split; stacks of one are left to plain passes.
    func testEvaluationStacksFitOneBatch() {
        let sizes = [0: 9, 1: 3, 2: 0, 3: 20, 4: 5, 5: 5, 6: 4, 7: 8, 8: 1]
        let stacks = SimulationRun.evaluationStacks(of: Array(sizes.keys).sorted(), splitSize: { sizes[$0]! }, batchSize: 20,
                                                    maximumStack: 3)
        // By size: 0 (9), 7 (8), 4 (5), 5 (5), 6 (4), 1 (3), 8 (1); 3 is a whole batch, 2 is empty.
        XCTAssertEqual(stacks, [[0, 7], [4, 5, 6], [1, 8]])
        for stack in stacks { XCTAssertLessThanOrEqual(stack.count * sizes[stack[0]]!, 20) }
    }

    /// A pool of several splits reads any row range as those rows in order, across split
    /// boundaries and past empty splits, and its batches cover every row once.
    func testPoolReadsRowsAcrossSplits() throws {
        let sizes = [3, 0, 5, 1, 0, 4]
        var next = 0
        let splits = try sizes.map { n -> LabeledSamples in
            defer { next += n }
            return try LabeledSamples(inputs: Tensor((next..<(next + n)).flatMap { [Float($0), -Float($0)] }, shape: [n, 2]),
                                      labels: (next..<(next + n)).map { $0 % 4 })
        }
        let pool = EvaluationPool(clientSplits: splits)
        XCTAssertEqual(pool.count, 13)
        XCTAssertEqual(pool.labels, (0..<13).map { $0 % 4 })
        XCTAssertEqual(pool.clientRows.map { $0?.count }, sizes)
        XCTAssertEqual(pool.clientRows[2], [3, 4, 5, 6, 7])
        XCTAssertEqual(pool.clientRows[1], [])
        for lower in 0..<13 {
            for upper in (lower + 1)...13 {
                let values = try pool.inputs(lower..<upper).floats()
                XCTAssertEqual(values, (lower..<upper).flatMap { [Float($0), -Float($0)] }, "rows \(lower)..<\(upper)")
            }
        }
        for size in [1, 4, 13, 50] {
            let batches = pool.batches(size: size)
            XCTAssertEqual(batches.flatMap { Array($0) }, Array(0..<13))
            XCTAssertTrue(batches.allSatisfy { $0.count <= size })
        }
    }
}

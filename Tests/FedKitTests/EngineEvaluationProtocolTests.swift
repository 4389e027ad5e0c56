import BuiltinPlugins
import Config
import Foundation
import Torch
import Trainers
import XCTest

@testable import FedKit

/// Test only: returns for every teacher a recognisable model: head weights zero and a
/// head bias that makes client k always predict class k % classes.
struct MarkingDistiller: DistillerPlugin {
    static let descriptor = PluginDescriptor(
        kind: .distiller, name: "test-mark",
        summary: "test only: teacher k's output always predicts class k % classes")
    init(parameters: Parameters) throws {}

    func distill(_ context: ServerRoundContext, source: any SyntheticDataSource) throws -> DistillationResult {
        var personal: [Int: StateDict] = [:]
        for teacher in context.teachers {
            let marked = try teacher.state.copy()
            let biasName = try XCTUnwrap(marked.names.last { $0.hasPrefix("head.") && $0.hasSuffix("bias") })
            for (name, tensor) in marked.entries where name.hasPrefix("head.") {
                if name == biasName {
                    let values = (0..<context.classes).map { Float($0 == teacher.client % context.classes ? 1000 : 0) }
                    try withoutGrad { try tensor.copy_(Tensor(values)) }
                } else {
                    try withoutGrad { try tensor.fill_(0) }
                }
            }
            personal[teacher.client] = marked
        }
        return DistillationResult(personal: personal)
    }
}

/// Test only: returns a model for a client that was not sampled (the engine must refuse it).
struct StrayDistiller: DistillerPlugin {
    static let descriptor = PluginDescriptor(
        kind: .distiller, name: "test-stray", summary: "test only: a model for a client outside the round")
    init(parameters: Parameters) throws {}

    func distill(_ context: ServerRoundContext, source: any SyntheticDataSource) throws -> DistillationResult {
        let sampled = Set(context.teachers.map(\.client))
        let stray = try XCTUnwrap((0...).first { !sampled.contains($0) })
        return DistillationResult(personal: [stray: context.teachers[0].state])
    }
}

/// Test only: plain SGD that records which samples each client trained on.
struct RecordingTrainer: TrainerPlugin {
    static let descriptor = PluginDescriptor(
        kind: .trainer, name: "test-record", summary: "test only: sgd, recording the data it sees")
    static let seen = SeenData()
    let sgd: any TrainerPlugin

    init(parameters: Parameters) throws {
        sgd = try BuiltinPlugins.registry().make(
            PluginChoice(kind: .trainer, name: "sgd"), as: (any TrainerPlugin).self)
    }

    func train(_ context: ClientTrainingContext) throws -> LocalTrainingReport {
        Self.seen.add(
            client: context.client, rows: try context.data.inputs.floats(),
            width: context.data.inputs.count / max(1, context.data.count))
        return try sgd.train(context)
    }

    final class SeenData: @unchecked Sendable {
        private let lock = NSLock()
        private var rows: [Int: Set<[Float]>] = [:]
        func add(client: Int, rows flat: [Float], width: Int) {
            lock.withLock {
                for start in stride(from: 0, to: flat.count, by: width) {
                    rows[client, default: []].insert(Array(flat[start..<start + width]))
                }
            }
        }
        func rows(_ client: Int) -> Set<[Float]> { lock.withLock { rows[client] ?? [] } }
        func clear() { lock.withLock { rows = [:] } }
    }
}

/// Test only: a built-in trainer with an evaluation composition that counts its compositions.
struct CountingComposition<T: TrainerPlugin & EvaluationComposition>: TrainerPlugin, EvaluationComposition {
    static var descriptor: PluginDescriptor {
        PluginDescriptor(
            kind: .trainer, name: "test-counting-" + T.descriptor.name,
            summary: "test only: counts evaluation compositions", parameters: T.descriptor.parameters)
    }
    static var calls: CompositionCounter { CompositionCounter.shared }
    let inner: T
    init(parameters: Parameters) throws { inner = try T(parameters: parameters) }
    func train(_ context: ClientTrainingContext) throws -> LocalTrainingReport { try inner.train(context) }
    func composeEvaluationModel(_ context: ClientTrainingContext) throws {
        Self.calls.add()
        try inner.composeEvaluationModel(context)
    }
}

/// Test only: the number of `CountingComposition` compositions since the last reset.
final class CompositionCounter: @unchecked Sendable {
    static let shared = CompositionCounter()
    private let lock = NSLock()
    private var count = 0
    func add() { lock.withLock { count += 1 } }
    func reset() { lock.withLock { count = 0 } }
    var value: Int { lock.withLock { count } }
}

/// The evaluation protocol (docs/design.md §7) and the validation split.
final class EngineEvaluationProtocolTests: XCTestCase {
    /// A composed test model (FedBABU's fine-tuning) is composed once per client and evaluation and
    /// tested on both the client's test and validation splits, with the figures that composing it
    /// separately for each split gives.
    func testComposedModelIsComposedOncePerEvaluationForBothSplits() throws {
        let counter = CountingComposition<FedBABUTrainer>.calls
        let yaml = EngineFixture.yaml(
            output: "unused",
            methods: "[{ name: fedbabu, trainer: { name: test-counting-babu, finetune_epochs: 2, finetune: full } }]",
            clients: 6, rounds: 2, perRound: "clients_per_round: 3")
        let run = try EngineFixture.simulation(yaml)
        XCTAssertTrue(
            run.clients.allSatisfy { $0.test.count > 0 && $0.validation.count > 0 }, "fixture: every split non-empty")
        counter.reset()
        let result = try run.run()
        XCTAssertEqual(result.records.count, 2)
        XCTAssertEqual(counter.value, 2 * 6, "one composition per client per evaluated round")

        let tested = try XCTUnwrap(run.lastClientAccuracies)
        let validated = try XCTUnwrap(run.lastValidationAccuracies)
        let worker = run.pool.workers[0]
        for c in run.clients.indices {
            for (split, reported) in [(run.clients[c].test, tested[c]), (run.clients[c].validation, validated[c])] {
                try run.evaluationState(client: c, worker: worker)
                worker.model.setTraining(false)
                let expected = Accuracy.fraction(try Accuracy.correctness(of: worker.model, on: split, batchSize: 16))
                XCTAssertEqual(try XCTUnwrap(reported), expected, accuracy: 1e-12, "client \(c)")
            }
        }
    }

    /// `evaluate_with: round-output` tests this round's clients with the model the server steps
    /// left for them, every other trained client with its personal state (global body + own
    /// head), and never stores the round's output.
    func testRoundOutputPicksTheDistilledModelOnlyForThisRoundsClients() throws {
        let method = "[{ name: fedrep, label: published, distiller: { name: test-mark }, evaluate_with: round-output }]"
        let yaml = EngineFixture.yaml(
            output: "unused", methods: method, clients: 8, rounds: 3, perRound: "clients_per_round: 2")
        let run = try EngineFixture.simulation(yaml)
        XCTAssertEqual(run.method.evaluateWith, .roundOutput)
        let result = try run.run()
        let last = Set(try XCTUnwrap(result.records.last).sampledClients)
        let trained = Set(result.records.flatMap(\.sampledClients))
        XCTAssertGreaterThan(
            trained.subtracting(last).count, 0, "some trained clients must sit out the last round for this test")
        let reported = try XCTUnwrap(run.lastClientAccuracies)
        let scratch = run.pool.workers[0].scratch
        scratch.setTraining(false)
        for c in 0..<8 {
            let test = run.clients[c].test
            if last.contains(c) {
                let expected = Double(test.labelArray.filter { $0 == c % 4 }.count) / Double(test.count)
                XCTAssertEqual(
                    try XCTUnwrap(reported[c]), expected, accuracy: 1e-12, "client \(c): its distilled (marked) model")
                // Stored: the head only, as training left it (not the marked head).
                let stored = try XCTUnwrap(run.store.get(c))
                XCTAssertTrue(stored.names.allSatisfy { $0.hasPrefix("head.") })
                XCTAssertTrue(
                    try stored.flattened().floats().contains { $0 != 0 && $0 != 1000 },
                    "client \(c): the marked head was stored")
            } else if trained.contains(c) {
                try scratch.load(run.global.stateDict())
                try scratch.load(try XCTUnwrap(run.store.get(c)), strict: false)
                let expected = Accuracy.fraction(try Accuracy.correctness(of: scratch, on: test, batchSize: 5))
                XCTAssertEqual(
                    try XCTUnwrap(reported[c]), expected, accuracy: 1e-12, "client \(c): global body + own head")
            } else {
                XCTAssertNil(reported[c], "client \(c) never trained")
            }
        }
        let rows = try run.clientReport()
        XCTAssertEqual(rows.filter { $0.evaluatedWith == "round-output" }.map(\.client).sorted(), last.sorted())
        XCTAssertEqual(
            rows.filter { $0.evaluatedWith == "personal" }.map(\.client).sorted(), trained.subtracting(last).sorted())
    }

    /// The engine stores only what a distiller returns for the round's own clients: a model for
    /// another client fails the run, naming it, before anything is stored.
    func testDistilledModelForAClientOutsideTheRoundIsRefused() throws {
        let method = "[{ name: fedrep, distiller: { name: test-stray }, personal: model }]"
        let yaml = EngineFixture.yaml(
            output: "unused", methods: method, clients: 8, rounds: 1, perRound: "clients_per_round: 2")
        let run = try EngineFixture.simulation(yaml)
        XCTAssertThrowsError(try run.run()) { error in
            XCTAssertTrue("\(error)".contains("which was not sampled this round"), "\(error)")
        }
    }

    /// The methods' declared evaluation model is validated and written into the resolved config.
    func testEvaluateWithIsDeclaredValidatedAndResolved() throws {
        let spec = try EngineFixture.spec(
            EngineFixture.yaml(output: "unused", methods: "[fedavg, fedrep, local, fedbkd]"))
        XCTAssertEqual(spec.methods.map(\.evaluateWith), [.global, .personal, .personal, .roundOutput])
        let resolved = YAMLEmitter.emit(spec.resolved)
        XCTAssertTrue(resolved.contains("evaluate_with: global"), resolved)
        XCTAssertTrue(resolved.contains("evaluate_with: personal"), resolved)
        for (method, fragment) in [
            ("{ name: fedavg, evaluate_with: personal }", "needs personal state"),
            ("{ name: fedrep, evaluate_with: round-output }", "has no distiller"),
            ("{ name: fedavg, evaluate_with: best }", "evaluate_with"),
        ] {
            let yaml = EngineFixture.yaml(output: "unused", methods: "[\(method)]")
            XCTAssertThrowsError(try EngineFixture.spec(yaml), method) { error in
                let text = "\(error)"
                XCTAssertTrue(text.contains(fragment), text)
                XCTAssertTrue(text.contains("engine-test.yaml:10:"), "located at the methods line: \(text)")
            }
        }
    }

    /// The validation split: carved from each client's training data, disjoint from it and from
    /// the test split, the same for the same seed, another for another seed, never trained on.
    func testValidationSplitIsDisjointDeterministicAndNeverTrainedOn() throws {
        RecordingTrainer.seen.clear()
        let yaml = EngineFixture.yaml(
            output: "unused", methods: "[{ name: fedavg, trainer: { name: test-record } }]", clients: 6,
            rounds: 2, perRound: "fraction: 1.0", localTest: "holdout")
        let spec = try EngineFixture.spec(yaml)
        let dataset = try EngineFixture.registry.make(spec.dataset, as: (any DatasetPlugin).self).load()
        let a = try FederatedData.make(
            spec: spec, dataset: dataset, seed: 1, registry: EngineFixture.registry, cacheDirectory: nil)
        let b = try FederatedData.make(
            spec: spec, dataset: dataset, seed: 1, registry: EngineFixture.registry, cacheDirectory: nil)
        let other = try FederatedData.make(
            spec: spec, dataset: dataset, seed: 2, registry: EngineFixture.registry, cacheDirectory: nil)
        XCTAssertEqual(a.clients.map(\.validationIndices), b.clients.map(\.validationIndices))
        XCTAssertNotEqual(a.clients.map(\.validationIndices), other.clients.map(\.validationIndices))
        for (c, client) in a.clients.enumerated() {
            let (train, validation, test) = (
                Set(client.trainIndices), Set(client.validationIndices), Set(client.testIndices)
            )
            XCTAssertFalse(validation.isEmpty, "client \(c)")
            XCTAssertTrue(
                train.isDisjoint(with: validation) && train.isDisjoint(with: test) && validation.isDisjoint(with: test))
            XCTAssertEqual(
                train.union(validation).union(test), Set(a.assignment[c]),
                "client \(c): the partition, split three ways")
            let trainable = a.assignment[c].count - test.count
            XCTAssertEqual(
                validation.count, Int((Double(trainable) * 0.1).rounded()), "client \(c): 10 % of its training data")
            XCTAssertEqual(client.train.count, client.trainIndices.count)
            XCTAssertEqual(client.validation.labelArray, client.validationIndices.map { dataset.train.labelArray[$0] })
        }
        // Training sees the training split only.
        let run = try SimulationRun(
            spec: spec, method: spec.methods[0], seed: 1, dataset: dataset, clients: a.clients,
            registry: EngineFixture.registry, writer: nil)
        _ = try run.run()
        for (c, client) in a.clients.enumerated() {
            let seen = RecordingTrainer.seen.rows(c)
            let width = client.validation.inputs.count / client.validation.count
            let flat = try client.validation.inputs.floats()
            let validationRows = stride(from: 0, to: flat.count, by: width).map { Array(flat[$0..<$0 + width]) }
            XCTAssertFalse(seen.isEmpty, "client \(c) trained")
            XCTAssertTrue(
                validationRows.allSatisfy { !seen.contains($0) }, "client \(c) trained on a validation sample")
            XCTAssertEqual(
                seen.count, Set(try client.train.inputs.floats().chunked(width)).count,
                "client \(c) saw its whole training split")
        }
    }

    /// Validation metrics in rounds.jsonl: the global model on the union of the clients'
    /// validation splits and each scored client on its own; nothing when the fraction is 0.
    func testValidationMetricsAreRecordedAndMatchAHandComputation() throws {
        let yaml = EngineFixture.yaml(
            output: "unused", methods: "[fedavg, fedper]", clients: 6, rounds: 2, perRound: "clients_per_round: 2")
        for index in 0..<2 {
            let run = try EngineFixture.simulation(yaml, method: index)
            let result = try run.run()
            let v = try XCTUnwrap(result.records.last?.validation)
            run.global.setTraining(false)
            var correct = 0, total = 0
            for client in run.clients {
                let c = try Accuracy.correctness(of: run.global, on: client.validation, batchSize: 3)
                correct += c.filter { $0 }.count
                total += c.count
            }
            XCTAssertEqual(try XCTUnwrap(v.globalAccuracy), Double(correct) / Double(total), accuracy: 1e-12)
            XCTAssertEqual(v.personalized?.clients, result.records.last?.personalized?.clients)
            XCTAssertNotNil(result.summary["validation_global_accuracy"])
            XCTAssertNotNil(result.summary["validation_personalized_weighted"])
        }
        let off = try EngineFixture.simulation(
            yaml.replacingOccurrences(of: "last_rounds: 2,", with: "last_rounds: 2, validation_fraction: 0,"))
        XCTAssertTrue(off.clients.allSatisfy { $0.validation.count == 0 })
        let records = try off.run().records
        XCTAssertTrue(records.allSatisfy { $0.validation == nil })
    }

    /// Generator sample statistics per round (drawn with their own seeded generator), beside the
    /// real data's, computed once per run; the same for the same seed.
    func testGeneratorStatisticsAppearAndAreDeterministic() throws {
        let yaml = EngineFixture.yaml(output: "unused", methods: "[fedbkd]", clients: 6, rounds: 2)
        let first = try EngineFixture.simulation(yaml).run().records
        let again = try EngineFixture.simulation(yaml).run().records
        // (The distiller's own wall times, "*.seconds", differ between runs; the statistics do not.)
        func statistics(_ r: RoundRecord) -> [String: Double] {
            r.server.filter { $0.key.hasPrefix("generator_") || $0.key.hasPrefix("real_data_") }
        }
        XCTAssertEqual(first.map(statistics), again.map(statistics))
        XCTAssertEqual(first.map { statistics($0).count }, [6, 6])
        for r in first {
            let mean = try XCTUnwrap(r.server["generator_sample_mean"])
            let std = try XCTUnwrap(r.server["generator_sample_std"])
            let maxAbs = try XCTUnwrap(r.server["generator_sample_max_abs"])
            XCTAssertLessThanOrEqual(abs(mean), maxAbs)
            XCTAssertGreaterThanOrEqual(std, 0)
            XCTAssertEqual(
                r.server["real_data_mean"], first[0].server["real_data_mean"], "real-data statistics are computed once")
        }
        var stats = ValueStatistics()
        stats.add([1, -3, 2])
        XCTAssertEqual(stats.mean, 0, accuracy: 1e-12)
        XCTAssertEqual(stats.std, (14.0 / 3).squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(stats.maxAbs, 3)
    }
}

extension Array {
    func chunked(_ size: Int) -> [[Element]] {
        stride(from: 0, to: count, by: size).map { Array(self[$0..<Swift.min($0 + size, count)]) }
    }
}

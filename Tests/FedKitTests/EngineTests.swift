import BuiltinPlugins
import Config
import Foundation
import Torch
import Trainers
import XCTest

@testable import FedKit

/// A trainer for the divergence tests: trains nothing and, from round `round` on, fills the model of
/// client `client` (every client when -1) with NaN, as a diverging local update would.
struct PoisonTrainer: TrainerPlugin {
    static let descriptor = PluginDescriptor(
        kind: .trainer, name: "test-poison", summary: "test only: NaN weights from a given round on",
        keys: [round, client])
    static let round = ParameterKey.int("round", default: 2, min: 1, doc: "first poisoned round")
    static let client = ParameterKey.int("client", default: -1, min: -1, doc: "poisoned client (-1: all)")
    let round: Int
    let client: Int

    init(parameters: Parameters) throws {
        round = parameters[Self.round]
        client = parameters[Self.client]
    }

    func train(_ context: ClientTrainingContext) throws -> LocalTrainingReport {
        if context.round >= round, client < 0 || context.client == client {
            try withoutGrad { for p in context.model.parameters { try p.fill_(.nan) } }
        }
        return LocalTrainingReport(trainLoss: 0.5, steps: 1)
    }
}

/// Shared set-up of the engine tests: tiny experiments on the `synthetic` dataset with an MLP.
enum EngineFixture {
    /// Every FedBKD preset: the published method, the improved one, and their ablations.
    static let fedBKDPresets = [
        "fedbkd", "fedbkd-g2l", "fedbkd-l2g", "fedbkd-noise",
        "fedbkd-plus", "fedbkd-plus-g2l", "fedbkd-plus-l2g", "fedbkd-plus-noise",
    ]

    /// A FedBKD preset shrunk for tests (small generator, few synthetic samples and epochs;
    /// the published schedules and batch rule kept).
    static func shrunkFedBKD(_ preset: String) -> String {
        let distiller = "distiller: { samples: 32, g2l_epochs: 1, l2g_epochs: 1 }"
        let generator =
            "generator: { hidden: 16, noise_dim: 8, embedding_dim: 8, batch_size: 16, samples: 32, epochs: 1, steps: 2 }"
        return
            "{ name: \(preset), trainer: { head_epochs: 2 }, \(distiller)\(preset.hasSuffix("noise") ? "" : ", " + generator) }"
    }

    static let registry: PluginRegistry = {
        var registry = try! BuiltinPlugins.registry()
        try! registry.register(PoisonTrainer.self)
        try! registry.register(MarkingDistiller.self)
        try! registry.register(StrayDistiller.self)
        try! registry.register(RecordingTrainer.self)
        try! registry.register(CountingComposition<FedBABUTrainer>.self)
        return registry
    }()

    /// A fresh temporary folder, removed by the caller's `addTeardownBlock`.
    static func temporaryDirectory(_ test: XCTestCase) throws -> String {
        let path =
            NSTemporaryDirectory() + "fedkit-engine-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        test.addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    /// A tiny experiment: 12 synthetic users (about 40 samples each, 12 features, 4 classes),
    /// partitioned over `clients` clients, MLP with one hidden layer of 16.
    static func yaml(
        name: String = "engine", output: String, methods: String, clients: Int = 6, rounds: Int = 3,
        perRound: String = "clients_per_round: 3", workers: Int = 2, lr: Double = 0.05,
        localTest: String = "matched", evalEvery: Int = 1, extraFederation: String = "", seeds: String = "[1]",
        personalGlobalTest: Bool = false
    ) -> String {
        """
        name: \(name)
        seeds: \(seeds)
        output: "\(output)"
        dataset: { name: synthetic, users: 12, features: 12, classes: 4, size_mu: 3.5, size_sigma: 0.2, size_min: 10, size_max: 80 }
        partition: { name: dirichlet, alpha: 0.5, clients: \(clients), min_size: 8 }
        model: { name: mlp, hidden: [16] }
        federation: { rounds: \(rounds), \(perRound), local_epochs: 1, batch_size: 8, lr: \(lr), workers: \(workers),
                      eval_every: \(evalEvery)\(extraFederation) }
        eval: { local_test: \(localTest), last_rounds: 2, batch_size: 16, personal_global_test: \(personalGlobalTest) }
        methods: \(methods)
        """
    }

    static func spec(_ yaml: String) throws -> ExperimentSpec {
        try ExperimentLoader(registry: registry).resolve(
            YAMLParser.parse(string: yaml, fileName: "engine-test.yaml"), file: "engine-test.yaml")
    }

    /// Runs every method of `yaml`; log lines are collected, not printed.
    static func run(
        _ yaml: String, resume: Bool = false
    ) throws -> (outcome: ExperimentRunner.Outcome, runner: ExperimentRunner, log: [String]) {
        let runner = ExperimentRunner(spec: try spec(yaml), registry: registry)
        runner.resume = resume
        let lines = LogLines()
        runner.log = { lines.append($0) }
        let outcome = try runner.run()
        return (outcome, runner, lines.all)
    }

    /// One run built directly (no files), for checks that look inside the engine.
    static func simulation(_ yaml: String, method index: Int = 0) throws -> SimulationRun {
        let spec = try spec(yaml)
        let dataset = try registry.make(spec.dataset, as: (any DatasetPlugin).self).load()
        let federation = try FederatedData.make(
            spec: spec, dataset: dataset, seed: spec.seeds[0], registry: registry, cacheDirectory: nil)
        return try SimulationRun(
            spec: spec, method: spec.methods[index], seed: spec.seeds[0], dataset: dataset,
            clients: federation.clients, registry: registry, writer: nil)
    }

    static func lines(_ path: String) throws -> [String] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: true).map(
            String.init)
    }

    static func records(_ path: String) throws -> [RoundRecord] {
        try lines(path).map { try JSONDecoder().decode(RoundRecord.self, from: Data($0.utf8)) }
    }
}

final class LogLines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ line: String) { lock.withLock { lines.append(line) } }
    var all: [String] { lock.withLock { lines } }
}

final class EngineTests: XCTestCase {
    // MARK: - End to end

    /// Every method preset through `ExperimentRunner`: all files written, sane metrics.
    func testEveryMethodEndToEnd() throws {
        let dir = try EngineFixture.temporaryDirectory(self)
        var methods = [
            "fedavg", "{ name: fedprox, trainer: { mu: 0.01 } }", "local", "fedper",
            "{ name: fedrep, trainer: { head_epochs: 2 } }", "ditto",
        ]
        // The FedBKD presets, shrunk (small generator, few synthetic samples and epochs).
        for preset in EngineFixture.fedBKDPresets where EngineFixture.registry.methods[preset] != nil {
            methods.append(EngineFixture.shrunkFedBKD(preset))
        }
        let rounds = 3, clients = 6
        let yaml = EngineFixture.yaml(
            output: dir, methods: "[" + methods.joined(separator: ", ") + "]", clients: clients, rounds: rounds)
        let (outcome, runner, _) = try EngineFixture.run(yaml)
        let labels = runner.spec.methods.map(\.label)
        XCTAssertEqual(labels.count, methods.count)

        XCTAssertEqual(outcome.failures.map(\.description), [])
        XCTAssertEqual(outcome.results.map(\.method), labels)
        let experiment = "\(dir)/engine"
        for file in ["config.yaml", "summary.csv", "report.html"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: "\(experiment)/\(file)"), file)
        }
        // summary.csv is tidy (one row per run and metric), made from the run folders.
        let summary = try EngineFixture.lines("\(experiment)/summary.csv")
        let methodsInSummary = summary.dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false)[1] }
        XCTAssertEqual(Set(methodsInSummary.map(String.init)), Set(labels))
        XCTAssertEqual(outcome.report?.experiments.first?.groups.map(\.label), labels)
        let report = try String(contentsOfFile: "\(experiment)/report.html", encoding: .utf8)
        for label in labels { XCTAssertTrue(report.contains(label), "report.html should name \(label)") }

        for result in outcome.results {
            let method = result.method
            let run = "\(experiment)/\(method)/seed-1"
            for file in [
                "config.yaml", "manifest.json", "rounds.jsonl", "timings.jsonl", "clients.csv", "partition.csv",
            ] {
                XCTAssertTrue(FileManager.default.fileExists(atPath: "\(run)/\(file)"), "\(method): \(file)")
            }
            let manifest =
                try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(run)/manifest.json")))
                as? [String: Any]
            XCTAssertEqual(manifest?["method"] as? String, method)
            XCTAssertEqual(manifest?["seed"] as? Int, 1)
            let config = try String(contentsOfFile: "\(run)/config.yaml", encoding: .utf8)
            XCTAssertNoThrow(try EngineFixture.spec(config), "\(method): config.yaml should load back as an experiment")

            let records = try EngineFixture.records("\(run)/rounds.jsonl")
            XCTAssertEqual(records.map(\.round), Array(1...rounds), method)
            XCTAssertEqual(records, result.records, method)
            XCTAssertEqual(try EngineFixture.lines("\(run)/timings.jsonl").count, rounds, method)
            for r in records {
                XCTAssertEqual(r.sampledClients.count, 3, method)
                XCTAssertTrue(
                    r.trainLoss.isFinite && r.trainLoss >= 0, "\(method) round \(r.round): train loss \(r.trainLoss)")
                let p = try XCTUnwrap(r.personalized, "\(method) round \(r.round)")
                // Never-trained clients are not scored unless the method is tested with the global model.
                XCTAssertEqual(p.clients, ["fedavg", "fedprox"].contains(method) ? clients : r.participants, method)
                XCTAssertEqual(r.personalizedAll != nil, p.clients == clients, method)
                // Validation figures (eval.validation_fraction defaults to 0.1) beside the test ones.
                let v = try XCTUnwrap(r.validation, "\(method) round \(r.round): validation metrics")
                XCTAssertEqual(v.personalized?.clients, p.clients, method)
                XCTAssertEqual(v.globalAccuracy == nil, method == "local", method)
                if method.hasPrefix("fedbkd") && !method.hasSuffix("-noise") {
                    for key in [
                        "generator_sample_mean", "generator_sample_std", "generator_sample_max_abs",
                        "real_data_mean", "real_data_std", "real_data_max_abs",
                    ] {
                        XCTAssertTrue(r.server[key]?.isFinite ?? false, "\(method): server.\(key)")
                    }
                    XCTAssertGreaterThan(r.server["real_data_std"] ?? 0, 0, method)
                } else {
                    XCTAssertNil(r.server["generator_sample_mean"], "\(method) has no generator")
                }
                for v in [p.weightedMean, p.mean, p.std, p.bottomDecile, p.worst] {
                    XCTAssertTrue((0...1).contains(v), "\(method): \(p)")
                }
                XCTAssertLessThanOrEqual(p.worst, p.bottomDecile)
                XCTAssertLessThanOrEqual(p.bottomDecile, p.mean + 1e-12)
                if method == "local" {
                    XCTAssertNil(r.globalAccuracy, "local has no global model")
                    XCTAssertEqual(r.bytesUpPerClient, 0)
                } else {
                    let g = try XCTUnwrap(r.globalAccuracy, method)
                    XCTAssertTrue((0...1).contains(g))
                    XCTAssertGreaterThan(r.bytesUpPerClient, 0, method)
                }
                if method.hasPrefix("fedbkd") {
                    XCTAssertFalse(r.server.isEmpty, "\(method) reports server-step metrics")
                }
            }
            let rows = try EngineFixture.lines("\(run)/clients.csv")
            XCTAssertEqual(
                rows.first,
                "client,train_samples,validation_samples,test_samples,classes,times_sampled,has_personal_state,evaluated_with,personalized_accuracy,validation_accuracy,global_test_accuracy"
            )
            XCTAssertEqual(rows.count, 1 + clients, method)
            let sampled = rows.dropFirst().map { Int($0.split(separator: ",")[5])! }
            XCTAssertEqual(sampled.reduce(0, +), 3 * rounds, method)
            XCTAssertNotNil(result.summary["personalized_weighted"], method)
            XCTAssertNotNil(result.summary["validation_personalized_weighted"], method)
        }
        XCTAssertTrue(summary.contains { $0.hasPrefix("engine,fedavg,,1,validation.global_accuracy,") })
        XCTAssertTrue(summary.contains { $0.hasPrefix("engine,fedrep,,1,validation.personalized.weightedMean,") })
    }

    /// FedAvg learns the tiny problem: well above chance (4 classes) after a few rounds.
    func testFedAvgLearns() throws {
        let dir = try EngineFixture.temporaryDirectory(self)
        let (outcome, _, _) = try EngineFixture.run(
            EngineFixture.yaml(
                output: dir, methods: "[fedavg]", rounds: 8,
                perRound: "fraction: 1.0", lr: 0.1))
        let records = try XCTUnwrap(outcome.results.first?.records)
        XCTAssertGreaterThan(try XCTUnwrap(records.last?.globalAccuracy), 0.4)
        XCTAssertLessThan(records.last!.trainLoss, records.first!.trainLoss)
    }

    // MARK: - Determinism

    /// The same file and seed give byte-identical rounds.jsonl (and clients.csv) with 1 and 2 workers.
    func testRoundsAreByteIdenticalWithOneAndTwoWorkers() throws {
        let methods = "[fedavg, local, fedper, { name: fedrep, trainer: { head_epochs: 2 } }, ditto]"
        var files: [Int: [String: Data]] = [:]
        for workers in [1, 2] {
            let dir = try EngineFixture.temporaryDirectory(self)
            let (outcome, runner, _) = try EngineFixture.run(
                EngineFixture.yaml(output: dir, methods: methods, workers: workers))
            XCTAssertEqual(outcome.failures.count, 0)
            for label in runner.spec.methods.map(\.label) {
                for name in ["rounds.jsonl", "clients.csv"] {
                    files[workers, default: [:]]["\(label)/\(name)"] = try Data(
                        contentsOf: URL(fileURLWithPath: "\(dir)/engine/\(label)/seed-1/\(name)"))
                }
            }
        }
        XCTAssertEqual(files[1]?.count, 10)
        for (name, one) in files[1]! {
            XCTAssertFalse(one.isEmpty, name)
            XCTAssertEqual(one, files[2]?[name], "\(name) differs between workers=1 and workers=2")
        }
    }

    /// The FedBKD presets (published and improved) give byte-identical rounds with 1 and 2 workers.
    func testFedBKDRoundsAreByteIdenticalWithOneAndTwoWorkers() throws {
        let methods =
            "[" + EngineFixture.fedBKDPresets.map { EngineFixture.shrunkFedBKD($0) }.joined(separator: ", ") + "]"
        var files: [Int: [String: Data]] = [:]
        for workers in [1, 2] {
            let dir = try EngineFixture.temporaryDirectory(self)
            let (outcome, runner, _) = try EngineFixture.run(
                EngineFixture.yaml(output: dir, methods: methods, rounds: 2, workers: workers))
            XCTAssertEqual(outcome.failures.map(\.description), [])
            for label in runner.spec.methods.map(\.label) {
                for name in ["rounds.jsonl", "clients.csv"] {
                    files[workers, default: [:]]["\(label)/\(name)"] = try Data(
                        contentsOf: URL(fileURLWithPath: "\(dir)/engine/\(label)/seed-1/\(name)"))
                }
            }
        }
        XCTAssertEqual(files[1]?.count, 2 * EngineFixture.fedBKDPresets.count)
        // Server steps' wall times (`*.seconds`) go to timings.jsonl: the records match byte for byte.
        for (name, one) in files[1]! {
            XCTAssertFalse(one.isEmpty, name)
            XCTAssertFalse(String(decoding: one, as: UTF8.self).contains(".seconds"), "\(name) holds a wall time")
            XCTAssertEqual(one, files[2]?[name], "\(name) differs between workers=1 and workers=2")
        }
    }

    // MARK: - Evaluation protocol (docs/design.md §7)

    /// A client that has never trained is never scored: personal methods report the personalised
    /// figures over the clients trained so far (and their count); only `evaluate_with: global`
    /// methods score every client, with the global model. Each reported accuracy is checked
    /// against a plain forward pass of the client's model over its own test split, for the
    /// shortcuts the engine takes (one global pass over the test set, personal heads on its body
    /// features) and for holdout splits (no shortcut).
    func testNeverTrainedClientsAreNeverScored() throws {
        for localTest in ["matched", "holdout"] {
            for method in ["fedavg", "fedper", "local", "ditto"] {
                let yaml = EngineFixture.yaml(
                    output: "unused", methods: "[\(method)]", clients: 8, rounds: 2,
                    perRound: "clients_per_round: 2", localTest: localTest)
                let run = try EngineFixture.simulation(yaml)
                let result = try run.run()
                let name = "\(method) (\(localTest))"
                var trained = Set<Int>()
                for record in result.records {
                    trained.formUnion(record.sampledClients)
                    XCTAssertEqual(record.participants, trained.count, name)
                    XCTAssertEqual(record.personalized?.clients, method == "fedavg" ? 8 : trained.count, name)
                    XCTAssertEqual(
                        record.personalizedAll != nil, method == "fedavg",
                        "\(name): all-clients figure only when every client is scored")
                }
                XCTAssertLessThan(trained.count, 8, "\(name): some clients must never be sampled for this test")
                let reported = try XCTUnwrap(run.lastClientAccuracies, name)
                XCTAssertEqual(reported.count, 8)

                let global = run.global
                global.setTraining(false)
                let scratch = run.pool.workers[0].scratch  // same architecture, its own weights
                scratch.setTraining(false)
                for c in 0..<8 {
                    let test = run.clients[c].test
                    if method == "fedavg" {
                        let expected = Accuracy.fraction(try Accuracy.correctness(of: global, on: test, batchSize: 7))
                        XCTAssertEqual(
                            try XCTUnwrap(reported[c], name), expected, accuracy: 1e-12, "\(name): client \(c)")
                    } else if trained.contains(c) {
                        XCTAssertTrue(run.store.contains(c), "\(name): client \(c) keeps a personal state")
                        try scratch.load(global.stateDict())
                        try scratch.load(try XCTUnwrap(run.store.get(c)), strict: false)
                        let expected = Accuracy.fraction(try Accuracy.correctness(of: scratch, on: test, batchSize: 7))
                        XCTAssertEqual(
                            try XCTUnwrap(reported[c], name), expected, accuracy: 1e-12, "\(name): client \(c)")
                    } else {
                        XCTAssertFalse(run.store.contains(c), "\(name): client \(c) has no personal state")
                        XCTAssertNil(reported[c], "\(name): never-trained client \(c) must not be scored")
                    }
                }
                let final = try XCTUnwrap(result.records.last?.personalized)
                XCTAssertEqual(
                    final, PersonalizedAccuracy.over(reported, testSizes: run.clients.map(\.test.count)), name)
                if method == "fedavg", localTest == "matched" {
                    XCTAssertTrue(run.testRows.allSatisfy { $0 != nil }, "matched splits are rows of the test set")
                }
                if localTest == "holdout" {
                    XCTAssertTrue(run.testRows.allSatisfy { $0 == nil }, "holdout splits are not")
                }
            }
        }
    }

    /// clients.csv marks never-trained clients instead of giving them a number; the summary and
    /// rounds.jsonl carry the participant count, and the all-clients figure only once every client
    /// has trained.
    func testNeverTrainedClientsAreMarkedInTheOutputs() throws {
        let dir = try EngineFixture.temporaryDirectory(self)
        let (outcome, runner, _) = try EngineFixture.run(
            EngineFixture.yaml(
                output: dir, methods: "[fedper, fedavg]", clients: 8, rounds: 1,
                perRound: "clients_per_round: 3"))
        let fedper = try XCTUnwrap(outcome.results.first { $0.method == "fedper" })
        let sampled = Set(fedper.records[0].sampledClients)
        XCTAssertEqual(fedper.records[0].participants, 3)
        XCTAssertEqual(fedper.summary["personalized_clients"]?.final, 3)
        XCTAssertNil(fedper.summary["personalized_all_weighted"], "not every client has trained")
        let fedavg = try XCTUnwrap(outcome.results.first { $0.method == "fedavg" })
        XCTAssertEqual(fedavg.summary["personalized_clients"]?.final, 8)
        XCTAssertNotNil(fedavg.summary["personalized_all_weighted"])
        let rows = try EngineFixture.lines("\(runner.directory)/fedper/seed-1/clients.csv")
        let header = rows[0].split(separator: ",").map(String.init)
        let column = { (name: String) in try XCTUnwrap(header.firstIndex(of: name), name) }
        let (evaluated, accuracy) = (try column("evaluated_with"), try column("personalized_accuracy"))
        for row in rows.dropFirst() {
            let cells = row.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            let client = try XCTUnwrap(Int(cells[0]))
            if sampled.contains(client) {
                XCTAssertEqual(cells[evaluated], "personal", row)
                XCTAssertNotNil(Double(cells[accuracy]), row)
            } else {
                XCTAssertEqual(cells[evaluated], "never-trained", row)
                XCTAssertEqual(cells[accuracy], "", row)
            }
        }
    }

    // MARK: - Divergence

    /// A diverging run stops with a RunFailure naming method, seed, round and client; the other
    /// methods complete; the rounds written before the failure survive.
    func testDivergenceStopsOnlyThatRun() throws {
        let dir = try EngineFixture.temporaryDirectory(self)
        let methods =
            "[fedavg, { name: fedavg, label: poisoned, trainer: { name: test-poison, round: 3, client: 4 } }, fedper]"
        let (outcome, runner, log) = try EngineFixture.run(
            EngineFixture.yaml(
                output: dir, methods: methods, clients: 6, rounds: 4,
                perRound: "fraction: 1.0"))
        XCTAssertEqual(outcome.results.map(\.method), ["fedavg", "fedper"])
        for result in outcome.results { XCTAssertEqual(result.records.count, 4, result.method) }
        let failure = try XCTUnwrap(outcome.failures.first)
        XCTAssertEqual(outcome.failures.count, 1)
        XCTAssertEqual(failure.method, "poisoned")
        XCTAssertEqual(failure.seed, 1)
        XCTAssertEqual(failure.round, 3)
        XCTAssertEqual(failure.client, 4)
        XCTAssertTrue(failure.description.contains("method poisoned, seed 1, round 3, client 4"), failure.description)
        XCTAssertTrue(failure.description.contains("NaN"), failure.description)
        XCTAssertTrue(log.contains { $0.contains("run failed") && $0.contains("round 3, client 4") }, "\(log)")
        // Rounds 1 and 2 were written and stay readable.
        let records = try EngineFixture.records("\(dir)/engine/poisoned/seed-1/rounds.jsonl")
        XCTAssertEqual(records.map(\.round), [1, 2])
        XCTAssertNotNil(records.last?.globalAccuracy)
        // The failed run's folder says why; the experiment summary and report still come out, naming the failure.
        XCTAssertTrue(
            try String(contentsOfFile: "\(dir)/engine/poisoned/seed-1/failure.txt", encoding: .utf8)
                .contains("method poisoned, seed 1, round 3, client 4"))
        let summary = try EngineFixture.lines("\(dir)/engine/summary.csv")
        XCTAssertEqual(
            Set(summary.dropFirst().map { String($0.split(separator: ",")[1]) }), Set(runner.spec.methods.map(\.label)))
        XCTAssertTrue(
            summary.contains { $0.hasPrefix("engine,poisoned,,1,global_accuracy,") && $0.contains(",false,") })
        let report = try String(contentsOfFile: "\(dir)/engine/report.html", encoding: .utf8)
        XCTAssertTrue(report.contains("method poisoned, seed 1, round 3, client 4"))
    }

    /// A huge learning rate makes real training diverge in the first round: the failure names a client.
    func testHugeLearningRateDivergesWithAClientNamed() throws {
        let dir = try EngineFixture.temporaryDirectory(self)
        let (outcome, _, _) = try EngineFixture.run(
            EngineFixture.yaml(output: dir, methods: "[fedavg, local]", rounds: 2, lr: 1e6))
        XCTAssertEqual(outcome.results.count, 0)
        XCTAssertEqual(outcome.failures.map(\.method), ["fedavg", "local"])
        for failure in outcome.failures {
            XCTAssertEqual(failure.seed, 1)
            XCTAssertEqual(failure.round, 1, failure.description)
            XCTAssertNotNil(failure.client, failure.description)
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(dir)/engine/summary.csv"))
    }

    /// `--resume` keeps complete runs of the same configuration and reruns incomplete or changed
    /// ones; the summary is the same as a fresh run's.
    func testResumeKeepsCompleteRunsAndRerunsTheRest() throws {
        let dir = try EngineFixture.temporaryDirectory(self)
        let yaml = EngineFixture.yaml(output: dir, methods: "[fedavg, local]", rounds: 2, personalGlobalTest: true)
        let first = try EngineFixture.run(yaml)
        let experiment = first.runner.directory
        // summary.csv holds no wall times: the same records give the same file.
        let results = { try String(contentsOfFile: experiment + "/summary.csv", encoding: .utf8) }
        let summary = try results()
        let roundsFile = { (method: String) in experiment + "/\(method)/seed-1/rounds.jsonl" }
        let fedavgRounds = try String(contentsOfFile: roundsFile("fedavg"), encoding: .utf8)
        let localRounds = try String(contentsOfFile: roundsFile("local"), encoding: .utf8)
        // local stopped after round 1, before its first checkpoint (checkpoint_every is 10): no
        // checkpoint to continue from. (Cutting rounds.jsonl behind a checkpoint is an error instead:
        // see CheckpointResumeTests.)
        try String(localRounds.split(separator: "\n")[0] + "\n").write(
            toFile: roundsFile("local"), atomically: true, encoding: .utf8)
        for name in ["checkpoint", "clients.csv"] {
            try FileManager.default.removeItem(atPath: experiment + "/local/seed-1/\(name)")
        }

        let second = try EngineFixture.run(yaml, resume: true)
        XCTAssertTrue(
            second.log.contains { $0.hasPrefix("run fedavg seed 1: complete") && $0.hasSuffix("kept (--resume)") },
            "\(second.log)")
        XCTAssertTrue(
            second.log.contains { $0.hasPrefix("run local seed 1 ->") },
            "the incomplete run starts again: \(second.log)")
        XCTAssertEqual(try String(contentsOfFile: roundsFile("fedavg"), encoding: .utf8), fedavgRounds)
        XCTAssertEqual(
            try String(contentsOfFile: roundsFile("local"), encoding: .utf8), localRounds,
            "rerun from round 1, same records")
        XCTAssertEqual(try results(), summary)
        XCTAssertEqual(second.outcome.results.map(\.records), first.outcome.results.map(\.records))

        // Another configuration: nothing is kept.
        let changed = try EngineFixture.run(
            EngineFixture.yaml(
                output: dir, methods: "[fedavg, local]", rounds: 2, lr: 0.02,
                personalGlobalTest: true), resume: true)
        XCTAssertFalse(changed.log.contains { $0.contains("kept (--resume)") }, "\(changed.log)")
        // Without --resume, everything runs.
        XCTAssertFalse(try EngineFixture.run(yaml).log.contains { $0.contains("kept (--resume)") })
    }

    /// With two workers, the reported failure is the same as with one: the first failing client in
    /// start order (clients start largest first).
    func testFailureReportedIsTheSameWithOneAndTwoWorkers() throws {
        var failures: [Int: RunFailure] = [:]
        var largest = -1
        for workers in [1, 2] {
            let yaml = EngineFixture.yaml(
                output: "unused", methods: "[{ name: fedavg, trainer: { name: test-poison, round: 2 } }]",
                rounds: 3, perRound: "fraction: 1.0", workers: workers)
            let run = try EngineFixture.simulation(yaml)
            let sizes = run.clients.map(\.train.count)
            largest = sizes.indices.max { sizes[$0] != sizes[$1] ? sizes[$0] < sizes[$1] : $0 > $1 }!
            XCTAssertThrowsError(try run.run()) { failures[workers] = $0 as? RunFailure }
        }
        XCTAssertEqual(failures[1]?.description, failures[2]?.description)
        XCTAssertEqual(failures[1]?.client, largest)
        XCTAssertEqual(failures[1]?.round, 2)
    }

    // MARK: - Client state store

    func state(_ values: [[Float]], shapes: [[Int]], prefix: String = "head") throws -> StateDict {
        StateDict(
            try zip(values, shapes).enumerated().map { i, pair in
                ("\(prefix).\(i).weight", try Tensor(pair.0, shape: pair.1))
            })
    }

    func testClientStateStoreRoundTrip() throws {
        let store = ClientStateStore()
        let a = try state([[1, 2, 3, 4, 5, 6], [7, 8]], shapes: [[2, 3], [2]])
        let b = try state([[-1, 0.5]], shapes: [[1, 2]], prefix: "body")
        try store.put(3, a)
        try store.put(7, b)
        XCTAssertEqual(store.count, 2)
        XCTAssertTrue(store.contains(3))
        XCTAssertFalse(store.contains(4))
        XCTAssertNil(try store.get(4))
        XCTAssertEqual(store.bytesInMemory, (8 + 2) * 4)

        let gotA = try XCTUnwrap(store.get(3))
        XCTAssertEqual(gotA.names, a.names)
        XCTAssertEqual(gotA.tensors.map(\.shape), [[2, 3], [2]])
        XCTAssertEqual(try gotA.flattened().floats(), [1, 2, 3, 4, 5, 6, 7, 8])
        XCTAssertEqual(try XCTUnwrap(store.get(7)).flattened().floats(), [-1, 0.5])
        XCTAssertEqual(store.names(3), a.names)

        // The store keeps copies: changing the caller's tensors or a returned state changes nothing.
        try a.tensors[0].fill_(0)
        try gotA.tensors[1].fill_(9)
        XCTAssertEqual(try XCTUnwrap(store.get(3)).flattened().floats(), [1, 2, 3, 4, 5, 6, 7, 8])

        // load(into:) copies matching entries only.
        let target = try state([[0, 0, 0, 0, 0, 0], [0, 0]], shapes: [[2, 3], [2]])
        let layer = StateLayer(target)
        XCTAssertTrue(try store.load(3, into: layer))
        XCTAssertEqual(try target.flattened().floats(), [1, 2, 3, 4, 5, 6, 7, 8])
        XCTAssertFalse(try store.load(5, into: layer))

        // put replaces.
        try store.put(3, try state([[4, 4]], shapes: [[2]]))
        XCTAssertEqual(try XCTUnwrap(store.get(3)).flattened().floats(), [4, 4])
        XCTAssertEqual(store.bytesInMemory, 4 * 4)
    }

    func testClientStateStoreSpillsToDiskAndReadsBack() throws {
        let dir = try EngineFixture.temporaryDirectory(self)
        let stateBytes = 10 * 4
        // Room for two states in memory.
        let store = ClientStateStore(memoryBudget: 2 * stateBytes, spillDirectory: dir + "/spill")
        let values = (0..<6).map { c in (0..<10).map { Float(c * 100 + $0) } }
        for c in 0..<6 {
            try store.put(c, try state([Array(values[c][0..<6]), Array(values[c][6...])], shapes: [[3, 2], [4]]))
        }
        XCTAssertEqual(store.count, 6)
        XCTAssertLessThanOrEqual(store.bytesInMemory, 2 * stateBytes)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir + "/spill").filter {
            $0.hasSuffix(".state")
        }
        XCTAssertGreaterThanOrEqual(files.count, 4, "the least recently used states went to disk: \(files)")
        // Every state comes back exactly, in any order, and memory stays within budget.
        for c in [0, 5, 2, 1, 4, 3, 0] {
            let got = try XCTUnwrap(store.get(c), "client \(c)")
            XCTAssertEqual(got.tensors.map(\.shape), [[3, 2], [4]])
            XCTAssertEqual(try got.flattened().floats(), values[c], "client \(c)")
            XCTAssertLessThanOrEqual(store.bytesInMemory, 2 * stateBytes)
        }
        // A spilled state replaced by put is the new one afterwards.
        try store.put(
            1, try state([Array(repeating: 7, count: 6), Array(repeating: 8, count: 4)], shapes: [[3, 2], [4]]))
        for c in [0, 2, 3, 4, 5] { _ = try store.get(c) }
        XCTAssertEqual(
            try XCTUnwrap(store.get(1)).flattened().floats(),
            Array(repeating: 7, count: 6) + Array(repeating: 8, count: 4))
        XCTAssertEqual(try XCTUnwrap(store.get(3)).flattened().floats(), values[3])
    }

    /// Spill files: exact round trip (also empty), atomic writes, and damaged files named with
    /// their path and the byte where they go wrong.
    func testSpillFileRoundTripAndDamagedFiles() throws {
        let dir = try EngineFixture.temporaryDirectory(self)
        let values: [Float] = [1.5, -2, .greatestFiniteMagnitude, 0, 3e-38]
        try SpillFile.write(Tensor(values), to: dir + "/a.state")
        XCTAssertEqual(try SpillFile.read(dir + "/a.state").floats(), values)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/a.state.partial"))
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: dir + "/a.state")[.size] as? Int, 16 + 5 * 4)
        try SpillFile.write(Tensor([Float]()), to: dir + "/empty.state")
        XCTAssertEqual(try SpillFile.read(dir + "/empty.state").floats(), [])
        // A view of a larger tensor is written as its own values.
        let big = try Tensor((0..<12).map(Float.init), shape: [3, 4])
        try SpillFile.write(big.slice(dim: 1, 1..<3), to: dir + "/view.state")  // not contiguous
        XCTAssertEqual(try SpillFile.read(dir + "/view.state").floats(), [1, 2, 5, 6, 9, 10])

        let whole = try Data(contentsOf: URL(fileURLWithPath: dir + "/a.state"))
        try whole.prefix(30).write(to: URL(fileURLWithPath: dir + "/short.state"))
        XCTAssertThrowsError(try SpillFile.read(dir + "/short.state")) {
            XCTAssertTrue("\($0)".contains("short.state at byte 8"), "\($0)")
        }
        var wrong = whole
        wrong[0] = 0x58
        try wrong.write(to: URL(fileURLWithPath: dir + "/magic.state"))
        XCTAssertThrowsError(try SpillFile.read(dir + "/magic.state")) {
            XCTAssertTrue("\($0)".contains("magic.state at byte 0: not a client state file"), "\($0)")
        }
        XCTAssertThrowsError(try SpillFile.read(dir + "/missing.state")) {
            XCTAssertTrue("\($0)".contains("missing.state"), "\($0)")
        }
        XCTAssertThrowsError(try SpillFile.write(Tensor(values), to: dir + "/no/such/dir/x.state"))
    }

    func testClientStateStoreWithoutSpillDirectoryKeepsEverything() throws {
        let store = ClientStateStore(memoryBudget: 8)
        for c in 0..<3 { try store.put(c, try state([[Float(c), 1, 2]], shapes: [[3]])) }
        XCTAssertEqual(store.bytesInMemory, 3 * 3 * 4)
        XCTAssertEqual(try XCTUnwrap(store.get(2)).flattened().floats(), [2, 1, 2])
    }

    /// A run whose personal states exceed the memory budget spills them and still evaluates the same.
    func testRunWithSpillingStoreMatchesInMemoryRun() throws {
        let yaml = EngineFixture.yaml(output: "unused", methods: "[local]", clients: 6, rounds: 2)
        let inMemory = try EngineFixture.simulation(yaml).run()
        let dir = try EngineFixture.temporaryDirectory(self)
        let spec = try EngineFixture.spec(yaml)
        let dataset = try EngineFixture.registry.make(spec.dataset, as: (any DatasetPlugin).self).load()
        let federation = try FederatedData.make(
            spec: spec, dataset: dataset, seed: 1, registry: EngineFixture.registry, cacheDirectory: nil)
        let manifest = RunManifest(
            experiment: "engine", method: "local", seed: 1, experimentFile: "-", gitCommit: "-", datasetHash: "-",
            partitionHash: "-", fedkitVersion: "-", torchVersion: "-", startedAt: "-", host: "-")
        let writer = try RunWriter(directory: dir + "/run", config: yaml, manifest: manifest)
        let run = try SimulationRun(
            spec: spec, method: spec.methods[0], seed: 1, dataset: dataset, clients: federation.clients,
            registry: EngineFixture.registry, writer: writer)
        run.store.memoryBudget = 1  // spill everything but the state in use
        let spilled = try run.run()
        XCTAssertEqual(spilled.records, inMemory.records)
        XCTAssertGreaterThan(run.store.spillWrites, 0)
        XCTAssertFalse(
            FileManager.default.fileExists(atPath: dir + "/run/client-state"),
            "spill files are scratch, removed at the end")
        // Every client's final personal model is in the checkpoint, one file per client.
        let globalNames = try SafeTensors.read(dir + "/run/checkpoint/global.safetensors").entries.map(\.name)
        let clientRows = try String(contentsOfFile: dir + "/run/clients.csv", encoding: .utf8).split(separator: "\n")
            .dropFirst()
        let withState = clientRows.filter { $0.split(separator: ",")[6] == "true" }.map {
            Int($0.split(separator: ",")[0])!
        }
        XCTAssertFalse(withState.isEmpty)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir + "/run/checkpoint/personal")
        XCTAssertEqual(Set(files), Set(withState.map { "client-\($0).safetensors" }))
        for c in withState {
            let saved = try SafeTensors.read(dir + "/run/checkpoint/personal/client-\(c).safetensors").entries
            XCTAssertEqual(saved.map(\.name), globalNames, "local: the personal state is the whole model")
        }
    }

    // MARK: - Metrics

    func testPersonalizedAccuracyStatisticsByHand() {
        let p = PersonalizedAccuracy(accuracies: [0.5, 1.0, 0.0, 0.75], testSizes: [2, 4, 1, 4])
        XCTAssertEqual(p.clients, 4)
        XCTAssertEqual(p.weightedMean, (1 + 4 + 0 + 3) / 11.0, accuracy: 1e-12)
        XCTAssertEqual(p.mean, 0.5625, accuracy: 1e-12)
        // Population std: deviations -0.0625, 0.4375, -0.5625, 0.1875.
        XCTAssertEqual(p.std, (0.546875 / 4).squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(p.worst, 0)
        XCTAssertEqual(p.bottomDecile, 0, "nearest rank ceil(0.1 * 4) = 1: the lowest")

        // 20 clients 0.00, 0.05, ..., 0.95: the 10th percentile is the 2nd lowest (rank ceil(2.0) = 2).
        let twenty = (0..<20).map { Double($0) / 20 }
        let q = PersonalizedAccuracy(accuracies: twenty.reversed(), testSizes: Array(repeating: 3, count: 20))
        XCTAssertEqual(q.bottomDecile, 0.05, accuracy: 1e-12)
        XCTAssertEqual(q.worst, 0)
        XCTAssertEqual(q.weightedMean, q.mean, accuracy: 1e-12, "equal sizes: weighted mean = mean")
        XCTAssertEqual(q.mean, 0.475, accuracy: 1e-12)
        // 11 clients: rank ceil(1.1) = 2.
        XCTAssertEqual(
            PersonalizedAccuracy(accuracies: (0..<11).map(Double.init), testSizes: Array(repeating: 1, count: 11))
                .bottomDecile, 1)

        let empty = PersonalizedAccuracy(accuracies: [], testSizes: [])
        XCTAssertEqual(empty, PersonalizedAccuracy(accuracies: [], testSizes: []))
        XCTAssertEqual(empty.clients, 0)
        XCTAssertEqual(empty.weightedMean, 0)
        XCTAssertEqual(
            PersonalizedAccuracy(accuracies: [0.5, 1], testSizes: [0, 0]).weightedMean, 0, "no test samples at all")
        XCTAssertEqual(Accuracy.fraction([true, false, true, true]), 0.75)
        XCTAssertEqual(Accuracy.fraction([Bool]()), 0)
    }

    func testRunSummaryUsesFinalAndLastRoundsNeverTheBest() {
        func record(_ round: Int, _ global: Double?) -> RoundRecord {
            RoundRecord(
                round: round, sampledClients: [0], trainLoss: 1, globalAccuracy: global,
                personalized: global.map { PersonalizedAccuracy(accuracies: [$0], testSizes: [1]) },
                personalizedFinetuned: nil, bytesUpPerClient: 0, bytesDownPerClient: 0, server: [:])
        }
        let records = [record(1, 0.2), record(2, 0.9), record(3, nil), record(4, 0.4), record(5, 0.6)]
        let summary = RunSummary.metrics(records, last: 2)
        XCTAssertEqual(summary["global_accuracy"]?.final, 0.6)
        XCTAssertEqual(summary["global_accuracy"]?.lastMean ?? 0, 0.5, accuracy: 1e-12)
        XCTAssertEqual(summary["personalized_worst"]?.final, 0.6)
        XCTAssertNil(summary["personalized_ft_weighted"])
    }

    // MARK: - Client sampling

    func testClientsPerRoundFromFractionOrCount() throws {
        func settings(_ federation: String, clients: Int) throws -> RunSettings {
            let spec = try EngineFixture.spec(
                EngineFixture.yaml(output: "unused", methods: "[fedavg]", clients: 100, perRound: federation))
            return RunSettings(federation: spec.federation, evaluation: spec.evaluation, clients: clients)
        }
        XCTAssertEqual(try settings("fraction: 0.1", clients: 100).clientsPerRound, 10)
        XCTAssertEqual(try settings("fraction: 0.1", clients: 25).clientsPerRound, 3, "2.5 rounds to 3")
        XCTAssertEqual(try settings("fraction: 0.3", clients: 10).clientsPerRound, 3)
        XCTAssertEqual(try settings("fraction: 0.01", clients: 10).clientsPerRound, 1, "at least one client")
        XCTAssertEqual(try settings("fraction: 1.0", clients: 7).clientsPerRound, 7)
        XCTAssertEqual(
            try settings("fraction: 0.5, clients_per_round: 4", clients: 20).clientsPerRound, 4,
            "the count overrides the fraction")
        XCTAssertEqual(
            try settings("clients_per_round: 30", clients: 20).clientsPerRound, 20, "never more than all clients")
    }

    /// `federation.init_seed` seeds the initial global model's generator directly; by default it is
    /// derived from the run's seed.
    func testInitSeedChoosesTheInitialWeights() throws {
        func initialWeights(_ extra: String) throws -> [[Float]] {
            let yaml = EngineFixture.yaml(output: "unused", methods: "[fedavg]", extraFederation: extra)
            return try EngineFixture.simulation(yaml).global.stateDict().tensors.map { try $0.floats() }
        }
        func built(seed: UInt64) throws -> [[Float]] {
            let spec = try EngineFixture.spec(EngineFixture.yaml(output: "unused", methods: "[fedavg]"))
            let dataset = try EngineFixture.registry.make(spec.dataset, as: (any DatasetPlugin).self).load()
            let model = try EngineFixture.registry.make(spec.model, as: (any ModelPlugin).self)
            return try model.build(ModelInput(dataset), generator: RandomGenerator(seed: seed)).stateDict().tensors.map {
                try $0.floats()
            }
        }
        XCTAssertEqual(try initialWeights(""), try built(seed: Seeds.derive(1, "model-init")))
        XCTAssertEqual(try initialWeights(", init_seed: 7"), try built(seed: 7))
        XCTAssertNotEqual(try initialWeights(", init_seed: 7"), try initialWeights(""))
        XCTAssertThrowsError(try EngineFixture.spec(
            EngineFixture.yaml(output: "unused", methods: "[fedavg]", extraFederation: ", init_seed: -1")))
    }

    func testSampledClientsPerRound() throws {
        let yaml = EngineFixture.yaml(
            output: "unused", methods: "[fedavg]", clients: 10, rounds: 6, perRound: "fraction: 0.3")
        let records = try EngineFixture.simulation(yaml).run().records
        XCTAssertEqual(records.count, 6)
        for r in records {
            XCTAssertEqual(r.sampledClients.count, 3)
            XCTAssertEqual(Set(r.sampledClients).count, 3, "distinct clients")
            XCTAssertEqual(r.sampledClients, r.sampledClients.sorted())
            XCTAssertTrue(r.sampledClients.allSatisfy { (0..<10).contains($0) })
        }
        XCTAssertGreaterThan(Set(records.map(\.sampledClients)).count, 1, "rounds draw different clients")
        // Seeded: the same seed draws the same clients; another seed, others.
        XCTAssertEqual(
            try EngineFixture.simulation(yaml).run().records.map(\.sampledClients), records.map(\.sampledClients))
        let other = yaml.replacingOccurrences(of: "seeds: [1]", with: "seeds: [2]")
        XCTAssertNotEqual(
            try EngineFixture.simulation(other).run().records.map(\.sampledClients), records.map(\.sampledClients))
    }

    func testEvalEveryEvaluatesEveryNthAndTheLastRound() throws {
        let yaml = EngineFixture.yaml(output: "unused", methods: "[fedavg]", rounds: 5, evalEvery: 2)
        let records = try EngineFixture.simulation(yaml).run().records
        XCTAssertEqual(records.map { $0.globalAccuracy != nil }, [false, true, false, true, true])
        XCTAssertEqual(records.map { $0.personalized != nil }, [false, true, false, true, true])
    }

    // MARK: - Worker pool

    func testWorkerPoolKeepsOrderReportsTheLowestFailureAndRestoresThreads() throws {
        let pool = try WorkerPool(count: 2, threadsPerWorker: 1) {
            Network(body: [], head: [], generator: RandomGenerator(seed: 0))
        }
        XCTAssertEqual(try pool.map(Array(0..<50)) { _, i in i * i }, (0..<50).map { $0 * $0 })
        XCTAssertEqual(try pool.map([Int]()) { _, i in i }, [])
        struct Boom: Error { let item: Int }
        for _ in 0..<5 {
            XCTAssertThrowsError(
                try pool.map(Array(0..<40)) { _, i -> Int in
                    if i == 7 { usleep(2000); throw Boom(item: i) }
                    if i >= 9 { throw Boom(item: i) }
                    return i
                }
            ) { XCTAssertEqual(($0 as? Boom)?.item, 7) }
        }
        // With costs, jobs start largest first (seen in order with one worker); results stay in input order.
        let single = try WorkerPool(count: 1, threadsPerWorker: 1) {
            Network(body: [], head: [], generator: RandomGenerator(seed: 0))
        }
        let started = LogLines()
        let costs = [3, 9, 1, 9, 5]
        XCTAssertEqual(
            try single.map(Array(0..<5), cost: { costs[$0] }) { _, i -> Int in
                started.append("\(i)"); return 10 * i
            },
            [0, 10, 20, 30, 40])
        XCTAssertEqual(started.all, ["1", "3", "4", "0", "2"])
        TorchThreads.set(2)
        _ = try pool.map(Array(0..<4)) { _, i in i }
        XCTAssertEqual(TorchThreads.current, 2, "the caller's torch thread count is restored")
    }
}

/// A layer whose state is a given StateDict (for ClientStateStore.load(into:)).
final class StateLayer: Layer {
    let state: StateDict
    init(_ state: StateDict) { self.state = state }
    var localParameters: [(name: String, tensor: Tensor)] { state.entries }
    func forward(_ x: Tensor) throws -> Tensor { x }
}

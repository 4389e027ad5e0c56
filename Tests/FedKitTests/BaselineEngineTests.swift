import BuiltinPlugins
import Config
import Foundation
import Torch
import XCTest

@testable import FedKit

/// The personalised-FL baselines through the engine: 2-round runs of every preset, their state
/// kept across rounds, and byte-identical results with one and two workers.
final class BaselineEngineTests: XCTestCase {
    static let presets = ["lg-fedavg", "fedbabu", "scaffold", "apfl", "per-fedavg", "per-fedavg-hf", "pfedme", "l2gd",
                          "fedgen", "feddf", "fedftg"]
    /// The methods as written in the test experiments: the fixture's lr 0.05 needs a smaller L2GD
    /// lambda (averaging step lr lambda / p <= 1); the server steps of the generator methods are
    /// shortened (their full presets run in `testGeneratorBaselinesRunTheirServerSteps`).
    static let shortened = [
        "l2gd": "{ name: l2gd, aggregator: { lambda: 1 } }",
        "fedgen": "{ name: fedgen, generator: { steps: 10 } }",
        "feddf": "{ name: feddf, generator: { steps: 5 }, distiller: { steps: 20 } }",
        "fedftg": "{ name: fedftg, distiller: { iterations: 3 } }",
    ]
    static let methods = "[" + presets.map { shortened[$0] ?? $0 }.joined(separator: ", ") + "]"

    /// The engine fixture with a two-hidden-layer MLP (so that LG-FedAvg has a local layer).
    func yaml(output: String, methods: String, rounds: Int = 2, workers: Int = 2, clients: Int = 6) -> String {
        EngineFixture.yaml(output: output, methods: methods, clients: clients, rounds: rounds, workers: workers)
            .replacingOccurrences(of: "hidden: [16]", with: "hidden: [16, 16]")
    }

    func testEveryBaselinePresetRunsTwoRounds() throws {
        let dir = try EngineFixture.temporaryDirectory(self)
        let presets = Self.presets.filter { EngineFixture.registry.methods[$0] != nil }
        XCTAssertEqual(presets, Self.presets, "every baseline preset is bundled")
        let (outcome, runner, _) = try EngineFixture.run(yaml(output: dir, methods: Self.methods))
        XCTAssertEqual(outcome.failures.map(\.description), [])
        XCTAssertEqual(outcome.results.map(\.method), runner.spec.methods.map(\.label))
        for result in outcome.results {
            XCTAssertEqual(result.records.map(\.round), [1, 2], result.method)
            for r in result.records {
                XCTAssertTrue(r.trainLoss.isFinite, result.method)
                let p = try XCTUnwrap(r.personalized, result.method)
                // evaluate_with: global scores every client, personal only those that have trained.
                let scoresAll = runner.spec.methods.first { $0.label == result.method }?.evaluateWith == .global
                XCTAssertEqual(p.clients, scoresAll ? 6 : r.participants, result.method)
                XCTAssertTrue((0...1).contains(p.weightedMean), result.method)
                XCTAssertNotNil(r.globalAccuracy, result.method)
                XCTAssertGreaterThan(r.bytesUpPerClient, 0, result.method)
            }
            let config = try String(
                contentsOfFile: "\(dir)/engine/\(result.method)/seed-1/config.yaml", encoding: .utf8)
            XCTAssertNoThrow(try EngineFixture.spec(config), "\(result.method): config.yaml loads back")
        }
    }

    /// The same file and seed give byte-identical rounds.jsonl and clients.csv with 1 and 2 workers.
    func testStatefulBaselinesAreIdenticalWithOneAndTwoWorkers() throws {
        let methods = Self.methods
        var files: [Int: [String: Data]] = [:]
        for workers in [1, 2] {
            let dir = try EngineFixture.temporaryDirectory(self)
            let (outcome, runner, _) = try EngineFixture.run(
                yaml(output: dir, methods: methods, rounds: 3, workers: workers))
            XCTAssertEqual(outcome.failures.map(\.description), [])
            for label in runner.spec.methods.map(\.label) {
                for name in ["rounds.jsonl", "clients.csv"] {
                    files[workers, default: [:]]["\(label)/\(name)"] = try Data(
                        contentsOf: URL(fileURLWithPath: "\(dir)/engine/\(label)/seed-1/\(name)"))
                }
            }
        }
        XCTAssertEqual(files[1]?.count, 2 * Self.presets.count)
        for (name, one) in files[1]! {
            XCTAssertFalse(one.isEmpty, name)
            XCTAssertEqual(one, files[2]?[name], "\(name) differs between workers=1 and workers=2")
        }
    }

    /// LG-FedAvg: the lower layers never leave the client. The global model's lower layers stay at
    /// their initial values, each participant keeps exactly the unshared entries, and the top
    /// layers are the average.
    func testLGFedAvgLowerLayersNeverLeaveTheClient() throws {
        let run = try EngineFixture.simulation(yaml(output: "unused", methods: "[lg-fedavg]", rounds: 2))
        let initial = try run.global.stateDict().copy()
        let shared = run.aggregator.communicated(initial).names
        XCTAssertEqual(shared, ["body.4.weight", "body.4.bias", "head.0.weight", "head.0.bias"])
        _ = try run.run()
        let global = run.global.stateDict()
        let lower = global.filter { !shared.contains($0) }
        XCTAssertEqual(
            try lower.flattened().floats(), try initial.filter { !shared.contains($0) }.flattened().floats(),
            "the global model never receives lower layers")
        XCTAssertGreaterThan(try distance(global.filter(shared.contains), initial.filter(shared.contains)), 0)
        var kept: [[Float]] = []
        for c in 0..<6 where run.store.contains(c) {
            let state = try XCTUnwrap(run.store.get(c))
            XCTAssertEqual(state.names, ["body.1.weight", "body.1.bias"], "client \(c) keeps only its lower layers")
            kept.append(try state.flattened().floats())
        }
        XCTAssertGreaterThan(kept.count, 1)
        XCTAssertNotEqual(kept[0], kept[1], "each client has its own lower layers")
    }

    /// FedBABU: the global head is the initial one after training; evaluation fine-tunes per client.
    func testFedBABUGlobalHeadStaysAtItsInitialWeights() throws {
        let run = try EngineFixture.simulation(yaml(output: "unused", methods: "[fedbabu]", rounds: 2))
        let initial = try run.global.stateDict().copy()
        let result = try run.run()
        XCTAssertEqual(
            try run.global.stateDict().under("head").flattened().floats(),
            try initial.under("head").flattened().floats())
        XCTAssertGreaterThan(try distance(run.global.stateDict().under("body"), initial.under("body")), 0)
        XCTAssertEqual(run.store.count, 0, "FedBABU keeps nothing per client")
        XCTAssertNotNil(result.records.last?.personalized)
    }

    /// SCAFFOLD keeps c on the server and every participant's c_i in the carried store; c is
    /// (1/N) times the sum of the participants' c_i (both start at zero).
    func testScaffoldKeepsControlVariatesAcrossRounds() throws {
        let run = try EngineFixture.simulation(yaml(output: "unused", methods: "[scaffold]", rounds: 3))
        _ = try run.run()
        let server = try XCTUnwrap(run.aggregator as? any RoundPayloadSource)
        let c = try server.payload(round: 4)
        XCTAssertEqual(c.names, run.global.namedParameters.map(\.name))
        let sum = try c.flattened().zerosLike()
        var participants = 0
        for client in 0..<6 {
            guard let ci = try run.carriedStore.get(client) else { continue }
            participants += 1
            XCTAssertEqual(ci.names, c.names)
            try sum.add_(ci.flattened())
        }
        XCTAssertGreaterThan(participants, 3)
        let expected = try (sum * (1.0 / 6)).floats(), actual = try c.flattened().floats()
        for (a, e) in zip(actual, expected) { XCTAssertEqual(a, e, accuracy: 1e-5) }
        XCTAssertGreaterThan(try c.flattened().norm().item(), 0)
    }

    /// Every baseline learns the tiny problem: its personalised accuracy ends well above chance (4 classes).
    func testEveryBaselineLearns() throws {
        let dir = try EngineFixture.temporaryDirectory(self)
        let yaml = EngineFixture.yaml(output: dir, methods: Self.methods, rounds: 8, perRound: "fraction: 1.0", lr: 0.1)
            .replacingOccurrences(of: "hidden: [16]", with: "hidden: [16, 16]")
            .replacingOccurrences(
                of: "{ name: l2gd, aggregator: { lambda: 1 } }", with: "{ name: l2gd, aggregator: { lambda: 0.5 } }")
        let (outcome, _, _) = try EngineFixture.run(yaml)
        XCTAssertEqual(outcome.failures.map(\.description), [])
        for result in outcome.results {
            let last = try XCTUnwrap(result.records.last?.personalized?.weightedMean, result.method)
            XCTAssertGreaterThan(
                last, 0.4, "\(result.method): \(result.records.map { $0.personalized?.weightedMean ?? -1 })")
        }
    }

    /// SCAFFOLD's first round is FedAvg's with plain SGD and a uniform mean (c = c_k = 0); the second is not.
    func testScaffoldFirstRoundIsFedAvg() throws {
        let dir = try EngineFixture.temporaryDirectory(self)
        let yaml = yaml(
            output: dir, methods: "[scaffold, { name: fedavg, aggregator: { weighting: uniform } }]", rounds: 2
        )
        .replacingOccurrences(of: "eval_every: 1", with: "eval_every: 1, momentum: 0")
        let (outcome, _, _) = try EngineFixture.run(yaml)
        XCTAssertEqual(outcome.failures.map(\.description), [])
        let scaffold = outcome.results[0].records, fedavg = outcome.results[1].records
        XCTAssertEqual(scaffold[0].globalAccuracy, fedavg[0].globalAccuracy)
        XCTAssertEqual(scaffold[0].personalized, fedavg[0].personalized)
        XCTAssertEqual(scaffold[0].trainLoss, fedavg[0].trainLoss)
        XCTAssertNotEqual(
            scaffold[1].trainLoss, fedavg[1].trainLoss, "from round 2 the control variates correct the local steps")
        XCTAssertEqual(scaffold[1].bytesDownPerClient, 2 * fedavg[1].bytesDownPerClient, "c travels with the model")
    }

    /// FedFTG is FedAvg followed by server-side fine-tuning: with a distillation step that
    /// cannot move the global model (lr 1e-12, no momentum) its rounds are exactly FedAvg's
    /// (the generator and its hard-sample mining only read the global model); with lr 0.01 they
    /// are not.
    func testFedFTGWithAFrozenDistillerIsFedAvg() throws {
        let dir = try EngineFixture.temporaryDirectory(self)
        let methods = """
            [fedavg, { name: fedftg, label: fedftg-frozen, distiller: { lr: 1.0e-12, momentum: 0, iterations: 2 } },
             { name: fedftg, distiller: { iterations: 2, lr: 0.01 } }]
            """
        let (outcome, _, _) = try EngineFixture.run(yaml(output: dir, methods: methods, rounds: 3))
        XCTAssertEqual(outcome.failures.map(\.description), [])
        let records = Dictionary(uniqueKeysWithValues: outcome.results.map { ($0.method, $0.records) })
        let fedavg = try XCTUnwrap(records["fedavg"]), frozen = try XCTUnwrap(records["fedftg-frozen"])
        let tuned = try XCTUnwrap(records["fedftg"])
        XCTAssertEqual(frozen.count, 3)
        for (f, a) in zip(frozen, fedavg) {
            XCTAssertNotNil(f.server["distill.kl_first_step"], "round \(f.round): the server step ran")
            XCTAssertEqual(f.globalAccuracy, a.globalAccuracy, "round \(f.round)")
            XCTAssertEqual(f.personalized, a.personalized, "round \(f.round)")
            XCTAssertEqual(f.trainLoss, a.trainLoss, "round \(f.round)")
        }
        XCTAssertNotEqual(tuned[1].trainLoss, fedavg[1].trainLoss, "a real fine-tuning step moves the global model")
    }

    /// FedGen: the server's feature generator trains after every round (its metrics are in the
    /// round record) and travels to the clients with the next round (bytes down grow by its size);
    /// FedDF and FedFTG distil into the global model after every round.
    func testGeneratorBaselinesRunTheirServerSteps() throws {
        let dir = try EngineFixture.temporaryDirectory(self)
        let (outcome, runner, _) = try EngineFixture.run(yaml(output: dir, methods: "[fedgen, feddf, fedftg, fedavg]", rounds: 2))
        XCTAssertEqual(outcome.failures.map(\.description), [])
        let records = Dictionary(uniqueKeysWithValues: outcome.results.map { ($0.method, $0.records) })
        let fedgen = try XCTUnwrap(records["fedgen"]), fedavg = try XCTUnwrap(records["fedavg"])
        for r in fedgen {
            XCTAssertEqual(r.server["generator.steps"], 50)
            XCTAssertNotNil(r.server["generator.ce"])
            XCTAssertNil(r.server["generator_sample_mean"], "feature samples are not compared with the inputs")
        }
        XCTAssertEqual(fedgen[0].bytesDownPerClient, fedavg[0].bytesDownPerClient, "no generator in round 1")
        XCTAssertGreaterThan(fedgen[1].bytesDownPerClient, fedavg[1].bytesDownPerClient, "G travels with round 2")
        XCTAssertEqual(fedgen[1].bytesUpPerClient, fedavg[1].bytesUpPerClient)
        for method in ["feddf", "fedftg"] {
            for r in try XCTUnwrap(records[method]) {
                XCTAssertNotNil(r.server["distill.kl_first_step"], method)
                XCTAssertNotNil(r.server["generator.loss"], method)
            }
        }
        XCTAssertEqual(try XCTUnwrap(records["fedftg"])[0].server["distill.generator_retrained"], 4)
        XCTAssertEqual(runner.spec.methods.first { $0.label == "fedgen" }?.evaluateWith, .global)
    }

    /// PFLlib's FedGen variant through the engine: with `first_round: untrained` the untrained G
    /// travels with round 1 already, with the federation's label counts (`labels: federation`).
    func testFedGenWithPFLlibsOptionsSendsTheUntrainedGeneratorInRoundOne() throws {
        let dir = try EngineFixture.temporaryDirectory(self)
        let variant = "{ name: fedgen, label: fedgen-pfllib, trainer: { labels: federation, generator_mode: train }, "
            + "generator: { steps: 10, first_round: untrained, labels: federation } }"
        let (outcome, _, _) = try EngineFixture.run(
            yaml(output: dir, methods: "[\(variant), { name: fedgen, generator: { steps: 10 } }, fedavg]", rounds: 2))
        XCTAssertEqual(outcome.failures.map(\.description), [])
        let records = Dictionary(uniqueKeysWithValues: outcome.results.map { ($0.method, $0.records) })
        let pfllib = try XCTUnwrap(records["fedgen-pfllib"]), fedgen = try XCTUnwrap(records["fedgen"])
        let fedavg = try XCTUnwrap(records["fedavg"])
        XCTAssertGreaterThan(pfllib[0].bytesDownPerClient, fedavg[0].bytesDownPerClient, "G travels with round 1")
        XCTAssertGreaterThan(pfllib[0].bytesDownPerClient, fedgen[1].bytesDownPerClient, "and the label counts with it")
        XCTAssertNotEqual(pfllib[0].trainLoss, fedgen[0].trainLoss, "round 1 is regularised by the untrained G")
    }

    /// A feature generator feeds no distiller, and a generator of inputs still needs one: both are
    /// configuration errors at the method's line.
    func testGeneratorAndDistillerMustFit() throws {
        for (methods, fragment) in [
            ("[{ name: fedgen, distiller: { name: ensemble } }]", "not model inputs"),
            ("[{ name: feddf, distiller: null }]", "a generator needs a distiller"),
        ] {
            XCTAssertThrowsError(try EngineFixture.spec(yaml(output: "unused", methods: methods)), methods) { error in
                XCTAssertTrue("\(error)".contains(fragment), "\(error)")
                XCTAssertTrue("\(error)".contains("engine-test.yaml:"), "located: \(error)")
            }
        }
        XCTAssertNoThrow(try EngineFixture.spec(yaml(output: "unused", methods: "[fedgen, feddf, fedftg]")))
    }
}


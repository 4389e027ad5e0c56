import BuiltinPlugins
import Config
import Foundation
import Torch
import Trainers
import XCTest

@testable import FedKit

/// The round in which `FailingTrainer` throws (nil: never), standing in for an interruption.
enum FailInRound {
    nonisolated(unsafe) static var value: Int?
}

/// A built-in trainer that fails in round `FailInRound.value` and otherwise is the trainer itself
/// (same parameters, same evaluation composition).
struct FailingTrainer<T: TrainerPlugin>: TrainerPlugin {
    static var descriptor: PluginDescriptor {
        PluginDescriptor(
            kind: .trainer, name: "test-failing-" + T.descriptor.name, summary: "test only: fails in a given round",
            parameters: T.descriptor.parameters)
    }
    let inner: T
    init(parameters: Parameters) throws { inner = try T(parameters: parameters) }
    func train(_ context: ClientTrainingContext) throws -> LocalTrainingReport {
        if context.round == FailInRound.value { throw PluginError("test interruption in round \(context.round)") }
        return try inner.train(context)
    }
}

extension FailingTrainer: EvaluationComposition where T: EvaluationComposition {
    func composeEvaluationModel(_ context: ClientTrainingContext) throws { try inner.composeEvaluationModel(context) }
}

/// Exact resume of the baselines' state across rounds: SCAFFOLD's server control variate (carried
/// aggregator state) and client control variates, APFL's personal models and alphas (client
/// carried state), L2GD's server-drawn coin runs (derived from the seed and round).
final class BaselineResumeTests: XCTestCase {
    static let registry: PluginRegistry = {
        var registry = try! BuiltinPlugins.registry()
        try! registry.register(FailingTrainer<ScaffoldTrainer>.self)
        try! registry.register(FailingTrainer<APFLTrainer>.self)
        try! registry.register(FailingTrainer<L2GDTrainer>.self)
        try! registry.register(FailingTrainer<FedGenTrainer>.self)
        try! registry.register(FailingTrainer<SGDTrainer>.self)
        return registry
    }()

    override func tearDown() { FailInRound.value = nil }

    static let methods = """
        [{ name: scaffold, trainer: { name: test-failing-scaffold } }, { name: apfl, trainer: { name: test-failing-apfl } },
         { name: l2gd, trainer: { name: test-failing-l2gd }, aggregator: { lambda: 1 } }]
        """

    func run(_ output: String, resume: Bool) throws -> ExperimentRunner.Outcome {
        let yaml = EngineFixture.yaml(
            output: output, methods: Self.methods, rounds: 5, extraFederation: ", checkpoint_every: 1")
        let spec = try ExperimentLoader(registry: Self.registry).resolve(
            YAMLParser.parse(string: yaml, fileName: "resume.yaml"), file: "resume.yaml")
        let runner = ExperimentRunner(spec: spec, registry: Self.registry)
        runner.resume = resume
        runner.log = { _ in }
        return try runner.run()
    }

    func testInterruptedBaselinesResumeExactly() throws {
        let a = try EngineFixture.temporaryDirectory(self), b = try EngineFixture.temporaryDirectory(self)
        XCTAssertEqual(try run(a, resume: false).failures.map(\.description), [])
        FailInRound.value = 3
        XCTAssertEqual(try run(b, resume: false).failures.map(\.method), ["scaffold", "apfl", "l2gd"])
        let scaffoldState = try JSONDecoder().decode(
            RunCheckpoint.State.self,
            from: XCTUnwrap(FileManager.default.contents(atPath: "\(b)/engine/scaffold/seed-1/checkpoint/state.json")))
        XCTAssertEqual(scaffoldState.round, 2)
        XCTAssertEqual(scaffoldState.carried, ["aggregator"])
        XCTAssertFalse(
            (scaffoldState.carriedClients ?? []).isEmpty, "the clients' control variates are in the checkpoint")
        FailInRound.value = nil
        XCTAssertEqual(try run(b, resume: true).failures.map(\.description), [])
        for method in ["scaffold", "apfl", "l2gd"] {
            let run = "engine/\(method)/seed-1"
            // (state.json records timings.jsonl's length, which holds wall times.)
            var files = ["rounds.jsonl", "clients.csv", "checkpoint/global.safetensors"]
            if method == "scaffold" { files.append("checkpoint/carried/aggregator.safetensors") }
            for file in files {
                XCTAssertEqual(
                    FileManager.default.contents(atPath: "\(a)/\(run)/\(file)"),
                    FileManager.default.contents(atPath: "\(b)/\(run)/\(file)"),
                    "\(method): \(file)")
            }
        }
        let clientCarried = try FileManager.default.contentsOfDirectory(
            atPath: "\(a)/engine/apfl/seed-1/checkpoint/client-carried")
        XCTAssertFalse(clientCarried.isEmpty, "APFL's alphas are checkpointed")
        for name in clientCarried {
            let path = "engine/apfl/seed-1/checkpoint/client-carried/\(name)"
            XCTAssertEqual(
                FileManager.default.contents(atPath: "\(a)/\(path)"),
                FileManager.default.contents(atPath: "\(b)/\(path)"), path)
        }
    }

    /// The generator methods' server state: FedGen's feature generator (sent to the clients each
    /// round), FedDF's and FedFTG's warm-started input generators, with their Adam moments.
    static let generatorMethods = """
        [{ name: fedgen, trainer: { name: test-failing-fedgen } }, { name: feddf, trainer: { name: test-failing-sgd } },
         { name: fedftg, trainer: { name: test-failing-sgd } }]
        """

    func runGenerators(_ output: String, resume: Bool) throws -> ExperimentRunner.Outcome {
        let yaml = EngineFixture.yaml(output: output, methods: Self.generatorMethods, rounds: 4, extraFederation: ", checkpoint_every: 1")
        let spec = try ExperimentLoader(registry: Self.registry).resolve(YAMLParser.parse(string: yaml, fileName: "resume.yaml"), file: "resume.yaml")
        let runner = ExperimentRunner(spec: spec, registry: Self.registry)
        runner.resume = resume
        runner.log = { _ in }
        return try runner.run()
    }

    func testInterruptedGeneratorBaselinesResumeExactly() throws {
        let a = try EngineFixture.temporaryDirectory(self), b = try EngineFixture.temporaryDirectory(self)
        XCTAssertEqual(try runGenerators(a, resume: false).failures.map(\.description), [])
        FailInRound.value = 3
        XCTAssertEqual(try runGenerators(b, resume: false).failures.map(\.method), ["fedgen", "feddf", "fedftg"])
        FailInRound.value = nil
        XCTAssertEqual(try runGenerators(b, resume: true).failures.map(\.description), [])
        for method in ["fedgen", "feddf", "fedftg"] {
            let run = "engine/\(method)/seed-1"
            for file in ["rounds.jsonl", "clients.csv", "checkpoint/global.safetensors", "checkpoint/carried/generator.safetensors"] {
                let first = FileManager.default.contents(atPath: "\(a)/\(run)/\(file)")
                XCTAssertNotNil(first, "\(method): \(file)")
                XCTAssertEqual(first, FileManager.default.contents(atPath: "\(b)/\(run)/\(file)"), "\(method): \(file)")
            }
        }
    }
}

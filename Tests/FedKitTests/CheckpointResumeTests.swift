import BuiltinPlugins
import Config
import Foundation
import Torch
import XCTest

@testable import FedKit

/// A test aggregator that carries state across rounds: server momentum over FedAvg's update
/// (v = beta v + (mean - global); global += v). Its results depend on v, so a resume that did not
/// restore v would differ. `FailAtCall.call` makes the n-th aggregation fail (an interruption).
final class ServerMomentumAggregator: AggregatorPlugin, RoundCarriedState, @unchecked Sendable {
    static let beta = ParameterKey.double("beta", default: 0.5, min: 0, max: 1, doc: "momentum")
    static let descriptor = PluginDescriptor(
        kind: .aggregator, name: "test-server-momentum",
        summary: "test only: FedAvg with server momentum (carried state)",
        keys: [beta])
    let beta: Double
    let average: any AggregatorPlugin
    var velocity: Tensor?
    var calls = 0

    init(parameters: Parameters) throws {
        beta = parameters[Self.beta]
        average = try BuiltinPlugins.registry().make(
            PluginChoice(kind: .aggregator, name: "weighted-average"), as: (any AggregatorPlugin).self)
    }

    var updatesGlobalModel: Bool { true }

    func aggregate(_ updates: [ClientUpdate], global: StateDict) throws -> AggregationResult {
        calls += 1
        if FailAtCall.value == calls { throw PluginError("test interruption at aggregation \(calls)") }
        let before = try global.flattened()
        let mean = try global.copy()
        try mean.update(from: average.aggregate(updates, global: global).state)
        let delta = try mean.flattened() - before
        let v = try velocity.map { try $0 * beta + delta } ?? delta
        velocity = v
        let result = try global.copy()
        try result.load(flat: before + v)
        return AggregationResult(state: result)
    }

    func saveCarriedState() throws -> StateDict {
        var entries: [(name: String, tensor: Tensor)] = [("calls", try Tensor([calls]))]
        if let velocity { entries.append(("velocity", try velocity.clone())) }
        return StateDict(entries)
    }

    func restoreCarriedState(_ state: StateDict) throws {
        guard let calls = state["calls"] else { throw PluginError("test-server-momentum: no 'calls' entry") }
        self.calls = try calls.ints()[0]
        velocity = try state["velocity"]?.clone()
    }
}

/// Which aggregation fails (nil: none).
enum FailAtCall {
    nonisolated(unsafe) static var value: Int?
}

final class CheckpointResumeTests: XCTestCase {
    static let registry: PluginRegistry = {
        var registry = try! BuiltinPlugins.registry()
        try! registry.register(ServerMomentumAggregator.self)
        return registry
    }()

    override func tearDown() { FailAtCall.value = nil }

    static let momentum = "{name: fedavg, label: momentum, aggregator: {name: test-server-momentum, beta: 0.5}}"

    func yaml(_ output: String, methods: String = "[\(momentum)]", rounds: Int = 6, every: Int = 1) -> String {
        EngineFixture.yaml(
            output: output, methods: methods,
            rounds: rounds, extraFederation: ", checkpoint_every: \(every)")
    }

    func run(_ yaml: String, resume: Bool) throws -> (ExperimentRunner.Outcome, [String]) {
        let spec = try ExperimentLoader(registry: Self.registry).resolve(
            YAMLParser.parse(string: yaml, fileName: "resume.yaml"), file: "resume.yaml")
        let runner = ExperimentRunner(spec: spec, registry: Self.registry)
        runner.resume = resume
        let lines = LogLines()
        runner.log = { lines.append($0) }
        return (try runner.run(), lines.all)
    }

    func bytes(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }

    /// An interrupted run with plugin state carried across rounds continues from its checkpoint
    /// exactly: records, final weights and the carried state's effect are those of a run that
    /// never stopped.
    func testInterruptedRunResumesExactlyWithCarriedPluginState() throws {
        let a = try EngineFixture.temporaryDirectory(self), b = try EngineFixture.temporaryDirectory(self)
        let methods = "[\(Self.momentum), ditto]"
        let (full, _) = try run(yaml(a, methods: methods), resume: false)
        XCTAssertTrue(full.failures.isEmpty, "\(full.failures)")

        FailAtCall.value = 4
        let (stopped, _) = try run(yaml(b, methods: methods), resume: false)
        XCTAssertEqual(stopped.failures.map(\.method), ["momentum"])
        let runB = "\(b)/engine/momentum/seed-1"
        XCTAssertEqual(try EngineFixture.lines("\(runB)/rounds.jsonl").count, 3)
        let state = try JSONDecoder().decode(RunCheckpoint.State.self, from: bytes("\(runB)/checkpoint/state.json")!)
        XCTAssertEqual(state.round, 3)
        XCTAssertEqual(state.carried, ["aggregator"])
        XCTAssertEqual(RunStatus.read(runB)?.state, .failed)

        FailAtCall.value = nil
        let (resumed, log) = try run(yaml(b, methods: methods), resume: true)
        XCTAssertTrue(resumed.failures.isEmpty, "\(resumed.failures)")
        XCTAssertTrue(log.contains { $0.hasPrefix("run momentum seed 1: resuming after round 3 of 6") }, "\(log)")
        XCTAssertTrue(log.contains { $0.hasPrefix("run ditto seed 1: complete") }, "\(log)")
        for file in [
            "rounds.jsonl", "clients.csv", "checkpoint/global.safetensors", "checkpoint/carried/aggregator.safetensors",
        ] {
            XCTAssertEqual(bytes("\(a)/engine/momentum/seed-1/\(file)"), bytes("\(runB)/\(file)"), file)
        }
        XCTAssertEqual(bytes("\(a)/engine/summary.csv"), bytes("\(b)/engine/summary.csv"))
        XCTAssertEqual(RunStatus.read(runB)?.state, .done)
    }

    /// Without restoring the carried state the result differs: the test above can fail.
    func testCarriedStateMatters() throws {
        let a = try EngineFixture.temporaryDirectory(self), b = try EngineFixture.temporaryDirectory(self)
        _ = try run(yaml(a), resume: false)
        FailAtCall.value = 4
        _ = try run(yaml(b), resume: false)
        FailAtCall.value = nil
        // Drop the velocity from the checkpoint (and fix its file list and hash) so the resume starts with v = 0.
        let checkpoint = "\(b)/engine/momentum/seed-1/checkpoint"
        try StateDict([("calls", try Tensor([3]))]).save(to: "\(checkpoint)/carried/aggregator.safetensors")
        var state = try JSONDecoder().decode(RunCheckpoint.State.self, from: bytes("\(checkpoint)/state.json")!)
        let data = bytes("\(checkpoint)/carried/aggregator.safetensors")!
        state.files["carried/aggregator.safetensors"] = RunCheckpoint.FileCheck(
            bytes: data.count, fnv1a: RunCheckpoint.hash(data))
        try JSONEncoder().encode(state).write(to: URL(fileURLWithPath: "\(checkpoint)/state.json"))
        let (resumed, _) = try run(yaml(b), resume: true)
        XCTAssertTrue(resumed.failures.isEmpty)
        XCTAssertNotEqual(
            bytes("\(a)/engine/momentum/seed-1/rounds.jsonl"), bytes("\(b)/engine/momentum/seed-1/rounds.jsonl"))
    }

    /// A damaged checkpoint file, a checkpoint of another configuration, and a run folder cut back
    /// behind its checkpoint are errors that name the file; the run is not restarted.
    func testDamagedOrMismatchedCheckpointIsAnError() throws {
        let dir = try EngineFixture.temporaryDirectory(self)
        FailAtCall.value = 3
        _ = try run(yaml(dir), resume: false)
        FailAtCall.value = nil
        let runDir = "\(dir)/engine/momentum/seed-1"
        let checkpoint = "\(runDir)/checkpoint"
        let original = bytes("\(checkpoint)/global.safetensors")!
        var damaged = original
        damaged[damaged.count - 3] ^= 0x40
        try damaged.write(to: URL(fileURLWithPath: "\(checkpoint)/global.safetensors"))
        var (outcome, _) = try run(yaml(dir), resume: true)
        XCTAssertEqual(outcome.failures.count, 1)
        XCTAssertTrue(
            outcome.failures[0].message.contains("global.safetensors: damaged checkpoint file"),
            outcome.failures[0].message)
        XCTAssertEqual(try EngineFixture.lines("\(runDir)/rounds.jsonl").count, 2, "nothing rerun")

        try original.write(to: URL(fileURLWithPath: "\(checkpoint)/global.safetensors"))
        let stateText = String(decoding: bytes("\(checkpoint)/state.json")!, as: UTF8.self)
        let config = try JSONDecoder().decode(RunCheckpoint.State.self, from: Data(stateText.utf8)).config
        try stateText.replacingOccurrences(of: config, with: "0123456789abcdef").write(
            toFile: "\(checkpoint)/state.json", atomically: true, encoding: .utf8)
        (outcome, _) = try run(yaml(dir), resume: true)
        XCTAssertTrue(outcome.failures.first?.message.contains("belongs to another run") == true, "\(outcome.failures)")

        try stateText.write(toFile: "\(checkpoint)/state.json", atomically: true, encoding: .utf8)
        try "".write(toFile: "\(runDir)/rounds.jsonl", atomically: true, encoding: .utf8)
        (outcome, _) = try run(yaml(dir), resume: true)
        XCTAssertTrue(
            outcome.failures.first?.message.contains("rounds.jsonl: 0 bytes, the checkpoint recorded") == true,
            "\(outcome.failures)")

        try "garbage".write(toFile: "\(checkpoint)/state.json", atomically: true, encoding: .utf8)
        (outcome, _) = try run(yaml(dir), resume: true)
        XCTAssertTrue(
            outcome.failures.first?.message.contains("unreadable checkpoint state") == true, "\(outcome.failures)")
    }

    /// A run killed between parking the old checkpoint and renaming the new one in resumes from
    /// the parked one; a half-written checkpoint.partial is ignored.
    func testCheckpointParkedDuringTheSwapIsUsed() throws {
        let a = try EngineFixture.temporaryDirectory(self), b = try EngineFixture.temporaryDirectory(self)
        _ = try run(yaml(a), resume: false)
        FailAtCall.value = 4
        _ = try run(yaml(b), resume: false)
        FailAtCall.value = nil
        let runB = "\(b)/engine/momentum/seed-1"
        let fm = FileManager.default
        try fm.moveItem(atPath: "\(runB)/checkpoint", toPath: "\(runB)/checkpoint.previous")
        try fm.createDirectory(atPath: "\(runB)/checkpoint.partial", withIntermediateDirectories: true)
        try Data("half".utf8).write(to: URL(fileURLWithPath: "\(runB)/checkpoint.partial/global.safetensors"))
        let (resumed, log) = try run(yaml(b), resume: true)
        XCTAssertTrue(resumed.failures.isEmpty, "\(resumed.failures)")
        XCTAssertTrue(
            log.contains { $0.contains("resuming after round 3 of 6") && $0.contains("checkpoint.previous") }, "\(log)")
        XCTAssertEqual(bytes("\(a)/engine/momentum/seed-1/rounds.jsonl"), bytes("\(runB)/rounds.jsonl"))
        XCTAssertFalse(fm.fileExists(atPath: "\(runB)/checkpoint.previous"))
        XCTAssertFalse(fm.fileExists(atPath: "\(runB)/checkpoint.partial"))
    }

    /// How a run is executed (workers, threads, checkpoint interval, output folder) is not part of
    /// its fingerprint; what it computes is.
    func testFingerprintIgnoresExecutionSettings() throws {
        func fingerprint(
            _ extra: String, lr: Double = 0.05, workers: Int = 2, output: String = "/tmp/x"
        ) throws -> String {
            let yaml = EngineFixture.yaml(
                output: output, methods: "[fedavg]", workers: workers, lr: lr, extraFederation: extra)
            let spec = try ExperimentLoader(registry: Self.registry).resolve(
                YAMLParser.parse(string: yaml, fileName: "f.yaml"), file: "f.yaml")
            return RunFingerprint.of(ResolvedExperiment.yaml(for: spec, registry: Self.registry))
        }
        let base = try fingerprint("")
        XCTAssertEqual(
            base,
            try fingerprint(
                ", threads_per_worker: 2, checkpoint_every: 3, state_memory_mb: 8", workers: 1, output: "/tmp/y"))
        XCTAssertNotEqual(base, try fingerprint("", lr: 0.1))
        XCTAssertNotEqual(base, try fingerprint(", momentum: 0.9"))
    }

    /// A config.yaml of an earlier build (keys added since are absent, values renamed since have
    /// their old name) is the same setting as today's resolved config at the earlier behaviour;
    /// any other value of such a key, or any other difference, is another setting.
    func testEarlierBuildsConfigIsTheSameSetting() throws {
        let yaml = EngineFixture.yaml(output: "/tmp/x", methods: "[fedavg]", workers: 2, lr: 0.05, extraFederation: "")
        let spec = try ExperimentLoader(registry: Self.registry).resolve(
            YAMLParser.parse(string: yaml, fileName: "f.yaml"), file: "f.yaml")
        let current = ResolvedExperiment.yaml(for: spec, registry: Self.registry)
        let text = YAMLEmitter.emit(current)
        func edited(_ transform: (String) -> String) throws -> YAMLNode {
            let changed = transform(text)
            XCTAssertNotEqual(changed, text, "the edit applies")
            return try YAMLParser.parse(string: changed, fileName: "config.yaml")
        }
        func without(_ key: String) -> (String) -> String {
            { $0.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.contains("\(key):") }
                .joined(separator: "\n") }
        }
        let earlier = try edited(without("batched_clients"))
        XCTAssertNotEqual(RunFingerprint.of(earlier), RunFingerprint.of(current))
        XCTAssertTrue(RunFingerprint.sameSetting(written: earlier, current: current))
        XCTAssertEqual(RunFingerprint.setting(earlier), RunFingerprint.setting(current))
        // `exp sweep --status` reads such a folder as its task's (tasks.jsonl of earlier builds
        // have no setting: only the exact fingerprint matches there).
        var task = SweepTask(
            task: 0, run: "fedavg/seed-1", cell: "", method: "fedavg", seed: 1, set: [],
            config: RunFingerprint.of(current), setting: RunFingerprint.setting(current))
        XCTAssertTrue(SweepPlan.matches(YAMLEmitter.emit(earlier), task))
        task.setting = nil
        XCTAssertFalse(SweepPlan.matches(YAMLEmitter.emit(earlier), task))
        XCTAssertTrue(SweepPlan.matches(text, task))
        XCTAssertTrue(RunFingerprint.sameSetting(written: try edited(without("drop_last")), current: current))
        XCTAssertEqual(ConfigHistory.canonical(["dataset.normalize": "true"]), ["dataset.normalize": "standard"])
        XCTAssertEqual(ConfigHistory.canonical(["methods.0.generator.output": "linear", "federation.lr": "0.1"]), ["federation.lr": "0.1"])
        // FedBKD's published image path changes samples only on CIFAR: elsewhere it reads as before it existed.
        let published = ["methods.0.generator.image_path": "published", "federation.lr": "0.1"]
        XCTAssertEqual(
            ConfigHistory.canonical(published.merging(["dataset.name": "fashion-mnist"]) { $1 }),
            ["dataset.name": "fashion-mnist", "federation.lr": "0.1"])
        XCTAssertEqual(
            ConfigHistory.canonical(published.merging(["dataset.name": "cifar10"]) { $1 }),
            published.merging(["dataset.name": "cifar10"]) { $1 })
        XCTAssertEqual(
            ConfigHistory.canonical(["methods.0.generator.image_path": "raw", "dataset.name": "cifar10"]),
            ["dataset.name": "cifar10"])
        let auto = try edited { $0.replacingOccurrences(of: "batched_clients: \"off\"", with: "batched_clients: \"auto\"") }
        XCTAssertFalse(RunFingerprint.sameSetting(written: auto, current: current))
        XCTAssertFalse(RunFingerprint.sameSetting(written: try edited(without("momentum")), current: current))
        let workers = try edited { $0.replacingOccurrences(of: "workers: 2", with: "workers: 1") }
        XCTAssertTrue(RunFingerprint.sameSetting(written: workers, current: current))
    }
}

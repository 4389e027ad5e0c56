import BuildCommit
import Config
import Foundation
import Torch

/// Runs every method of an experiment on every seed, on the same data, partition and
/// initial weights per seed, and writes the per-run folders and the experiment summary.
public final class ExperimentRunner: @unchecked Sendable {
    public let spec: ExperimentSpec
    public let registry: PluginRegistry
    /// Called after every round of every run.
    public var progress: (@Sendable (RunProgress) -> Void)?
    /// Keep runs already complete in the output folder with the same resolved configuration and
    /// continue interrupted ones from their latest checkpoint (`exp run --resume`); runs whose
    /// configuration changed start again from round 1.
    public var resume = false
    /// Run folders go under this folder of the experiment folder (a sweep cell; "" for none).
    public var cellFolder = ""
    /// Write only the run folders, not the experiment's config.yaml, summary.csv and report.html:
    /// sweep tasks run at the same time and never write one shared file (a collect step does).
    public var runFoldersOnly = false
    /// Called with plain log lines.
    public var log: @Sendable (String) -> Void = { print($0) }

    public init(spec: ExperimentSpec, registry: PluginRegistry) {
        self.spec = spec
        self.registry = registry
    }

    /// The experiment's output folder.
    public var directory: String { "\(spec.output)/\(spec.name)" }

    /// Results of all runs and the failures (a failed run does not stop the others).
    public struct Outcome: Sendable {
        public var results: [RunResult]
        public var failures: [RunFailure]
        /// summary.csv, or nil when `runFoldersOnly` is set.
        public var summaryPath: String?
        /// What summary.csv and report.html were made from (every run in the experiment's folder);
        /// nil when `runFoldersOnly` is set.
        public var report: Report?
    }

    public func run() throws -> Outcome {
        let datasetPlugin = try registry.make(spec.dataset, as: (any DatasetPlugin).self)
        log("loading dataset \(spec.dataset.name)")
        var dataset = try datasetPlugin.load()
        log(
            "\(dataset.name): \(dataset.train.count) train / \(dataset.test.count) test samples, \(dataset.classes) classes, input \(dataset.inputShape)"
        )
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if !runFoldersOnly {
            try RunWriter.writeAtomically(YAMLEmitter.emit(spec.resolved), to: "\(directory)/config.yaml")
        }
        var results: [RunResult] = []
        var failures: [RunFailure] = []
        for (index, seed) in spec.seeds.enumerated() {
            var federation = try FederatedData.make(
                spec: spec, dataset: dataset, seed: seed, registry: registry,
                cacheDirectory: "\(spec.output)/.cache/partitions")
            // After the last partition, runs read only the clients' own copies: free the full training set.
            if index == spec.seeds.count - 1 { dataset = try dataset.withoutTrainingSamples() }
            // A partition file whose pool includes the test set brings its own test set.
            let runDataset = try federation.pooledDataset?.withoutTrainingSamples() ?? dataset
            federation.pooledDataset = nil
            log("seed \(seed): \(federation.summaryLine)")
            for method in spec.methods {
                do {
                    results.append(try runOne(method, seed: seed, dataset: runDataset, federation: federation))
                } catch let failure as RunFailure {
                    log("run failed: \(failure)")
                    failures.append(failure)
                } catch {
                    let failure = RunFailure(method: method.label, seed: seed, message: "\(error)")
                    log("run failed: \(failure)")
                    failures.append(failure)
                }
            }
        }
        if runFoldersOnly { return Outcome(results: results, failures: failures, summaryPath: nil, report: nil) }
        // The same collect step as `exp report`: the summary is made from the run folders' files.
        let report: Report
        do {
            report = try ReportCollector.collect(directories: [directory])
            try report.write(to: directory)
        } catch {
            throw ReportError(
                "the runs are written, but the summary is not: \(error) (fix it, then run `exp report \(directory)`)")
        }
        return Outcome(results: results, failures: failures, summaryPath: "\(directory)/summary.csv", report: report)
    }

    /// The folder of one run.
    public func runDirectory(_ method: String, seed: Int) -> String {
        "\(directory)/" + (cellFolder.isEmpty ? "" : "\(cellFolder)/") + "\(method)/seed-\(seed)"
    }

    func runOne(_ method: MethodSpec, seed: Int, dataset: DatasetSplits, federation: FederatedData) throws -> RunResult
    {
        let runDirectory = runDirectory(method.label, seed: seed)
        // Before anything is read or changed; held until this run returns.
        let lock = try RunFolderLock(runDirectory: runDirectory)
        defer { withExtendedLifetime(lock) {} }
        if !lock.held { log("note: \(lock.path) cannot be locked here: a second process could write this run at the same time") }
        var single = spec
        single.methods = [method]
        single.seeds = [seed]
        let configNode = ResolvedExperiment.yaml(for: single, registry: registry)
        let config = YAMLEmitter.emit(configNode)
        let fingerprint = RunFingerprint.of(configNode)
        let settings = RunSettings(
            federation: spec.federation, evaluation: spec.evaluation, clients: federation.clients.count)
        var checkpoint: RunCheckpoint?
        // A run folder written by an earlier FedKit keeps its config.yaml and its fingerprint.
        var checkpointFingerprint = fingerprint
        if resume {
            if let done = CompletedRun.load(
                directory: runDirectory, method: method.label, seed: seed, config: config,
                rounds: settings.rounds, lastRounds: settings.lastRounds)
            {
                log("run \(method.label) seed \(seed): complete in \(runDirectory), kept (--resume)")
                return done
            }
            if let found = try resumableCheckpoint(runDirectory, current: configNode, fingerprint: fingerprint) {
                checkpoint = found.checkpoint
                checkpointFingerprint = found.fingerprint
            }
        }
        let writer: RunWriter
        if let checkpoint {
            writer = try RunWriter(
                resuming: runDirectory, roundsBytes: checkpoint.state.roundsBytes,
                timingsBytes: checkpoint.state.timingsBytes)
            log(
                "run \(method.label) seed \(seed): resuming after round \(checkpoint.state.round) of \(checkpoint.state.rounds) from \(checkpoint.directory) (--resume)"
            )
        } else {
            let manifest = RunManifest(
                experiment: spec.name, method: method.label, seed: seed, experimentFile: spec.file,
                gitCommit: Provenance.gitCommit(), datasetHash: dataset.contentHash,
                partitionHash: federation.partitionHash,
                fedkitVersion: FedKitVersion.current, torchVersion: "libtorch 1.13 (Debian)",
                startedAt: ISO8601DateFormatter().string(from: Date()), host: ProcessInfo.processInfo.hostName)
            writer = try RunWriter(directory: runDirectory, config: config, manifest: manifest)
            log("run \(method.label) seed \(seed) -> \(runDirectory)")
        }
        try writer.writePartition(federation.partition)
        try writer.clearFailure()
        let status = RunStatusFile(
            directory: runDirectory, round: checkpoint?.state.round ?? 0, rounds: settings.rounds)
        let progress = self.progress
        do {
            let run = try SimulationRun(
                spec: spec, method: method, seed: seed, dataset: dataset, clients: federation.clients,
                registry: registry, writer: writer,
                progress: { p in
                    status.update(round: p.round)
                    progress?(p)
                })
            // What the manifest learns at each start: the global model's kind, and a resumption.
            let globalModel = try run.globalModelIsWhole() ? "whole" : "partial"
            let resumption = checkpoint.map {
                RunManifest.Resumption(
                    gitCommit: Provenance.gitCommit(), afterRound: $0.state.round,
                    at: ISO8601DateFormatter().string(from: Date()), host: ProcessInfo.processInfo.hostName)
            }
            try RunManifest.update(in: runDirectory) { manifest in
                manifest.globalModel = globalModel
                if let resumption { manifest.resumed = (manifest.resumed ?? []) + [resumption] }
            }
            run.checkpointer = RunCheckpointer(
                run: runDirectory, every: settings.checkpointEvery, config: checkpointFingerprint)
            run.resumeFrom = checkpoint
            let result = try run.run()
            status.finish(.done)
            return result
        } catch {
            status.finish(.failed, message: "\(error)")
            // The run folder says why it stopped: the collect step reads only per-run files.
            let failure = error as? RunFailure ?? RunFailure(method: method.label, seed: seed, message: "\(error)")
            try? writer.writeFailure(failure.description)
            throw failure
        }
    }

    /// The checkpoint an interrupted run continues from, with the fingerprint its folder's
    /// config.yaml has: nil when the folder has none, or when it was made with another setting
    /// (the run starts again from round 1, as a changed run does). A folder written by an earlier
    /// FedKit whose config.yaml lacks keys added since (`RunFingerprint.sameSetting`) continues,
    /// and keeps its config.yaml and fingerprint. Throws when the checkpoint is damaged or does
    /// not match its folder.
    func resumableCheckpoint(_ runDirectory: String, current: YAMLNode, fingerprint: String) throws -> (
        checkpoint: RunCheckpoint, fingerprint: String
    )? {
        guard RunCheckpoint.exists(in: runDirectory) else { return nil }
        let configPath = "\(runDirectory)/config.yaml"
        guard let written = try? String(contentsOfFile: configPath, encoding: .utf8) else {
            throw CheckpointError(
                path: configPath, message: "missing or unreadable beside a checkpoint; delete the run folder to start it again")
        }
        guard let writtenFingerprint = RunFingerprint.of(text: written),
            RunFingerprint.sameSetting(writtenText: written, current: current)
        else {
            log("run folder \(runDirectory) was made with another configuration: starting again from round 1")
            return nil
        }
        if writtenFingerprint != fingerprint {
            log(
                "run folder \(runDirectory) was made by an earlier FedKit (its config.yaml lacks keys added since, at their earlier behaviour): the same setting, continued"
            )
        }
        guard let checkpoint = try RunCheckpoint.load(run: runDirectory, config: writtenFingerprint) else { return nil }
        return (checkpoint, writtenFingerprint)
    }
}

/// Where a result came from.
public enum Provenance {
    /// The commit this binary was built from (embedded at build time, not the checkout's HEAD at
    /// run time): the hash, "+dirty" for a build of a tree with uncommitted changes to tracked
    /// files, "+archive" for a build from a `git archive` tarball, or "unknown".
    public static func gitCommit() -> String { BuildCommit.value }
}

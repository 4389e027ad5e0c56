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
    /// Keep runs already complete in the output folder with the same resolved configuration
    /// (`exp run --resume`); the others run from round 1.
    public var resume = false
    /// End with the collect step over the experiment's folder (summary.csv, report.html). A sweep
    /// task turns it off: one collect step after all tasks makes the summary, not every run at once.
    public var collectsReport = true
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
        /// summary.csv, or nil when `collectsReport` is off.
        public var summaryPath: String?
        /// What summary.csv and report.html were made from (every run in the experiment's folder);
        /// nil when `collectsReport` is off.
        public var report: Report?
    }

    public func run() throws -> Outcome {
        let datasetPlugin = try registry.make(spec.dataset, as: (any DatasetPlugin).self)
        log("loading dataset \(spec.dataset.name)")
        var dataset = try datasetPlugin.load()
        log("\(dataset.name): \(dataset.train.count) train / \(dataset.test.count) test samples, \(dataset.classes) classes, input \(dataset.inputShape)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try RunWriter.writeAtomically(YAMLEmitter.emit(spec.resolved), to: "\(directory)/config.yaml")
        var results: [RunResult] = []
        var failures: [RunFailure] = []
        for (index, seed) in spec.seeds.enumerated() {
            let federation = try FederatedData.make(spec: spec, dataset: dataset, seed: seed, registry: registry,
                                                    cacheDirectory: "\(spec.output)/.cache/partitions")
            // After the last partition, runs read only the clients' own copies: free the full training set.
            if index == spec.seeds.count - 1 { dataset = try dataset.withoutTrainingSamples() }
            log("seed \(seed): \(federation.summaryLine)")
            for method in spec.methods {
                do {
                    results.append(try runOne(method, seed: seed, dataset: dataset, federation: federation))
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
        // The same collect step as `exp report`: the summary is made from the run folders' files.
        guard collectsReport else { return Outcome(results: results, failures: failures, summaryPath: nil, report: nil) }
        let report: Report
        do {
            report = try ReportCollector.collect(directories: [directory])
            try report.write(to: directory)
        } catch {
            throw ReportError("the runs are written, but the summary is not: \(error) (fix it, then run `exp report \(directory)`)")
        }
        return Outcome(results: results, failures: failures, summaryPath: "\(directory)/summary.csv", report: report)
    }

    func runOne(_ method: MethodSpec, seed: Int, dataset: DatasetSplits, federation: FederatedData) throws -> RunResult {
        let runDirectory = "\(directory)/\(method.label)/seed-\(seed)"
        var single = spec
        single.methods = [method]
        single.seeds = [seed]
        let config = YAMLEmitter.emit(ResolvedExperiment.yaml(for: single, registry: registry))
        if resume {
            let settings = RunSettings(federation: spec.federation, evaluation: spec.evaluation, clients: federation.clients.count)
            if let done = CompletedRun.load(directory: runDirectory, method: method.label, seed: seed, config: config,
                                            rounds: settings.rounds, lastRounds: settings.lastRounds) {
                log("run \(method.label) seed \(seed): complete in \(runDirectory), kept (--resume)")
                return done
            }
        }
        let manifest = RunManifest(
            experiment: spec.name, method: method.label, seed: seed, experimentFile: spec.file,
            gitCommit: Provenance.gitCommit(), datasetHash: dataset.contentHash, partitionHash: federation.partitionHash,
            fedkitVersion: FedKitVersion.current, torchVersion: "libtorch 1.13 (Debian)",
            startedAt: ISO8601DateFormatter().string(from: Date()), host: ProcessInfo.processInfo.hostName)
        let writer = try RunWriter(directory: runDirectory, config: config, manifest: manifest)
        try writer.writePartition(federation.partition)
        log("run \(method.label) seed \(seed) -> \(runDirectory)")
        do {
            let run = try SimulationRun(spec: spec, method: method, seed: seed, dataset: dataset, clients: federation.clients,
                                        registry: registry, writer: writer, progress: progress)
            return try run.run()
        } catch {
            // The run folder says why it stopped: the collect step reads only per-run files.
            let failure = error as? RunFailure ?? RunFailure(method: method.label, seed: seed, message: "\(error)")
            try? writer.writeFailure(failure.description)
            throw failure
        }
    }
}

/// Where a result came from.
public enum Provenance {
    /// The current git commit (with "+dirty" when the work tree has changes), or "unknown".
    public static func gitCommit() -> String {
        func git(_ args: [String]) -> String? {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["git"] + args
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = FileHandle.nullDevice
            do { try process.run() } catch { return nil }
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else { return nil }
            return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        guard let commit = git(["rev-parse", "HEAD"]) else { return "unknown" }
        let dirty = git(["status", "--porcelain", "--untracked-files=no"]).map { !$0.isEmpty } ?? false
        return dirty ? commit + "+dirty" : commit
    }
}

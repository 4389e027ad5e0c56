import Foundation
import Torch

/// Writes one run's folder `runs/<experiment>/<method>/seed-<s>/` as it goes: records are
/// appended and flushed every round, so a run that stops keeps everything written so far.
public final class RunWriter: @unchecked Sendable {
    public let directory: String
    private let rounds: FileHandle
    private let timings: FileHandle
    private let encoder: JSONEncoder

    /// Creates the folder (replacing an earlier run's files) and writes config.yaml and manifest.json.
    public init(directory: String, config: String, manifest: RunManifest) throws {
        self.directory = directory
        let fm = FileManager.default
        if fm.fileExists(atPath: directory) { try fm.removeItem(atPath: directory) }
        try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Self.writeAtomically(config, to: "\(directory)/config.yaml")
        let manifestEncoder = JSONEncoder()
        manifestEncoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try Self.writeAtomically(
            String(decoding: try manifestEncoder.encode(manifest), as: UTF8.self) + "\n",
            to: "\(directory)/manifest.json")
        for name in ["rounds.jsonl", "timings.jsonl"] { fm.createFile(atPath: "\(directory)/\(name)", contents: nil) }
        rounds = try FileHandle(forWritingTo: URL(fileURLWithPath: "\(directory)/rounds.jsonl"))
        timings = try FileHandle(forWritingTo: URL(fileURLWithPath: "\(directory)/timings.jsonl"))
        encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
    }

    /// Reopens a run folder to continue it from a checkpoint: config.yaml and manifest.json stay,
    /// rounds.jsonl and timings.jsonl are cut back to their lengths at the checkpoint's round (the
    /// rounds after it run again). Throws when rounds.jsonl is shorter than the checkpoint says.
    public init(resuming directory: String, roundsBytes: UInt64, timingsBytes: UInt64) throws {
        self.directory = directory
        let roundsPath = "\(directory)/rounds.jsonl", timingsPath = "\(directory)/timings.jsonl"
        let fm = FileManager.default
        let roundsSize = ((try? fm.attributesOfItem(atPath: roundsPath))?[.size] as? NSNumber)?.uint64Value ?? 0
        guard roundsSize >= roundsBytes else {
            throw CheckpointError(
                path: roundsPath,
                message:
                    "\(roundsSize) bytes, the checkpoint recorded \(roundsBytes): the run folder was changed after the checkpoint"
            )
        }
        if !fm.fileExists(atPath: timingsPath) { fm.createFile(atPath: timingsPath, contents: nil) }
        rounds = try FileHandle(forWritingTo: URL(fileURLWithPath: roundsPath))
        timings = try FileHandle(forWritingTo: URL(fileURLWithPath: timingsPath))
        try rounds.truncate(atOffset: roundsBytes)
        try rounds.seekToEnd()
        // Timings are wall times: a file shorter than recorded (not synced before a crash) is kept as it is.
        let timingsEnd = try timings.seekToEnd()
        if timingsEnd > timingsBytes { try timings.truncate(atOffset: timingsBytes) }
        try timings.seekToEnd()
        encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
    }

    /// Current lengths of rounds.jsonl and timings.jsonl in bytes (recorded in checkpoints).
    public func lengths() throws -> (rounds: UInt64, timings: UInt64) {
        (try rounds.offset(), try timings.offset())
    }

    deinit {
        try? rounds.close()
        try? timings.close()
    }

    /// Appends one round's record and timing (one JSON object per line).
    public func append(record: RoundRecord, timing: RoundTiming) throws {
        try rounds.write(contentsOf: try encoder.encode(record) + Data("\n".utf8))
        try timings.write(contentsOf: try encoder.encode(timing) + Data("\n".utf8))
        try rounds.synchronize()
    }

    /// Writes clients.csv (global_test_accuracy stays the last column: CompletedRun reads it back).
    public func writeClients(_ rows: [ClientRow]) throws {
        // A never-trained client is marked in evaluated_with and gets empty accuracy cells.
        func cell(_ v: Double?) -> String { v.map { "\($0)" } ?? "" }
        var csv =
            "client,train_samples,validation_samples,test_samples,classes,times_sampled,has_personal_state,evaluated_with,personalized_accuracy,validation_accuracy,global_test_accuracy\n"
        for r in rows {
            csv +=
                "\(r.client),\(r.trainSamples),\(r.validationSamples),\(r.testSamples),\(r.classes),\(r.timesSampled),\(r.hasPersonalState),\(r.evaluatedWith),\(cell(r.personalizedAccuracy)),\(cell(r.validationAccuracy)),\(cell(r.globalTestAccuracy))\n"
        }
        try Self.writeAtomically(csv, to: "\(directory)/clients.csv")
    }

    /// Writes partition.csv: the training samples per class of every client (`client,size,c0,c1,...`),
    /// from which the report draws the partition heatmap.
    public func writePartition(_ partition: PartitionSummary) throws {
        try Self.writeAtomically(partition.csv, to: "\(directory)/partition.csv")
    }

    /// Writes failure.txt: why the run stopped (the report lists failed runs from it).
    public func writeFailure(_ message: String) throws {
        try Self.writeAtomically(message + "\n", to: "\(directory)/failure.txt")
    }

    /// Removes the failure.txt of an earlier attempt (a run that resumes is running again).
    public func clearFailure() throws {
        let path = "\(directory)/failure.txt"
        if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
    }

    /// Saves the final global model and every stored personal state as safetensors under
    /// checkpoint/ (`global.safetensors`, `personal/client-<c>.safetensors`), one client at a time:
    /// a thousand spilled personal models are never all in memory at once.
    public func saveCheckpoint(global: StateDict, store: ClientStateStore, clients: Int, round: Int) throws {
        let dir = "\(directory)/checkpoint"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try global.save(to: "\(dir)/global.safetensors", metadata: ["round": String(round)])
        if store.count > 0 {
            try FileManager.default.createDirectory(atPath: "\(dir)/personal", withIntermediateDirectories: true)
        }
        for c in 0..<clients {
            guard let state = try store.get(c) else { continue }
            try state.save(
                to: "\(dir)/personal/client-\(c).safetensors", metadata: ["round": String(round), "client": String(c)])
        }
    }

    /// Writes `text` to a temporary file and renames it over `path`: never half-written.
    public static func writeAtomically(_ text: String, to path: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}

/// manifest.json: what produced a run.
public struct RunManifest: Codable, Sendable {
    public var experiment: String
    public var method: String
    public var seed: Int
    public var experimentFile: String
    public var gitCommit: String
    public var datasetHash: String
    public var partitionHash: String
    public var fedkitVersion: String
    public var torchVersion: String
    public var startedAt: String
    public var host: String
    /// Each time the run was continued from a checkpoint (`--resume`), in order; absent when it
    /// ran in one go.
    public var resumed: [Resumption]?
    /// "whole" when the server's global model is a whole model of the method, "partial" when
    /// entries its clients keep for themselves are never exchanged (`SimulationRun.globalModelIsWhole`:
    /// FedPer's and FedRep's heads, LG-FedAvg's lower layers), so that its global accuracy is not
    /// the method's; absent in runs of builds before session 10.
    public var globalModel: String?

    /// One continuation of a run: the build, after which round, when and where.
    public struct Resumption: Codable, Sendable, Equatable {
        public var gitCommit: String
        public var afterRound: Int
        public var at: String
        public var host: String

        enum CodingKeys: String, CodingKey {
            case at, host
            case gitCommit = "git_commit"
            case afterRound = "after_round"
        }
    }

    public init(
        experiment: String, method: String, seed: Int, experimentFile: String, gitCommit: String, datasetHash: String,
        partitionHash: String, fedkitVersion: String, torchVersion: String, startedAt: String, host: String
    ) {
        self.experiment = experiment
        self.method = method
        self.seed = seed
        self.experimentFile = experimentFile
        self.gitCommit = gitCommit
        self.datasetHash = datasetHash
        self.partitionHash = partitionHash
        self.fedkitVersion = fedkitVersion
        self.torchVersion = torchVersion
        self.startedAt = startedAt
        self.host = host
    }

    enum CodingKeys: String, CodingKey {
        case experiment, method, seed, host
        case experimentFile = "experiment_file"
        case gitCommit = "git_commit"
        case datasetHash = "dataset_hash"
        case partitionHash = "partition_hash"
        case fedkitVersion = "fedkit_version"
        case torchVersion = "torch_version"
        case startedAt = "started_at"
        case resumed
        case globalModel = "global_model"
    }

    /// Rewrites the manifest.json of the run folder `directory` (atomically) with `change` applied.
    public static func update(in directory: String, _ change: (inout RunManifest) -> Void) throws {
        let path = "\(directory)/manifest.json"
        var manifest: RunManifest
        do {
            manifest = try JSONDecoder().decode(
                RunManifest.self, from: try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw CheckpointError(path: path, message: "unreadable manifest of the run: \(error)")
        }
        change(&manifest)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try RunWriter.writeAtomically(String(decoding: try encoder.encode(manifest), as: UTF8.self) + "\n", to: path)
    }
}

/// FedKit's version string.
public enum FedKitVersion {
    public static let current = "0.1.0"
}

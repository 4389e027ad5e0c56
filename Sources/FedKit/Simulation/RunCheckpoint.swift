import Foundation
import Torch

/// A run's state after a round, under the run folder's `checkpoint/`: everything the next round
/// reads, so that `--resume` continues exactly where the run stopped.
///
/// Layout: `global.safetensors` (the global model), `personal/client-<c>.safetensors` (each stored
/// personal state), `client-carried/client-<c>.safetensors` (each client's state carried besides
/// it, `ClientTrainingContext.carried`), `carried/<role>.safetensors` (state of plugins adopting `RoundCarriedState`:
/// a warm-started generator and its optimiser, ...), and `state.json`: the format version, the
/// run's configuration fingerprint, the round, how often each client was sampled, the latest
/// per-client accuracies, the round records so far, the lengths of rounds.jsonl and timings.jsonl
/// at that round, and the size and FNV-1a hash of every file above. The random streams need no
/// saving: every one is derived by hashing (seed, purpose, round, client), and the client sampler
/// is drawn afresh each round from (seed, "sample", round).
///
/// A checkpoint is written whole into `checkpoint.partial/`, then renamed over `checkpoint/`
/// (the old one parked as `checkpoint.previous/` for the instant between the two renames), so a
/// run killed at any moment leaves a complete checkpoint or the previous one, never half of one.
public struct RunCheckpoint: Sendable {
    public static let formatVersion = 1

    /// state.json.
    public struct State: Codable, Sendable {
        public var format: Int
        public var config: String
        public var round: Int
        public var rounds: Int
        public var timesSampled: [Int]
        public var lastClientAccuracies: [Double?]?
        public var lastValidationAccuracies: [Double?]?
        public var records: [RoundRecord]
        public var roundsBytes: UInt64
        public var timingsBytes: UInt64
        public var personalClients: [Int]
        /// Clients with a carried state besides the personal one (absent in checkpoints of methods without).
        public var carriedClients: [Int]?
        public var carried: [String]
        public var files: [String: FileCheck]

        enum CodingKeys: String, CodingKey {
            case format, config, round, rounds, records, carried, files
            case timesSampled = "times_sampled"
            case lastClientAccuracies = "last_client_accuracies"
            case lastValidationAccuracies = "last_validation_accuracies"
            case roundsBytes = "rounds_jsonl_bytes"
            case timingsBytes = "timings_jsonl_bytes"
            case personalClients = "personal_clients"
            case carriedClients = "carried_clients"
        }
    }

    /// Size and content hash of one checkpoint file.
    public struct FileCheck: Codable, Sendable, Equatable {
        public var bytes: Int
        public var fnv1a: String
    }

    /// The folder the checkpoint was read from.
    public let directory: String
    public let state: State

    /// checkpoint/ of a run folder, and the folders used while one is written.
    public static func folder(_ run: String) -> String { "\(run)/checkpoint" }
    static func partialFolder(_ run: String) -> String { "\(run)/checkpoint.partial" }
    static func previousFolder(_ run: String) -> String { "\(run)/checkpoint.previous" }

    /// Whether the run folder holds a round checkpoint (complete or not, valid or not).
    public static func exists(in run: String) -> Bool {
        let fm = FileManager.default
        return fm.fileExists(atPath: folder(run) + "/state.json")
            || fm.fileExists(atPath: previousFolder(run) + "/state.json")
    }

    /// The round of the run folder's latest checkpoint from its state.json alone (no file is
    /// checked: for status listings), or nil.
    public static func round(in run: String) -> Int? {
        for dir in [folder(run), previousFolder(run)] {
            if let data = FileManager.default.contents(atPath: dir + "/state.json"),
                let state = try? JSONDecoder().decode(State.self, from: data)
            {
                return state.round
            }
        }
        return nil
    }

    /// Reads and checks the latest checkpoint of the run folder `run`: nil when there is none;
    /// throws `CheckpointError` when it is damaged, of another format, or made with another
    /// configuration than `config` (a fingerprint, `RunFingerprint`).
    public static func load(run: String, config: String) throws -> RunCheckpoint? {
        let fm = FileManager.default
        var directory = folder(run)
        if !fm.fileExists(atPath: directory + "/state.json") {
            // Killed between parking the old checkpoint and renaming the new one into place.
            guard fm.fileExists(atPath: previousFolder(run) + "/state.json") else { return nil }
            directory = previousFolder(run)
        }
        let statePath = directory + "/state.json"
        let state: State
        do {
            state = try JSONDecoder().decode(State.self, from: Data(contentsOf: URL(fileURLWithPath: statePath)))
        } catch {
            throw CheckpointError(
                path: statePath,
                message: "unreadable checkpoint state (\(error)); delete the run folder to start it again")
        }
        guard state.format == formatVersion else {
            throw CheckpointError(
                path: statePath, message: "checkpoint format \(state.format), this FedKit reads format \(formatVersion)"
            )
        }
        guard state.config == config else {
            throw CheckpointError(
                path: statePath,
                message:
                    "checkpoint made with configuration \(state.config), the run's configuration is \(config): it belongs to another run; delete the run folder to start it again"
            )
        }
        guard state.round >= 1, state.round <= state.rounds, state.records.count == state.round,
            state.records.map(\.round) == Array(1...state.round), state.timesSampled.allSatisfy({ $0 >= 0 })
        else {
            throw CheckpointError(
                path: statePath,
                message:
                    "inconsistent checkpoint: round \(state.round) of \(state.rounds) with \(state.records.count) records"
            )
        }
        var expected = ["global.safetensors"] + state.personalClients.map { "personal/client-\($0).safetensors" }
        expected += (state.carriedClients ?? []).map { "client-carried/client-\($0).safetensors" }
        expected += state.carried.map { "carried/\($0).safetensors" }
        guard Set(expected) == Set(state.files.keys) else {
            throw CheckpointError(
                path: statePath,
                message: "inconsistent checkpoint: its file list does not match its clients and plugins")
        }
        for name in expected.sorted() {
            let path = "\(directory)/\(name)"
            guard let data = fm.contents(atPath: path) else {
                throw CheckpointError(path: path, message: "missing checkpoint file")
            }
            let check = FileCheck(bytes: data.count, fnv1a: hash(data))
            guard check == state.files[name] else {
                throw CheckpointError(
                    path: path,
                    message:
                        "damaged checkpoint file: \(check.bytes) bytes with hash \(check.fnv1a), expected \(state.files[name]!.bytes) bytes with hash \(state.files[name]!.fnv1a)"
                )
            }
        }
        return RunCheckpoint(directory: directory, state: state)
    }

    /// The global model's state.
    public func global() throws -> StateDict { try tensors("global.safetensors") }

    /// A client's personal state.
    public func personal(_ client: Int) throws -> StateDict { try tensors("personal/client-\(client).safetensors") }

    /// A client's carried state (besides its personal state).
    public func clientCarried(_ client: Int) throws -> StateDict {
        try tensors("client-carried/client-\(client).safetensors")
    }

    /// A plugin's carried state, by role (trainer, aggregator, generator, distiller).
    public func carried(_ role: String) throws -> StateDict { try tensors("carried/\(role).safetensors") }

    func tensors(_ name: String) throws -> StateDict {
        do { return try StateDict.load(from: "\(directory)/\(name)") } catch {
            throw CheckpointError(path: "\(directory)/\(name)", message: "\(error)")
        }
    }

    static func hash(_ data: Data) -> String {
        var h = FNV1a()
        h.combine(data)
        return h.hex
    }
}

/// A damaged or mismatched checkpoint: never a silent restart.
public struct CheckpointError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var message: String
    public var description: String { "\(path): \(message)" }
}

/// What a run passes to `RunCheckpointer.save` after a round.
public struct RunCheckpointContent {
    public var round: Int
    public var rounds: Int
    public var global: StateDict
    public var store: ClientStateStore
    public var clients: Int
    public var timesSampled: [Int]
    public var lastClientAccuracies: [Double?]?
    public var lastValidationAccuracies: [Double?]?
    public var records: [RoundRecord]
    public var carried: [(role: String, state: StateDict)]
    /// The clients' carried states (`ClientTrainingContext.carried`), nil or empty when none.
    public var clientCarried: ClientStateStore? = nil
    public var roundsBytes: UInt64
    public var timingsBytes: UInt64
}

/// Writes a run's round checkpoints every `every` rounds and after the last one.
public final class RunCheckpointer: @unchecked Sendable {
    /// The run folder.
    public let run: String
    public let every: Int
    /// The run's configuration fingerprint (`RunFingerprint`), written into every checkpoint.
    public let config: String

    public init(run: String, every: Int, config: String) {
        self.run = run
        self.every = max(1, every)
        self.config = config
    }

    /// Whether round `round` of `rounds` is checkpointed.
    public func isDue(round: Int, rounds: Int) -> Bool { round % every == 0 || round == rounds }

    /// Writes the checkpoint into checkpoint.partial/ and renames it into place.
    public func save(_ content: RunCheckpointContent) throws {
        let fm = FileManager.default
        let partial = RunCheckpoint.partialFolder(run)
        if fm.fileExists(atPath: partial) { try fm.removeItem(atPath: partial) }
        try fm.createDirectory(atPath: partial + "/personal", withIntermediateDirectories: true)
        var files: [String: RunCheckpoint.FileCheck] = [:]
        func write(_ state: StateDict, _ name: String, _ metadata: [String: String]) throws {
            let path = "\(partial)/\(name)"
            try state.save(to: path, metadata: metadata)
            guard let data = fm.contents(atPath: path) else {
                throw CheckpointError(path: path, message: "cannot read back what was written")
            }
            files[name] = RunCheckpoint.FileCheck(bytes: data.count, fnv1a: RunCheckpoint.hash(data))
        }
        let round = String(content.round)
        try write(content.global, "global.safetensors", ["round": round])
        var personal: [Int] = []
        for c in 0..<content.clients {
            guard let state = try content.store.get(c) else { continue }
            try write(state, "personal/client-\(c).safetensors", ["round": round, "client": String(c)])
            personal.append(c)
        }
        var carriedClients: [Int] = []
        if let clientCarried = content.clientCarried, clientCarried.count > 0 {
            try fm.createDirectory(atPath: partial + "/client-carried", withIntermediateDirectories: true)
            for c in 0..<content.clients {
                guard let state = try clientCarried.get(c) else { continue }
                try write(state, "client-carried/client-\(c).safetensors", ["round": round, "client": String(c)])
                carriedClients.append(c)
            }
        }
        if !content.carried.isEmpty {
            try fm.createDirectory(atPath: partial + "/carried", withIntermediateDirectories: true)
        }
        for (role, state) in content.carried {
            try write(state, "carried/\(role).safetensors", ["round": round, "role": role])
        }
        TestHooks.checkpointWritten(round: content.round)
        let state = RunCheckpoint.State(
            format: RunCheckpoint.formatVersion, config: config, round: content.round, rounds: content.rounds,
            timesSampled: content.timesSampled, lastClientAccuracies: content.lastClientAccuracies,
            lastValidationAccuracies: content.lastValidationAccuracies, records: content.records,
            roundsBytes: content.roundsBytes, timingsBytes: content.timingsBytes, personalClients: personal,
            carriedClients: carriedClients.isEmpty ? nil : carriedClients,
            carried: content.carried.map(\.role), files: files)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try encoder.encode(state).write(to: URL(fileURLWithPath: partial + "/state.json"), options: .atomic)
        // Swap: checkpoint -> checkpoint.previous, checkpoint.partial -> checkpoint, drop previous.
        let current = RunCheckpoint.folder(run), previous = RunCheckpoint.previousFolder(run)
        if fm.fileExists(atPath: previous) {
            // An earlier swap was interrupted: keep whichever of the two is complete as the current one.
            if fm.fileExists(atPath: current + "/state.json") {
                try fm.removeItem(atPath: previous)
            } else {
                if fm.fileExists(atPath: current) { try fm.removeItem(atPath: current) }
                try fm.moveItem(atPath: previous, toPath: current)
            }
        }
        if fm.fileExists(atPath: current) { try fm.moveItem(atPath: current, toPath: previous) }
        try fm.moveItem(atPath: partial, toPath: current)
        if fm.fileExists(atPath: previous) { try fm.removeItem(atPath: previous) }
    }
}

/// Test hooks (documented in docs/sweeps.md), read here and nowhere else:
/// - `FEDKIT_TEST_KILL_IN_ROUND=N`: the process kills itself (SIGKILL) after round N's record is
///   written and before its checkpoint;
/// - `FEDKIT_TEST_KILL_DURING_CHECKPOINT=N`: it kills itself in the middle of writing round N's
///   checkpoint (tensors written, state.json not);
/// - `FEDKIT_TEST_ROUND_DELAY=SECONDS`: it sleeps that long after every round, so that a test can
///   requeue a Slurm task while it runs.
/// The kill-and-resume tests use them to stop a run at a deterministic point.
public enum TestHooks {
    static let environment = ProcessInfo.processInfo.environment
    static let killInRound = environment["FEDKIT_TEST_KILL_IN_ROUND"].flatMap(Int.init)
    static let killDuringCheckpoint = environment["FEDKIT_TEST_KILL_DURING_CHECKPOINT"].flatMap(Int.init)
    static let roundDelay = environment["FEDKIT_TEST_ROUND_DELAY"].flatMap(Double.init)

    static func roundRecorded(round: Int) {
        if round == killInRound { kill(getpid(), SIGKILL) }
        if let roundDelay, roundDelay > 0 { Thread.sleep(forTimeInterval: roundDelay) }
    }

    static func checkpointWritten(round: Int) { if round == killDuringCheckpoint { kill(getpid(), SIGKILL) } }
}

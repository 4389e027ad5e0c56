import Foundation

/// status.json in a run folder: whether the run is running, done or failed, its round, and where
/// it runs (host, process, Slurm job), rewritten atomically after every round. `exp sweep
/// --status` reads it; a run found "running" whose process is gone on this host was interrupted.
public struct RunStatus: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable { case running, done, failed }

    public var state: State
    public var round: Int
    public var rounds: Int
    public var host: String
    public var pid: Int32
    /// `<array job>_<task>` under Slurm, else nil.
    public var slurmJob: String?
    public var startedAt: String
    public var updatedAt: String
    public var message: String?

    enum CodingKeys: String, CodingKey {
        case state, round, rounds, host, pid, message
        case slurmJob = "slurm_job"
        case startedAt = "started_at"
        case updatedAt = "updated_at"
    }

    public static let fileName = "status.json"

    /// The status in `runDirectory`, or nil when there is none (or it is unreadable).
    public static func read(_ runDirectory: String) -> RunStatus? {
        guard let data = FileManager.default.contents(atPath: "\(runDirectory)/\(fileName)") else { return nil }
        return try? JSONDecoder().decode(RunStatus.self, from: data)
    }

    /// Whether the process named here is gone (only knowable on the same host).
    public var processIsGone: Bool {
        host == ProcessInfo.processInfo.hostName && kill(pid, 0) != 0 && errno == ESRCH
    }
}

/// Keeps one run's status.json up to date.
final class RunStatusFile: @unchecked Sendable {
    let directory: String
    private var status: RunStatus
    private let lock = NSLock()

    init(directory: String, round: Int, rounds: Int) {
        self.directory = directory
        let env = ProcessInfo.processInfo.environment
        let slurm = env["SLURM_ARRAY_JOB_ID"].map { "\($0)_\(env["SLURM_ARRAY_TASK_ID"] ?? "")" } ?? env["SLURM_JOB_ID"]
        let now = Self.now()
        status = RunStatus(
            state: .running, round: round, rounds: rounds, host: ProcessInfo.processInfo.hostName,
            pid: getpid(), slurmJob: slurm, startedAt: now, updatedAt: now, message: nil)
        write()
    }

    func update(round: Int) { change { $0.round = round } }
    func finish(_ state: RunStatus.State, message: String? = nil) {
        change {
            $0.state = state; $0.message = message
        }
    }

    private func change(_ edit: (inout RunStatus) -> Void) {
        lock.withLock {
            edit(&status)
            status.updatedAt = Self.now()
        }
        write()
    }

    private func write() {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        guard let data = lock.withLock({ try? encoder.encode(status) }) else { return }
        // Advisory: a status that cannot be written never stops the run.
        try? data.write(to: URL(fileURLWithPath: "\(directory)/\(RunStatus.fileName)"), options: .atomic)
    }

    static func now() -> String { ISO8601DateFormatter().string(from: Date()) }
}

import Config
import Foundation

/// Where a sweep task stands, read from its run folder only (runs of one sweep may run on other
/// machines that share the folder).
public enum TaskState: Sendable, Equatable {
    /// Complete, with the planned configuration.
    case done
    /// status.json says running (and, on this host, its process is alive); the round reached and
    /// when status.json was last written (ISO 8601).
    case running(round: Int, rounds: Int, host: String, slurmJob: String?, updatedAt: String)
    /// status.json says failed.
    case failed(message: String)
    /// Stopped before the end (killed, pre-empted): continues from the checkpoint's round.
    case interrupted(checkpointRound: Int?)
    /// Not started (or its folder was made with other settings).
    case pending

    public var name: String {
        switch self {
        case .done: return "done"
        case .running: return "running"
        case .failed: return "failed"
        case .interrupted: return "interrupted"
        case .pending: return "pending"
        }
    }

    /// Needs to run (again): everything but done and running.
    public var isUnfinished: Bool {
        switch self {
        case .done, .running: return false
        default: return true
        }
    }
}

extension SweepPlan {
    /// The result of task `i` when its run folder is complete with the planned configuration.
    public func completedResult(_ i: Int) -> RunResult? {
        let spec = specs[i]
        let task = tasks[i]
        let dir = runDirectory(task)
        guard let written = try? String(contentsOfFile: "\(dir)/config.yaml", encoding: .utf8),
            Self.matches(written, task)
        else { return nil }
        return CompletedRun.load(
            directory: dir, method: task.method, seed: task.seed, config: written,
            rounds: spec.federation[Sections.Federation.rounds],
            lastRounds: spec.evaluation[Sections.Evaluation.lastRounds])
    }

    /// Whether a run folder's config.yaml is the task's setting: the same fingerprint, or a
    /// config.yaml of an earlier build of the same setting (`RunFingerprint.sameSetting`).
    static func matches(_ written: String, _ task: SweepTask) -> Bool {
        if RunFingerprint.of(text: written) == task.config { return true }
        guard let setting = task.setting else { return false }
        return RunFingerprint.setting(text: written) == setting
    }

    /// The state of task `i`.
    public func state(_ i: Int) -> TaskState {
        let dir = runDirectory(tasks[i])
        if completedResult(i) != nil { return .done }
        guard let written = try? String(contentsOfFile: "\(dir)/config.yaml", encoding: .utf8),
            Self.matches(written, tasks[i])
        else { return .pending }
        let checkpointRound = RunCheckpoint.round(in: dir)
        guard let status = RunStatus.read(dir) else { return .interrupted(checkpointRound: checkpointRound) }
        switch status.state {
        case .failed: return .failed(message: status.message ?? "")
        case .running where !status.processIsGone:
            return .running(
                round: status.round, rounds: status.rounds, host: status.host, slurmJob: status.slurmJob,
                updatedAt: status.updatedAt)
        default: return .interrupted(checkpointRound: checkpointRound)
        }
    }
}

import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// An exclusive lock on one run folder, held while a process runs it, so that a second process
/// given the same run (a queue started twice, a Slurm task requeued while the first still runs,
/// `exp run` without `--resume` beside a running `--resume`) stops with an error before it reads,
/// replaces or appends to anything.
///
/// The lock is `flock(2)` on `<method folder>/.seed-<s>.lock`, beside the run folder rather than
/// in it, since starting a run again replaces its folder. The kernel releases it when the process
/// ends, however it ends, so no stale lock outlives a crash or a `kill -9`. On a file system
/// without `flock` (some network mounts) the run goes on unlocked and `held` is false.
public final class RunFolderLock {
    /// The lock file.
    public let path: String
    /// Whether the lock is held (false only where the file system cannot lock).
    public let held: Bool
    private let descriptor: Int32

    /// Takes the lock of `runDirectory` without waiting; throws `RunFolderBusy` when another
    /// process (or another lock object in this one) holds it.
    public init(runDirectory: String) throws {
        let folder = URL(fileURLWithPath: runDirectory)
        let parent = folder.deletingLastPathComponent().path
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        path = "\(parent)/.\(folder.lastPathComponent).lock"
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        // A folder that cannot hold the lock file cannot hold the run either: its writes will say so.
        guard descriptor >= 0 else {
            held = false
            return
        }
        if flock(descriptor, LOCK_EX | LOCK_NB) == 0 {
            held = true
            return
        }
        guard errno == EWOULDBLOCK else {
            held = false  // ENOLCK, EOPNOTSUPP: no locking on this file system
            return
        }
        close(descriptor)
        throw RunFolderBusy(runDirectory: runDirectory, reason: Self.holder(runDirectory))
    }

    deinit { if descriptor >= 0 { close(descriptor) } }

    /// Who holds the folder, from its status.json when there is one.
    static func holder(_ runDirectory: String) -> String {
        guard let status = RunStatus.read(runDirectory) else { return "another process is running it" }
        var location = "pid \(status.pid) on \(status.host)"
        if let job = status.slurmJob { location += ", Slurm job \(job)" }
        return "another process is running it (\(location), round \(status.round) of \(status.rounds), "
            + "status.json updated \(status.updatedAt))"
    }
}

/// A run folder another process is writing.
public struct RunFolderBusy: Error, CustomStringConvertible, Sendable {
    public var runDirectory: String
    public var reason: String
    public var description: String {
        "run folder \(runDirectory): \(reason); not starting a second writer (wait for it, or stop it and "
            + "run again with --resume)"
    }
}

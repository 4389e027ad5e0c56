import FedKit
import Foundation

/// `exp sweep --backend local`: runs the unfinished tasks of a plan as `exp run --task I`
/// processes, `jobs` at a time, with a progress line (done / running / failed / pending, ETA).
final class LocalSweep {
    let plan: SweepPlan
    let jobs: Int
    let executable: String
    let arguments: [String]
    let threads: TaskThreads
    private let isTerminal = isatty(STDERR_FILENO) == 1

    init(plan: SweepPlan, jobs: Int, executable: String, arguments: [String], threads: TaskThreads) {
        self.plan = plan
        self.jobs = jobs
        self.executable = executable
        self.arguments = arguments
        self.threads = threads
    }

    /// Runs every task that is not done (or running elsewhere); returns the failed task numbers.
    func run() throws -> [Int] {
        let states = plan.tasks.indices.map(plan.state)
        var queue = plan.tasks.indices.filter { states[$0].isUnfinished }
        let elsewhere = plan.tasks.indices.filter {
            if case .running = states[$0] { return true } else { return false }
        }
        let done = plan.tasks.indices.filter { states[$0] == .done }
        if !done.isEmpty { log("\(done.count) task(s) already done, kept") }
        if !elsewhere.isEmpty {
            log("task(s) \(SlurmScript.ranges(elsewhere)) are running in another process: left to it")
        }
        let logs = "\(plan.directory)/logs"
        try FileManager.default.createDirectory(atPath: logs, withIntermediateDirectories: true)
        let rounds = plan.specs.map { $0.federation[Sections.Federation.rounds] }
        let totalRounds = rounds.reduce(0, +)
        var finished = Set(done)
        var failed: [Int] = []
        var active: [Int: Process] = [:]
        let start = Date()
        let roundsAtStart = progressRounds(finished: finished, active: [], rounds: rounds)
        var lastLine = ""
        queue.reverse()
        while !queue.isEmpty || !active.isEmpty {
            while active.count < jobs, let next = queue.popLast() {
                active[next] = try launch(next, log: "\(logs)/task-\(next).log")
            }
            Thread.sleep(forTimeInterval: 0.25)
            for (task, process) in active where !process.isRunning {
                active[task] = nil
                finished.insert(task)
                if process.terminationStatus != 0 || process.terminationReason != .exit {
                    failed.append(task)
                    log(
                        "task \(task) failed (exit \(process.terminationStatus)): \(plan.tasks[task].run); log: \(logs)/task-\(task).log"
                    )
                }
            }
            let now = progressRounds(finished: finished, active: Array(active.keys), rounds: rounds)
            let elapsed = Date().timeIntervalSince(start)
            let rate = Double(now - roundsAtStart) / max(elapsed, 1e-9)
            let eta = rate > 0 ? Self.duration(Double(totalRounds - now) / rate) : "–"
            let line =
                "sweep: \(finished.count - failed.count)/\(plan.tasks.count) done, \(active.count) running, \(failed.count) failed, \(queue.count) pending  ETA \(eta)"
            if isTerminal {
                FileHandle.standardError.write(Data("\r\u{1B}[2K\(line)".utf8))
            } else if line.prefix(while: { $0 != "E" }) != lastLine.prefix(while: { $0 != "E" }) {
                FileHandle.standardError.write(Data((line + "\n").utf8))
            }
            lastLine = line
        }
        if isTerminal { FileHandle.standardError.write(Data("\r\u{1B}[2K\(lastLine)\n".utf8)) }
        return failed.sorted()
    }

    /// Rounds finished: whole tasks, plus the rounds the running ones report in status.json.
    func progressRounds(finished: Set<Int>, active: [Int], rounds: [Int]) -> Int {
        finished.reduce(0) { $0 + rounds[$1] }
            + active.reduce(0) { $0 + (RunStatus.read(plan.runDirectory(plan.tasks[$1]))?.round ?? 0) }
    }

    func launch(_ task: Int, log path: String) throws -> Process {
        let fm = FileManager.default
        if !fm.fileExists(atPath: path) { _ = fm.createFile(atPath: path, contents: nil) }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments =
            ["run"] + arguments + ["--task", String(task)] + threads.overrides.flatMap { ["--set", $0] }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        return process
    }

    func log(_ line: String) {
        FileHandle.standardError.write(Data(((isTerminal ? "\r\u{1B}[2K" : "") + line + "\n").utf8))
    }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "–" }
        let s = Int(seconds.rounded())
        return s >= 3600
            ? "\(s / 3600)h\(String(format: "%02d", s % 3600 / 60))m"
            : s >= 60 ? "\(s / 60)m\(String(format: "%02d", s % 60))s" : "\(s)s"
    }
}

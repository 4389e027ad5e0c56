import Foundation

/// How a sweep task uses its CPUs: `federation.workers` x `threads_per_worker` within its share.
public struct TaskThreads: Sendable, Equatable {
    public var workers: Int
    public var threadsPerWorker: Int

    /// Fits the file's workers into `cpus` CPUs: at most `cpus` workers, then as many threads each
    /// as fit (workers x threads <= cpus).
    public static func fitting(cpus: Int, workers: Int) -> TaskThreads {
        let w = max(1, min(workers, cpus))
        return TaskThreads(workers: w, threadsPerWorker: max(1, cpus / w))
    }

    /// The `--set` options that apply it to a task.
    public var overrides: [String] {
        ["federation.workers=\(workers)", "federation.threads_per_worker=\(threadsPerWorker)"]
    }
}

/// The sbatch job-array script of a sweep, and the collect job that runs after it.
public struct SlurmScript: Sendable {
    public var jobName: String
    /// Array indices (task numbers), written as ranges.
    public var tasks: [Int]
    public var cpusPerTask: Int
    public var memory: String?
    public var time: String?
    public var partition: String?
    public var account: String?
    public var maxParallel: Int?
    public var requeue: Bool
    public var extra: [String]
    /// Absolute folder for the logs (slurm-<job>_<task>.log).
    public var logDirectory: String
    /// The folder the tasks run in (relative paths of the experiment resolve against it).
    public var workingDirectory: String
    /// The command every array element runs, `$SLURM_ARRAY_TASK_ID` standing for the task.
    public var command: [String]

    public init(
        jobName: String, tasks: [Int], cpusPerTask: Int, memory: String?, time: String?, partition: String?,
        account: String?, maxParallel: Int?, requeue: Bool, extra: [String], logDirectory: String,
        workingDirectory: String, command: [String]
    ) {
        self.jobName = jobName
        self.tasks = tasks
        self.cpusPerTask = cpusPerTask
        self.memory = memory
        self.time = time
        self.partition = partition
        self.account = account
        self.maxParallel = maxParallel
        self.requeue = requeue
        self.extra = extra
        self.logDirectory = logDirectory
        self.workingDirectory = workingDirectory
        self.command = command
    }

    /// "0-3,7,9-10".
    public static func ranges(_ values: [Int]) -> String {
        var parts: [String] = []
        var i = 0
        let v = values.sorted()
        while i < v.count {
            var j = i
            while j + 1 < v.count, v[j + 1] == v[j] + 1 { j += 1 }
            parts.append(i == j ? "\(v[i])" : "\(v[i])-\(v[j])")
            i = j + 1
        }
        return parts.joined(separator: ",")
    }

    /// Single-quoted for bash.
    public static func quote(_ s: String) -> String {
        s.allSatisfy { $0.isLetter || $0.isNumber || "/._-=,+:@%".contains($0) } && !s.isEmpty
            ? s : "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    func header(_ lines: [String]) -> String {
        var out = "#!/bin/bash\n"
        for l in lines { out += "#SBATCH \(l)\n" }
        return out
    }

    func common() -> [String] {
        var lines: [String] = []
        if let partition { lines.append("--partition=\(partition)") }
        if let account { lines.append("--account=\(account)") }
        return lines
    }

    /// The array job: one element per task, each running `command` for its task.
    public var arrayScript: String {
        var lines = [
            "--job-name=\(jobName)", "--array=\(Self.ranges(tasks))" + (maxParallel.map { "%\($0)" } ?? ""),
            "--cpus-per-task=\(cpusPerTask)", "--ntasks=1",
        ]
        if let memory { lines.append("--mem=\(memory)") }
        if let time { lines.append("--time=\(time)") }
        lines += common()
        lines += ["--output=\(logDirectory)/slurm-%A_%a.log", "--open-mode=append"]
        if requeue { lines.append("--requeue") }
        lines += extra
        return header(lines) + """
            # Written by `exp sweep --backend slurm`: array element I runs task I of the sweep's tasks.jsonl.
            # A requeued element (pre-emption, scontrol requeue) continues from its run's last checkpoint.
            set -euo pipefail
            cd \(Self.quote(workingDirectory))
            exec \(command.map { $0 == "$SLURM_ARRAY_TASK_ID" ? "\"$SLURM_ARRAY_TASK_ID\"" : Self.quote($0) }.joined(separator: " "))

            """
    }

    /// The collect job (run with --dependency=afterany:<array job>): summary.csv and report.html.
    public func collectScript(command: [String]) -> String {
        var lines = ["--job-name=\(jobName)-collect", "--cpus-per-task=1", "--ntasks=1"]
        if let memory { lines.append("--mem=\(memory)") }
        lines += common()
        lines += ["--output=\(logDirectory)/slurm-collect-%j.log"]
        lines += extra
        return header(lines) + """
            # Written by `exp sweep --backend slurm`: collects the sweep's runs once the array has finished.
            set -euo pipefail
            cd \(Self.quote(workingDirectory))
            exec \(command.map(Self.quote).joined(separator: " "))

            """
    }
}

import ArgumentParser
import FedKit
import Foundation

/// `exp sweep FILE`: plans the grid of the file's `sweep:` section and `--grid` options into the
/// experiment folder's tasks.jsonl and runs it here (`--backend local`) or as a Slurm job array.
struct Sweep: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Plan a grid of runs into a task list and run it here or as a Slurm job array.",
        discussion: """
            The grid is the cartesian product of the file's `sweep: {grid: ..., zip: [...]}` and the --grid
            options, times the file's methods and seeds (unless `method`/`seed` are swept). Each task is one
            run (one cell, method and seed) in <output>/<name>/<cell>/<method>/seed-<s>/; the task list is
            <output>/<name>/tasks.jsonl. Runs already complete are kept, interrupted ones continue from their
            checkpoint. When every task is done, the collect step writes summary.csv and report.html.
            See docs/sweeps.md.
            """)

    enum Backend: String, ExpressibleByArgument, CaseIterable { case local, slurm }

    @OptionGroup var experiment: ExperimentOptions

    @Option(
        name: .customLong("grid"),
        help: ArgumentHelp(
            "Sweep a key over values (repeatable; replaces the file's values for that key). Keys as for --set, or `method`, `seed`.",
            valueName: "KEY=V1,V2"))
    var grid: [String] = []

    @Option(help: ArgumentHelp("Results folder (default: the file's `output`, else runs).", valueName: "DIR"))
    var out: String?

    @Option(help: "Where the tasks run: local (this machine) or slurm (an sbatch job array).")
    var backend: Backend = .local

    @Option(
        help: "local: tasks run at once; the cores are split between them (workers x threads per task <= cores / jobs)."
    )
    var jobs: Int = 1

    @Option(help: "local: cores to use (default: all of this machine's).")
    var cores: Int?

    @Flag(help: "Show each task's state (done, running, failed, interrupted, pending) and exit.")
    var status = false

    @Flag(help: "Only collect: write summary.csv and report.html from the runs that are complete.")
    var collect = false

    @Flag(help: "Replace a task list planned from other settings (run folders of unchanged tasks are kept).")
    var replan = false

    @Flag(help: "slurm: write the sbatch scripts and print them, submit nothing.")
    var dryRun = false

    @Option(help: "slurm: CPUs per task (default: slurm.cpus_per_task, else federation.workers x threads_per_worker).")
    var cpusPerTask: Int?

    @Option(help: "slurm: memory per task, e.g. 8G (default: slurm.mem).")
    var mem: String?

    @Option(help: "slurm: time limit per task, e.g. 04:00:00 (default: slurm.time).")
    var time: String?

    @Option(help: "slurm: partition (default: slurm.partition).")
    var partition: String?

    @Option(help: "slurm: account (default: slurm.account).")
    var account: String?

    @Option(
        name: .customLong("sbatch"),
        help: ArgumentHelp(
            "slurm: a further #SBATCH option, e.g. --sbatch=--qos=long (repeatable; added to slurm.extra).",
            valueName: "OPTION"))
    var sbatchOptions: [String] = []

    func validate() throws {
        guard jobs >= 1 else { throw ValidationError("--jobs must be >= 1, got \(jobs)") }
        if let cores, cores < 1 { throw ValidationError("--cores must be >= 1, got \(cores)") }
        if let cpusPerTask, cpusPerTask < 1 {
            throw ValidationError("--cpus-per-task must be >= 1, got \(cpusPerTask)")
        }
        if let bad = sbatchOptions.first(where: { !$0.hasPrefix("-") || $0.contains("\n") }) {
            throw ValidationError(
                "--sbatch takes an sbatch option starting with '-', e.g. --sbatch=--qos=long; got '\(bad)'")
        }
    }

    func run() throws {
        let registry = try builtinRegistry()
        var plan = try SweepPlanner(registry: registry).plan(
            file: experiment.file, overrides: experiment.overrides, grid: grid)
        if let out { plan.setOutput(out) }
        if status {
            SweepStatusReport.print(plan)
            return
        }
        if collect {
            try collectAndPrint(plan)
            return
        }
        try plan.writeTaskFile(replan: replan)
        let cells = Set(plan.tasks.map(\.cell)).count
        Exp.report("planned \(plan.tasks.count) task(s) (\(cells) cell(s) x methods x seeds): \(plan.taskFile)")
        switch backend {
        case .local: try runLocally(plan)
        case .slurm: try submitToSlurm(plan)
        }
    }

    /// The arguments that make `exp run --task` and `exp sweep --collect` plan the same sweep.
    var planArguments: [String] {
        [experiment.file] + experiment.overrides.flatMap { ["--set", $0] } + grid.flatMap { ["--grid", $0] }
            + (out.map { ["--out", $0] } ?? [])
    }

    func runLocally(_ plan: SweepPlan) throws {
        let available = cores ?? ProcessInfo.processInfo.activeProcessorCount
        guard jobs <= available else {
            throw ValidationError(
                "--jobs \(jobs) is more than the \(available) core(s) to use: each task needs at least one (see --cores)"
            )
        }
        let threads = TaskThreads.fitting(
            cpus: available / jobs, workers: plan.base.federation[Sections.Federation.workers])
        let sweep = LocalSweep(
            plan: plan, jobs: jobs, executable: try ExecutablePath.current(),
            arguments: planArguments, threads: threads)
        Exp.report(
            "local: \(jobs) task(s) at once, each \(threads.workers) worker(s) x \(threads.threadsPerWorker) thread(s) (\(available) cores); logs in \(plan.directory)/logs/"
        )
        let failed = try sweep.run()
        try collectAndPrint(plan)
        if !failed.isEmpty {
            throw CommandFailure(
                status: .runFailed,
                message: "\(failed.count) task(s) failed:\n"
                    + failed.map {
                        "  task \($0): \(plan.tasks[$0].run) (log: \(plan.directory)/logs/task-\($0).log)"
                    }.joined(separator: "\n"))
        }
    }

    func submitToSlurm(_ plan: SweepPlan) throws {
        let slurm = plan.base.slurm
        let states = plan.tasks.indices.map(plan.state)
        let todo = plan.tasks.indices.filter { states[$0].isUnfinished }
        let running = plan.tasks.indices.filter { if case .running = states[$0] { return true } else { return false } }
        if !running.isEmpty { Exp.report("left to their running jobs: task(s) \(SlurmScript.ranges(running))") }
        guard !todo.isEmpty else {
            Exp.report("every task is done or running: nothing to submit")
            if running.isEmpty { try collectAndPrint(plan) }
            return
        }
        let fm = FileManager.default
        let cwd = fm.currentDirectoryPath
        let directory = plan.directory.hasPrefix("/") ? plan.directory : "\(cwd)/\(plan.directory)"
        let federation = plan.base.federation
        let workers = federation[Sections.Federation.workers]
        let cpus =
            cpusPerTask ?? slurm[SlurmSettings.cpusPerTask] ?? workers
            * federation[Sections.Federation.threadsPerWorker]
        let threads = TaskThreads.fitting(cpus: cpus, workers: workers)
        let exp =
            try slurm[SlurmSettings.executable].map { $0.hasPrefix("/") ? $0 : "\(cwd)/\($0)" }
            ?? ExecutablePath.current()
        let script = SlurmScript(
            jobName: "fedkit-\(plan.base.name)", tasks: todo, cpusPerTask: cpus,
            memory: mem ?? slurm[SlurmSettings.memory], time: time ?? slurm[SlurmSettings.time],
            partition: partition ?? slurm[SlurmSettings.partition], account: account ?? slurm[SlurmSettings.account],
            maxParallel: slurm[SlurmSettings.maxParallel], requeue: slurm[SlurmSettings.requeue],
            extra: SlurmSettings.extra(slurm) + sbatchOptions, logDirectory: "\(directory)/logs", workingDirectory: cwd,
            command: [exp, "run"] + planArguments + ["--task", "$SLURM_ARRAY_TASK_ID"]
                + threads.overrides.flatMap { ["--set", $0] })
        try fm.createDirectory(atPath: "\(directory)/logs", withIntermediateDirectories: true)
        let arrayPath = "\(plan.directory)/sweep.sbatch", collectPath = "\(plan.directory)/collect.sbatch"
        try RunWriter.writeAtomically(script.arrayScript, to: arrayPath)
        try RunWriter.writeAtomically(
            script.collectScript(command: [exp, "sweep"] + planArguments + ["--collect"]), to: collectPath)
        if dryRun {
            print(script.arrayScript)
            Exp.report(
                "dry run: \(todo.count) task(s) in \(arrayPath), collect job in \(collectPath); submit with: sbatch \(arrayPath)"
            )
            return
        }
        let job = try Sbatch.submit([arrayPath])
        let collectJob = try Sbatch.submit(["--dependency=afterany:\(job)", collectPath])
        print(job)
        Exp.report(
            "submitted array job \(job) (\(todo.count) task(s): \(SlurmScript.ranges(todo))); collect job \(collectJob) runs after it; follow with `exp sweep \(experiment.file) --status`"
        )
    }

    func collectAndPrint(_ plan: SweepPlan) throws {
        let outcome = try SweepCollect.collect(plan)
        if let report = outcome.report {
            print(report.text())
            print("\nresults: \(plan.directory)/ (summary.csv, report.html, one folder per cell, method and seed)")
        } else {
            Exp.report("no task has a run folder yet: no summary written")
        }
        if !outcome.missing.isEmpty {
            Exp.report(
                "\(outcome.missing.count) of \(plan.tasks.count) task(s) not complete, left out of the summary: \(SlurmScript.ranges(outcome.missing.map(\.task)))"
            )
        }
    }
}

/// Runs `sbatch --parsable` and returns the job id.
enum Sbatch {
    static func submit(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["sbatch", "--parsable"] + arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        do { try process.run() } catch {
            throw CommandFailure(status: .runFailed, message: "error: cannot run sbatch: \(error)")
        }
        let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let id = output.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
        guard process.terminationStatus == 0, !id.isEmpty, id.allSatisfy(\.isNumber) else {
            throw CommandFailure(
                status: .runFailed,
                message:
                    "error: sbatch \(arguments.joined(separator: " ")) failed (exit \(process.terminationStatus)): \(errors.isEmpty ? output : errors)"
            )
        }
        return id
    }
}

/// The absolute path of the running exp executable (what sweep tasks run).
enum ExecutablePath {
    static func current() throws -> String {
        if let link = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return link }
        let arg0 = CommandLine.arguments[0]
        if arg0.hasPrefix("/") { return arg0 }
        if arg0.contains("/") { return FileManager.default.currentDirectoryPath + "/" + arg0 }
        throw CommandFailure(
            status: .runFailed, message: "error: cannot find the path of the exp executable; set slurm.exp")
    }
}

/// `exp sweep --status`.
enum SweepStatusReport {
    /// ", updated 12 s ago".
    static func age(_ iso: String) -> String {
        guard let date = ISO8601DateFormatter().date(from: iso) else { return "" }
        return ", updated \(LocalSweep.duration(Date().timeIntervalSince(date))) ago"
    }

    static func print(_ plan: SweepPlan) {
        if (try? plan.checkTaskFile()) == nil {
            Exp.report(
                "note: \(plan.taskFile) is missing or was planned from other settings; showing the plan of \(plan.base.file) as given"
            )
        }
        var counts: [String: Int] = [:]
        var rows: [[String]] = [["task", "state", "round", "run", "where"]]
        for (i, task) in plan.tasks.enumerated() {
            let state = plan.state(i)
            counts[state.name, default: 0] += 1
            let rounds = plan.specs[i].federation[Sections.Federation.rounds]
            var round = "", place = ""
            switch state {
            case .done: round = "\(rounds)/\(rounds)"
            case let .running(r, total, host, job, updated):
                round = "\(r)/\(total)"
                place = (job.map { "slurm \($0) on \(host)" } ?? host) + Self.age(updated)
            case .failed(let message): place = String(message.prefix(80))
            case .interrupted(let r):
                round = r.map { "\($0)/\(rounds)" } ?? "0/\(rounds)";
                place = r == nil ? "restarts" : "resumes from checkpoint"
            case .pending: round = "0/\(rounds)"
            }
            rows.append([String(task.task), state.name, round, task.run, place])
        }
        let widths = (0..<rows[0].count).map { c in rows.map { $0[c].count }.max() ?? 0 }
        for row in rows {
            Swift.print(
                row.enumerated().map { c, cell in
                    c == row.count - 1 ? cell : cell.padding(toLength: widths[c], withPad: " ", startingAt: 0)
                }
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces))
        }
        let order = ["done", "running", "failed", "interrupted", "pending"]
        if counts["running", default: 0] > 0 {
            Swift.print(
                "\n(a task on another host whose node died stays \"running\" until its job is requeued or cancelled: compare its last update with a round's duration)"
            )
        }
        Swift.print(
            "\n\(plan.tasks.count) task(s): " + order.map { "\(counts[$0] ?? 0) \($0)" }.joined(separator: ", "))
    }
}

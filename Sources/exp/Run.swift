import ArgumentParser
import FedKit
import Foundation

/// `exp run FILE`: runs every method on every seed and prints the side-by-side table.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run an experiment (the default command).")

    @OptionGroup var experiment: ExperimentOptions

    @Option(help: ArgumentHelp("Run only these methods (labels, comma-separated).", valueName: "METHOD,..."))
    var only: String?

    @Option(help: ArgumentHelp("Run these seeds instead of the file's (comma-separated).", valueName: "1,2,3"))
    var seeds: String?

    @Option(help: ArgumentHelp("Results folder (default: the file's `output`, else runs).", valueName: "DIR"))
    var out: String?

    @Flag(
        help: ArgumentHelp(
            "Keep runs already complete in the results folder with the same resolved configuration, continue interrupted ones from their last checkpoint exactly, and run the others from round 1. The summary covers them all."
        ))
    var resume = false

    @Option(
        help: ArgumentHelp(
            "Run task I of the sweep's task list (planned by `exp sweep` with the same --set/--grid options): what each Slurm array element runs. Resumes by itself.",
            valueName: "I"))
    var task: Int?

    @Option(
        name: .customLong("grid"),
        help: ArgumentHelp(
            "Sweep a key over values, as in `exp sweep` (with --task; repeatable).", valueName: "KEY=V1,V2"))
    var grid: [String] = []

    func run() throws {
        OpenMPSettings.ensurePassiveWaiting()
        let registry = try builtinRegistry()
        if let task {
            try runTask(task, registry: registry)
            return
        }
        var spec = try experiment.load(registry: registry)
        if !spec.sweep.isEmpty || !grid.isEmpty {
            let tasks =
                (try? SweepPlanner(registry: registry).plan(
                    file: experiment.file, overrides: experiment.overrides, grid: grid
                ).tasks.count).map { " (\($0) tasks)" } ?? ""
            throw CommandFailure(
                status: .usage,
                message:
                    "error: \(experiment.file) describes a sweep\(tasks): run it with `exp sweep \(experiment.file)`, or one of its tasks with `exp run \(experiment.file) --task I`"
            )
        }
        if let only {
            let wanted = only.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            let labels = spec.methods.map(\.label)
            if let unknown = wanted.first(where: { !labels.contains($0) }) {
                throw ValidationError(
                    "--only: no method labelled '\(unknown)' in \(experiment.file); methods: \(labels.joined(separator: ", "))"
                )
            }
            spec.methods = spec.methods.filter { wanted.contains($0.label) }
        }
        if let seeds {
            let parsed = seeds.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !parsed.isEmpty, parsed.allSatisfy({ ($0 ?? -1) >= 0 }) else {
                throw ValidationError("--seeds must be a comma-separated list of integers >= 0, got '\(seeds)'")
            }
            spec.seeds = parsed.map { $0! }
        }
        if let out { spec.output = out }
        try checkDataFiles(spec, registry: registry)

        let runner = ExperimentRunner(spec: spec, registry: registry)
        runner.resume = resume
        let status = StatusLine()
        runner.log = { line in status.log(line) }
        runner.progress = { status.update($0) }
        let outcome: ExperimentRunner.Outcome
        do { outcome = try runner.run() } catch {
            status.finish()
            throw CommandFailure(status: .runFailed, message: "error: \(error)")
        }
        status.finish()
        if let report = outcome.report { print(report.text()) }
        print("\nresults: \(runner.directory)/ (summary.csv, report.html, one folder per method and seed)")
        if !outcome.failures.isEmpty {
            throw CommandFailure(
                status: .runFailed,
                message: "\(outcome.failures.count) run(s) failed:\n"
                    + outcome.failures.map { "  \($0)" }.joined(separator: "\n"))
        }
    }
}

extension Run {
    /// `exp run FILE --task I`: task I of the planned sweep, into its run folder only; a complete
    /// run is kept, an interrupted one continues from its checkpoint.
    func runTask(_ index: Int, registry: PluginRegistry) throws {
        guard only == nil, seeds == nil, !resume else {
            throw ValidationError(
                "--task runs one planned task: --only, --seeds and --resume do not apply (a task always resumes)")
        }
        var plan = try SweepPlanner(registry: registry).plan(
            file: experiment.file, overrides: experiment.overrides, grid: grid)
        if let out { plan.setOutput(out) }
        try plan.checkTaskFile()
        guard plan.tasks.indices.contains(index) else {
            throw ValidationError("--task \(index): the sweep has tasks 0 to \(plan.tasks.count - 1)")
        }
        let task = plan.tasks[index]
        let spec = plan.specs[index]
        try checkDataFiles(spec, registry: registry)
        let runner = ExperimentRunner(spec: spec, registry: registry)
        runner.resume = true
        runner.cellFolder = task.cell
        runner.runFoldersOnly = true
        let status = StatusLine()
        runner.log = { line in status.log(line) }
        runner.progress = { status.update($0) }
        status.log(
            "task \(index) of \(plan.tasks.count): \(task.run)"
                + (task.set.isEmpty ? "" : " (\(task.set.joined(separator: " ")))"))
        let outcome: ExperimentRunner.Outcome
        do { outcome = try runner.run() } catch {
            status.finish()
            throw CommandFailure(status: .runFailed, message: "error: task \(index): \(error)")
        }
        status.finish()
        if let failure = outcome.failures.first {
            throw CommandFailure(status: .runFailed, message: "task \(index) failed: \(failure)")
        }
        print("task \(index) done: \(plan.runDirectory(task))/")
    }
}

/// Fails with every missing data file and where to get it.
func checkDataFiles(_ spec: ExperimentSpec, registry: PluginRegistry) throws {
    let dataset = try registry.make(spec.dataset, as: (any DatasetPlugin).self)
    let missing = dataset.requiredFiles().filter { !FileManager.default.fileExists(atPath: $0.path) }
    guard !missing.isEmpty else { return }
    let location = spec.dataset.location.map { "\($0): " } ?? "\(spec.file): "
    throw CommandFailure(
        status: .invalidInput,
        message: "\(location)dataset \(spec.dataset.name): missing data files:\n"
            + missing.map { "  \($0.path)  (\($0.hint))" }.joined(separator: "\n"))
}

/// A live progress line on a terminal; plain log lines otherwise.
final class StatusLine: @unchecked Sendable {
    private let isTerminal = isatty(STDERR_FILENO) == 1
    private let lock = NSLock()
    private var lineShown = false
    private var lastPlain = Date.distantPast

    func log(_ line: String) {
        lock.withLock {
            clear()
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }

    func update(_ p: RunProgress) {
        lock.withLock {
            let eta = p.round > 0 ? p.elapsedSeconds / Double(p.round) * Double(p.rounds - p.round) : 0
            let global = p.globalAccuracy.map { String(format: "global %.2f%%", 100 * $0) } ?? "global –"
            let personal =
                p.personalizedAccuracy.map {
                    String(format: "personal %.2f%%", 100 * $0)
                        + " (\(p.personalizedClients ?? 0)/\(p.clients) clients)"
                } ?? "personal –"
            let text =
                "\(p.method) seed \(p.seed)  round \(p.round)/\(p.rounds)  \(global)  \(personal)  ETA \(Int(eta.rounded()))s"
            if isTerminal {
                clear()
                FileHandle.standardError.write(Data(text.utf8))
                lineShown = true
            } else if p.round == p.rounds || Date().timeIntervalSince(lastPlain) >= 10 {
                FileHandle.standardError.write(Data((text + "\n").utf8))
                lastPlain = Date()
            }
        }
    }

    func finish() { lock.withLock { clear() } }

    private func clear() {
        if lineShown {
            FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8))
            lineShown = false
        }
    }
}

/// OpenMP's default "active" waiting makes idle torch threads spin, which slows the parallel
/// client workers several-fold on a small machine. libgomp reads OMP_WAIT_POLICY when it is
/// loaded, before `main`, so when it is unset `exp run` sets it and re-executes itself once.
enum OpenMPSettings {
    static func ensurePassiveWaiting() {
        guard getenv("OMP_WAIT_POLICY") == nil else { return }
        setenv("OMP_WAIT_POLICY", "PASSIVE", 1)
        let arguments = CommandLine.arguments
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        execv("/proc/self/exe", &argv)
        // execv returns only on failure: carry on with the default policy.
        argv.forEach { free($0) }
    }
}

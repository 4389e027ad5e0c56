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

    @Flag(help: ArgumentHelp("Keep runs already complete in the results folder with the same resolved configuration; run the others from round 1. The summary covers both."))
    var resume = false

    func run() throws {
        OpenMPSettings.ensurePassiveWaiting()
        let registry = try builtinRegistry()
        var spec = try experiment.load(registry: registry)
        if let only {
            let wanted = only.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            let labels = spec.methods.map(\.label)
            if let unknown = wanted.first(where: { !labels.contains($0) }) {
                throw ValidationError("--only: no method labelled '\(unknown)' in \(experiment.file); methods: \(labels.joined(separator: ", "))")
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
            throw CommandFailure(status: .runFailed,
                                 message: "\(outcome.failures.count) run(s) failed:\n" + outcome.failures.map { "  \($0)" }.joined(separator: "\n"))
        }
    }
}

/// Fails with every missing data file and where to get it.
func checkDataFiles(_ spec: ExperimentSpec, registry: PluginRegistry) throws {
    let dataset = try registry.make(spec.dataset, as: (any DatasetPlugin).self)
    let missing = dataset.requiredFiles().filter { !FileManager.default.fileExists(atPath: $0.path) }
    guard !missing.isEmpty else { return }
    let location = spec.dataset.location.map { "\($0): " } ?? "\(spec.file): "
    throw CommandFailure(status: .invalidInput, message: "\(location)dataset \(spec.dataset.name): missing data files:\n"
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
            let personal = p.personalizedAccuracy.map {
                String(format: "personal %.2f%%", 100 * $0) + " (\(p.personalizedClients ?? 0)/\(p.clients) clients)"
            } ?? "personal –"
            let text = "\(p.method) seed \(p.seed)  round \(p.round)/\(p.rounds)  \(global)  \(personal)  ETA \(Int(eta.rounded()))s"
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

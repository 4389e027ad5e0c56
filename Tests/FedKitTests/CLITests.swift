import BuiltinPlugins
import Config
import FedKit
import Foundation
import XCTest

/// Runs the built `exp` tool, found next to the test bundle in the build's products folder.
enum ExpTool {
    struct Result {
        var status: Int32
        /// Killed by a signal (a crash: trap, segfault, abort).
        var crashed: Bool
        var timedOut: Bool
        var stdout: String
        var stderr: String
        var seconds: Double

        var firstErrorLine: String {
            String(stderr.split(separator: "\n", omittingEmptySubsequences: false).first ?? "")
        }
        var summary: String {
            "exit \(status)\(crashed ? " (signal)" : "")\(timedOut ? " (timed out)" : "")\nstdout: \(stdout)\nstderr: \(stderr)"
        }
    }

    /// The `exp` executable of this build, or nil when it cannot be found.
    static let binary: URL? = {
        var folders: [URL] = [Bundle.main.bundleURL, Bundle.main.bundleURL.deletingLastPathComponent()]
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            folders.append(URL(fileURLWithPath: exe).deletingLastPathComponent())
        }
        // macOS: the .xctest bundle sits in the products folder.
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            folders.append(bundle.bundleURL.deletingLastPathComponent())
        }
        return folders.map { $0.appendingPathComponent("exp") }.first {
            FileManager.default.isExecutableFile(atPath: $0.path)
        }
    }()

    static func requireBinary() throws -> URL {
        guard let binary else {
            throw XCTSkip(
                """
                the exp executable was not found next to the test bundle (\(Bundle.main.bundleURL.path)); \
                build it into the same products folder (swift build --build-tests builds both) to run the CLI tests
                """)
        }
        return binary
    }

    /// Runs `exp arguments` in `directory` (default: the package root).
    /// `launcher` runs the tool through another program (e.g. `setpriv` to drop privileges).
    static func run(
        _ arguments: [String], in directory: URL = ExperimentCorpus.packageRoot, timeout: Double = 120,
        launcher: [String] = []
    ) throws -> Result {
        let binary = try requireBinary()
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("exp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let outURL = scratch.appendingPathComponent("stdout"), errURL = scratch.appendingPathComponent("stderr")
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
        defer {
            try? out.close()
            try? err.close()
        }
        let process = Process()
        if let program = launcher.first {
            process.executableURL = URL(fileURLWithPath: program)
            process.arguments = Array(launcher.dropFirst()) + [binary.path] + arguments
        } else {
            process.executableURL = binary
            process.arguments = arguments
        }
        process.currentDirectoryURL = directory
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = out
        process.standardError = err
        let finished = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in finished.signal() }
        let start = Date()
        try process.run()
        var timedOut = false
        if finished.wait(timeout: .now() + timeout) == .timedOut {
            timedOut = true
            process.terminate()
            finished.wait()
        }
        let seconds = Date().timeIntervalSince(start)
        return Result(
            status: process.terminationStatus, crashed: process.terminationReason == .uncaughtSignal,
            timedOut: timedOut,
            stdout: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOf: errURL, encoding: .utf8)) ?? "", seconds: seconds)
    }

    /// Processes run at once by `runAll`. Start-up (loading libtorch) dominates each run and is
    /// partly I/O, so a few more than the cores helps.
    static let parallelism = max(2, min(8, 2 * ProcessInfo.processInfo.activeProcessorCount))

    /// Runs several invocations, `parallelism` at a time; results in invocation order.
    static func runAll(_ invocations: [[String]]) throws -> [Result] {
        _ = try requireBinary()
        final class Collected: @unchecked Sendable {
            let lock = NSLock()
            var results: [Result?]
            var failures: [Error] = []
            init(_ n: Int) { results = Array(repeating: nil, count: n) }
        }
        let collected = Collected(invocations.count)
        let slots = DispatchSemaphore(value: parallelism)
        let group = DispatchGroup()
        for (i, arguments) in invocations.enumerated() {
            slots.wait()
            DispatchQueue.global().async(group: group) {
                defer { slots.signal() }
                do {
                    let r = try run(arguments)
                    collected.lock.withLock { collected.results[i] = r }
                } catch {
                    collected.lock.withLock { collected.failures.append(error) }
                }
            }
        }
        group.wait()
        if let first = collected.failures.first { throw first }
        return collected.results.map { $0! }
    }
}

final class CLITests: XCTestCase {
    var registry: PluginRegistry!

    override func setUpWithError() throws {
        _ = try ExpTool.requireBinary()
        registry = try BuiltinPlugins.registry()
    }

    /// `exp validate` on every malformed file: exit 1, a clear first line, no crash, no hang.
    func testCorpusThroughExpValidate() throws {
        let folder = try ExperimentCorpus.temporaryFolder(self)
        var cases = try ExperimentCorpus.committed() + ExperimentCorpus.generated(in: folder)
        if let unreadable = try ExperimentCorpus.unreadable(in: folder) {
            cases.append(unreadable)
        } else {
            print(
                "unreadable.yaml: running as root, which reads a file with mode 000; see testUnreadableFileAsAnotherUser"
            )
        }
        cases = cases.filter { c in
            guard let preset = c.requiredPreset, registry.methods[preset] == nil else { return true }
            print("skipping \(c.name): the '\(preset)' preset is not registered in this build")
            return false
        }
        let results = try ExpTool.runAll(cases.map { ["validate", $0.path] + $0.arguments })
        for (c, r) in zip(cases, results) {
            XCTAssertFalse(r.crashed, "\(c.name) crashed: \(r.summary)")
            XCTAssertFalse(r.timedOut, "\(c.name) hung: \(r.summary)")
            XCTAssertEqual(r.status, 1, "\(c.name): \(r.summary)")
            XCTAssertEqual(r.stdout, "", "\(c.name) prints nothing on stdout")
            for problem in c.problems(firstLine: r.firstErrorLine) { XCTFail(problem) }
            // No tight timing: just "not a hang" on a shared machine (most of it is loading libtorch).
            XCTAssertLessThan(r.seconds, 60, "\(c.name) took \(r.seconds) s")
            // In-file positions come with the offending line and a caret under the column.
            if case let .inFile(line, column) = c.position, c.path.hasPrefix(ExperimentCorpus.directory.path) {
                let lines = r.stderr.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                let source =
                    (try? String(contentsOfFile: c.path, encoding: .utf8))?
                    .split(separator: "\n", omittingEmptySubsequences: false).dropFirst(line - 1).first.map(String.init)
                    ?? ""
                XCTAssertGreaterThanOrEqual(lines.count, 3, "\(c.name): \(r.stderr)")
                if lines.count >= 3 {
                    XCTAssertEqual(lines[1], "  " + source, c.name)
                    XCTAssertTrue(
                        lines[2].hasSuffix("^") && lines[2].count == column + 2, "\(c.name): caret line '\(lines[2])'")
                }
            }
        }
        let slowest = zip(cases, results).max { $0.1.seconds < $1.1.seconds }
        print(
            "exp validate on \(cases.count) malformed files: slowest \(slowest?.0.name ?? "-") \(String(format: "%.2f", slowest?.1.seconds ?? 0)) s"
        )
    }

    /// As root every file is readable; run the tool as `nobody` (setpriv) to see the error.
    func testUnreadableFileAsAnotherUser() throws {
        let folder = try ExperimentCorpus.temporaryFolder(self)
        guard getuid() == 0 else { throw XCTSkip("not root: testCorpusThroughExpValidate covers the unreadable file") }
        let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let setpriv else { throw XCTSkip("running as root without setpriv: cannot make an unreadable file") }
        let path = folder.appendingPathComponent("unreadable.yaml").path
        XCTAssertTrue(
            FileManager.default.createFile(
                atPath: path, contents: Data(ExperimentCorpus.validExperiment.utf8),
                attributes: [.posixPermissions: 0o000]))
        let r = try ExpTool.run(
            ["validate", path], launcher: [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"])
        if r.status != 1, r.stderr.contains("setpriv") || r.stderr.contains("error while loading shared libraries") {
            throw XCTSkip("cannot run exp as nobody here: \(r.stderr)")
        }
        XCTAssertFalse(r.crashed, r.summary)
        XCTAssertEqual(r.status, 1, r.summary)
        XCTAssertEqual(r.firstErrorLine, "cannot read '\(path)': permission denied")
    }

    func write(_ text: String, name: String = "experiment.yaml") throws -> String {
        let path = try ExperimentCorpus.temporaryFolder(self).appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testExitStatuses() throws {
        let valid = try write(ExperimentCorpus.validExperiment)
        let invalid = try write(
            ExperimentCorpus.validExperiment.replacingOccurrences(of: "rounds: 2", with: "rounds: 0"))
        let cases: [(args: [String], status: Int32, stderr: String?)] = [
            (["validate", valid], 0, nil),
            (["validate", invalid], 1, "federation.rounds must be an integer >= 1, got 0"),
            (
                ["validate", "--set", "federation.rounds=abc", valid], 1,
                "<command line>:1:19: federation.rounds must be an integer"
            ),
            (["show", invalid], 1, "federation.rounds must be"),
            (["validate", "--frobnicate", valid], 2, "--frobnicate"),
            (["validate"], 2, "Missing expected argument"),
            (["show"], 2, nil),
            (["list", "nonsense"], 2, "unknown kind 'nonsense'"),
            (["validate", valid, "extra-argument"], 2, nil),
            (["--help"], 0, nil),
            (["--version"], 0, nil),
            ([ExperimentCorpus.directory.appendingPathComponent("no-such-file.yaml").path], 1, "no such file"),
        ]
        let results = try ExpTool.runAll(cases.map(\.args))
        for (c, r) in zip(cases, results) {
            XCTAssertFalse(r.crashed, "\(c.args): \(r.summary)")
            XCTAssertEqual(r.status, c.status, "\(c.args): \(r.summary)")
            if let text = c.stderr { XCTAssertTrue(r.stderr.contains(text), "\(c.args): \(r.summary)") }
        }
        XCTAssertTrue(results[0].stdout.contains("valid"), results[0].summary)
        XCTAssertEqual(results[1].stdout, "")
        // --help documents the exit statuses.
        for line in ["Exit status:", "  0  success", "  1  invalid input", "  2  usage error", "  3  a run failed"] {
            XCTAssertTrue(results[9].stdout.contains("\n" + line), "--help lacks '\(line)':\n\(results[9].stdout)")
        }
    }

    /// validate reports every error (blank-line separated), each with its position.
    func testValidateReportsAllErrors() throws {
        let path = try write(
            """
            name: many
            dataset: { name: synthetic, usres: 5 }
            partition: { name: dirichlet, alpha: 0 }
            model: { name: mlp }
            federation: { rounds: 0 }
            methods: [fedavgg]
            """)
        let r = try ExpTool.run(["validate", path])
        XCTAssertEqual(r.status, 1, r.summary)
        let firstLines = r.stderr.components(separatedBy: "\n\n").map { String($0.split(separator: "\n").first ?? "") }
        XCTAssertEqual(firstLines.count, 4, r.stderr)
        for (line, prefix) in zip(
            firstLines,
            [
                "\(path):2:29: unknown key 'usres'", "\(path):3:38: partition.alpha must be a number > 0",
                "\(path):5:23: federation.rounds", "\(path):6:11: unknown method 'fedavgg'",
            ])
        {
            XCTAssertTrue(line.hasPrefix(prefix), "expected \(prefix)…, got \(line)")
        }
    }

    /// Data files are part of `exp validate` (not of the loader): a missing one is invalid input.
    func testValidateChecksDataFiles() throws {
        let path = try write(
            ExperimentCorpus.validExperiment.replacingOccurrences(
                of: "dataset: { name: synthetic }",
                with: "dataset: { name: cifar10, root: /nonexistent/cifar-10-batches-bin }"))
        let r = try ExpTool.run(["validate", path])
        XCTAssertEqual(r.status, 1, r.summary)
        XCTAssertTrue(r.firstErrorLine.hasPrefix("\(path):3:10: dataset cifar10: missing data files"), r.summary)
        XCTAssertTrue(r.stderr.contains("/nonexistent/cifar-10-batches-bin"), r.summary)
    }

    /// `exp show` prints the resolved experiment (overrides applied); loading it again gives the same.
    func testShowOutputReparsesToTheSameExperiment() throws {
        let path = try write(
            ExperimentCorpus.validExperiment.replacingOccurrences(
                of: "methods: [fedavg]", with: "methods: [fedavg, { name: fedprox, trainer: { mu: 0.5 } }, fedrep]"))
        let overrides = [
            "--set", "federation.rounds=3", "--set", "partition.clients=7", "--set", "methods[1].label=prox-half",
        ]
        let shown = try ExpTool.run(["show", path] + overrides)
        XCTAssertEqual(shown.status, 0, shown.summary)
        let loader = ExperimentLoader(registry: registry)
        let expected = try loader.load(
            file: path, overrides: ["federation.rounds=3", "partition.clients=7", "methods[1].label=prox-half"])
        XCTAssertEqual(shown.stdout, YAMLEmitter.emit(expected.resolved))
        let tree = try YAMLParser.parse(string: shown.stdout, fileName: "<exp show>")
        XCTAssertEqual(tree["federation"]?["rounds"]?.scalarValue, "3")
        XCTAssertEqual(tree["partition"]?["clients"]?.scalarValue, "7")
        XCTAssertEqual(tree["methods"]?.items?[1]["label"]?.scalarValue, "prox-half")
        XCTAssertEqual(tree["methods"]?.items?[1]["trainer"]?["mu"]?.scalarValue, "0.5")
        // Every default is filled in.
        for spec in Sections.federation where spec.defaultValue != nil {
            XCTAssertNotNil(tree["federation"]?[spec.name], spec.name)
        }

        let again = try write(shown.stdout, name: "shown.yaml")
        let reloaded = try loader.load(file: again)
        XCTAssertTrue(reloaded.resolved.hasSameContent(as: expected.resolved))
        let shownAgain = try ExpTool.run(["show", again])
        XCTAssertEqual(shownAgain.status, 0, shownAgain.summary)
        XCTAssertEqual(shownAgain.stdout, shown.stdout)
    }

    func testListShowsEveryPluginParameterAndPreset() throws {
        let kinds = PluginKind.allCases.map(\.rawValue)
        let results = try ExpTool.runAll(
            [["list"], ["list", "--markdown"], ["list", "trainer"], ["list", "method"]] + kinds.map { ["list", $0] })
        for r in results { XCTAssertEqual(r.status, 0, r.summary) }
        let all = results[0].stdout
        for kind in PluginKind.allCases {
            XCTAssertTrue(all.contains("\(kind.rawValue) plugins:"), kind.rawValue)
            for d in registry.descriptors(kind) {
                XCTAssertTrue(all.contains("  \(d.name) — \(d.summary)"), d.name)
                for p in d.parameters {
                    XCTAssertTrue(
                        all.contains("      \(p.name): \(p.type.summary), default \(p.defaultText) — "),
                        "\(d.name).\(p.name)")
                }
            }
        }
        XCTAssertTrue(all.contains("method presets:"))
        for (name, preset) in registry.methods { XCTAssertTrue(all.contains("  \(name) — \(preset.summary)"), name) }
        XCTAssertEqual(results[1].stdout, YAMLReference.markdown(registry))
        // One kind only.
        let trainers = results[2].stdout
        XCTAssertTrue(trainers.hasPrefix("trainer plugins:"), trainers)
        XCTAssertFalse(trainers.contains("dataset plugins:") || trainers.contains("method presets:"), trainers)
        for name in registry.names(.trainer) { XCTAssertTrue(trainers.contains("  \(name) — "), name) }
        XCTAssertTrue(results[3].stdout.hasPrefix("method presets:"), results[3].stdout)
        for (kind, r) in zip(kinds, results.dropFirst(4)) {
            XCTAssertTrue(r.stdout.hasPrefix("\(kind) plugins:"), r.stdout)
        }
    }
}

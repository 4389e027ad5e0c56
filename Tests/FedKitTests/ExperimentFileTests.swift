import Aggregators
import BuiltinPlugins
import Config
import Datasets
import Foundation
import Partitioners
import Trainers
import XCTest

@testable import FedKit

/// The malformed-experiment corpus (Tests/FedKitTests/ConfigCorpus/) and the generated cases that
/// are too big, binary or environment-specific to commit. CLITests runs the same cases through the
/// built `exp validate`.
///
/// Each corpus file starts with comment lines:
///
///     # expect: <text the first error line must contain>     (one or more)
///     # at: LINE:COL | <command line>:LINE:COL | none         (where the first error points)
///     # args: --set KEY=VALUE ...                              (optional: command-line overrides)
///     # requires: PRESET                                       (optional: skipped without that preset)
struct ExperimentCorpusCase: CustomStringConvertible {
    enum Position: Equatable {
        /// `<file>:LINE:COL: ` in the experiment file itself.
        case inFile(line: Int, column: Int)
        /// A prefix written out in full, e.g. `<command line>:1:19`.
        case literal(String)
        /// `<file>:LINE:COL: ` with any numbers (generated binary input).
        case anyInFile
        /// No position exists (missing file, directory, ...): the message names the file instead.
        case none
    }

    var name: String
    var path: String
    var expected: [String]
    var position: Position
    /// `exp validate` arguments after the file (`--set ...`).
    var arguments: [String] = []
    /// A method preset the case needs (absent presets skip the case with a message).
    var requiredPreset: String?

    var description: String { name }

    /// The `--set` values of `arguments`, for `ExperimentLoader.load(file:overrides:)`.
    var overrides: [String] {
        var result: [String] = []
        var i = 0
        while i < arguments.count {
            if arguments[i] == "--set", i + 1 < arguments.count {
                result.append(arguments[i + 1]); i += 2
            } else {
                i += 1
            }
        }
        return result
    }

    /// Checks the first line of an error report; returns the problems found (empty when fine).
    func problems(firstLine: String) -> [String] {
        var problems: [String] = []
        for text in expected where !firstLine.contains(text) {
            problems.append("\(name): the first error line should contain \"\(text)\"\n  got: \(firstLine)")
        }
        switch position {
        case let .inFile(line, column):
            if !firstLine.hasPrefix("\(path):\(line):\(column): ") {
                problems.append(
                    "\(name): the first error line should start with \(path):\(line):\(column):\n  got: \(firstLine)")
            }
        case .literal(let prefix):
            if !firstLine.hasPrefix(prefix + ": ") {
                problems.append("\(name): the first error line should start with \(prefix):\n  got: \(firstLine)")
            }
        case .anyInFile:
            let rest = firstLine.hasPrefix(path + ":") ? firstLine.dropFirst(path.count + 1) : ""
            let parts = rest.split(separator: ":", maxSplits: 2)
            if parts.count < 3 || Int(parts[0]) == nil || Int(parts[1]) == nil {
                problems.append(
                    "\(name): the first error line should start with \(path):LINE:COL:\n  got: \(firstLine)")
            }
        case .none:
            if !firstLine.contains(path) {
                problems.append("\(name): the first error line should name \(path)\n  got: \(firstLine)")
            }
        }
        return problems
    }
}

enum ExperimentCorpus {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "ConfigCorpus")
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The committed corpus files with their expectations.
    static func committed() throws -> [ExperimentCorpusCase] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".yaml") }
            .sorted()
        return try names.map { name in
            let path = directory.appendingPathComponent(name).path
            let text = try String(contentsOfFile: path, encoding: .utf8)
            var c = ExperimentCorpusCase(name: name, path: path, expected: [], position: .none)
            var sawPosition = false
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
                guard line.hasPrefix("# ") else { break }
                let body = line.dropFirst(2)
                if body.hasPrefix("expect: ") {
                    c.expected.append(String(body.dropFirst("expect: ".count)))
                } else if body.hasPrefix("args: ") {
                    c.arguments = body.dropFirst("args: ".count).split(separator: " ").map(String.init)
                } else if body.hasPrefix("requires: ") {
                    c.requiredPreset = String(body.dropFirst("requires: ".count))
                } else if body.hasPrefix("at: ") {
                    sawPosition = true
                    let value = String(body.dropFirst("at: ".count))
                    let numbers = value.split(separator: ":").compactMap { Int($0) }
                    if value == "none" {
                        c.position = .none
                    } else if numbers.count == 2, !value.hasPrefix("<") {
                        c.position = .inFile(line: numbers[0], column: numbers[1])
                    } else {
                        c.position = .literal(value)
                    }
                }
            }
            guard !c.expected.isEmpty, sawPosition else {
                throw PluginError(
                    "\(path): a corpus file must start with '# expect: ...' and '# at: ...' comment lines")
            }
            return c
        }
    }

    /// A minimal valid experiment (synthetic data: no data files needed).
    static let validExperiment = """
        name: corpus
        seeds: [1]
        dataset: { name: synthetic }
        partition: { name: iid, clients: 10 }
        model: { name: mlp }
        federation: { rounds: 2 }
        methods: [fedavg]

        """

    /// Cases generated into `folder`: too big, binary, or about the file system.
    static func generated(in folder: URL) throws -> [ExperimentCorpusCase] {
        func write(_ name: String, _ bytes: [UInt8]) throws -> String {
            let path = folder.appendingPathComponent(name).path
            guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
                throw PluginError("cannot write \(path)")
            }
            return path
        }
        var cases: [ExperimentCorpusCase] = []
        var path = try write("empty.yaml", [])
        cases.append(
            .init(
                name: "empty.yaml", path: path, expected: ["the file is empty"], position: .inFile(line: 1, column: 1)))

        // Binary garbage: a fixed pseudo-random byte string (with NUL bytes), and one without NULs.
        var random = SplitMix64(seed: 20_251_126)
        let garbage = (0..<4096).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        path = try write("garbage.bin", garbage)
        cases.append(
            .init(
                name: "garbage.bin", path: path, expected: ["NUL byte", "is this a binary file?"], position: .anyInFile)
        )
        path = try write("garbage-no-nul.bin", garbage.map { $0 == 0 ? 0xFF : $0 })
        cases.append(.init(name: "garbage-no-nul.bin", path: path, expected: ["invalid UTF-8"], position: .anyInFile))

        // 10 MB: a valid experiment padded with comments, then a misspelled key on the last line.
        var big = Array(validExperiment.utf8)
        let padding = Array(
            "# padding padding padding padding padding padding padding padding padding padding padding\n".utf8)
        var lines = validExperiment.split(separator: "\n", omittingEmptySubsequences: false).count - 1
        while big.count < 10_000_000 { big += padding; lines += 1 }
        big += Array("federaton: { rounds: 5 }\n".utf8)
        path = try write("ten-megabytes.yaml", big)
        cases.append(
            .init(
                name: "ten-megabytes.yaml", path: path,
                expected: ["unknown key 'federaton'", "(did you mean 'federation'?)"],
                position: .inFile(line: lines + 1, column: 1)))

        // Over the 16 MiB limit: refused before parsing.
        path = try write("seventeen-mebibytes.yaml", [UInt8](repeating: UInt8(ascii: "#"), count: 17 << 20))
        cases.append(
            .init(
                name: "seventeen-mebibytes.yaml", path: path, expected: ["config files are limited to 16 MiB"],
                position: .none))

        // 10,000 levels of nesting, as flow sequences and as flow mappings.
        let depth = 10_000
        path = try write(
            "nested-lists.yaml",
            Array(
                ("methods: " + String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + "\n").utf8)
        )
        cases.append(.init(name: "nested-lists.yaml", path: path, expected: ["nest"], position: .anyInFile))
        path = try write(
            "nested-mappings.yaml",
            Array(
                ("eval: " + String(repeating: "{a: ", count: depth) + "1" + String(repeating: "}", count: depth) + "\n")
                    .utf8))
        cases.append(.init(name: "nested-mappings.yaml", path: path, expected: ["nest"], position: .anyInFile))

        // A directory and a missing file: no position, the message names the path.
        let directory = folder.appendingPathComponent("a-directory.yaml")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        cases.append(
            .init(name: "a-directory.yaml", path: directory.path, expected: ["it is a directory"], position: .none))
        cases.append(
            .init(
                name: "missing.yaml", path: folder.appendingPathComponent("missing.yaml").path,
                expected: ["no such file"], position: .none))
        return cases
    }

    /// An unreadable file, or nil when the tests run as root (root reads any file).
    static func unreadable(in folder: URL) throws -> ExperimentCorpusCase? {
        let path = folder.appendingPathComponent("unreadable.yaml").path
        guard
            FileManager.default.createFile(
                atPath: path, contents: Data(validExperiment.utf8), attributes: [.posixPermissions: 0o000])
        else {
            throw PluginError("cannot write \(path)")
        }
        if FileManager.default.isReadableFile(atPath: path) { return nil }
        return .init(name: "unreadable.yaml", path: path, expected: ["permission denied"], position: .none)
    }

    static func temporaryFolder(_ test: XCTestCase) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent(
            "ExperimentFileTests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        test.addTeardownBlock {
            // Restore permissions so that the folder can be removed.
            if let names = try? FileManager.default.contentsOfDirectory(atPath: url.path) {
                for name in names {
                    try? FileManager.default.setAttributes(
                        [.posixPermissions: 0o700], ofItemAtPath: url.appendingPathComponent(name).path)
                }
            }
            try? FileManager.default.removeItem(at: url)
        }
        return url
    }

    /// The first line of an error as `exp` reports it.
    static func firstLine(of error: Error) -> String {
        let text: String
        if let e = error as? ConfigErrors {
            text = e.errors.first?.description ?? "(no errors)"
        } else {
            text = "\(error)"
        }
        return String(text.split(separator: "\n", omittingEmptySubsequences: false).first ?? "")
    }
}

final class ExperimentFileTests: XCTestCase {
    var registry: PluginRegistry!

    override func setUpWithError() throws {
        registry = try BuiltinPlugins.registry()
    }

    var loader: ExperimentLoader { ExperimentLoader(registry: registry) }

    /// Loads a case through the loader and checks the first error line; returns the seconds taken.
    @discardableResult
    func check(_ c: ExperimentCorpusCase, file: StaticString = #filePath, line: UInt = #line) -> Double {
        let start = Date()
        do {
            let spec = try loader.load(file: c.path, overrides: c.overrides)
            XCTFail(
                "\(c.name): expected an error, but it validated (\(spec.methods.count) methods)", file: file, line: line
            )
        } catch let error as ConfigError {
            for problem in c.problems(firstLine: ExperimentCorpus.firstLine(of: error)) {
                XCTFail(problem, file: file, line: line)
            }
        } catch let error as ConfigErrors {
            XCTAssertFalse(error.errors.isEmpty, c.name, file: file, line: line)
            for problem in c.problems(firstLine: ExperimentCorpus.firstLine(of: error)) {
                XCTFail(problem, file: file, line: line)
            }
        } catch {
            XCTFail(
                "\(c.name): expected a configuration error, got \(type(of: error)): \(error)", file: file, line: line)
        }
        let seconds = Date().timeIntervalSince(start)
        // Generous: the point is "no hang", not a benchmark (the machine is shared).
        XCTAssertLessThan(seconds, 10, "\(c.name) took \(seconds) s", file: file, line: line)
        return seconds
    }

    func testCorpusHasAtLeastThirtyFilesAndEachHasExpectations() throws {
        let cases = try ExperimentCorpus.committed()
        XCTAssertGreaterThanOrEqual(cases.count, 30)
        for c in cases {
            XCTAssertFalse(c.expected.contains(where: \.isEmpty), c.name)
            XCTAssertNotEqual(c.position, .anyInFile, c.name)
        }
    }

    func testCommittedCorpusThroughTheLoader() throws {
        var slowest = (name: "", seconds: 0.0)
        for c in try ExperimentCorpus.committed() {
            if let preset = c.requiredPreset, registry.methods[preset] == nil {
                print("skipping \(c.name): the '\(preset)' preset is not registered in this build")
                continue
            }
            let seconds = check(c)
            if seconds > slowest.seconds { slowest = (c.name, seconds) }
        }
        print("corpus through the loader: slowest \(slowest.name) \(String(format: "%.3f", slowest.seconds)) s")
    }

    func testGeneratedCasesThroughTheLoader() throws {
        let folder = try ExperimentCorpus.temporaryFolder(self)
        for c in try ExperimentCorpus.generated(in: folder) {
            let seconds = check(c)
            print("\(c.name): \(String(format: "%.3f", seconds)) s")
        }
    }

    func testUnreadableFile() throws {
        let folder = try ExperimentCorpus.temporaryFolder(self)
        guard let c = try ExperimentCorpus.unreadable(in: folder) else {
            throw XCTSkip(
                "running as root, which can read a file with mode 000: the unreadable-file case cannot be produced here"
            )
        }
        check(c)
    }

    /// Every error is reported, not just the first, in file order.
    func testAllErrorsAreReportedInFileOrder() throws {
        let folder = try ExperimentCorpus.temporaryFolder(self)
        let path = folder.appendingPathComponent("many.yaml").path
        try """
        name: many
        seeds: [1, 1]
        dataset: { name: synthetc }
        partition: { name: dirichlet, clients: 10 }
        model: { name: mlp, hiden: [5] }
        federation: { rounds: 0, fraction: 1.5 }
        methods: [fedavg, fedprx, { name: fedprox, trainer: { mu: -1 } }]
        """.write(toFile: path, atomically: true, encoding: .utf8)
        do {
            _ = try loader.load(file: path)
            XCTFail("expected errors")
        } catch let error as ConfigErrors {
            let lines = error.errors.compactMap { $0.location?.line }
            XCTAssertEqual(error.errors.count, 8, error.description)
            XCTAssertEqual(lines, lines.sorted())
            for fragment in [
                "seeds must be distinct", "unknown dataset 'synthetc'", "partition.alpha is required",
                "unknown key 'hiden'",
                "federation.rounds must be an integer >= 1", "federation.fraction", "unknown method 'fedprx'",
                "methods[2].trainer.mu must be a number > 0, got -1",
            ] {
                XCTAssertTrue(error.description.contains(fragment), "missing \(fragment) in\n\(error.description)")
            }
        }
    }

    /// Every experiment file shipped in experiments/ validates. Data files are not the loader's
    /// business, so experiments on data that is not downloaded here still validate.
    func testShippedExperimentsValidate() throws {
        let folder = ExperimentCorpus.packageRoot.appendingPathComponent("experiments")
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".yaml") }
            .sorted()
        XCTAssertFalse(names.isEmpty)
        for name in names {
            let path = folder.appendingPathComponent(name).path
            do {
                let spec = try loader.load(file: path)
                XCTAssertFalse(spec.methods.isEmpty, name)
                XCTAssertEqual(Set(spec.methods.map(\.label)).count, spec.methods.count, name)
            } catch let error as ConfigErrors {
                XCTFail("\(name) does not validate:\n\(error.addingSourceLines())")
            } catch let error as ConfigError {
                XCTFail("\(name) does not validate:\n\(error.addingSourceLine())")
            }
        }
    }

    func write(_ text: String, name: String = "experiment.yaml") throws -> String {
        let path = try ExperimentCorpus.temporaryFolder(self).appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testOverridesApplyAndShowInTheResolvedYAML() throws {
        let path = try write(
            ExperimentCorpus.validExperiment.replacingOccurrences(
                of: "methods: [fedavg]", with: "methods: [fedavg, fedprox]"))
        let spec = try loader.load(
            file: path,
            overrides: [
                "federation.rounds=7", "partition={name: dirichlet, alpha: 0.3, clients: 12}",
                "methods[1].trainer.mu=0.5",
                "seeds=[3, 4]", "eval.local_test=holdout", "dataset.users=40",
            ])
        XCTAssertEqual(spec.federation[Sections.Federation.rounds], 7)
        XCTAssertEqual(spec.partitioner.name, "dirichlet")
        XCTAssertEqual(spec.partitioner.parameters[DirichletPartitioner.alpha], 0.3)
        XCTAssertEqual(spec.clients, 12)
        XCTAssertEqual(spec.methods[1].trainer.parameters[ProxTrainer.mu], 0.5)
        XCTAssertEqual(spec.seeds, [3, 4])
        XCTAssertEqual(spec.evaluation[Sections.Evaluation.localTest], .holdout)
        XCTAssertEqual(spec.dataset.parameters[SyntheticDataset.users], 40)
        let yaml = YAMLEmitter.emit(spec.resolved)
        let resolved = try YAMLParser.parse(string: yaml, fileName: "<shown>")
        XCTAssertEqual(resolved["federation"]?["rounds"]?.scalarValue, "7")
        XCTAssertEqual(resolved["partition"]?["alpha"]?.scalarValue, "0.3")
        XCTAssertEqual(resolved["partition"]?["clients"]?.scalarValue, "12")
        XCTAssertEqual(resolved["methods"]?.items?[1]["trainer"]?["mu"]?.scalarValue, "0.5")
        XCTAssertEqual(resolved["seeds"]?.items?.compactMap(\.scalarValue), ["3", "4"])
        // A later override wins over an earlier one.
        XCTAssertEqual(
            try loader.load(file: path, overrides: ["federation.rounds=7", "federation.rounds=9"]).federation[
                Sections.Federation.rounds], 9)
    }

    /// `exp show` prints the resolved experiment; loading that output again gives the same experiment.
    func testResolvedYAMLReparsesToTheSameExperiment() throws {
        let root = ExperimentCorpus.packageRoot.appendingPathComponent("experiments")
        let files = try FileManager.default.contentsOfDirectory(atPath: root.path).filter { $0.hasSuffix(".yaml") }
            .sorted()
        for name in files {
            let spec = try loader.load(file: root.appendingPathComponent(name).path)
            let shown = YAMLEmitter.emit(spec.resolved)
            let again = try loader.load(file: try write(shown, name: name))
            XCTAssertEqual(YAMLEmitter.emit(again.resolved), shown, name)
            XCTAssertTrue(again.resolved.hasSameContent(as: spec.resolved), name)
            XCTAssertEqual(again.name, spec.name)
            XCTAssertEqual(again.methods.map(\.label), spec.methods.map(\.label))
            XCTAssertEqual(
                again.methods.map(\.trainer.parameters.values), spec.methods.map(\.trainer.parameters.values), name)
            XCTAssertEqual(again.partitioner.parameters.values, spec.partitioner.parameters.values, name)
            XCTAssertEqual(again.federation.values, spec.federation.values, name)
        }
    }

    func testPresetsMergeWithOverrides() throws {
        let path = try write(
            ExperimentCorpus.validExperiment.replacingOccurrences(
                of: "methods: [fedavg]",
                with: """
                    methods:
                      - fedprox
                      - { name: fedprox, label: fedprox-mu0.5, trainer: { mu: 0.5 } }
                      - { name: fedavg, label: fedavg-prox, trainer: { name: prox, mu: 0.1 } }
                      - { name: fedrep, trainer: { head_epochs: 3 }, aggregator: { weighting: uniform } }
                      - { name: fedavg, label: fedavg-body, aggregator: { scope: body }, personal: head }
                    """))
        let methods = try loader.load(file: path).methods
        XCTAssertEqual(methods.map(\.label), ["fedprox", "fedprox-mu0.5", "fedavg-prox", "fedrep", "fedavg-body"])
        // The preset as is.
        XCTAssertEqual(methods[0].trainer.name, "prox")
        XCTAssertEqual(methods[0].trainer.parameters[ProxTrainer.mu], 0.01)
        // Same plugin: the override changes mu and keeps the rest of the preset.
        XCTAssertEqual(methods[1].trainer.name, "prox")
        XCTAssertEqual(methods[1].trainer.parameters[ProxTrainer.mu], 0.5)
        XCTAssertEqual(methods[1].aggregator.name, "weighted-average")
        XCTAssertEqual(methods[1].preset, "fedprox")
        // Another plugin: the override replaces the trainer (sgd -> prox).
        XCTAssertEqual(methods[2].trainer.name, "prox")
        XCTAssertEqual(methods[2].trainer.parameters[ProxTrainer.mu], 0.1)
        XCTAssertEqual(methods[2].aggregator.name, "weighted-average")
        XCTAssertEqual(methods[2].personal, .none)
        // Nested fields merge key by key: fedrep keeps scope body, gets uniform weighting.
        XCTAssertEqual(methods[3].trainer.parameters[HeadThenBodyTrainer.headEpochs], 3)
        XCTAssertEqual(methods[3].aggregator.parameters[WeightedAverage.scope], .body)
        XCTAssertEqual(methods[3].aggregator.parameters[WeightedAverage.weighting], .uniform)
        XCTAssertEqual(methods[3].localStart, .globalBody)
        // Flags: personal head implies starting from the global body.
        XCTAssertEqual(methods[4].personal, .head)
        XCTAssertEqual(methods[4].localStart, .globalBody)
        XCTAssertEqual(methods[4].aggregator.parameters[WeightedAverage.scope], .body)
    }

    /// A preset chooses the plugin, so an unknown key names the plugin the preset picked.
    func testUnknownKeyInAPresetPluginNamesThePlugin() throws {
        let path = try write(
            ExperimentCorpus.validExperiment.replacingOccurrences(
                of: "methods: [fedavg]",
                with: "methods: [{ name: fedavg, trainer: { mu: 0.1 } }]"))
        XCTAssertThrowsError(try loader.load(file: path)) { error in
            XCTAssertTrue(
                ExperimentCorpus.firstLine(of: error).hasSuffix(
                    "unknown key 'mu' in methods[0].trainer (trainer 'sgd'); valid keys: name"), "\(error)")
        }
    }

    /// Constraints a plugin checks itself, between its parameters, are configuration errors.
    func testPluginConstraintsAreConfigurationErrors() throws {
        let path = try write(
            ExperimentCorpus.validExperiment.replacingOccurrences(
                of: "methods: [fedavg]",
                with: """
                    methods:
                      - { name: fedavg, aggregator: { name: weighted-average } }
                    """
            ).replacingOccurrences(
                of: "model: { name: mlp }", with: "model: { name: cnn-fmnist, channels: [1, 2, 3, 4] }"))
        XCTAssertThrowsError(try loader.load(file: path)) { error in
            XCTAssertTrue(
                ExperimentCorpus.firstLine(of: error).contains(":5:8: model: cnn-fmnist: channels must list 1 to 3"),
                "\(error)")
        }
    }

    /// Every node of a rich experiment replaced by values of every shape, and every key removed:
    /// the loader answers with a valid experiment or configuration errors, never a crash or
    /// another kind of error.
    func testMutatedExperimentsNeverCrash() throws {
        let base = try YAMLParser.parse(
            string: """
                name: mutated
                seeds: [1, 2]
                output: runs
                dataset: { name: synthetic, users: 12, size_min: 20 }
                partition: { name: dirichlet, alpha: 0.5, min_size: 2, clients: 10 }
                model: { name: mlp, hidden: [16] }
                federation: { rounds: 2, fraction: 0.5, lr: 0.05, clients_per_round: 3 }
                eval: { local_test: holdout, holdout_fraction: 0.2 }
                methods:
                  - fedavg
                  - { name: fedprox, label: prox, trainer: { mu: 0.1 }, personal: none }
                  - { name: fedbkd, generator: { noise_dim: 8 }, distiller: { temperature: 2, order: ensemble } }
                  - { name: fedrep, trainer: { name: head-then-body, head_epochs: 1 }, aggregator: { scope: body }, local_start: global }
                """, fileName: "mutated.yaml")
        let replacements: [YAMLNode] = try [
            "~", "x", "\"5\"", "0", "-1", "2.5", "1e400", ".nan", "true", "[]", "{}", "[1, x]", "{name: x}", "{a: [1]}",
        ]
        .map { try YAMLParser.parse(string: "v: \($0)", fileName: "mutated.yaml")["v"]! }

        func paths(_ node: YAMLNode, _ prefix: [String]) -> [[String]] {
            var result = [prefix]
            if let entries = node.entries { for e in entries { result += paths(e.value, prefix + [e.keyString]) } }
            if let items = node.items {
                for (i, item) in items.enumerated() { result += paths(item, prefix + [String(i)]) }
            }
            return result
        }
        func removing(_ path: ArraySlice<String>, from node: YAMLNode) -> YAMLNode {
            guard let first = path.first else { return node }
            var copy = node
            switch node.kind {
            case .mapping(var entries):
                if path.count == 1 {
                    entries.removeAll { $0.keyString == first }
                } else if let i = entries.firstIndex(where: { $0.keyString == first }) {
                    entries[i].value = removing(path.dropFirst(), from: entries[i].value)
                }
                copy.kind = .mapping(entries)
            case .sequence(var items):
                guard let i = Int(first), items.indices.contains(i) else { return node }
                if path.count == 1 {
                    items.remove(at: i)
                } else {
                    items[i] = removing(path.dropFirst(), from: items[i])
                }
                copy.kind = .sequence(items)
            case .scalar: break
            }
            return copy
        }

        XCTAssertNoThrow(try loader.resolve(base, file: "mutated.yaml"), "the base experiment is valid")
        var variants: [(String, YAMLNode)] = []
        for path in paths(base, []) where !path.isEmpty {
            for r in replacements {
                variants.append(
                    (
                        "\(path.joined(separator: ".")) = \(YAMLEmitter.emit(r).trimmingCharacters(in: .whitespacesAndNewlines))",
                        try base.setting(path: path, to: r)
                    ))
            }
            variants.append(("remove \(path.joined(separator: "."))", removing(path[...], from: base)))
        }
        var valid = 0, invalid = 0
        for (what, root) in variants {
            do {
                _ = try loader.resolve(root, file: "mutated.yaml")
                valid += 1
            } catch let error as ConfigErrors {
                invalid += 1
                XCTAssertFalse(error.errors.isEmpty, what)
                for e in error.errors where e.location == nil { XCTFail("\(what): an error without a position: \(e)") }
            } catch let error as ConfigError {
                invalid += 1
                XCTAssertNotNil(error.location, "\(what): \(error)")
            } catch {
                XCTFail("\(what): \(type(of: error)): \(error)")
            }
        }
        print("mutated experiments: \(variants.count) variants, \(valid) valid, \(invalid) rejected")
        XCTAssertGreaterThan(invalid, variants.count / 2)
    }

    func testYAMLReferenceIsCurrent() throws {
        let path = ExperimentCorpus.packageRoot.appendingPathComponent("docs/yaml-reference.md").path
        let committed = (try? String(contentsOfFile: path, encoding: .utf8)) ?? "(missing)"
        let current = YAMLReference.markdown(registry)
        if committed != current {
            let a = committed.split(separator: "\n", omittingEmptySubsequences: false)
            let b = current.split(separator: "\n", omittingEmptySubsequences: false)
            let i = zip(a, b).prefix { $0 == $1 }.count
            XCTFail(
                """
                docs/yaml-reference.md is out of date; regenerate it from the package root with
                    swift run --manifest-cache none exp list --markdown > docs/yaml-reference.md
                first difference at line \(i + 1):
                  committed: \(i < a.count ? String(a[i]) : "(end of file)")
                  current:   \(i < b.count ? String(b[i]) : "(end of file)")
                """)
        }
    }

    func testYAMLReferenceCoversEveryPluginParameterAndPreset() throws {
        let md = YAMLReference.markdown(registry)
        for kind in PluginKind.allCases {
            for d in registry.descriptors(kind) {
                XCTAssertTrue(md.contains("### `\(d.name)`\n\n\(d.summary)"), d.name)
                for p in d.parameters {
                    XCTAssertTrue(
                        md.contains("| `\(p.name)` | \(p.type.summary) | \(p.defaultText) |"), "\(d.name).\(p.name)")
                }
            }
        }
        for name in registry.methods.keys { XCTAssertTrue(md.contains("| `\(name)` |"), name) }
        for spec in Sections.federation + Sections.evaluation + Sections.partitionCommon {
            XCTAssertTrue(md.contains("| `\(spec.name)` | \(spec.type.summary) |"), spec.name)
        }
    }
}
